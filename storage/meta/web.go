package meta

import (
	"context"
	"time"

	"github.com/lib/pq"
)

// Queries of the web pages (gateway/web).
//
// Web sessions are rows of personal_access_tokens (see gateway/web's
// session.go for why): a session row has a fixed name, no scopes (so it
// opens no API endpoint) and points at the token the user signed in with.

// PATByID loads a personal access token (secret digest not included).
func (s *Store) PATByID(ctx context.Context, id int64) (*PAT, error) {
	var p PAT
	if err := s.db.GetContext(ctx, &p, `SELECT `+patCols+` FROM personal_access_tokens WHERE id = $1`, id); err != nil {
		return nil, wrap("meta.PATByID", err)
	}
	return &p, nil
}

// DeletePAT removes one token of a user (a web session on sign-out).
func (s *Store) DeletePAT(ctx context.Context, userID, id int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM personal_access_tokens WHERE id = $1 AND user_id = $2`, id, userID)
	return wrap("meta.DeletePAT", err)
}

// DeleteStaleSessions removes a user's web-session rows (tokens named name
// that carry no scope) created before cutoff or revoked, so that sessions
// abandoned without signing out do not accumulate.
func (s *Store) DeleteStaleSessions(ctx context.Context, userID int64, name string, cutoff time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM personal_access_tokens
		WHERE user_id = $1 AND name = $2 AND cardinality(scopes) = 0 AND (revoked OR created_at < $3)`, userID, name, cutoff)
	return wrap("meta.DeleteStaleSessions", err)
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
			AND (pm.expires_at IS NULL OR pm.expires_at >= current_date)), 0),
		coalesce((SELECT max(access_level) FROM group_members gm WHERE gm.user_id = $1 AND gm.namespace_id = ANY(n.traversal_ids)
			AND (gm.expires_at IS NULL OR gm.expires_at >= current_date)), 0),
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
		AND (gm.expires_at IS NULL OR gm.expires_at >= current_date)), 0) AS level
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
