package gateway

import (
	"context"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

func (s *Server) registerDeployTokens(api *gin.RouterGroup) {
	getAndHead(api, "/deploy_tokens", s.listAllDeployTokens)
	for _, kind := range []string{"projects", "groups"} {
		group := kind == "groups"
		base := "/" + kind + "/:id/deploy_tokens"
		getAndHead(api, base, s.listDeployTokens(group))
		api.POST(base, s.createDeployToken(group))
		getAndHead(api, base+"/:token_id", s.getDeployToken(group))
		api.DELETE(base+"/:token_id", s.deleteDeployToken(group))
		// PROJECT DECISION: GitLab revokes only from its web UI; the gateway
		// exposes the same action to its token page and to scripts.
		api.POST(base+"/:token_id/revoke", s.revokeDeployToken(group))
	}
}

func deployTokenJSON(t *meta.DeployToken, now time.Time) gin.H {
	return gin.H{
		"id": t.ID, "name": t.Name, "username": t.DisplayUsername(), "expires_at": httpx.TSPtr(t.ExpiresAt),
		"scopes": []string(t.Scopes), "revoked": t.Revoked, "expired": t.Expired(now),
	}
}

// tokenHolder resolves :id and checks the caller's role: project tokens
// need Maintainer+; group tokens Maintainer+ to read, Owner to change. The
// holder is also returned as the entity of the audit events of a change.
func (s *Server) tokenHolder(c *gin.Context, group, change bool) (meta.DeployTokenFilter, auditEntity, error) {
	const op = "gateway.tokenHolder"
	id := identity(c)
	need := meta.Maintainer
	if group && change {
		need = meta.Owner
	}
	if group {
		g, lvl, err := s.groupFor(c, id)
		if err != nil {
			return meta.DeployTokenFilter{}, auditEntity{}, err
		}
		if lvl < need {
			return meta.DeployTokenFilter{}, auditEntity{}, errForbidden(op)
		}
		return meta.DeployTokenFilter{GroupID: g.ID}, groupEntity(g), nil
	}
	p, lvl, err := s.projectFor(c, id)
	if err != nil {
		return meta.DeployTokenFilter{}, auditEntity{}, err
	}
	if lvl < need {
		return meta.DeployTokenFilter{}, auditEntity{}, errForbidden(op)
	}
	return meta.DeployTokenFilter{ProjectID: p.ID}, projectEntity(p), nil
}

func activeParam(c *gin.Context) (bool, error) {
	v, ok := c.GetQuery("active")
	if !ok {
		return false, nil
	}
	b, err := httpx.ParseBool(v)
	if err != nil {
		return false, errs.Param("gateway.activeParam", "active is invalid")
	}
	return b, nil
}

func (s *Server) listAllDeployTokens(c *gin.Context) {
	const op = "gateway.listAllDeployTokens"
	if !requireAdmin(c, op) {
		return
	}
	s.tokenList(c, meta.DeployTokenFilter{})
}

func (s *Server) listDeployTokens(group bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		f, _, err := s.tokenHolder(c, group, false)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		s.tokenList(c, f)
	}
}

func (s *Server) tokenList(c *gin.Context, f meta.DeployTokenFilter) {
	active, err := activeParam(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	f.ActiveOnly = active
	now := time.Now()
	list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.DeployToken, int, error) {
		return s.Store.ListDeployTokens(c.Request.Context(), f, limit, offset)
	}, func(t *meta.DeployToken) gin.H { return deployTokenJSON(t, now) })
}

func tokenNotFound(err error) error {
	if errs.Is(err, errs.NotFound) {
		return errs.New("gateway.deployToken", errs.NotFound, "404 Not found")
	}
	return err
}

func (s *Server) getDeployToken(group bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		tid, err := httpx.ParseID(c, "token_id")
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		f, _, err := s.tokenHolder(c, group, false)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		t, err := s.Store.DeployToken(c.Request.Context(), f, tid)
		if err != nil {
			httpx.Abort(c, tokenNotFound(err))
			return
		}
		c.JSON(http.StatusOK, deployTokenJSON(t, time.Now()))
	}
}

func (s *Server) deleteDeployToken(group bool) gin.HandlerFunc {
	return s.changeDeployToken(group, "deploy_token.delete", s.Store.DeleteDeployToken, func(c *gin.Context, _ *meta.DeployToken) {
		c.Status(http.StatusNoContent)
	})
}

func (s *Server) revokeDeployToken(group bool) gin.HandlerFunc {
	return s.changeDeployToken(group, "deploy_token.revoke", s.Store.RevokeDeployToken, func(c *gin.Context, t *meta.DeployToken) {
		c.JSON(http.StatusOK, deployTokenJSON(t, time.Now()))
	})
}

// changeDeployToken runs a destructive token operation: it needs the
// holder's management role, drops the token from this node's cache at once
// (other nodes hear it through NOTIFY) and records the audit event.
func (s *Server) changeDeployToken(group bool, action string,
	change func(context.Context, meta.DeployTokenFilter, int64) (*meta.DeployToken, error),
	respond func(*gin.Context, *meta.DeployToken)) gin.HandlerFunc {
	return func(c *gin.Context) {
		tid, err := httpx.ParseID(c, "token_id")
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		f, holder, err := s.tokenHolder(c, group, true)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		t, err := change(c.Request.Context(), f, tid)
		if err != nil {
			httpx.Abort(c, tokenNotFound(err))
			return
		}
		s.Auth.Cache.ForgetDeployToken(t.ID)
		s.audit(c, identity(c), deployTokenAudit(action, holder, t))
		respond(c, t)
	}
}

// DeployTokenInput is a create request whose parameters passed.
type DeployTokenInput struct {
	Name      string
	Username  *string
	Scopes    []string
	ExpiresAt *time.Time
	problems  []string // the model's refusals, see modelError
}

// modelError is the model's verdict, GitLab's sentence of every refusal.
// GitLab reaches it only after the caller's rights on the project or group
// are checked, so a stranger learns nothing from it (404 first) and a
// Developer is told 403 before being told the name is too long.
func (in DeployTokenInput) modelError() error {
	if len(in.problems) == 0 {
		return nil
	}
	return errs.New("gateway.ValidateDeployToken", errs.Invalid, sentence(in.problems))
}

// ValidateDeployToken applies the spec's rules in GitLab's order: missing
// parameters, unknown scopes and a bad date are parameter errors
// ({"error": ...}), which Grape answers before anything else; the rest
// are model errors, kept for modelError.
func ValidateDeployToken(p *params) (DeployTokenInput, error) {
	const op = "gateway.ValidateDeployToken"
	var in DeployTokenInput
	if err := missing(p, "name", "scopes"); err != nil {
		return in, err
	}
	in.Name, _ = p.str("name")
	raw, _ := p.list("scopes")
	scopes, ok := auth.NormalizeScopes(raw, auth.DeployScopes)
	if !ok {
		return in, errs.Param(op, "scopes does not have a valid value")
	}
	in.Scopes = scopes
	if v, ok := p.str("expires_at"); ok {
		t, ok := auth.ParseExpiry(v)
		if !ok {
			return in, errs.Param(op, "expires_at is invalid")
		}
		in.ExpiresAt = t
	}
	var msgs []string
	if utf8.RuneCountInString(in.Name) > 255 {
		msgs = append(msgs, "Name is too long (maximum is 255 characters)")
	}
	if u, ok := p.str("username"); ok && u != "" {
		if utf8.RuneCountInString(u) > 255 {
			msgs = append(msgs, "Username is too long (maximum is 255 characters)")
		} else if !auth.ValidDeployUsername(u) {
			msgs = append(msgs, "Username can contain only letters, digits, '_', '-', '+', and '.'")
		}
		in.Username = &u
	}
	if len(in.Scopes) == 0 {
		msgs = append(msgs, "Scopes can't be blank")
	}
	in.problems = msgs
	return in, nil
}

func (s *Server) createDeployToken(group bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := readParams(c)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		in, err := ValidateDeployToken(p)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		f, holder, err := s.tokenHolder(c, group, true)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if err := in.modelError(); err != nil {
			httpx.Abort(c, err)
			return
		}
		t := &meta.DeployToken{Name: in.Name, Username: in.Username, Scopes: in.Scopes, ExpiresAt: in.ExpiresAt}
		if f.ProjectID > 0 {
			t.ProjectID = &f.ProjectID
		} else {
			t.GroupID = &f.GroupID
		}
		if u := identity(c).User; u != nil {
			t.CreatorID = &u.ID
		}
		secret, err := auth.IssueDeployToken(c.Request.Context(), s.Store, t)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		s.audit(c, identity(c), deployTokenAudit("deploy_token.create", holder, t))
		out := deployTokenJSON(t, time.Now())
		out["token"] = secret
		c.JSON(http.StatusCreated, out)
	}
}
