package gateway

import (
	"net/http"
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
			// A Date parameter keeps the day as written, whatever time
			// and offset follow it (Ruby's Date.parse).
			d, err := time.Parse("2006-01-02", v[:min(len(v), 10)])
			ok, t = err == nil, &d
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
	var p *meta.PAT
	tid, err := strconv.ParseInt(httpx.Param(c, "id"), 10, 64)
	if err == nil {
		p, err = s.Store.PATByID(c.Request.Context(), tid)
		if err != nil && !errs.Is(err, errs.NotFound) {
			httpx.Abort(c, err)
			return
		}
	}
	if p == nil || (!id.IsAdmin() && p.UserID != id.User.ID) {
		if id.IsAdmin() {
			httpx.Abort(c, errs.New(op, errs.NotFound, "404 Not Found"))
		} else {
			httpx.Abort(c, errUnauthorized(op))
		}
		return
	}
	s.patWithIPs(c, p)
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
	owner := id.User
	if owner == nil || owner.ID != p.UserID {
		if owner, err = s.Store.UserByID(c.Request.Context(), p.UserID); err != nil {
			// The token is revoked: record it without the owner's name
			// rather than not at all.
			httpx.Logger(c).Error("audit: token owner not found", "err", err.Error())
			owner = &meta.User{ID: p.UserID}
		}
	}
	s.audit(c, id, PATAudit("personal_access_token.revoke", owner, p))
	c.Status(http.StatusNoContent)
}
