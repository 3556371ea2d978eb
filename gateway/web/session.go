package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// Sessions.
//
// A person signs in by pasting a personal access token. The gateway does
// not keep that token anywhere: it checks it once and opens a session of
// its own. Gateway nodes are stateless (every fact lives in Postgres), so a
// session is a row of web_sessions, readable by any node and surviving
// restarts. The row records the token the user signed in with (its
// "source"): every page load re-checks it, so revoking or expiring it ends
// the session, and its scopes decide what the session may do (api: manage
// tokens; read_api: read-only). Session secrets are not tokens: no API or
// package endpoint looks at that table.
//
// The session's secret (prefix sessionPrefix, 120 random bits) lives only
// in an HttpOnly, SameSite=Lax cookie scoped to /-/ui (Secure when the
// external URL is https or the request came over https, see cookieSecure);
// the database keeps its SHA-256 as for every token.
// A session lasts at most sessionTTL from sign-in; signing out deletes the
// row, and expired rows are swept at the user's next sign-in.
//
// CSRF: every form carries HMAC-SHA256(session secret, "csrf") and POSTs
// are refused without it (a synchronizer token that needs no storage: only
// someone holding the HttpOnly cookie can compute it). The sign-in form,
// which has no session yet, uses a random pre-session cookie the same way.
// POSTs whose Origin header names another site are refused as well.
const (
	uiPrefix      = "/-/ui"
	sessionCookie = "pkgate_session"
	signinCookie  = "pkgate_signin"
	sessionPrefix = "pkgws-"
	sessionTTL    = 12 * time.Hour
	csrfField     = "csrf_token"
)

// session is a signed-in browser.
type session struct {
	secret string
	row    *meta.WebSession
	user   *meta.User
	source *meta.PAT
	csrf   string
}

// canWrite reports whether the token the user signed in with allows
// changes (scope api); read_api sessions are read-only, as on the API.
func (s *session) canWrite() bool { return s != nil && slices.Contains(s.source.Scopes, "api") }

// isAdmin reports an instance administrator.
func (s *session) isAdmin() bool { return s != nil && s.user.IsAdmin }

// mac is HMAC-SHA256(key, purpose), base64url.
func mac(key, purpose string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(purpose))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// csrfFor derives a session's form token.
func csrfFor(secret string) string { return mac(secret, "pkgate web csrf v1") }

// validMAC compares a posted token with the expected one in constant time.
func validMAC(got, want string) bool {
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

// newCookie builds the gateway's cookies: HttpOnly always, Secure when the
// gateway is served over https, limited to the pages' path.
func newCookie(name, value string, maxAge int, secure bool, sameSite http.SameSite) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: uiPrefix, MaxAge: maxAge, HttpOnly: true, Secure: secure, SameSite: sameSite}
}

// cookieSecure is decided per request because the external URL is not the
// whole truth: behind a TLS-terminating proxy it is often left at its http
// default, and a session the browser got over https must never travel in
// clear text. Only the TLS state and a trusted proxy's word count, and they
// can only add the flag: nothing in a request clears it.
//
// The names keep no __Host- prefix: it requires Path=/, which would send
// the session to every API and package route instead of the pages only;
// and a name that depended on the scheme would sign everyone out whenever
// a proxy is put in front.
func (u *ui) cookieSecure(r *http.Request) bool {
	return u.secure || u.d.TrustedProxies.HTTPS(r)
}

func (u *ui) setCookie(c *gin.Context, name, value string, maxAge int, sameSite http.SameSite) {
	http.SetCookie(c.Writer, newCookie(name, value, maxAge, u.cookieSecure(c.Request), sameSite))
}

func (u *ui) clearCookie(c *gin.Context, name string) {
	u.setCookie(c, name, "", -1, http.SameSiteLaxMode)
}

func cookieValue(c *gin.Context, name string) string {
	ck, err := c.Request.Cookie(name)
	if err != nil {
		return ""
	}
	return ck.Value
}

// sessionFrom returns the session stored by the middleware (nil: anonymous).
func sessionFrom(c *gin.Context) *session {
	if v, ok := c.Get("web.session"); ok {
		return v.(*session)
	}
	return nil
}

// withSession resolves the session cookie on every page; an invalid or
// expired cookie is cleared and the caller is anonymous.
func (u *ui) withSession(c *gin.Context) {
	secret := cookieValue(c, sessionCookie)
	if secret == "" {
		c.Next()
		return
	}
	s, err := u.loadSession(c.Request.Context(), secret)
	if err != nil {
		u.fail(c, err)
		return
	}
	if s == nil {
		u.clearCookie(c, sessionCookie)
		c.Set("web.expired", true)
	} else {
		c.Set("web.session", s)
	}
	c.Next()
}

// loadSession checks a session secret; nil without error means "not a
// valid session" (unknown, signed out, too old, source token gone, ...).
func (u *ui) loadSession(ctx context.Context, secret string) (*session, error) {
	if !strings.HasPrefix(secret, sessionPrefix) || len(secret) > 64 {
		return nil, nil
	}
	d := auth.Digest(secret)
	row, user, stored, err := u.d.Store.WebSessionByDigest(ctx, d)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	if !auth.SameDigest(d, stored) {
		return nil, nil
	}
	now := u.now()
	if now.Sub(row.CreatedAt) > sessionTTL || now.After(row.ExpiresAt) {
		_ = u.d.Store.DeleteWebSession(ctx, user.ID, row.ID)
		return nil, nil
	}
	if user.State != "active" {
		return nil, nil
	}
	src, err := u.d.Store.PATByID(ctx, row.SourcePATID)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	if src.UserID != user.ID || !src.Active(now.UTC()) || !signInScope(src.Scopes) {
		return nil, nil
	}
	return &session{secret: secret, row: row, user: user, source: src, csrf: csrfFor(secret)}, nil
}

func signInScope(scopes []string) bool {
	return slices.Contains(scopes, "api") || slices.Contains(scopes, "read_api")
}

// requireSession sends anonymous visitors of a page to the sign-in form,
// remembering where they wanted to go.
func (u *ui) requireSession(c *gin.Context) {
	if sessionFrom(c) != nil {
		c.Next()
		return
	}
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		u.message(c, nil, http.StatusForbidden, "Sign in required",
			"Your session has expired or you are not signed in. Sign in and submit the form again.")
		return
	}
	q := url.Values{"next": {c.Request.URL.RequestURI()}}
	if c.GetBool("web.expired") {
		q.Set("reason", "expired")
	}
	c.Redirect(http.StatusSeeOther, uiPrefix+"/sign_in?"+q.Encode())
	c.Abort()
}

// checkPost guards every state-changing request: the Origin header, when
// the browser sends one, must be this gateway, and the form must carry the
// session's CSRF token. It also bounds and parses the form body.
func (u *ui) checkPost(c *gin.Context) {
	if c.Request.Method != http.MethodPost {
		c.Next()
		return
	}
	s := sessionFrom(c)
	if !u.sameOrigin(c.Request) {
		httpx.Logger(c).Warn("web: cross-origin post refused", "origin", c.GetHeader("Origin"))
		u.message(c, s, http.StatusForbidden, "Request refused", "This form was sent from another site.")
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10)
	if err := c.Request.ParseForm(); err != nil {
		u.message(c, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	if s == nil {
		c.Next() // requireSession answers
		return
	}
	if !validMAC(c.Request.PostForm.Get(csrfField), s.csrf) {
		httpx.Logger(c).Warn("web: post without a valid csrf token refused", "user", s.user.Username)
		u.message(c, s, http.StatusForbidden, "Request refused",
			"The form's security token is missing or invalid. Reload the page and try again.")
		return
	}
	c.Next()
}

// sameOrigin accepts a request without Origin (non-browser clients still
// need the CSRF token), or whose Origin is the external URL's origin or the
// host the request was sent to.
func (u *ui) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	if o == u.origin {
		return true
	}
	ou, err := url.Parse(o)
	return err == nil && ou.Host != "" && ou.Host == r.Host
}

// safeNext keeps a post-sign-in redirect on the pages (no open redirect).
func safeNext(next string) string {
	if !strings.HasPrefix(next, uiPrefix+"/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return uiPrefix + "/"
	}
	pu, err := url.Parse(next)
	if err != nil || pu.Scheme != "" || pu.Host != "" || strings.HasPrefix(pu.Path, uiPrefix+"/sign_") {
		return uiPrefix + "/"
	}
	// The redirect cleans the path: "/-/ui/../api" would leave the pages.
	if clean := path.Clean(pu.Path); clean != uiPrefix && !strings.HasPrefix(clean, uiPrefix+"/") {
		return uiPrefix + "/"
	}
	return next
}

type signInPage struct {
	Next   string
	CSRF   string
	Error  string
	Notice string
}

// signinToken ensures the pre-session cookie and returns the form token
// derived from it.
func (u *ui) signinToken(c *gin.Context) string {
	v := cookieValue(c, signinCookie)
	if len(v) < 32 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		v = base64.RawURLEncoding.EncodeToString(b)
		u.setCookie(c, signinCookie, v, 3600, http.SameSiteStrictMode)
	}
	return mac(v, "pkgate web sign-in v1")
}

func (u *ui) signInForm(c *gin.Context) {
	next := safeNext(c.Query("next"))
	if sessionFrom(c) != nil {
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	p := signInPage{Next: next, CSRF: u.signinToken(c)}
	switch c.Query("reason") {
	case "expired":
		p.Notice = "Your session has ended. Sign in again to continue."
	case "signed_out":
		p.Notice = "You have signed out."
	}
	u.render(c, http.StatusOK, "sign_in", view{Title: "Sign in", Main: p})
}

func (u *ui) signIn(c *gin.Context) {
	ctx := c.Request.Context()
	if !u.sameOrigin(c.Request) {
		u.message(c, nil, http.StatusForbidden, "Request refused", "This form was sent from another site.")
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 16<<10)
	_ = c.Request.ParseForm()
	next := safeNext(c.Request.PostForm.Get("next"))
	p := signInPage{Next: next}
	fail := func(status int, msg string) {
		p.Error = msg
		p.CSRF = u.signinToken(c)
		u.render(c, status, "sign_in", view{Title: "Sign in", Main: p})
	}
	pre := cookieValue(c, signinCookie)
	if pre == "" || !validMAC(c.Request.PostForm.Get(csrfField), mac(pre, "pkgate web sign-in v1")) {
		fail(http.StatusForbidden, "The sign-in form expired. Paste your token and try again.")
		return
	}
	tok := strings.TrimSpace(c.Request.PostForm.Get("token"))
	if tok == "" {
		fail(http.StatusUnprocessableEntity, "Enter a personal access token.")
		return
	}
	// A wrong token here is a failed authentication for the per-address
	// limiter, as it is in a header: the form is no way around it.
	c.Set(httpx.CredentialKey, true)
	if len(tok) > 255 || strings.HasPrefix(tok, sessionPrefix) {
		fail(http.StatusUnauthorized, "This token is not valid.")
		return
	}
	d := auth.Digest(tok)
	pat, user, stored, err := u.d.Store.PATByDigest(ctx, d)
	if err != nil && !errs.Is(err, errs.NotFound) {
		u.fail(c, err)
		return
	}
	now := u.now().UTC()
	switch {
	case err != nil || !auth.SameDigest(d, stored):
		fail(http.StatusUnauthorized, "This token is not valid. Check that you pasted a personal access token (glpat-…), not a deploy token.")
		return
	case pat.Revoked:
		fail(http.StatusUnauthorized, "This token has been revoked.")
		return
	case !pat.Active(now):
		fail(http.StatusUnauthorized, "This token has expired.")
		return
	case user.State != "active":
		fail(http.StatusForbidden, "Your account has been blocked.")
		return
	case !signInScope(pat.Scopes):
		fail(http.StatusForbidden, "This token cannot be used to sign in: it needs the api scope (or read_api for read-only access).")
		return
	}
	// Signing in again replaces this browser's session; abandoned sessions
	// of the user are swept; then a new one is opened.
	if old := sessionFrom(c); old != nil {
		_ = u.d.Store.DeleteWebSession(ctx, old.user.ID, old.row.ID)
	}
	if err := u.d.Store.DeleteExpiredWebSessions(ctx, user.ID, now); err != nil {
		httpx.Logger(c).Warn("web: sweeping old sessions failed", "error", err.Error())
	}
	secret, digest := auth.NewSecret(sessionPrefix)
	row := &meta.WebSession{UserID: user.ID, SourcePATID: pat.ID, ExpiresAt: now.Add(sessionTTL)}
	if err := u.d.Store.CreateWebSession(ctx, row, digest); err != nil {
		u.fail(c, err)
		return
	}
	httpx.Logger(c).Info("web: signed in", "user", user.Username, "pat_id", pat.ID, "session_id", row.ID)
	u.setCookie(c, sessionCookie, secret, int(sessionTTL/time.Second), http.SameSiteLaxMode)
	u.clearCookie(c, signinCookie)
	c.Redirect(http.StatusSeeOther, next)
}

func (u *ui) signOut(c *gin.Context) {
	s := sessionFrom(c)
	if err := u.d.Store.DeleteWebSession(c.Request.Context(), s.user.ID, s.row.ID); err != nil {
		u.fail(c, err)
		return
	}
	httpx.Logger(c).Info("web: signed out", "user", s.user.Username, "session_id", s.row.ID)
	u.clearCookie(c, sessionCookie)
	c.Redirect(http.StatusSeeOther, uiPrefix+"/sign_in?reason=signed_out")
}
