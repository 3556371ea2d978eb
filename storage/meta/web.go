package meta

import (
	"context"
	"time"

	"github.com/lib/pq"
)

// Queries of the web pages (gateway/web).

// PATByID loads a personal access token (secret digest not included).
func (s *Store) PATByID(ctx context.Context, id int64) (*PAT, error) {
	var p PAT
	if err := s.db.GetContext(ctx, &p, `SELECT `+patCols+` FROM personal_access_tokens WHERE id = $1`, id); err != nil {
		return nil, wrap("meta.PATByID", err)
	}
	return &p, nil
}

// WebSession is a signed-in browser of the web pages.
type WebSession struct {
	ID          int64     `db:"id"`
	UserID      int64     `db:"user_id"`
	SourcePATID int64     `db:"source_pat_id"`
	CreatedAt   time.Time `db:"created_at"`
	ExpiresAt   time.Time `db:"expires_at"`
}

// CreateWebSession stores a session by the digest of its secret.
func (s *Store) CreateWebSession(ctx context.Context, w *WebSession, digest []byte) error {
	err := s.db.GetContext(ctx, w, `INSERT INTO web_sessions (user_id, token_digest, source_pat_id, expires_at)
		VALUES ($1, $2, $3, $4) RETURNING id, user_id, source_pat_id, created_at, expires_at`, w.UserID, digest, w.SourcePATID, w.ExpiresAt)
	return wrap("meta.CreateWebSession", err)
}

// WebSessionByDigest finds a session with its user and the stored digest
// (for a constant-time comparison).
func (s *Store) WebSessionByDigest(ctx context.Context, digest []byte) (*WebSession, *User, []byte, error) {
	var row struct {
		WebSession
		Digest []byte `db:"token_digest"`
		U      User   `db:"u"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT w.id, w.user_id, w.source_pat_id, w.created_at, w.expires_at, w.token_digest,
		u.id "u.id", u.username "u.username", u.email "u.email", u.name "u.name", u.password_hash "u.password_hash",
		u.is_admin "u.is_admin", u.state "u.state", u.can_create_group "u.can_create_group", u.created_at "u.created_at"
		FROM web_sessions w JOIN users u ON u.id = w.user_id WHERE w.token_digest = $1`, digest)
	if err != nil {
		return nil, nil, nil, wrap("meta.WebSessionByDigest", err)
	}
	return &row.WebSession, &row.U, row.Digest, nil
}

// DeleteWebSession ends one session of a user.
func (s *Store) DeleteWebSession(ctx context.Context, userID, id int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE id = $1 AND user_id = $2`, id, userID)
	return wrap("meta.DeleteWebSession", err)
}

// DeleteExpiredWebSessions sweeps a user's sessions that have expired, so
// sessions abandoned without signing out do not accumulate.
func (s *Store) DeleteExpiredWebSessions(ctx context.Context, userID int64, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE user_id = $1 AND expires_at < $2`, userID, now)
	return wrap("meta.DeleteExpiredWebSessions", err)
}

// ProjectLevels is the effective access level of a user on each of the
// given projects (same rule as ProjectAccess, one query for a whole list).
func (s *Store) ProjectLevels(ctx context.Context, userID int64, projectIDs []int64) (map[int64]int, error) {
	var rows []struct {
		ID    int64 `db:"id"`
		Level int   `db:"level"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT p.id, greatest(
		coalesce((SELECT access_level FROM project_members pm WHERE pm.project_id = p.id AND pm.user_id = $1
			AND `+grants("pm")+`), 0),
		coalesce((SELECT max(access_level) FROM group_members gm WHERE gm.user_id = $1 AND gm.namespace_id = ANY(n.traversal_ids)
			AND `+grants("gm")+`), 0),
		CASE WHEN n.owner_id = $1 THEN 50 ELSE 0 END) AS level
		FROM projects p JOIN namespaces n ON n.id = p.namespace_id WHERE p.id = ANY($2)`, userID, pq.Int64Array(projectIDs))
	if err != nil {
		return nil, wrap("meta.ProjectLevels", err)
	}
	out := make(map[int64]int, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Level
	}
	return out, nil
}

// GroupLevels is the effective access level of a user on each of the given
// groups (own membership and ancestors', as GroupAccess).
func (s *Store) GroupLevels(ctx context.Context, userID int64, groupIDs []int64) (map[int64]int, error) {
	var rows []struct {
		ID    int64 `db:"id"`
		Level int   `db:"level"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT n.id, coalesce((SELECT max(access_level) FROM group_members gm
		WHERE gm.user_id = $1 AND gm.namespace_id = ANY(n.traversal_ids)
		AND `+grants("gm")+`), 0) AS level
		FROM namespaces n WHERE n.id = ANY($2)`, userID, pq.Int64Array(groupIDs))
	if err != nil {
		return nil, wrap("meta.GroupLevels", err)
	}
	out := make(map[int64]int, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Level
	}
	return out, nil
}
