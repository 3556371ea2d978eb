package maven

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/storage/registry"
)

const (
	packageType = "maven"
	// tooLarge: GitLab answers 400 "File is too large"; the gateway uses
	// 413 so it can refuse from Content-Length before Maven sends the body
	// (Maven PUTs with Expect: 100-continue), as the generic format does.
	tooLarge = "413 Request Entity Too Large - File is too large"
	// maxMetadataSize caps uploaded maven-metadata.xml documents; GitLab
	// ignores larger ones when it rewrites metadata.
	maxMetadataSize = 10 << 20
	// maxChecksumBody bounds a checksum file body (a 128-char sha512 hex
	// plus an optional file name).
	maxChecksumBody = 1024
	// metadataHistory is how many stored uploads of a maven-metadata.xml a
	// checksum PUT is compared with (see verifyChecksum).
	metadataHistory = 100
)

type handler struct {
	d formats.Deps
	o Options
}

// scope is where a read looks: the project ids whose packages the caller
// may read, and what to answer when nothing is found there.
type scope struct {
	ids  []int64
	miss func(ctx context.Context) error
}

func packageNotFound(op string) error {
	return errs.New(op, errs.NotFound, "404 Package Not Found")
}

// projectGet serves /projects/:id/packages/maven/*path.
func (h *handler) projectGet(c *gin.Context) {
	const op = "maven.ProjectGet"
	acc := auth.AccessFrom(c)
	h.get(c, scope{ids: []int64{acc.Project.ID}, miss: func(context.Context) error { return packageNotFound(op) }})
}

// groupGet serves /groups/:id/-/packages/maven/*path over the projects of
// the group tree the caller may read; when several hold the path, the most
// recent upload wins (GitLab's group finder).
//
// Decision: an anonymous miss answers 401 with the Basic challenge when the
// tree holds projects the caller cannot read, so Maven (which sends GETs
// without credentials first) retries with them; GitLab answers 404 there
// and Maven would conclude the artifact does not exist.
func (h *handler) groupGet(c *gin.Context) {
	const op = "maven.GroupGet"
	ga := auth.GroupAccessFrom(c)
	h.get(c, scope{ids: ga.ProjectIDs, miss: func(ctx context.Context) error {
		if ga.Identity.Anonymous() {
			hidden, err := h.d.Registry.Meta.MavenGroupHasOtherProjects(ctx, ga.Group.ID, ga.ProjectIDs)
			if err != nil {
				return err
			}
			if hidden {
				return errs.New(op, errs.Unauthorized, "401 Unauthorized")
			}
		}
		return packageNotFound(op)
	}})
}

// instanceGet serves /packages/maven/*path.
//
// Decision (spec 3.6): GitLab derives the project from the path (path minus
// its last segment must be the project's full path), so only artifacts
// whose groupId/artifactId spell their project's path resolve. The gateway
// searches instead every project holding a package with this path and keeps
// those the caller may read; the most recent upload among them wins, as at
// group level. This is a superset: what GitLab resolves still resolves, and
// ordinary coordinates (com.acme:hello) work too. When the caller can read
// no project holding the path (or none holds it), the answer is GitLab's
// instance-level 403, except for anonymous callers, who get the 401
// challenge so Maven retries with credentials; both answers are the same
// whether or not the path exists, so nothing leaks.
func (h *handler) instanceGet(c *gin.Context) {
	const op = "maven.InstanceGet"
	ctx := c.Request.Context()
	p, err := ParsePath(c.Param("path"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	id := auth.IdentityFrom(c)
	projects, err := h.d.Registry.Meta.MavenProjectsWithPath(ctx, p.Name)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	var ids []int64
	for i := range projects {
		acc, err := h.d.Auth.ProjectAccess(ctx, id, &projects[i])
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if auth.Authorize(acc, auth.Read) == nil {
			ids = append(ids, projects[i].ID)
		}
	}
	if len(ids) == 0 {
		if id.Anonymous() {
			httpx.Abort(c, errs.New(op, errs.Unauthorized, "401 Unauthorized"))
			return
		}
		httpx.Abort(c, errs.New(op, errs.Forbidden, "403 Forbidden"))
		return
	}
	h.serve(c, scope{ids: ids, miss: func(context.Context) error { return packageNotFound(op) }}, p)
}

func (h *handler) get(c *gin.Context, sc scope) {
	p, err := ParsePath(c.Param("path"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	h.serve(c, sc, p)
}

func (h *handler) serve(c *gin.Context, sc scope, p Path) {
	if p.IsMetadata() {
		h.serveMetadata(c, sc, p)
		return
	}
	h.serveFile(c, sc, p)
}

// serveFile answers a stored file, or one of its checksums computed from
// the blob row (so .md5/.sha1/.sha256/.sha512 exist for every file, and
// always describe the bytes served).
//
// Decision (spec 3.5, UNCONFIRMED for GitLab, which looks names up
// verbatim): a non-unique SNAPSHOT name such as hello-1.1.0-SNAPSHOT.jar,
// absent as such, is answered with the newest timestamped build of that
// classifier and extension, which is what curl users and tools that skip
// the version metadata mean by it. Maven itself always asks for the
// timestamped name.
func (h *handler) serveFile(c *gin.Context, sc scope, p Path) {
	const op = "maven.Download"
	ctx := c.Request.Context()
	m := h.d.Registry.Meta
	f, err := m.MavenDownloadFile(ctx, sc.ids, p.Name, p.VersionPtr(), p.Base)
	if errs.Is(err, errs.NotFound) && p.Snapshot() {
		// hello-1.1.0-SNAPSHOT.jar: the newest timestamped build (what a
		// client that skips the version metadata means).
		if cl, ext, ok := NonUniqueSnapshot(p.ArtifactID, p.Version, p.Base); ok {
			names, lerr := m.MavenFileNames(ctx, sc.ids, p.Name, p.Version)
			if lerr != nil {
				httpx.Abort(c, lerr)
				return
			}
			if sm, ok := BuildSnapshot(p.GroupID, p.ArtifactID, p.Version, names); ok {
				if name, ok := sm.Lookup(cl, ext); ok {
					f, err = m.MavenDownloadFile(ctx, sc.ids, p.Name, p.VersionPtr(), name)
				}
			}
		}
	}
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			err = sc.miss(ctx)
		}
		httpx.Abort(c, err)
		return
	}
	h.serveStored(c, op, p, f, p.Base, false)
}

// serveStored answers a stored file for p: the digest p's checksum
// extension asks for (404 when that digest is unknown), or the file
// itself. A mutable file (maven-metadata.xml) goes out with
// Cache-Control: private, no-cache.
func (h *handler) serveStored(c *gin.Context, op string, p Path, f *meta.PackageFile, name string, mutable bool) {
	if p.Checksum != "" {
		sum := fileDigest(f, p.Checksum)
		if sum == "" {
			httpx.Abort(c, errs.New(op, errs.NotFound, "404 Not Found"))
			return
		}
		serveBytes(c, "text/plain; charset=utf-8", f.CreatedAt, []byte(sum))
		return
	}
	if mutable {
		c.Header("Cache-Control", "private, no-cache")
	}
	// Never redirected, as GitLab does not for Maven: its X-Checksum
	// headers spare Maven 3.9 a .sha1 request per file (spec 3.5).
	// A HEAD is no download (GitLab's download_package_file!).
	formats.ServeFile(c, h.d, &meta.Package{ID: f.PackageID}, f, formats.ServeOptions{FileName: name, Streamed: true, HeadIsNoDownload: true})
}

func fileDigest(f *meta.PackageFile, alg string) string {
	switch alg {
	case "md5":
		return f.MD5
	case "sha1":
		return f.SHA1
	case "sha256":
		return f.BlobSHA256
	case "sha512":
		if f.SHA512 != nil {
			return *f.SHA512
		}
	}
	return ""
}

// serveMetadata answers maven-metadata.xml (and its checksums).
//
// Decision (spec 3.5): GitLab stores whatever the client uploads and serves
// the newest upload, so two concurrent deploys of different versions lose
// one version (each client read the old list and wrote back its own). The
// gateway also stores every upload (checksum PUTs are verified against it,
// and documents it cannot derive are served from it), but serves a
// document derived from the database at read time:
//   - artifact level: the versions that exist, in creation order, latest =
//     newest, release = newest non-SNAPSHOT (GitLab's own rewrite rule),
//     plus the plugin entries merged from every plugin-group upload;
//   - SNAPSHOT version level: from the timestamped file names, the newest
//     build of each classifier/extension.
//
// A version can therefore never be lost, the document exists as soon as
// one file of one version does (a GET never 404s an existing artifact, so
// Maven never overwrites history), and the checksum GETs hash the same
// bytes. Versions are rows created by a unique constraint, so a read needs
// no lock: one SQL snapshot is consistent.
//
// Derived documents are cached (formats.DocCache) and rebuilt only when a
// maven package of one of the projects changed, on any node.
func (h *handler) serveMetadata(c *gin.Context, sc scope, p Path) {
	ctx := c.Request.Context()
	key := fmt.Sprintf("maven:%v:%s:%s", sc.ids, p.Name, p.Version)
	cached, err := h.d.Docs.Get(ctx, key, sc.ids, "maven", "application/octet-stream", func() ([]byte, time.Time, error) {
		return h.buildMetadata(ctx, sc.ids, p)
	})
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	doc, mod := cached.Body, cached.Modified
	if doc == nil {
		// Nothing to derive from: the newest stored upload, if any (e.g. a
		// document we cannot interpret).
		f, err := h.d.Registry.Meta.MavenNewestFile(ctx, sc.ids, p.Name, p.VersionPtr(), MetadataFile)
		if err != nil {
			if errs.Is(err, errs.NotFound) {
				err = sc.miss(ctx)
			}
			httpx.Abort(c, err)
			return
		}
		h.serveStored(c, "maven.Metadata", p, f, MetadataFile, true)
		return
	}
	if p.Checksum != "" {
		sum, _ := Checksum(p.Checksum, doc)
		serveBytes(c, "text/plain; charset=utf-8", mod, []byte(sum))
		return
	}
	hdr := c.Writer.Header()
	for _, alg := range []string{"sha1", "md5", "sha256"} {
		sum, _ := Checksum(alg, doc)
		hdr.Set("X-Checksum-"+alg, sum)
		if alg == "sha1" {
			hdr.Set("ETag", `"`+sum+`"`)
		}
	}
	hdr.Set("Cache-Control", "private, no-cache")
	hdr.Set("Content-Disposition", formats.ContentDisposition(MetadataFile))
	serveBytes(c, "application/octet-stream", mod, doc)
}

// buildMetadata derives the document for p, or returns nil when the
// database holds nothing to derive it from.
func (h *handler) buildMetadata(ctx context.Context, ids []int64, p Path) ([]byte, time.Time, error) {
	m := h.d.Registry.Meta
	if !p.Versionless() {
		names, err := m.MavenFileNames(ctx, ids, p.Name, p.Version)
		if err != nil {
			return nil, time.Time{}, err
		}
		sm, ok := BuildSnapshot(p.GroupID, p.ArtifactID, p.Version, names)
		if !ok {
			return nil, time.Time{}, nil
		}
		mod, _ := time.Parse(lastUpdatedFormat, stampToUpdated(sm.Latest.Timestamp))
		return sm.Render(), mod, nil
	}
	vs, err := m.MavenVersions(ctx, ids, p.Name)
	if err != nil {
		return nil, time.Time{}, err
	}
	vl, err := m.MavenVersionlessPackages(ctx, ids, p.Name)
	if err != nil {
		return nil, time.Time{}, err
	}
	am := ArtifactMetadata{GroupID: p.GroupID, ArtifactID: p.ArtifactID}
	for _, v := range vs {
		am.Versions = append(am.Versions, v.Version)
		if v.UpdatedAt.After(am.LastUpdated) {
			am.LastUpdated = v.UpdatedAt
		}
	}
	for _, pkg := range vl {
		am.Plugins = MergePlugins(am.Plugins, pluginsOf(pkg.Metadata))
		if pkg.UpdatedAt.After(am.LastUpdated) {
			am.LastUpdated = pkg.UpdatedAt
		}
	}
	if len(am.Versions) == 0 && len(am.Plugins) == 0 {
		return nil, time.Time{}, nil
	}
	am.LastUpdated = am.LastUpdated.UTC().Truncate(time.Second)
	return am.Render(), am.LastUpdated, nil
}

// packageMetadata is what a maven package row's JSON holds (GitLab's
// maven_metadatum: path, app_group, app_name, app_version; plus the plugin
// entries of a plugin-group document).
type packageMetadata struct {
	Path       string   `json:"path"`
	AppGroup   string   `json:"app_group"`
	AppName    string   `json:"app_name"`
	AppVersion *string  `json:"app_version"`
	Plugins    []Plugin `json:"plugins,omitempty"`
}

func pluginsOf(js meta.JSON) []Plugin {
	var md packageMetadata
	if len(js) == 0 || json.Unmarshal(js, &md) != nil {
		return nil
	}
	return md.Plugins
}

// serveBytes answers a small in-memory body with HEAD, Range and
// conditional support.
func serveBytes(c *gin.Context, contentType string, mod time.Time, body []byte) {
	c.Writer.Header().Set("Content-Type", contentType)
	http.ServeContent(c.Writer, c.Request, "", mod, bytes.NewReader(body))
}

// duplicateAllowed applies GitLab's duplicate setting to a target.
func (h *handler) duplicateAllowed(p Path) bool {
	return p.Versionless() || p.Snapshot() || h.o.Duplicates.Allow(p.Name, p.Version)
}

// put stores one uploaded file, or verifies an uploaded checksum.
//
// Every PUT of a file appends a row (GitLab's behaviour; downloads serve
// the newest), so concurrent PUTs of the same release file all succeed and
// the last committed one is served by every later GET; with duplicates
// disallowed the check runs under the package's advisory lock, so exactly
// one of them wins and the others get 400.
func (h *handler) put(c *gin.Context) {
	const op = "maven.Upload"
	ctx := c.Request.Context()
	p, err := ParsePath(c.Param("path"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	acc := auth.AccessFrom(c)
	if p.Checksum != "" {
		h.verifyChecksum(c, acc, p)
		return
	}
	limit := h.d.Limits.Maven
	if p.IsMetadata() && (limit == 0 || limit > maxMetadataSize) {
		limit = maxMetadataSize
	}
	if err := formats.CheckContentLength(c, limit, tooLarge); err != nil {
		httpx.Abort(c, err)
		return
	}
	dupOK := h.duplicateAllowed(p)
	if !dupOK {
		// Refuse before the body is sent (Expect: 100-continue); the
		// authoritative check runs again in the transaction.
		_, err := h.d.Registry.Meta.MavenNewestFile(ctx, []int64{acc.Project.ID}, p.Name, p.VersionPtr(), p.Base)
		if err == nil {
			httpx.Abort(c, formats.ErrDuplicate(op))
			return
		}
		if !errs.Is(err, errs.NotFound) {
			httpx.Abort(c, err)
			return
		}
	}
	opts := registry.IngestOptions{Limit: limit, TooLargeMsg: tooLarge, SHA512: true}
	var staged *registry.Staged
	var plugins []Plugin
	if p.IsMetadata() && p.Versionless() {
		staged, plugins, err = h.ingestMetadata(ctx, c.Request.Body, opts)
	} else {
		staged, err = h.d.Registry.Ingest(ctx, c.Request.Body, opts)
	}
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	file := &meta.PackageFile{FileName: p.Base, BlobSHA256: staged.SHA256, Size: staged.Size}
	err = h.d.Registry.Commit(ctx, staged, func(tx *meta.Tx) error {
		if err := tx.AdvisoryLock(ctx, lockKey(acc.Project.ID, p)); err != nil {
			return err
		}
		md, _ := json.Marshal(packageMetadata{Path: p.Name, AppGroup: p.GroupID, AppName: p.ArtifactID, AppVersion: p.VersionPtr()})
		pkg := meta.Package{ProjectID: acc.Project.ID, PackageType: packageType, Name: p.Name, Version: p.VersionPtr(), Metadata: md}
		if _, err := tx.FindOrCreatePackage(ctx, &pkg, true); err != nil {
			return err
		}
		if !dupOK {
			dup, err := tx.HasFile(ctx, pkg.ID, p.Base)
			if err != nil {
				return err
			}
			if dup {
				return formats.ErrDuplicate(op)
			}
		}
		if len(plugins) > 0 {
			var cur map[string]any
			if err := json.Unmarshal(pkg.Metadata, &cur); err != nil || cur == nil {
				cur = map[string]any{}
			}
			cur["plugins"] = MergePlugins(pluginsOf(pkg.Metadata), plugins)
			js, err := json.Marshal(cur)
			if err != nil {
				return errs.E(op, errs.Internal, err)
			}
			if err := tx.SetPackageMetadata(ctx, pkg.ID, js); err != nil {
				return err
			}
		}
		file.PackageID = pkg.ID
		return tx.AddFile(ctx, file)
	})
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"message": "200 OK", "file_name": file.FileName, "size": file.Size,
		"file_md5": staged.MD5, "file_sha1": staged.SHA1, "file_sha256": staged.SHA256,
	})
}

// lockKey names the advisory lock serialising writes to one package.
func lockKey(projectID int64, p Path) string {
	return fmt.Sprintf("maven:%d:%s:%s", projectID, p.Name, p.Version)
}

// ingestMetadata streams an artifact-level maven-metadata.xml into the
// store and, in the same pass, through a streaming XML decoder that picks
// up its <plugins>. A document that does not parse is still stored.
func (h *handler) ingestMetadata(ctx context.Context, body io.Reader, opts registry.IngestOptions) (*registry.Staged, []Plugin, error) {
	pr, pw := io.Pipe()
	type result struct {
		plugins []Plugin
		err     error
	}
	done := make(chan result, 1)
	go func() {
		pl, err := ParsePlugins(pr)
		// Keep the upload flowing when parsing stopped early.
		_, _ = io.Copy(io.Discard, pr)
		done <- result{pl, err}
	}()
	st, err := h.d.Registry.Ingest(ctx, io.TeeReader(body, pw), opts)
	pw.CloseWithError(err)
	r := <-done
	if err != nil {
		return nil, nil, err
	}
	if r.err != nil {
		return st, nil, nil
	}
	return st, r.plugins, nil
}

// verifyChecksum answers a checksum PUT (.md5, .sha1, .sha256, .sha512).
// Nothing is stored: checksums are served from the blob row's digests.
//
// GitLab compares .sha1 with the newest stored file of that name (204, or
// 409 on mismatch) and accepts .md5 unchecked (200), and so does the
// gateway (spec 3.3): an .md5 is answered 200 whatever it holds and
// whether or not its file exists. .sha256 and .sha512 are verified like
// .sha1 (an UNCONFIRMED choice the spec allows); the comparison trims
// whitespace and ignores case and a trailing file name. For
// maven-metadata.xml the body may match any recent upload of that
// document: its content is not what is served (see serveMetadata), and
// two concurrent deploys must not fail each other's checksum step.
func (h *handler) verifyChecksum(c *gin.Context, acc *auth.Access, p Path) {
	const op = "maven.VerifyChecksum"
	ctx := c.Request.Context()
	// mvn deploy PUTs two to four checksums per file, none of them a
	// change: the audit log records the files, not these.
	meta.SkipAudit(ctx)
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxChecksumBody+1))
	if err != nil {
		httpx.Abort(c, errs.E(op, errs.Invalid, errs.Msg("400 Bad request - upload body could not be read"), err))
		return
	}
	if len(body) > maxChecksumBody {
		httpx.Abort(c, errs.New(op, errs.TooLarge, tooLarge))
		return
	}
	if p.Checksum == "md5" {
		c.Status(http.StatusOK)
		return
	}
	// A body that holds no digest at all differs from the file's as much
	// as a wrong one: GitLab compares the bytes and answers 409 (spec
	// 3.3), once the file is found.
	got, ok := ParseChecksumBody(body, p.Checksum)
	n := 1
	if p.IsMetadata() {
		n = metadataHistory
	}
	files, err := h.d.Registry.Meta.MavenNewestFiles(ctx, acc.Project.ID, p.Name, p.VersionPtr(), p.Base, n)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if len(files) == 0 {
		httpx.Abort(c, packageNotFound(op))
		return
	}
	for i := range files {
		if want := fileDigest(&files[i], p.Checksum); ok && (want == "" || strings.EqualFold(want, got)) {
			c.Status(http.StatusNoContent)
			return
		}
	}
	httpx.Abort(c, errs.New(op, errs.Conflict, "409 Conflict - checksum mismatch"))
}
