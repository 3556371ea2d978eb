package npm

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
)

// Register mounts the npm routes on the /api/v4 group at the three GitLab
// prefixes. Each prefix has one catch-all per method, because scoped names
// contain a slash that npm sends percent-encoded (@acme%2fhello) and other
// tools send literally; ParsePath decides which endpoint a path names.
//
//	project:  /projects/:id/packages/npm/...      read, publish, dist-tags, unpublish
//	group:    /groups/:id/-/packages/npm/...      read, dist-tags
//	instance: /packages/npm/...                   read, dist-tags (scope = top-level namespace)
func Register(rg *gin.RouterGroup, d formats.Deps) {
	h := &handler{d: d}
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPost}
	proj := rg.Group("/projects/:id/packages/npm", npmErrors, d.Auth.PackageProject("id"))
	grp := rg.Group("/groups/:id/-/packages/npm", npmErrors, d.Auth.PackageGroup("id"))
	inst := rg.Group("/packages/npm", npmErrors, d.Auth.PackageInstance())
	for _, m := range methods {
		proj.Handle(m, "/*path", h.project)
		grp.Handle(m, "/*path", h.group)
		inst.Handle(m, "/*path", h.instance)
	}
}

// npmErrors makes every error on npm routes carry both "message" (GitLab's
// key) and "error" (the key npm prints after the status line), as GitLab's
// npm endpoints do. It runs before authentication so 401/404 from the auth
// middleware get the same shape.
//
// PROJECT DECISION (spec 1.3 leaves it open, "MAY"): npm 401s carry no
// WWW-Authenticate header, the packages Basic challenge the auth middleware
// sets for Maven and pip included. GitLab's npm endpoints answer 401 through
// the API's unauthorized! helper, which sets no header (only the Maven
// virtual registry overrides it). npm 11 reads a Basic challenge as a
// password login gone wrong and prints "Incorrect or missing password ...
// recover your password at https://www.npmjs.com/forgot" instead of the
// status line and our message; without the header it prints
// "401 Unauthorized - GET <url> - 401 Unauthorized", as against GitLab.
// The Bearer invalid_token challenge of an expired or revoked token (its
// error carries its own body and challenge, and GitLab's API guard sends
// the same) is kept: npm then says the token seems to be invalid. No
// challenge here may contain "otp", which npm would turn into a
// one-time-password prompt.
func npmErrors(c *gin.Context) {
	c.Set(httpx.RendererKey, httpx.Renderer(renderError))
	c.Next()
}

func renderError(c *gin.Context, status int, text string, shape errs.Shape) {
	if status == http.StatusUnauthorized && c.Writer.Header().Get("WWW-Authenticate") == httpx.PackagesRealm {
		c.Writer.Header().Del("WWW-Authenticate")
	}
	if c.Request.Method == http.MethodHead {
		c.AbortWithStatus(status)
		return
	}
	if shape == errs.ShapeError {
		c.AbortWithStatusJSON(status, gin.H{"error": text})
		return
	}
	c.AbortWithStatusJSON(status, gin.H{"message": text, "error": text})
}
