package npm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

type handler struct {
	d formats.Deps
}

// level is the prefix a request came in on.
type level int

const (
	projectLevel level = iota
	groupLevel
	instanceLevel
)

// target is what a request may read: the projects whose packages count,
// who is asking, and at project level the Access computed by middleware.
type target struct {
	level      level
	identity   *auth.Identity
	access     *auth.Access    // project level only
	group      *meta.Namespace // group level only
	projectIDs []int64
}

var (
	// errPackagesNotFound is GitLab's answer for a packument with no
	// versions (spec 2.4).
	errPackagesNotFound = &errs.Error{Op: "npm.Packument", Kind: errs.NotFound,
		Body: map[string]any{"message": "404 Packages Not Found", "error": "Packages not found"}}
	errPackageNotFound = &errs.Error{Op: "npm", Kind: errs.NotFound, Msg: "404 Package Not Found"}
	errProjectOnly     = &errs.Error{Op: "npm", Kind: errs.NotFound,
		Msg: "404 Not Found - tarballs, publish and unpublish exist only at project level (/api/v4/projects/:id/packages/npm/)"}
	// errUnpublishProjectOnly answers npm unpublish's -rev requests at
	// group and instance level. PROJECT DECISION: 400, not the 404 of
	// routes GitLab lacks: npm treats a 404 from any unpublish request as
	// "already unpublished", prints "- <name>@<version>" and exits 0, so a
	// 404 here would report success while nothing was removed. (GitLab has
	// no unpublish at all, spec 2.10; the gateway offers it per project.)
	errUnpublishProjectOnly = &errs.Error{Op: "npm.Unpublish", Kind: errs.Invalid,
		Msg: "400 Bad request - npm unpublish works only against a project-level registry " +
			"(/api/v4/projects/:id/packages/npm/), not a group or instance one; run it with " +
			"--@<scope>:registry=<project registry URL>"}
)

func (h *handler) project(c *gin.Context) {
	r, err := ParsePath(c.Param("path"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	acc := auth.AccessFrom(c)
	h.dispatch(c, target{level: projectLevel, identity: acc.Identity, access: acc, projectIDs: []int64{acc.Project.ID}}, r)
}

func (h *handler) group(c *gin.Context) {
	r, err := ParsePath(c.Param("path"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	ga := auth.GroupAccessFrom(c)
	h.dispatch(c, target{level: groupLevel, identity: ga.Identity, group: ga.Group, projectIDs: ga.ProjectIDs}, r)
}

func (h *handler) instance(c *gin.Context) {
	r, err := ParsePath(c.Param("path"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	t := target{level: instanceLevel, identity: auth.IdentityFrom(c)}
	switch r.Kind {
	case RoutePackument, RouteDistTags, RouteDistTag:
		if c.Request.Method == http.MethodPut && r.Kind == RoutePackument {
			httpx.Abort(c, errProjectOnly)
			return
		}
		if t.projectIDs, err = h.instanceProjects(c, t.identity, r.Name); err != nil {
			httpx.Abort(c, err)
			return
		}
	}
	h.dispatch(c, t, r)
}

// dispatch routes a parsed path by method. A method a path does not
// support is 404, as GitLab answers for routes it does not have.
func (h *handler) dispatch(c *gin.Context, t target, r Route) {
	m := c.Request.Method
	read := m == http.MethodGet || m == http.MethodHead
	project := t.level == projectLevel
	switch {
	case r.Kind == RoutePackument && read:
		h.packument(c, t, r.Name)
	case r.Kind == RoutePackument && m == http.MethodPut && project:
		if isDeprecate(c.GetHeader("npm-command")) {
			h.deprecate(c, t, r.Name)
			return
		}
		h.publish(c, t, r.Name)
	case r.Kind == RouteTarball && read && project:
		h.tarball(c, t, r)
	case r.Kind == RouteRev && m == http.MethodPut && project:
		h.unpublishVersions(c, t, r)
	case r.Kind == RouteRev && m == http.MethodDelete && project:
		h.unpublishPackage(c, t, r)
	case r.Kind == RouteTarballRev && m == http.MethodDelete && project:
		h.unpublishTarball(c, t, r)
	case (r.Kind == RouteRev || r.Kind == RouteTarballRev) && !project && (m == http.MethodPut || m == http.MethodDelete):
		httpx.Abort(c, errUnpublishProjectOnly)
	case (r.Kind == RouteTarball || r.Kind == RouteRev || r.Kind == RouteTarballRev || r.Kind == RoutePackument) && !project:
		httpx.Abort(c, errProjectOnly)
	case r.Kind == RouteDistTags && read:
		h.listTags(c, t, r.Name)
	case r.Kind == RouteDistTag && m == http.MethodPut:
		h.addTag(c, t, r)
	case r.Kind == RouteDistTag && m == http.MethodDelete:
		h.removeTag(c, t, r)
	case r.Kind == RouteAudit && m == http.MethodPost:
		h.audit(c, t)
	case r.Kind == RouteWhoami && read:
		h.whoami(c, t)
	case r.Kind == RoutePing && read:
		c.JSON(http.StatusOK, gin.H{})
	default:
		httpx.Abort(c, ErrRouteNotFound)
	}
}

// isDeprecate reports whether a packument PUT is npm's deprecate rather
// than a publish, by the npm-command header npm sends with every request.
// GitLab checks for "deprecate" only; npm 11's `npm undeprecate` sends the
// same body (every chosen version with "deprecated": "") under the command
// name "undeprecate", which GitLab then takes for a broken publish (400).
// PROJECT DECISION: both names deprecate, so `npm undeprecate` works.
func isDeprecate(npmCommand string) bool {
	return strings.EqualFold(npmCommand, "deprecate") || strings.EqualFold(npmCommand, "undeprecate")
}

// canRead applies the read check at project level (group and instance
// targets only ever hold readable projects).
func canRead(t target) error {
	if t.level == projectLevel {
		return auth.Authorize(t.access, auth.Read)
	}
	return nil
}

// instanceProjects resolves an instance-level package name: the scope must
// be a top-level namespace (group or user), and the packages count from
// every project under it that the caller may read. When none is readable
// the newest project's refusal is answered: 403 for a token that sees but
// may not read, and "not found" for projects the caller cannot see at all
// (GitLab answers 403 there, which would reveal private packages; we keep
// the gateway-wide rule that invisible is 404). An anonymous caller gets
// anonymousMiss, which does not depend on the name. The scope matches the
// namespace path case-insensitively, as GitLab paths do (unconfirmed for
// GitLab's npm lookup); the package name itself must match exactly.
func (h *handler) instanceProjects(c *gin.Context, id *auth.Identity, name Name) ([]int64, error) {
	ctx := c.Request.Context()
	store := h.d.Registry.Meta
	if !name.Scoped() {
		return nil, errPackagesNotFound
	}
	ns, err := store.NamespaceByPath(ctx, name.Scope)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, errPackagesNotFound
		}
		return nil, err
	}
	if ns.ParentID != nil {
		return nil, errPackagesNotFound
	}
	ids, err := store.NPMProjectIDs(ctx, ns.ID, name.String())
	if err != nil {
		return nil, err
	}
	readable, err := h.readableOf(ctx, id, ids, errPackagesNotFound)
	if id.Anonymous() && (errs.Is(err, errs.Unauthorized) || errs.Is(err, errs.Forbidden) || errs.Is(err, errs.NotFound)) {
		return nil, h.anonymousMiss(ctx, ns.ID, errPackagesNotFound)
	}
	return readable, err
}

// anonymousMiss answers an anonymous caller who can read no project of a
// namespace tree holding the name asked for. Decision (spec 2.3 has 401
// only where the name exists): 401 whenever the tree holds a project
// hidden from anonymous callers, so that npm asks for a token, and
// notFound otherwise, whether or not such a project holds the name; an
// answer depending on the name would tell anyone which names private and
// internal projects hold. Maven's group level answers the same way
// (maven.groupGet).
func (h *handler) anonymousMiss(ctx context.Context, namespaceID int64, notFound error) error {
	hidden, err := h.d.Registry.Meta.HasNonPublicProjects(ctx, namespaceID)
	if err != nil {
		return err
	}
	if hidden {
		return errs.New("npm", errs.Unauthorized, "401 Unauthorized")
	}
	return notFound
}

// readableOf keeps the projects among ids whose packages the caller may
// read. When there are none, it answers the refusal of the first (the
// newest package's project), or notFound where the caller cannot see it.
func (h *handler) readableOf(ctx context.Context, id *auth.Identity, ids []int64, notFound error) ([]int64, error) {
	var readable []int64
	var first error
	for _, pid := range ids {
		p, err := h.d.Registry.Meta.ProjectByID(ctx, pid)
		if err != nil {
			return nil, err
		}
		acc, err := h.d.Auth.ProjectAccess(ctx, id, p)
		if err != nil {
			return nil, err
		}
		if err := auth.Authorize(acc, auth.Read); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		readable = append(readable, pid)
	}
	if len(readable) == 0 {
		if first == nil || errs.Is(first, errs.NotFound) {
			return nil, notFound
		}
		return nil, first
	}
	return readable, nil
}

// missing answers a request for a name that no project of the target
// holds. At group level a project of the group's tree the caller may not
// read can hold it: then that project's refusal is the answer (403 for a
// token that sees but may not read), as at instance level (spec 2.3); an
// anonymous caller gets anonymousMiss, which does not depend on the name.
func (h *handler) missing(ctx context.Context, t target, name Name, notFound error) error {
	if t.level != groupLevel || t.group == nil {
		return notFound
	}
	if t.identity.Anonymous() {
		return h.anonymousMiss(ctx, t.group.ID, notFound)
	}
	ids, err := h.d.Registry.Meta.NPMProjectIDs(ctx, t.group.ID, name.String())
	if err != nil {
		return err
	}
	if _, err := h.readableOf(ctx, t.identity, ids, notFound); err != nil {
		return err
	}
	return notFound
}

// writeAccess decides a dist-tag change. At project level it is the
// middleware's Access; at group and instance level the change applies to
// the project holding the newest package of that name (GitLab's rule), and
// the caller's rights there decide.
func (h *handler) writeAccess(c *gin.Context, t target, name Name, perm auth.Perm) (*auth.Access, error) {
	if t.level == projectLevel {
		return t.access, auth.Authorize(t.access, perm)
	}
	ctx := c.Request.Context()
	pid, err := h.d.Registry.Meta.NPMNewestProject(ctx, t.projectIDs, name.String())
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, h.missing(ctx, t, name, errPackageNotFound)
		}
		return nil, err
	}
	p, err := h.d.Registry.Meta.ProjectByID(ctx, pid)
	if err != nil {
		return nil, err
	}
	acc, err := h.d.Auth.ProjectAccess(ctx, t.identity, p)
	if err != nil {
		return nil, err
	}
	// The route names no project: the audit event's is the one changed.
	meta.SetAuditProject(ctx, p)
	return acc, auth.Authorize(acc, perm)
}

// packument answers GET/HEAD <name>: two queries (versions with their
// tarball digests, then tags) whatever the number of versions.
func (h *handler) packument(c *gin.Context, t target, name Name) {
	if err := canRead(t); err != nil {
		httpx.Abort(c, err)
		return
	}
	ctx := c.Request.Context()
	// npm unpublish and deprecate fetch with ?write=true and need the full
	// document (its _rev, every manifest field).
	abbr := WantsAbbreviated(c.GetHeader("Accept")) && c.Query("write") != "true"
	ct := ContentTypeFull
	if abbr {
		ct = ContentTypeAbbreviated
	}
	// Rendered packuments are cached and rebuilt only after a change to an
	// npm package or tag of these projects, on any node (formats.DocCache).
	key := fmt.Sprintf("npm:%v:%s:%t", t.projectIDs, name.String(), abbr)
	doc, err := h.d.Docs.Get(ctx, key, t.projectIDs, "npm", ct, func() ([]byte, time.Time, error) {
		rows, err := h.d.Registry.Meta.NPMVersions(ctx, t.projectIDs, name.String(), true)
		if err != nil || len(rows) == 0 {
			return nil, time.Time{}, err
		}
		tags, err := h.d.Registry.Meta.NPMTags(ctx, t.projectIDs, name.String())
		if err != nil {
			return nil, time.Time{}, err
		}
		var buf bytes.Buffer
		err = WritePackument(&buf, PackumentInput{Name: name, Versions: rows, Tags: tags, ExternalURL: h.d.ExternalURL, Abbreviated: abbr})
		if err != nil {
			return nil, time.Time{}, errs.E("npm.Packument", errs.Internal, err)
		}
		return buf.Bytes(), time.Time{}, nil
	})
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if doc.Body == nil {
		httpx.Abort(c, h.missing(ctx, t, name, errPackagesNotFound))
		return
	}
	doc.Serve(c, http.StatusOK)
}

// tarball streams a version's tarball. The file is looked up by its exact
// stored name ("@acme/hello-1.0.0.tgz"); the npmjs-style basename
// ("hello-1.0.0.tgz") is accepted too.
func (h *handler) tarball(c *gin.Context, t target, r Route) {
	if err := canRead(t); err != nil {
		httpx.Abort(c, err)
		return
	}
	ctx := c.Request.Context()
	pid := t.access.Project.ID
	pkg, f, err := h.d.Registry.Meta.NPMTarball(ctx, pid, r.Name.String(), r.File)
	if errs.Is(err, errs.NotFound) && r.Name.Scoped() && !strings.Contains(r.File, "/") {
		pkg, f, err = h.d.Registry.Meta.NPMTarball(ctx, pid, r.Name.String(), "@"+r.Name.Scope+"/"+r.File)
	}
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			err = errPackageNotFound
		}
		httpx.Abort(c, err)
		return
	}
	formats.ServeFile(c, h.d, pkg, f, formats.ServeOptions{FileName: path.Base(f.FileName)})
}

func (h *handler) listTags(c *gin.Context, t target, name Name) {
	if err := canRead(t); err != nil {
		httpx.Abort(c, err)
		return
	}
	ctx := c.Request.Context()
	rows, err := h.d.Registry.Meta.NPMVersions(ctx, t.projectIDs, name.String(), false)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if len(rows) == 0 {
		httpx.Abort(c, h.missing(ctx, t, name, errPackageNotFound))
		return
	}
	tags, err := h.d.Registry.Meta.NPMTags(ctx, t.projectIDs, name.String())
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, DistTags(rows, tags))
}

// addTag creates or moves a dist-tag (npm dist-tag add); needs create.
func (h *handler) addTag(c *gin.Context, t target, r Route) {
	ctx := c.Request.Context()
	acc, err := h.writeAccess(c, t, r.Name, auth.Write)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, 4097))
	if err != nil {
		httpx.Abort(c, errs.E("npm.AddTag", errs.Invalid, errs.Msg("400 Bad request - upload body could not be read"), err))
		return
	}
	if len(body) > 4096 {
		httpx.Abort(c, errs.New("npm.AddTag", errs.TooLarge, "413 Request Entity Too Large - a dist-tag body is a version string"))
		return
	}
	version, err := ParseTagVersion(body)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	pkg, err := h.d.Registry.Meta.FindPackage(ctx, acc.Project.ID, "npm", r.Name.String(), &version, meta.InstallableStatuses)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			err = errPackageNotFound
		}
		httpx.Abort(c, err)
		return
	}
	if err := h.d.Registry.Meta.SetNPMTag(ctx, acc.Project.ID, r.Name.String(), r.Tag, pkg.ID); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// removeTag deletes a dist-tag (npm dist-tag rm); needs destroy, as in
// GitLab.
func (h *handler) removeTag(c *gin.Context, t target, r Route) {
	acc, err := h.writeAccess(c, t, r.Name, auth.Delete)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	ok, err := h.d.Registry.Meta.DeleteNPMTag(c.Request.Context(), acc.Project.ID, r.Name.String(), r.Tag)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if !ok {
		httpx.Abort(c, errs.New("npm.RemoveTag", errs.NotFound, "404 Package Tag Not Found"))
		return
	}
	c.Status(http.StatusNoContent)
}

// audit answers npm's advisory requests with "no advisories": the gateway
// holds no vulnerability data, and an empty answer lets `npm install` and
// `npm audit` finish instead of failing on a 404. As in GitLab the caller
// must be authenticated (and able to read, at project level).
func (h *handler) audit(c *gin.Context, t target) {
	// A POST on a package route, but it changes nothing: no publish to
	// record in the audit log.
	meta.SkipAudit(c.Request.Context())
	if t.identity.Anonymous() {
		httpx.Abort(c, errs.New("npm.Audit", errs.Unauthorized, "401 Unauthorized"))
		return
	}
	if err := canRead(t); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, []any{})
}

// whoami answers `npm whoami`: the deploy token's username or the user's.
func (h *handler) whoami(c *gin.Context, t target) {
	id := t.identity
	switch {
	case id != nil && id.Deploy != nil:
		c.JSON(http.StatusOK, gin.H{"username": id.Deploy.DisplayUsername()})
	case id != nil && id.User != nil:
		c.JSON(http.StatusOK, gin.H{"username": id.User.Username})
	default:
		httpx.Abort(c, errs.New("npm.Whoami", errs.Unauthorized, "401 Unauthorized"))
	}
}
