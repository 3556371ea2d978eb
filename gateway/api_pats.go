package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// registerPATs mounts GitLab's personal access token API (gitlabhq
// lib/api/personal_access_tokens.rb,
// lib/api/personal_access_tokens/self_information.rb,
// lib/api/helpers/personal_access_tokens_helpers.rb). The self routes sit
// on anyScope: GitLab lets a token of any scope read and revoke itself.
// Creation stays POST /users/:id/personal_access_tokens (createPAT).
func (s *Server) registerPATs(api, anyScope *gin.RouterGroup) {
	getAndHead(api, "/personal_access_tokens", s.listPATs)
	getAndHead(anyScope, "/personal_access_tokens/self", s.selfPAT)
	anyScope.DELETE("/personal_access_tokens/self", s.revokeSelfPAT)
	getAndHead(api, "/personal_access_tokens/:id", s.getPAT)
	api.DELETE("/personal_access_tokens/:id", s.revokePAT)
	anyScope.POST("/personal_access_tokens/self/rotate", s.rotateSelfPAT)
	api.POST("/personal_access_tokens/:id/rotate", s.rotatePAT)
}

// listPATs: a user lists their own tokens, an admin everybody's or, with
// user_id, one user's. A non-admin naming another user_id is 401 (GitLab's
// restrict_non_admins!, which runs before parameter validation); an admin
// naming a missing user, or sending user_id empty, is 404.
func (s *Server) listPATs(c *gin.Context) {
	const op = "gateway.listPATs"
	id, ok := requireUser(c, op)
	if !ok {
		return
	}
	userID, hasUserID := c.GetQuery("user_id")
	userID = strings.TrimSpace(userID)
	if !id.IsAdmin() && userID != "" {
		if n, err := strconv.ParseInt(userID, 10, 64); err != nil || n != id.User.ID {
			httpx.Abort(c, errUnauthorized(op))
			return
		}
	}
	f, err := patFilter(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	switch {
	case !id.IsAdmin():
		f.UserID = id.User.ID
	case hasUserID:
		notFound := errs.New(op, errs.NotFound, "404 Not Found")
		if userID == "" {
			httpx.Abort(c, notFound)
			return
		}
		n, _ := strconv.ParseInt(userID, 10, 64) // patFilter checked it
		if _, err := s.Store.UserByID(c.Request.Context(), n); err != nil {
			if errs.Is(err, errs.NotFound) {
				err = notFound
			}
			httpx.Abort(c, err)
			return
		}
		f.UserID = n
	}
	var ips map[int64][]string
	list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.PAT, int, error) {
		pats, total, err := s.Store.ListPATs(c.Request.Context(), f, limit, offset)
		if err != nil || len(pats) == 0 {
			return pats, total, err
		}
		ids := make([]int64, len(pats))
		for i := range pats {
			ids[i] = pats[i].ID
		}
		ips, err = s.Store.PATLastUsedIPs(c.Request.Context(), ids...)
		return pats, total, err
	}, func(p *meta.PAT) gin.H { return patWithIPsJSON(p, ips[p.ID]) })
}

// patWithIPsJSON is GitLab's PersonalAccessTokenWithLastUsedIps entity,
// which the list, the token by id and self answer with (gitlabhq
// lib/api/personal_access_tokens.rb,
// lib/api/personal_access_tokens/self_information.rb,
// lib/api/entities/personal_access_token_with_last_used_ips.rb; GitLab is
// rolling the list's use of it out behind the
// expose_last_used_ips_for_access_tokens flag). ips are the addresses
// meta.TouchPAT recorded, oldest first; none is [], never null.
func patWithIPsJSON(p *meta.PAT, ips []string) gin.H {
	out := patJSON(p)
	if ips == nil {
		ips = []string{}
	}
	out["last_used_ips"] = ips
	return out
}

// patWithIPs shows one token with its addresses.
func (s *Server) patWithIPs(c *gin.Context, p *meta.PAT) {
	ips, err := s.Store.PATLastUsedIPs(c.Request.Context(), p.ID)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, patWithIPsJSON(p, ips[p.ID]))
}

// patFilter reads the list's filters (GitLab's access_token_params) and
// reports every invalid one at once, as Grape's validation does. An empty
// value filters nothing.
func patFilter(c *gin.Context) (meta.PATFilter, error) {
	var f meta.PATFilter
	var bad []string
	q := func(name string) string { return strings.TrimSpace(c.Query(name)) }
	if v := q("user_id"); v != "" {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			bad = append(bad, "user_id is invalid")
		}
	}
	if v := q("revoked"); v != "" {
		b, err := httpx.ParseBool(v)
		if err != nil {
			bad = append(bad, "revoked is invalid")
		}
		f.Revoked = &b
	}
	switch v := q("state"); v {
	case "", "active", "inactive":
		f.State = v
	default:
		bad = append(bad, "state does not have a valid value")
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
		date bool
	}{
		{"created_before", &f.CreatedBefore, false}, {"created_after", &f.CreatedAfter, false},
		{"last_used_before", &f.LastUsedBefore, false}, {"last_used_after", &f.LastUsedAfter, false},
		{"expires_before", &f.ExpiresBefore, true}, {"expires_after", &f.ExpiresAfter, true},
	} {
		v := q(p.name)
		if v == "" {
			continue
		}
		t, ok := auth.ParseExpiry(v)
		if ok && p.date {
			var d time.Time
			d, ok = dateParam(v)
			t = &d
		}
		if !ok {
			bad = append(bad, p.name+" is invalid")
			continue
		}
		*p.dst = t
	}
	f.Search = c.Query("search")
	if !httpx.Storable(f.Search) {
		bad = append(bad, "search is invalid")
	}
	f.Sort = c.Query("sort")
	if len(bad) > 0 {
		return f, errs.Param("gateway.patFilter", strings.Join(bad, ", "))
	}
	return f, nil
}

// selfPAT shows the token the request came with, read afresh (the cached
// copy that authenticated it may carry an older last_used_at). The use
// this request records is written in the background, so it may not show
// yet.
func (s *Server) selfPAT(c *gin.Context) {
	id := identity(c)
	if id.PAT == nil {
		httpx.Abort(c, errUnauthorized("gateway.selfPAT"))
		return
	}
	p, err := s.Store.PATByID(c.Request.Context(), id.PAT.ID)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	s.patWithIPs(c, p)
}

// getPAT shows a token to its owner or an admin. Only admins learn that a
// token does not exist (404); anyone else gets 401 for a missing token and
// for another user's alike, as GitLab answers.
func (s *Server) getPAT(c *gin.Context) {
	const op = "gateway.getPAT"
	id, ok := requireUser(c, op)
	if !ok {
		return
	}
	if p, ok := s.shownPAT(c, op, id); ok {
		s.patWithIPs(c, p)
	}
}

// shownPAT finds the token named by the id parameter for its owner or an
// admin. Only admins learn that a token does not exist (404); anyone else
// gets 401 for a missing token and for another user's alike, as GitLab
// answers. On false the answer is written.
func (s *Server) shownPAT(c *gin.Context, op string, id *auth.Identity) (*meta.PAT, bool) {
	var p *meta.PAT
	tid, err := strconv.ParseInt(httpx.Param(c, "id"), 10, 64)
	if err == nil {
		p, err = s.Store.PATByID(c.Request.Context(), tid)
		if err != nil && !errs.Is(err, errs.NotFound) {
			httpx.Abort(c, err)
			return nil, false
		}
	}
	if p == nil || (!id.IsAdmin() && p.UserID != id.User.ID) {
		if id.IsAdmin() {
			httpx.Abort(c, errs.New(op, errs.NotFound, "404 Not Found"))
		} else {
			httpx.Abort(c, errUnauthorized(op))
		}
		return nil, false
	}
	return p, true
}

// revokePAT revokes a token of the caller's, or anybody's for an admin.
// GitLab looks the token up first (a missing id is 404 "404 Not found",
// whoever asks) and answers a refusal of its RevokeService with a bare
// 400, so a non-admin naming another user's token gets 400, not 403 or
// 404 (gitlabhq spec/requests/api/personal_access_tokens_spec.rb).
func (s *Server) revokePAT(c *gin.Context) {
	const op = "gateway.revokePAT"
	id, ok := requireUser(c, op)
	if !ok {
		return
	}
	notFound := errs.New(op, errs.NotFound, "404 Not found")
	tid, err := strconv.ParseInt(httpx.Param(c, "id"), 10, 64)
	if err != nil {
		httpx.Abort(c, notFound)
		return
	}
	p, err := s.Store.PATByID(c.Request.Context(), tid)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			err = notFound
		}
		httpx.Abort(c, err)
		return
	}
	if !id.IsAdmin() && p.UserID != id.User.ID {
		httpx.Abort(c, errs.New(op, errs.Invalid, "400 Bad request"))
		return
	}
	s.revokeAndRespond(c, p.ID)
}

// revokeSelfPAT revokes the token the request came with.
func (s *Server) revokeSelfPAT(c *gin.Context) {
	id := identity(c)
	if id.PAT == nil {
		httpx.Abort(c, errUnauthorized("gateway.revokeSelfPAT"))
		return
	}
	s.revokeAndRespond(c, id.PAT.ID)
}

// patOwner is the owner of a token just revoked or rotated, for its audit
// event: the caller, or the user looked up. The change is made, so a
// failed lookup records the event without the owner's name rather than
// not at all.
func (s *Server) patOwner(c *gin.Context, id *auth.Identity, userID int64) *meta.User {
	if id.User != nil && id.User.ID == userID {
		return id.User
	}
	owner, err := s.Store.UserByID(c.Request.Context(), userID)
	if err != nil {
		httpx.Logger(c).Error("audit: token owner not found", "err", err.Error())
		return &meta.User{ID: userID}
	}
	return owner
}

// revokeAndRespond revokes, drops the token from this node's cache at once
// (RevokePAT tells the other nodes), records the audit event as deploy
// token revocations are, and answers 204.
func (s *Server) revokeAndRespond(c *gin.Context, tokenID int64) {
	p, err := s.Store.RevokePAT(c.Request.Context(), tokenID)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	s.Auth.Cache.ForgetPAT(p.ID)
	id := identity(c)
	s.audit(c, id, PATAudit("personal_access_token.revoke", s.patOwner(c, id, p.UserID), p))
	c.Status(http.StatusNoContent)
}

// Rotation, as GitLab does it (gitlabhq lib/api/personal_access_tokens.rb
// POST ':id/rotate', lib/api/personal_access_tokens/self_rotation.rb,
// lib/api/helpers/personal_access_tokens_helpers.rb rotate_token,
// app/services/personal_access_tokens/rotate_service.rb,
// lib/api/entities/personal_access_token_with_token.rb, and their specs
// spec/requests/api/personal_access_tokens_spec.rb and
// spec/requests/api/personal_access_tokens/self_rotation_spec.rb):
//
//   - The old token is revoked and a new one made for the same user, with
//     the old one's name, description and scopes, in one transaction
//     (meta.Store.RotatePAT); the answer is 200, not 201 (rotate_token sets
//     status :ok), with the new token as on creation plus its secret in
//     "token". Every node drops the old token from its cache at COMMIT.
//   - expires_at (a Date: "" or absent means none given) is the new
//     token's expiry; none given, one week from today (UTC). That is
//     GitLab's rule with require_personal_access_token_expiry on, its
//     default; with it off GitLab gives no expiry. The gateway has no such
//     setting and takes the default. Past the instance's maximum lifetime,
//     365 days from today (MAX_PERSONAL_ACCESS_TOKEN_LIFETIME_IN_DAYS of
//     app/models/personal_access_token.rb; 400 behind GitLab's
//     buffered_token_expiration_limit flag), it is 400 "Expiration date
//     must be before <date>" and nothing changes. An unreadable one is
//     400 {"error":"expires_at is invalid"}. A date in the past is taken,
//     as GitLab's model does not refuse it: the new token is born expired.
//   - A token revoked already is 400 "400 Bad request - Token already
//     revoked", and nothing changes (rotating a rotated token by id with
//     another, valid token, too). An expired but unrevoked token rotates:
//     RotateService checks revocation only.
//   - Token reuse detection: a revoked token presented to either rotation
//     route revokes the live tokens rotated from it, then is refused with
//     401 like any revoked token (auth's revokeFamily, GitLab's
//     RevokeTokenFamilyService). A revoked token used elsewhere is only
//     refused.
//   - The event is recorded as personal_access_token.rotate (GitLab EE's
//     personal_access_token_rotated) on the owner, naming both ids; the
//     secret is never logged or audited.
//
// GitLab mails the owner about the rotation; the gateway sends no mail.

// maxPATLifetimeDays is GitLab's MAX_PERSONAL_ACCESS_TOKEN_LIFETIME_IN_DAYS.
const maxPATLifetimeDays = 365

// rotatedPATExpiry is the expiry of a rotated token: expires_at as given
// (the day as written, whatever time follows it, as Grape's Date reads
// it), else a week from today; past today + maxPATLifetimeDays it is
// refused with GitLab's message. today is a UTC date.
func rotatedPATExpiry(op, v string, today time.Time) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		t := today.AddDate(0, 0, 7)
		return &t, nil
	}
	t, ok := dateParam(v)
	if !ok {
		return nil, errs.Param(op, "expires_at is invalid")
	}
	if max := today.AddDate(0, 0, maxPATLifetimeDays); t.After(max) {
		return nil, errs.New(op, errs.Invalid, "400 Bad request - Expiration date must be before "+max.Format("2006-01-02"))
	}
	return &t, nil
}

// rotationExpiry reads a rotation's expires_at (rotatedPATExpiry); on
// false the answer is written.
func rotationExpiry(c *gin.Context, op string, p *params) (*time.Time, bool) {
	v, _ := p.str("expires_at")
	expires, err := rotatedPATExpiry(op, v, utcToday())
	if err != nil {
		httpx.Abort(c, err)
		return nil, false
	}
	return expires, true
}

// dateParam reads a Date parameter as Grape does (Ruby's Date.parse): any
// form auth.ParseExpiry reads, keeping the day as written whatever time
// and offset follow it.
func dateParam(v string) (time.Time, bool) {
	if t, ok := auth.ParseExpiry(v); !ok || t == nil {
		return time.Time{}, false
	}
	d, err := time.Parse("2006-01-02", v[:min(len(v), 10)])
	return d, err == nil
}

// utcToday is today's date in UTC, at 00:00.
func utcToday() time.Time {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
}

// rotatePAT is POST /personal_access_tokens/:id/rotate: the owner or an
// admin rotates a token (see Rotation above). The parameters are checked
// before the token is looked up, as Grape validates before the endpoint
// runs. As for GET, only admins learn that a token does not exist (404
// "404 Not Found"); anyone else gets 401 for a missing token and another
// user's alike.
func (s *Server) rotatePAT(c *gin.Context) {
	const op = "gateway.rotatePAT"
	id, p, ok := userParams(c, op)
	if !ok {
		return
	}
	expires, ok := rotationExpiry(c, op, p)
	if !ok {
		return
	}
	if pat, ok := s.shownPAT(c, op, id); ok {
		s.rotateAndRespond(c, pat.ID, expires)
	}
}

// rotateSelfPAT is POST /personal_access_tokens/self/rotate: a token
// rotates itself. It needs the api or the self_rotate scope (GitLab's
// allow_access_with_scope :api and :self_rotate), else 403
// insufficient_scope naming both; a deploy token, or none, is 401.
func (s *Server) rotateSelfPAT(c *gin.Context) {
	const op = "gateway.rotateSelfPAT"
	id := identity(c)
	if id.PAT == nil {
		httpx.Abort(c, errUnauthorized(op))
		return
	}
	if !slices.Contains(id.PAT.Scopes, "api") && !slices.Contains(id.PAT.Scopes, "self_rotate") {
		httpx.Abort(c, auth.ErrInsufficientScope(op, "api self_rotate"))
		return
	}
	p, err := readParams(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if expires, ok := rotationExpiry(c, op, p); ok {
		s.rotateAndRespond(c, id.PAT.ID, expires)
	}
}

// rotateAndRespond rotates, records the audit event and answers 200 with
// the new token and its secret.
func (s *Server) rotateAndRespond(c *gin.Context, tokenID int64, expires *time.Time) {
	old, pat, secret, err := auth.RotatePAT(c.Request.Context(), s.Store, s.Auth.Cache, tokenID, expires)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	id := identity(c)
	s.audit(c, id, PATRotatedAudit(s.patOwner(c, id, pat.UserID), old, pat))
	out := patJSON(pat)
	out["token"] = secret
	c.JSON(http.StatusOK, out)
}
