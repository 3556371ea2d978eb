package auth

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/storage/meta"
)

// Identity is who a request acts as: a user through a personal access
// token, a deploy token, or nobody (anonymous).
type Identity struct {
	User   *meta.User
	PAT    *meta.PAT
	Deploy *meta.DeployToken
}

// Anonymous reports whether no credential resolved.
func (i *Identity) Anonymous() bool { return i == nil || (i.User == nil && i.Deploy == nil) }

// IsAdmin reports an instance admin acting through a PAT.
func (i *Identity) IsAdmin() bool { return i != nil && i.User != nil && i.User.IsAdmin }

// Authenticator resolves credentials against the metadata store.
type Authenticator struct {
	Store *meta.Store
	Cache *Cache // optional: verified-token cache
	Now   func() time.Time

	projectsOnce sync.Once
	projects     *projectCache
	uses         useTracker
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// errUnauthorized never says whether a token exists.
func errUnauthorized(op string) error {
	return errs.New(op, errs.Unauthorized, "401 Unauthorized")
}

func errInvalidToken(op, desc string) error {
	return &errs.Error{Op: op, Kind: errs.Unauthorized,
		Challenge: `Bearer realm="The API", error="invalid_token", error_description="` + desc + `"`,
		Body:      map[string]any{"error": "invalid_token", "error_description": desc}}
}

// invalidToken reports whether err is errInvalidToken's: a PAT that
// exists but is expired or revoked, which no carrier passes over.
func invalidToken(err error) bool {
	var e *errs.Error
	return errors.As(err, &e) && e.Kind == errs.Unauthorized && e.Challenge != ""
}

// ErrInsufficientScope is GitLab's answer to a PAT lacking the scope.
func ErrInsufficientScope(op string, scope string) error {
	return &errs.Error{Op: op, Kind: errs.Forbidden, Body: map[string]any{
		"error":             "insufficient_scope",
		"error_description": "The request requires higher privileges than provided by the access token.",
		"scope":             scope,
	}}
}

// resolvePAT finds a personal access token; anything unmatched is 401.
// A token that resolves has its use noted (notePATUse), cached or not.
func (a *Authenticator) resolvePAT(ctx context.Context, secret string, clientIP func() string) (*Identity, error) {
	const op = "auth.resolvePAT"
	if v := a.Cache.get(secret); v != nil && v.User != nil {
		a.notePATUse(ctx, v.PAT, clientIP)
		return v, nil
	}
	ticket := a.Cache.ticket()
	d := Digest(secret)
	pat, user, stored, err := a.Store.PATByDigest(ctx, d)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, errUnauthorized(op)
		}
		return nil, err
	}
	if !SameDigest(d, stored) {
		return nil, errUnauthorized(op)
	}
	if pat.Revoked {
		if rotation, _ := ctx.Value(rotationKey{}).(bool); rotation {
			if err := a.revokeFamily(ctx, pat.ID); err != nil {
				return nil, err
			}
		}
		return nil, errInvalidToken(op, "Token has been revoked.")
	}
	if !pat.Active(a.now().UTC()) {
		return nil, errInvalidToken(op, "Token has expired.")
	}
	if user.State != "active" {
		return nil, errs.New(op, errs.Forbidden, "403 Forbidden - Your account has been blocked.")
	}
	id := &Identity{User: user, PAT: pat}
	a.Cache.put(secret, id, ticket)
	a.notePATUse(ctx, pat, clientIP)
	return id, nil
}

// lookupDeploy returns a usable deploy token or nil.
func (a *Authenticator) lookupDeploy(ctx context.Context, secret string) (*Identity, error) {
	if v := a.Cache.get(secret); v != nil {
		if v.Deploy != nil {
			return v, nil
		}
		return nil, nil
	}
	ticket := a.Cache.ticket()
	d := Digest(secret)
	t, stored, err := a.Store.DeployTokenByDigest(ctx, d)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	if !SameDigest(d, stored) || !t.Usable(a.now()) {
		return nil, nil
	}
	id := &Identity{Deploy: t}
	a.Cache.put(secret, id, ticket)
	go a.Store.TouchDeployToken(context.WithoutCancel(ctx), t.ID) //nolint:errcheck // best effort
	return id, nil
}

// API resolves credentials on the users/groups/projects/deploy-token API,
// where only personal access tokens count: Deploy-Token and Basic are
// ignored (the caller is anonymous), an unknown PRIVATE-TOKEN or Bearer is 401.
// A PAT needs the api scope, or read_api for GET and HEAD. clientIP
// reports the request's client address (gin's Context.ClientIP, which
// believes X-Forwarded-For only from the configured proxies) for the
// token's last_used_ips; it is called only when a token resolves, and may
// be nil.
func (a *Authenticator) API(ctx context.Context, r *http.Request, clientIP func() string) (*Identity, error) {
	id, err := a.APIAnyScope(ctx, r, clientIP)
	if err != nil {
		return nil, err
	}
	return id, checkPATScope("auth.API", id, r.Method)
}

// APIReadUser is API for the routes GitLab also opens to read_user
// tokens on GET and HEAD (allow_access_with_scope :read_user in
// lib/api/users.rb, version.rb, metadata.rb): the user API's reads and
// the instance's version, what a token made to identify its user needs.
func (a *Authenticator) APIReadUser(ctx context.Context, r *http.Request, clientIP func() string) (*Identity, error) {
	id, err := a.APIAnyScope(ctx, r, clientIP)
	if err != nil {
		return nil, err
	}
	if id.PAT != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && slices.Contains(id.PAT.Scopes, "read_user") {
		return id, nil
	}
	return id, checkPATScope("auth.API", id, r.Method)
}

// APIAnyScope is API without the scope check, for the routes through which
// any token may read or revoke itself whatever its scopes (GitLab's
// allow_access_with_scope(all_available_scopes) in
// lib/api/personal_access_tokens/self_information.rb): a leaked read_user
// token must be revocable with nothing but itself.
func (a *Authenticator) APIAnyScope(ctx context.Context, r *http.Request, clientIP func() string) (*Identity, error) {
	ctx = context.WithValue(ctx, inlineUseKey{}, true)
	if rotationPath.MatchString(r.URL.Path) {
		ctx = context.WithValue(ctx, rotationKey{}, true)
	}
	c := Extract(r)
	switch {
	case c.Bearer != "":
		return a.resolvePAT(ctx, c.Bearer, clientIP)
	case c.PrivateToken != "":
		return a.resolvePAT(ctx, c.PrivateToken, clientIP)
	case c.JobToken != "":
		return nil, errUnauthorized("auth.API")
	}
	return &Identity{}, nil
}

// rotationPath is GitLab's access_token_rotation_request? (gitlabhq
// lib/gitlab/auth/auth_finders.rb): a request to rotate a token, by id
// or "self", on which a revoked token revokes its family (revokeFamily).
var rotationPath = regexp.MustCompile(`access_tokens/(\d+|self)/rotate$`)

// rotationKey marks, in a request's context, a rotation request
// (rotationPath).
type rotationKey struct{}

// revokeFamily is GitLab's token reuse detection (revoke_token_family in
// gitlabhq lib/gitlab/auth/auth_finders.rb): a revoked token presented to
// rotate a token is taken for a leaked copy of one already rotated, whose
// thief (or owner) may hold its successor, so the successor is revoked
// too, on every node, and the request is refused as any revoked token is.
// A revoked token used anywhere else is only refused, as in GitLab.
func (a *Authenticator) revokeFamily(ctx context.Context, id int64) error {
	ids, err := a.Store.RevokePATFamily(context.WithoutCancel(ctx), id)
	for _, n := range ids {
		a.Cache.ForgetPAT(n)
	}
	return err
}

// checkPATScope enforces api (everything) / read_api (GET and HEAD).
func checkPATScope(op string, id *Identity, method string) error {
	if id == nil || id.PAT == nil {
		return nil
	}
	if slices.Contains(id.PAT.Scopes, "api") {
		return nil
	}
	read := method == http.MethodGet || method == http.MethodHead
	if read && slices.Contains(id.PAT.Scopes, "read_api") {
		return nil
	}
	if read {
		return ErrInsufficientScope(op, "api read_api")
	}
	return ErrInsufficientScope(op, "api")
}

// Packages resolves credentials on package routes, in GitLab's order:
// a deploy token (Deploy-Token header, else Bearer, replaced by the Basic
// password when Basic is present); then Bearer or PRIVATE-TOKEN as a PAT,
// where no match is 401; then the Basic password as a PAT, where no match is
// anonymous but an expired or revoked PAT is 401 invalid_token, as for any
// other carrier (GitLab's find_personal_access_token_from_http_basic_auth
// finds every PAT, and validate_access_token! then raises; spec 3.4, 4.6);
// a job token can never be valid here (no CI runner), so it is 401. The
// Basic username is ignored, as GitLab's API does.
//
// PROJECT DECISION: a deploy token sent as PRIVATE-TOKEN is also accepted
// here (GitLab would answer 401). Maven settings.xml files written for
// GitLab commonly send Private-Token from <httpHeaders>, and the extension
// breaks no client; on the non-package API it is still an unknown PAT.
// clientIP is as for API.
func (a *Authenticator) Packages(ctx context.Context, r *http.Request, clientIP func() string) (*Identity, error) {
	const op = "auth.Packages"
	c := Extract(r)
	if cand := c.deployCandidate(); cand != "" && plausibleSecret(cand) {
		id, err := a.lookupDeploy(ctx, cand)
		if err != nil {
			return nil, err
		}
		if id != nil {
			return id, nil
		}
	}
	switch {
	case c.Bearer != "":
		return a.resolvePAT(ctx, c.Bearer, clientIP)
	case c.PrivateToken != "":
		return a.resolvePAT(ctx, c.PrivateToken, clientIP)
	}
	if c.HasBasic && c.BasicUser != "gitlab-ci-token" && c.BasicPass != "" && plausibleSecret(c.BasicPass) {
		id, err := a.resolvePAT(ctx, c.BasicPass, clientIP)
		if err == nil {
			return id, nil
		}
		if !errs.Is(err, errs.Unauthorized) || invalidToken(err) {
			return nil, err
		}
	}
	if c.JobToken != "" || (c.HasBasic && c.BasicUser == "gitlab-ci-token") {
		return nil, errUnauthorized(op)
	}
	return &Identity{}, nil
}

// plausibleSecret skips the database for values no token can have:
// 1-255 printable ASCII characters without spaces.
func plausibleSecret(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
