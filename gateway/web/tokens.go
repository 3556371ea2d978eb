package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// The page lists at most this many active tokens; a project or group with
// more is better served by the REST API's paginated list.
const tokensShown = 200

type scopeRow struct {
	scopeInfo
	Checked bool
}

// createdToken is the one-time display of a new token's secret. It exists
// only in the response to the create POST (never stored, never in a URL),
// and that response is no-store; the page's script also replaces the
// history entry with the settings URL so a reload is a plain GET.
type createdToken struct {
	Name      string
	Username  string
	Token     string
	Scopes    []string
	ExpiresAt *time.Time
}

type settingsPage struct {
	holderHeader
	Perms    tokenPerms
	Tokens   []meta.DeployToken
	More     int
	Form     TokenForm
	Errors   FormErrors
	Scopes   []scopeRow
	MinDate  string
	Created  *createdToken
	Notice   string
	Open     bool
	Inherit  []crumb // groups whose tokens also reach this project
	RevokeTo string  // form action prefix for revoke buttons
	Delete   deleteForm
}

func (u *ui) settings(kind holderKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := sessionFrom(c)
		h := u.resolve(c, s, kind)
		if h == nil {
			return
		}
		d := &settingsPage{}
		if id, err := strconv.ParseInt(c.Query("revoked"), 10, 64); err == nil && h.Perms.List {
			if t, err := u.d.Store.DeployToken(c.Request.Context(), h.filter(), id); err == nil && t.Revoked {
				d.Notice = "Deploy token “" + t.Name + "” (" + t.DisplayUsername() + ") was revoked. Anything using it can no longer authenticate."
				d.Open = true
			}
		}
		u.renderSettings(c, s, h, http.StatusOK, d)
	}
}

// renderSettings fills in what every rendering of the settings page needs
// (token list, scope checkboxes) around the parts a handler set.
func (u *ui) renderSettings(c *gin.Context, s *session, h *holder, status int, d *settingsPage) {
	ctx := c.Request.Context()
	d.holderHeader = holderHeader{H: h, Tab: "settings"}
	d.Perms = h.Perms
	d.MinDate = minExpiryDate(u.now())
	d.RevokeTo = h.Base + "/deploy_tokens/"
	d.Delete.Allowed = u.deleteRefusal(s, h) == ""
	for _, si := range scopeInfos {
		d.Scopes = append(d.Scopes, scopeRow{scopeInfo: si, Checked: has(d.Form.Scopes, si.Name)})
	}
	if h.Perms.List {
		f := h.filter()
		f.ActiveOnly = true
		ts, total, err := u.d.Store.ListDeployTokens(ctx, f, tokensShown, 0)
		if err != nil {
			u.fail(c, err)
			return
		}
		d.Tokens, d.More = ts, total-len(ts)
	}
	if h.Kind == kindProject && h.Project.Namespace.Kind == "group" {
		for _, id := range h.Project.Namespace.TraversalIDs {
			if g, err := u.d.Store.NamespaceByID(ctx, id); err == nil {
				d.Inherit = append(d.Inherit, crumb{Label: g.FullName, URL: uiPrefix + "/groups/" + strconv.FormatInt(g.ID, 10) + "/settings#deploy-tokens"})
			}
		}
	}
	if len(d.Errors) > 0 || d.Created != nil {
		d.Open = true
	}
	v := u.view(s, "Settings · "+h.FullName)
	v.Crumbs = u.crumbs(ctx, h, "Settings")
	v.Main = d
	if d.Created != nil {
		v.ReplaceURL = settingsURL(h, nil)
	}
	u.render(c, status, "settings", v)
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// manageable resolves the page's project or group for a token change
// (verb: create, revoke) and answers 403 itself, returning nil, when the
// user may not manage its tokens; authorization is checked here, on the
// server, whatever the page showed.
func (u *ui) manageable(c *gin.Context, s *session, kind holderKind, verb string) *holder {
	h := u.resolve(c, s, kind)
	if h == nil {
		return nil
	}
	if !h.Perms.Manage {
		httpx.Logger(c).Warn("web: deploy token "+verb+" refused", "user", s.user.Username, "holder", h.FullPath, "level", h.Level)
		u.message(c, s, http.StatusForbidden, "Not allowed", "You cannot "+verb+" deploy tokens here. "+h.Perms.Why)
		return nil
	}
	return h
}

// createToken handles the create form. Authorization is checked here, on
// the server, whatever the page showed.
func (u *ui) createToken(kind holderKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := sessionFrom(c)
		h := u.manageable(c, s, kind, "create")
		if h == nil {
			return
		}
		pf := c.Request.PostForm
		form := TokenForm{Name: pf.Get("name"), ExpiresAt: pf.Get("expires_at"), Username: pf.Get("username"), Scopes: pf["scopes"]}
		in, ferrs := form.Validate(u.now())
		if len(ferrs) > 0 {
			u.renderSettings(c, s, h, http.StatusUnprocessableEntity, &settingsPage{Form: form, Errors: ferrs})
			return
		}
		t := &meta.DeployToken{Name: in.Name, Username: in.Username, Scopes: in.Scopes, ExpiresAt: in.ExpiresAt, CreatorID: &s.user.ID}
		if kind == kindGroup {
			t.GroupID = &h.ID
		} else {
			t.ProjectID = &h.ID
		}
		secret, err := auth.IssueDeployToken(c.Request.Context(), u.d.Store, t)
		if err != nil {
			u.fail(c, err)
			return
		}
		httpx.Logger(c).Info("web: deploy token created", "user", s.user.Username, "holder_kind", string(kind),
			"holder", h.FullPath, "token_id", t.ID, "scopes", []string(t.Scopes))
		u.auditToken(c, s, h, "deploy_token.create", t)
		u.renderSettings(c, s, h, http.StatusCreated, &settingsPage{Created: &createdToken{
			Name: t.Name, Username: t.DisplayUsername(), Token: secret, Scopes: t.Scopes, ExpiresAt: t.ExpiresAt}})
	}
}

type revokePage struct {
	holderHeader
	Token  *meta.DeployToken
	Action string
	Back   string
}

// revokeToken revokes after confirmation. With JavaScript the page asks in
// a dialog and posts confirm=yes; without it, the first POST shows a
// confirmation page whose button posts confirm=yes.
func (u *ui) revokeToken(kind holderKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := sessionFrom(c)
		ctx := c.Request.Context()
		h := u.manageable(c, s, kind, "revoke")
		if h == nil {
			return
		}
		tid, err := strconv.ParseInt(c.Param("token_id"), 10, 64)
		if err != nil || tid <= 0 {
			u.notFound(c, s, "This deploy token")
			return
		}
		t, err := u.d.Store.DeployToken(ctx, h.filter(), tid)
		if err != nil {
			if errs.Is(err, errs.NotFound) {
				u.notFound(c, s, "This deploy token")
				return
			}
			u.fail(c, err)
			return
		}
		done := settingsURL(h, url.Values{"revoked": {strconv.FormatInt(t.ID, 10)}})
		if t.Revoked {
			c.Redirect(http.StatusSeeOther, done)
			return
		}
		if c.Request.PostForm.Get("confirm") != "yes" {
			v := u.view(s, "Revoke deploy token")
			v.Crumbs = u.crumbs(ctx, h, "Revoke deploy token")
			v.Main = revokePage{holderHeader: holderHeader{H: h, Tab: "settings"}, Token: t,
				Action: h.Base + "/deploy_tokens/" + strconv.FormatInt(t.ID, 10) + "/revoke", Back: settingsURL(h, nil)}
			u.render(c, http.StatusOK, "revoke", v)
			return
		}
		if _, err := u.d.Store.RevokeDeployToken(ctx, h.filter(), t.ID); err != nil {
			u.fail(c, err)
			return
		}
		if u.d.Auth != nil {
			u.d.Auth.Cache.ForgetDeployToken(t.ID)
		}
		httpx.Logger(c).Info("web: deploy token revoked", "user", s.user.Username, "holder_kind", string(kind),
			"holder", h.FullPath, "token_id", t.ID)
		u.auditToken(c, s, h, "deploy_token.revoke", t)
		c.Redirect(http.StatusSeeOther, done)
	}
}

// auditToken hands a token change to the audit log (Deps.AuditToken).
func (u *ui) auditToken(c *gin.Context, s *session, h *holder, action string, t *meta.DeployToken) {
	if u.d.AuditToken != nil {
		u.d.AuditToken(c, s.user, action, h.Kind == kindGroup, h.ID, h.FullPath, t)
	}
}
