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
// DECISION (spec 1.3: the gateway MAY send the Basic challenge): npm 401s
// carry the packages Basic challenge the auth middleware sets for every
// format, although GitLab's npm routes send none (their unauthorized!,
// gitlabhq lib/api/helpers.rb, sets no header). HTTP requires a challenge
// on every 401 (RFC 9110 11.6.1), and the project's rule is one answer for
// a missing credential on every protected path. The price is npm 11's
// wording: for a Basic challenge it prints "Incorrect or missing
// password" and npm's generic advice (npm lib/utils/error-message.js,
// E401) where, without a header, it would print the status line; an
// expired or revoked token's Bearer invalid_token challenge makes it say
// the token seems to be invalid. npm never retries a 401, and no value
// here holds "otp", which npm would turn into a one-time-password prompt.
func npmErrors(c *gin.Context) {
	c.Set(httpx.RendererKey, httpx.Renderer(renderError))
	c.Next()
}

// renderError writes a HEAD's error as the GET's, body included, which
// net/http drops after sizing Content-Length by it: the same status and
// headers, as Rack answers HEAD for GitLab (httpx.Abort does the same on
// the routes without a renderer).
func renderError(c *gin.Context, status int, text string, shape errs.Shape) {
	if shape == errs.ShapeError {
		c.AbortWithStatusJSON(status, gin.H{"error": text})
		return
	}
	c.AbortWithStatusJSON(status, gin.H{"message": text, "error": text})
}
