package meta

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pkgate/pkgate/internal/errs"
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
	_, err := s.db.ExecContext(ctx, auditInsert, e.auditArgs()...)
	return wrap("meta.Audit", err)
}

// auditArgs are auditInsert's arguments ($1-$9); no details is "{}".
func (e *AuditEvent) auditArgs() []any {
	details := e.Details
	if details == nil {
		details = JSON("{}")
	}
	return []any{e.ActorType, e.ActorID, e.ActorName, e.Action, e.TargetType, e.TargetID, e.TargetPath, e.IP, details}
}

// PendingAudit is the audit event of a request that publishes or deletes
// packages. The first transaction of the request that commits writes it
// (Store.Tx, Store.PublishFile), so the change and its record commit
// together, at the cost of one commit instead of two; a request whose
// transactions all failed records nothing. Build runs inside that
// transaction, when the request knows who it acts for and on what.
type PendingAudit struct {
	Build   func() *AuditEvent
	written atomic.Bool
	skipped atomic.Bool
	project atomic.Pointer[Project]
	target  atomic.Pointer[AuditTarget]
}

// AuditTarget is what GitLab's audit details call the target: the object
// acted on inside the event's entity (a package in a project).
type AuditTarget struct {
	Type    string
	ID      int64
	Details string
}

// Written reports whether a transaction of the request recorded the event.
func (p *PendingAudit) Written() bool { return p.written.Load() }

// Skipped reports whether the request said it is no publish (SkipAudit).
func (p *PendingAudit) Skipped() bool { return p.skipped.Load() }

// Project is the project the request named with SetAuditProject, if any.
func (p *PendingAudit) Project() *Project { return p.project.Load() }

// Target is the object the request named with SetAuditTarget, if any.
func (p *PendingAudit) Target() *AuditTarget { return p.target.Load() }

// SetAuditProject names the project a request changes when its route does
// not resolve one (the packages API, npm dist-tags at group and instance
// level): the event's entity is that project, as for project routes.
func SetAuditProject(ctx context.Context, p *Project) {
	if pa, _ := ctx.Value(pendingAuditKey{}).(*PendingAudit); pa != nil {
		pa.project.Store(p)
	}
}

// SetAuditTarget names the object a request changes when the handler
// knows more of it than the route says (a package's name and version).
func SetAuditTarget(ctx context.Context, t AuditTarget) {
	if pa, _ := ctx.Value(pendingAuditKey{}).(*PendingAudit); pa != nil {
		pa.target.Store(&t)
	}
}

// SkipAudit drops the request's pending event: a request on a package
// route that is no publish (npm's advisory POST, a Maven checksum PUT)
// records nothing, in its transactions or after them.
func SkipAudit(ctx context.Context) {
	if pa, _ := ctx.Value(pendingAuditKey{}).(*PendingAudit); pa != nil {
		pa.skipped.Store(true)
	}
}

type pendingAuditKey struct{}

// WithPendingAudit returns a context whose transactions record p.
func WithPendingAudit(ctx context.Context, p *PendingAudit) context.Context {
	return context.WithValue(ctx, pendingAuditKey{}, p)
}

// pendingAudit returns the request's unwritten event, if any, and its
// holder, to be marked written once the transaction commits.
func pendingAudit(ctx context.Context) (*PendingAudit, *AuditEvent) {
	p, _ := ctx.Value(pendingAuditKey{}).(*PendingAudit)
	if p == nil || p.written.Load() || p.skipped.Load() {
		return nil, nil
	}
	e := p.Build()
	if e == nil {
		return nil, nil
	}
	return p, e
}

const auditInsert = `INSERT INTO audit_events (actor_type, actor_id, actor_name, action, target_type, target_id, target_path, ip, details)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// AuditFilter narrows the audit list.
type AuditFilter struct {
	Action        string // prefix match, e.g. "deploy_token"
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
	// EntityType and EntityID select events of one entity: type as
	// stored ("project", "group", "user"), id only with a type.
	EntityType string
	EntityID   *int64
	// UserID keeps events a user authored: GitLab shows group and project
	// members below the managing role only their own actions.
	UserID *int64
}

const auditCols = `id, created_at, actor_type, actor_id, actor_name, action, target_type, target_id, target_path, ip, details`

// where renders the filter; both bounds are inclusive, as GitLab's
// created_after and created_before are.
func (f AuditFilter) where(arg func(any) string) string {
	conds := []string{"true"}
	if f.Action != "" {
		conds = append(conds, "action LIKE "+arg(strings.NewReplacer(`%`, `\%`, `_`, `\_`).Replace(f.Action)+"%"))
	}
	if f.CreatedAfter != nil {
		conds = append(conds, "created_at >= "+arg(*f.CreatedAfter))
	}
	if f.CreatedBefore != nil {
		conds = append(conds, "created_at <= "+arg(*f.CreatedBefore))
	}
	if f.EntityType != "" {
		conds = append(conds, "target_type = "+arg(f.EntityType))
		if f.EntityID != nil {
			conds = append(conds, "target_id = "+arg(*f.EntityID))
		}
	}
	if f.UserID != nil {
		conds = append(conds, "actor_type = 'user' AND actor_id = "+arg(*f.UserID))
	}
	return strings.Join(conds, " AND ")
}

// AuditByID is event id if the filter keeps it.
func (s *Store) AuditByID(ctx context.Context, f AuditFilter, id int64) (*AuditEvent, error) {
	args := []any{id}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	var e AuditEvent
	err := s.db.GetContext(ctx, &e, `SELECT `+auditCols+` FROM audit_events WHERE id = $1 AND `+f.where(arg), args...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.New("meta.AuditByID", errs.NotFound, "404 Not found")
	}
	return &e, wrap("meta.AuditByID", err)
}

// ListAudit pages events, newest first. The total counts at most
// countCap rows (httpx.CountCap): the log only grows, and counting all of
// it for every page would read every event each time.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter, limit, offset, countCap int) ([]AuditEvent, int, error) {
	args := []any{}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := f.where(arg)
	var total int
	countArgs := append(slices.Clone(args), countCap)
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM (SELECT 1 FROM audit_events WHERE `+where+` LIMIT $`+strconv.Itoa(len(countArgs))+`) capped`, countArgs...); err != nil {
		return nil, 0, wrap("meta.ListAudit", err)
	}
	lim, off := arg(limit), arg(offset)
	var es []AuditEvent
	err := s.db.SelectContext(ctx, &es, `SELECT `+auditCols+`
		FROM audit_events WHERE `+where+` ORDER BY id DESC LIMIT `+lim+` OFFSET `+off, args...)
	return es, total, wrap("meta.ListAudit", err)
}
