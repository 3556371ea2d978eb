package pypi

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
)

// Register mounts the PyPI routes on the /api/v4 group (spec 4.1):
//
//	POST       /projects/:id/packages/pypi                              twine upload
//	GET, HEAD  /projects/:id/packages/pypi/simple[/]                    root index
//	GET, HEAD  /projects/:id/packages/pypi/simple/:package_name[/]      project page
//	GET, HEAD  /projects/:id/packages/pypi/files/:sha256/:file_name     download
//	GET, HEAD  /groups/:id/-/packages/pypi/simple[/], .../simple/:package_name[/], .../files/:sha256/:file_name
//
// Both spellings of every page (with and without the trailing slash) are
// served directly: pip always asks for ".../simple/<normalised>/", GitLab
// answers both, and a redirect would only add a round trip. Project pages
// accept any spelling of the name (Acme_Hello, acme.hello) and answer with
// the same document instead of redirecting to the normalised URL (PEP 503
// allows either; GitLab does not redirect).
func Register(rg *gin.RouterGroup, d formats.Deps) {
	h := &handler{d: d}
	read := auth.Require(auth.Read)

	p := rg.Group("/projects/:id/packages/pypi", httpx.StrictChallenge, h.errorRenderer(false), d.Auth.PackageProject("id"))
	upload := []gin.HandlerFunc{auth.Require(auth.Write), h.upload}
	p.POST("", upload...)
	p.POST("/", upload...)
	h.mountReads(p, read, h.projectScope)

	g := rg.Group("/groups/:id/-/packages/pypi", httpx.StrictChallenge, h.errorRenderer(true), d.Auth.PackageGroup("id"))
	h.mountReads(g, func(c *gin.Context) { c.Next() }, h.groupScope)
}

func (h *handler) mountReads(rg *gin.RouterGroup, read gin.HandlerFunc, sc func(*gin.Context) scope) {
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		rg.Handle(m, "/simple", read, h.index(sc))
		rg.Handle(m, "/simple/", read, h.index(sc))
		rg.Handle(m, "/simple/:package_name", read, h.page(sc))
		rg.Handle(m, "/simple/:package_name/", read, h.page(sc))
		rg.Handle(m, "/files/:sha256/:file_name", read, h.file(sc))
	}
}

type handler struct {
	d formats.Deps
}

// scope is what a read route serves from: the packages of projectIDs,
// linked under base (the scope's absolute ".../packages/pypi" URL, with
// the numeric id as GitLab generates it).
type scope struct {
	base       string
	title      string
	projectIDs []int64
}

func (h *handler) projectScope(c *gin.Context) scope {
	p := auth.AccessFrom(c).Project
	return scope{
		base:       h.d.URL(fmt.Sprintf("/api/v4/projects/%d/packages/pypi", p.ID)),
		title:      p.Name,
		projectIDs: []int64{p.ID},
	}
}

// groupScope covers the projects of the group tree the caller may read
// (auth.PackageGroup computed them; a caller who can see the group but no
// project in it gets empty pages, not an error).
func (h *handler) groupScope(c *gin.Context) scope {
	ga := auth.GroupAccessFrom(c)
	return scope{
		base:       h.d.URL(fmt.Sprintf("/api/v4/groups/%d/-/packages/pypi", ga.Group.ID)),
		title:      ga.Group.Name,
		projectIDs: ga.ProjectIDs,
	}
}

// errorRenderer installs the PyPI routes' error body writer. Bodies keep
// the gateway's JSON shapes (a HEAD's included, whose body net/http drops
// after sizing Content-Length by it); what it changes is spec 4.1's
// special case:
// an anonymous caller naming a project or group id that does not exist at
// all gets 404 "Project Not Found" without a challenge (GitLab resolves
// the id before authenticating on these routes), while an existing private
// one still gets the 401 challenge pip and twine need.
//
// auth.PackageProject/PackageGroup answer 401 in both cases (they cannot
// tell a missing id from a private one for anonymous callers without a
// lookup they do not do). Until those middlewares grow an option for it,
// the existence lookup happens here, on the 401 path only, so successful
// requests pay nothing for it.
func (h *handler) errorRenderer(group bool) gin.HandlerFunc {
	render := func(c *gin.Context, status int, text string, shape errs.Shape) {
		if status == http.StatusUnauthorized && auth.AccessFrom(c) == nil && auth.GroupAccessFrom(c) == nil && h.scopeMissing(c, group) {
			c.Writer.Header().Del("WWW-Authenticate")
			status, shape, text = http.StatusNotFound, errs.ShapeMessage, "404 Project Not Found"
			if group {
				text = "404 Group Not Found"
			}
		}
		// HEAD gets the GET's answer too, whose body net/http drops: the
		// status and every header, Content-Type and Content-Length
		// included, as Rack answers HEAD for GitLab (httpx.Abort does the
		// same on the routes without a renderer).
		key := "message"
		if shape == errs.ShapeError {
			key = "error"
		}
		c.JSON(status, gin.H{key: text})
	}
	return func(c *gin.Context) {
		c.Set(httpx.RendererKey, httpx.Renderer(render))
		c.Next()
	}
}

// scopeMissing reports whether the route's :id names no project (group)
// at all. Lookup failures count as "exists": the 401 stands.
func (h *handler) scopeMissing(c *gin.Context, group bool) bool {
	ctx := c.Request.Context()
	id := httpx.Param(c, "id")
	var err error
	if group {
		_, err = auth.FindGroup(ctx, h.d.Registry.Meta, id)
	} else {
		_, err = auth.FindProject(ctx, h.d.Registry.Meta, id)
	}
	return errs.Is(err, errs.NotFound)
}
