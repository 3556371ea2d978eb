package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// audit records an event; a failure is logged, never fails the request
// (the action already happened).
func (s *Server) audit(c *gin.Context, id *auth.Identity, action, targetType string, targetID int64, targetPath string, details map[string]any) {
	e := auditEvent(c, id, action, targetType, targetID, targetPath, details)
	if err := s.Store.Audit(context.WithoutCancel(c.Request.Context()), e); err != nil {
		httpx.Logger(c).Error("audit event lost", "action", action, "err", err.Error())
	}
}

func auditEvent(c *gin.Context, id *auth.Identity, action, targetType string, targetID int64, targetPath string, details map[string]any) *meta.AuditEvent {
	e := &meta.AuditEvent{Action: action, TargetType: targetType, TargetPath: targetPath, IP: c.ClientIP()}
	if targetID > 0 {
		e.TargetID = &targetID
	}
	switch {
	case id != nil && id.Deploy != nil:
		e.ActorType, e.ActorID, e.ActorName = "deploy_token", &id.Deploy.ID, id.Deploy.DisplayUsername()
	case id != nil && id.User != nil:
		e.ActorType, e.ActorID, e.ActorName = "user", &id.User.ID, id.User.Username
	default:
		e.ActorType = "anonymous"
	}
	if details != nil {
		b, _ := json.Marshal(details)
		e.Details = b
	}
	return e
}

// auditPackages records every successful publish and delete on package
// routes, whatever the format: one place instead of one call per format.
// The event rides in the request's context, so the transaction that makes
// the change records it too (meta.PendingAudit); a change made without one
// is recorded here after the handler answered with success.
func (s *Server) auditPackages(c *gin.Context) {
	method := c.Request.Method
	if method != http.MethodPut && method != http.MethodPost && method != http.MethodDelete {
		c.Next()
		return
	}
	route := c.FullPath()
	format := formatOf(route)
	var action string
	var who func(c *gin.Context) *auth.Identity
	switch {
	case format != "api" && format != "internal" && format != "unmatched" && format != "ui":
		who = auth.IdentityFrom
		action = "package.publish"
		if method == http.MethodDelete {
			action = "package.delete"
		}
	case strings.HasPrefix(route, "/api/v4/projects/:id/packages/:package_id"):
		who = identity
		action = "package.delete"
		if strings.Contains(route, "package_files") {
			action = "package_file.delete"
		}
	default:
		c.Next()
		return
	}
	event := func() *meta.AuditEvent {
		var projectID int64
		if acc := auth.AccessFrom(c); acc != nil {
			projectID = acc.Project.ID
		}
		return auditEvent(c, who(c), action, "project", projectID, c.Request.URL.EscapedPath(), map[string]any{"format": format, "method": method})
	}
	pending := &meta.PendingAudit{Build: event}
	c.Request = c.Request.WithContext(meta.WithPendingAudit(c.Request.Context(), pending))
	c.Next()
	if status := c.Writer.Status(); status < 200 || status > 299 || pending.Written() {
		return
	}
	if err := s.Store.Audit(context.WithoutCancel(c.Request.Context()), event()); err != nil {
		httpx.Logger(c).Error("audit event lost", "action", action, "err", err.Error())
	}
}

func auditJSON(e *meta.AuditEvent) gin.H {
	return gin.H{
		"id": e.ID, "created_at": httpx.TS(e.CreatedAt), "author_type": e.ActorType, "author_id": e.ActorID,
		"author_name": e.ActorName, "action": e.Action, "entity_type": e.TargetType, "entity_id": e.TargetID,
		"entity_path": e.TargetPath, "ip_address": e.IP, "details": e.Details,
	}
}

// listAudit is the admin API: GET /api/v4/audit_events[?action=&created_after=&created_before=].
func (s *Server) listAudit(c *gin.Context) {
	const op = "gateway.listAudit"
	if !requireAdmin(c, op) {
		return
	}
	var f meta.AuditFilter
	f.Action = c.Query("action")
	for name, dst := range map[string]**time.Time{"created_after": &f.CreatedAfter, "created_before": &f.CreatedBefore} {
		if v := c.Query(name); v != "" {
			t, ok := auth.ParseExpiry(v)
			if !ok {
				httpx.Abort(c, errs.Param(op, name+" is invalid"))
				return
			}
			*dst = t
		}
	}
	list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.AuditEvent, int, error) {
		return s.Store.ListAudit(c.Request.Context(), f, limit, offset)
	}, auditJSON)
}
