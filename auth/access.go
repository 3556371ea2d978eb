package auth

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// Perm is what a package route needs.
type Perm int

const (
	Read   Perm = iota // download, metadata reads
	Write              // publish
	Delete             // delete through a format endpoint
)

// Access is the decision for one caller on one project, computed once per
// request by middleware and read by every format.
type Access struct {
	Project  *meta.Project
	Identity *Identity
	Visible  bool
	Read     bool
	Write    bool
	Delete   bool
	// Level is the user's effective access level (0 for deploy tokens).
	Level int
}

// Reach reports whether a deploy token covers a project: its own project,
// or any project whose namespace is the token's group or a descendant.
// Personal namespaces are never covered by group tokens.
func Reach(t *meta.DeployToken, p *meta.Project) bool {
	if t.ProjectID != nil {
		return *t.ProjectID == p.ID
	}
	if t.GroupID != nil && p.Namespace.Kind == "group" {
		for _, id := range p.Namespace.TraversalIDs {
			if id == *t.GroupID {
				return true
			}
		}
	}
	return false
}

// ProjectAccess computes what id may do with p's packages.
//
// Decisions taken where GitLab leaves room: reading packages needs Guest+
// (current GitLab), publishing Developer+, deleting Maintainer+; "internal"
// projects are readable by any signed-in user but never by deploy tokens
// outside their reach, which treat them as private.
func (a *Authenticator) ProjectAccess(ctx context.Context, id *Identity, p *meta.Project) (*Access, error) {
	acc := &Access{Project: p, Identity: id}
	public := p.Visibility == "public"
	switch {
	case id.Deploy != nil:
		t := id.Deploy
		scoped := t.HasScope(ScopeReadPackages) || t.HasScope(ScopeWritePackages)
		inReach := Reach(t, p) && scoped
		acc.Visible = inReach || public
		acc.Read = (inReach || public) && p.PackagesEnabled
		acc.Write = inReach && t.HasScope(ScopeWritePackages) && p.PackagesEnabled
		acc.Delete = acc.Write
	case id.User != nil:
		var err error
		if acc.Level, acc.Visible, err = ProjectRole(ctx, a.Store, id.User, p); err != nil {
			return nil, err
		}
		acc.Read = acc.Visible && p.PackagesEnabled
		acc.Write = acc.Level >= meta.Developer && p.PackagesEnabled
		acc.Delete = acc.Level >= meta.Maintainer && p.PackagesEnabled
	default:
		acc.Visible = public
		acc.Read = public && p.PackagesEnabled
	}
	return acc, nil
}

// FindProject resolves a project by numeric id or full path; anything else
// (a bare path without namespace) is not found.
func FindProject(ctx context.Context, s *meta.Store, idOrPath string) (*meta.Project, error) {
	if n, ok := numericID(idOrPath); ok {
		return s.ProjectByID(ctx, n)
	}
	if strings.Contains(idOrPath, "/") && httpx.Storable(idOrPath) {
		return s.ProjectByPath(ctx, idOrPath)
	}
	return nil, errs.New("auth.FindProject", errs.NotFound, "")
}

// FindGroup resolves a group by numeric id or full path.
func FindGroup(ctx context.Context, s *meta.Store, idOrPath string) (*meta.Namespace, error) {
	g, err := FindNamespace(ctx, s, idOrPath)
	if err != nil {
		return nil, err
	}
	if g.Kind != "group" {
		return nil, errs.New("auth.FindGroup", errs.NotFound, "")
	}
	return g, nil
}

// FindNamespace resolves a namespace of either kind by id or full path.
func FindNamespace(ctx context.Context, s *meta.Store, idOrPath string) (*meta.Namespace, error) {
	if n, ok := numericID(idOrPath); ok {
		return s.NamespaceByID(ctx, n)
	}
	if httpx.Storable(idOrPath) {
		return s.NamespaceByPath(ctx, idOrPath)
	}
	return nil, errs.New("auth.FindNamespace", errs.NotFound, "")
}

// numericID reads an id as GitLab does: all digits is an id, anything
// else (a sign, a space) is a path, which then matches nothing.
func numericID(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

const (
	accessKey      = "auth.access"
	groupAccessKey = "auth.groupAccess"
	identityKey    = "auth.identity"
)

// notVisible answers GitLab's way: anonymous callers get the Basic
// challenge (they cannot tell "missing" from "private"), others 404.
func notVisible(op string, id *Identity) error {
	if id.Anonymous() {
		return errs.New(op, errs.Unauthorized, "401 Unauthorized")
	}
	return errs.New(op, errs.NotFound, "404 Not Found")
}

// PackageProject is the middleware of every project-level package route:
// it authenticates, resolves the project named by the path parameter and
// stores the Access decision. Routes then declare what they need with
// Require.
func (a *Authenticator) PackageProject(param string) gin.HandlerFunc {
	return func(c *gin.Context) {
		const op = "auth.PackageProject"
		c.Set(httpx.ChallengeKey, httpx.PackagesRealm)
		ctx := c.Request.Context()
		id, err := a.Packages(ctx, c.Request, c.ClientIP)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		c.Set(identityKey, id)
		// A PAT's scope is weighed before the project is looked up, as
		// GitLab's API guard does when it authenticates: read_api only
		// reads, by the request's method (spec 3.4), so a PAT of the wrong
		// scope hears 403 insufficient_scope whatever the project, not 404.
		if err := checkPATScope(op, id, c.Request.Method); err != nil {
			httpx.Abort(c, err)
			return
		}
		p, err := a.cachedProject(ctx, httpx.Param(c, param))
		if err != nil {
			if errs.Is(err, errs.NotFound) {
				httpx.Abort(c, notVisible(op, id))
				return
			}
			httpx.Abort(c, err)
			return
		}
		acc, err := a.ProjectAccess(ctx, id, p)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if !acc.Visible {
			httpx.Abort(c, notVisible(op, id))
			return
		}
		c.Set(accessKey, acc)
		c.Next()
	}
}

// Require refuses a request whose Access lacks perm: 401 with the challenge
// for anonymous callers (so pip and Maven retry with credentials), 403 for
// authenticated ones, and GitLab's insufficient_scope for a PAT whose scope
// does not allow the method.
func Require(perm Perm) gin.HandlerFunc {
	return func(c *gin.Context) {
		acc := AccessFrom(c)
		if acc == nil {
			httpx.Abort(c, errs.New("auth.Require", errs.Internal, "access not resolved"))
			return
		}
		if err := Authorize(acc, perm); err != nil {
			httpx.Abort(c, err)
			return
		}
		c.Next()
	}
}

// AccessFrom returns the project decision stored by PackageProject.
func AccessFrom(c *gin.Context) *Access {
	if v, ok := c.Get(accessKey); ok {
		return v.(*Access)
	}
	return nil
}

// IdentityFrom returns the identity stored by the package middlewares.
func IdentityFrom(c *gin.Context) *Identity {
	if v, ok := c.Get(identityKey); ok {
		return v.(*Identity)
	}
	return &Identity{}
}

// GroupAccess is the decision for a group-level package route: the group,
// and the projects in its tree whose packages the caller may read.
type GroupAccess struct {
	Group      *meta.Namespace
	Identity   *Identity
	ProjectIDs []int64
}

// PackageGroup is the middleware of group-level package routes. A group
// deploy token counts on its own group and on every subgroup below it, as
// the spec has it (1.2: "the group endpoints of that group (and
// subgroups)"); elsewhere it reads like an anonymous caller. GitLab's
// group policy counts it on its own group only (read_package_registry_
// deploy_token: @user.groups.include?(@subject)), so that a subgroup's
// endpoint would refuse a token that reads every project below it one
// project at a time; the spec's rule gives it nothing it cannot already
// read.
func (a *Authenticator) PackageGroup(param string) gin.HandlerFunc {
	return func(c *gin.Context) {
		const op = "auth.PackageGroup"
		c.Set(httpx.ChallengeKey, httpx.PackagesRealm)
		ctx := c.Request.Context()
		id, err := a.Packages(ctx, c.Request, c.ClientIP)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		c.Set(identityKey, id)
		if id.PAT != nil {
			if err := checkPATScope(op, id, http.MethodGet); err != nil {
				httpx.Abort(c, err)
				return
			}
		}
		g, err := FindGroup(ctx, a.Store, httpx.Param(c, param))
		if err != nil {
			if errs.Is(err, errs.NotFound) {
				httpx.Abort(c, notVisible(op, id))
				return
			}
			httpx.Abort(c, err)
			return
		}
		ga, err := a.groupAccess(ctx, id, g)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if ga == nil {
			httpx.Abort(c, notVisible(op, id))
			return
		}
		c.Set(groupAccessKey, ga)
		c.Next()
	}
}

func (a *Authenticator) groupAccess(ctx context.Context, id *Identity, g *meta.Namespace) (*GroupAccess, error) {
	allInTree := false
	visible := g.Visibility == "public"
	var user *meta.User
	switch {
	case id.Deploy != nil:
		t := id.Deploy
		if t.GroupID != nil && slices.Contains(g.TraversalIDs, *t.GroupID) && (t.HasScope(ScopeReadPackages) || t.HasScope(ScopeWritePackages)) {
			allInTree, visible = true, true
		}
	case id.User != nil:
		user = id.User
		// Only a private group needs the membership queries; the role
		// itself is not used here.
		if g.Visibility == "private" {
			var err error
			if _, visible, err = GroupRole(ctx, a.Store, user, g); err != nil {
				return nil, err
			}
		} else {
			visible = true
		}
	}
	if !visible {
		return nil, nil
	}
	ids, err := a.Store.ReadableProjectIDs(ctx, g.ID, user, allInTree)
	if err != nil {
		return nil, err
	}
	return &GroupAccess{Group: g, Identity: id, ProjectIDs: ids}, nil
}

// GroupAccessFrom returns the decision stored by PackageGroup.
func GroupAccessFrom(c *gin.Context) *GroupAccess {
	if v, ok := c.Get(groupAccessKey); ok {
		return v.(*GroupAccess)
	}
	return nil
}

// PackageInstance is the middleware of instance-level package routes
// (/packages/<format>/...): it only authenticates; the format resolves the
// project from the package name and calls ProjectAccess itself.
func (a *Authenticator) PackageInstance() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(httpx.ChallengeKey, httpx.PackagesRealm)
		id, err := a.Packages(c.Request.Context(), c.Request, c.ClientIP)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		c.Set(identityKey, id)
		c.Next()
	}
}

// Authorize applies Require's rule to an Access computed by a handler
// (instance-level routes), returning the error to send or nil.
func Authorize(acc *Access, perm Perm) error {
	const op = "auth.Authorize"
	if !acc.Visible {
		return notVisible(op, acc.Identity)
	}
	method := http.MethodGet
	if perm != Read {
		method = http.MethodPut
	}
	if err := checkPATScope(op, acc.Identity, method); err != nil {
		return err
	}
	ok := map[Perm]bool{Read: acc.Read, Write: acc.Write, Delete: acc.Delete}[perm]
	if ok {
		return nil
	}
	// An anonymous caller who sees the project but may not read its
	// packages is refused, not challenged: only packages turned off on a
	// public project do that, and no credential would read them (GitLab's
	// authorize_read_package! is forbidden! for everyone; spec 4.5 row 5).
	// Writing asks for a credential.
	if acc.Identity.Anonymous() && perm != Read {
		return errs.New(op, errs.Unauthorized, "401 Unauthorized")
	}
	return errs.New(op, errs.Forbidden, "403 Forbidden")
}
