package meta

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// AuditEvent is one row of the audit log.
type AuditEvent struct {
	ID         int64     `db:"id"`
	CreatedAt  time.Time `db:"created_at"`
	ActorType  string    `db:"actor_type"`
	ActorID    *int64    `db:"actor_id"`
	ActorName  string    `db:"actor_name"`
	Action     string    `db:"action"`
	TargetType string    `db:"target_type"`
	TargetID   *int64    `db:"target_id"`
	TargetPath string    `db:"target_path"`
	IP         string    `db:"ip"`
	Details    JSON      `db:"details"`
}

// Audit appends an event.
func (s *Store) Audit(ctx context.Context, e *AuditEvent) error {
	if e.Details == nil {
		e.Details = JSON("{}")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit_events (actor_type, actor_id, actor_name, action, target_type, target_id, target_path, ip, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, e.ActorType, e.ActorID, e.ActorName, e.Action, e.TargetType, e.TargetID, e.TargetPath, e.IP, e.Details)
	return wrap("meta.Audit", err)
}

// AuditFilter narrows the audit list.
type AuditFilter struct {
	Action        string // prefix match, e.g. "deploy_token"
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
}

// ListAudit pages events, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter, limit, offset int) ([]AuditEvent, int, error) {
	conds, args := []string{"true"}, []any{}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if f.Action != "" {
		conds = append(conds, "action LIKE "+arg(strings.NewReplacer(`%`, `\%`, `_`, `\_`).Replace(f.Action)+"%"))
	}
	if f.CreatedAfter != nil {
		conds = append(conds, "created_at >= "+arg(*f.CreatedAfter))
	}
	if f.CreatedBefore != nil {
		conds = append(conds, "created_at < "+arg(*f.CreatedBefore))
	}
	where := strings.Join(conds, " AND ")
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM audit_events WHERE `+where, args...); err != nil {
		return nil, 0, wrap("meta.ListAudit", err)
	}
	lim, off := arg(limit), arg(offset)
	var es []AuditEvent
	err := s.db.SelectContext(ctx, &es, `SELECT id, created_at, actor_type, actor_id, actor_name, action, target_type, target_id, target_path, ip, details
		FROM audit_events WHERE `+where+` ORDER BY id DESC LIMIT `+lim+` OFFSET `+off, args...)
	return es, total, wrap("meta.ListAudit", err)
}
