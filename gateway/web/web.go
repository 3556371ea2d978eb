// Package web serves the gateway's own pages under /-/ui/: sign-in with a
// personal access token, the groups and projects a user can see, each
// project's packages with install commands, and in project and group
// settings the Deploy tokens section (create, one-time display, revoke) and,
// for Owners, the deletion of the project or group.
//
// The pages are server-rendered html/template with embedded CSS and a small
// script that only enhances them (copy buttons, a confirmation dialog): every
// action works without JavaScript. Authorization follows the REST API's
// rules exactly (gateway/api_tokens.go, gateway/api_delete.go) and is
// enforced on every POST, not just by hiding buttons.
package web

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// Deps is what the pages need.
type Deps struct {
	Store       *meta.Store
	Auth        *auth.Authenticator
	ExternalURL string
	// TrustedProxies may tell that a request reached them over https when
	// the external URL does not: behind a TLS-terminating proxy left at the
	// default http external URL, cookies are still Secure.
	TrustedProxies httpx.Proxies
	Log            *slog.Logger
	// AuditToken records a deploy token's creation ("deploy_token.create")
	// or revocation ("deploy_token.revoke") made through the pages, as the
	// REST API records its own; nil records nothing.
	AuditToken func(c *gin.Context, by *meta.User, action string, group bool, holderID int64, holderPath string, t *meta.DeployToken)
	// Delete deletes project id, or group id (group true) with everything
	// in it, exactly as the REST API's DELETE does, audited as by's: the
	// pages decide who may, never how. nil: the pages delete nothing.
	Delete func(c *gin.Context, by *meta.User, group bool, id int64) error
}

type ui struct {
	d      Deps
	r      *renderer
	secure bool   // external URL is https: every cookie is Secure
	origin string // scheme://host[:port] of the external URL
	now    func() time.Time
}

// Register mounts the pages under /-/ui.
func Register(e *gin.Engine, d Deps) {
	u := newUI(d)

	e.GET(uiPrefix, func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, uiPrefix+"/") })
	e.GET(uiPrefix+"/static/*file", u.serveStatic)
	e.HEAD(uiPrefix+"/static/*file", u.serveStatic)

	g := e.Group(uiPrefix, securityHeaders, u.withSession)
	g.GET("/sign_in", u.signInForm)
	g.POST("/sign_in", u.signIn)

	p := g.Group("", u.checkPost, u.requireSession)
	p.GET("/", u.dashboard)
	p.POST("/sign_out", u.signOut)
	p.GET("/projects/:id", u.projectHome)
	p.GET("/projects/:id/packages", u.projectPackages)
	p.GET("/projects/:id/settings", u.settings(kindProject))
	p.POST("/projects/:id/deploy_tokens", u.createToken(kindProject))
	p.POST("/projects/:id/deploy_tokens/:token_id/revoke", u.revokeToken(kindProject))
	p.POST("/projects/:id/delete", u.deleteHolder(kindProject))
	p.GET("/groups/:id", u.groupHome)
	p.GET("/groups/:id/settings", u.settings(kindGroup))
	p.POST("/groups/:id/deploy_tokens", u.createToken(kindGroup))
	p.POST("/groups/:id/deploy_tokens/:token_id/revoke", u.revokeToken(kindGroup))
	p.POST("/groups/:id/delete", u.deleteHolder(kindGroup))
}

func newUI(d Deps) *ui {
	r, err := newRenderer()
	if err != nil {
		// The templates are embedded: this fails at the first test run,
		// never in production.
		panic(err)
	}
	u := &ui{d: d, r: r, now: time.Now}
	if pu, err := url.Parse(d.ExternalURL); err == nil && pu.Host != "" {
		u.secure = pu.Scheme == "https"
		u.origin = pu.Scheme + "://" + pu.Host
	}
	return u
}

// securityHeaders: pages never go into a shared or back/forward cache (they
// show private data, and once a new token's secret), may not be framed,
// and may only load the gateway's own script and styles.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.Next()
}

// pathID is the :id segment decoded once (numeric id or full path).
func pathID(c *gin.Context) string {
	v := c.Param("id")
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}

func trimSlash(s string) string { return strings.TrimRight(s, "/") }
