package meta

import (
	"context"
	"strconv"
	"time"

	"github.com/lib/pq"
)

// DeployToken is a project or group deploy token (secret not included).
type DeployToken struct {
	ID         int64          `db:"id"`
	Name       string         `db:"name"`
	Username   *string        `db:"username"`
	Scopes     pq.StringArray `db:"scopes"`
	ExpiresAt  *time.Time     `db:"expires_at"`
	Revoked    bool           `db:"revoked"`
	ProjectID  *int64         `db:"project_id"`
	GroupID    *int64         `db:"group_id"`
	CreatorID  *int64         `db:"creator_id"`
	LastUsedAt *time.Time     `db:"last_used_at"`
	CreatedAt  time.Time      `db:"created_at"`
}

const dtCols = `id, name, username, scopes, expires_at, revoked, project_id, group_id, creator_id, last_used_at, created_at`

// DisplayUsername is the stored username or GitLab's default.
func (t *DeployToken) DisplayUsername() string {
	if t.Username != nil && *t.Username != "" {
		return *t.Username
	}
	return "gitlab+deploy-token-" + itoaInt64(t.ID)
}

// Usable is GitLab's `active` scope: not revoked and not past expires_at.
func (t *DeployToken) Usable(now time.Time) bool {
	return !t.Revoked && (t.ExpiresAt == nil || !t.ExpiresAt.Before(now))
}

// Expired is GitLab's model method: expires_at is before the start of the
// current UTC day. During the expiry day itself a token is already unusable
// yet reports expired=false; we replicate that quirk on purpose.
func (t *DeployToken) Expired(now time.Time) bool {
	if t.ExpiresAt == nil {
		return false
	}
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return t.ExpiresAt.Before(today)
}

// HasScope reports whether the token holds a scope.
func (t *DeployToken) HasScope(s string) bool {
	for _, x := range t.Scopes {
		if x == s {
			return true
		}
	}
	return false
}

// CreateDeployToken stores a token and its digest.
func (s *Store) CreateDeployToken(ctx context.Context, t *DeployToken, digest []byte) error {
	err := s.db.GetContext(ctx, t, `INSERT INTO deploy_tokens (name, username, token_digest, scopes, expires_at, project_id, group_id, creator_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+dtCols,
		t.Name, t.Username, digest, t.Scopes, t.ExpiresAt, t.ProjectID, t.GroupID, t.CreatorID)
	return wrap("meta.CreateDeployToken", err)
}

// DeployTokenByDigest finds a usable token by its secret's digest and
// returns the stored digest too, for a constant-time comparison.
func (s *Store) DeployTokenByDigest(ctx context.Context, digest []byte) (*DeployToken, []byte, error) {
	var row struct {
		DeployToken
		Digest []byte `db:"token_digest"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT `+dtCols+`, token_digest FROM deploy_tokens
		WHERE token_digest = $1 AND NOT revoked AND (expires_at IS NULL OR expires_at >= now())`, digest)
	if err != nil {
		return nil, nil, wrap("meta.DeployTokenByDigest", err)
	}
	return &row.DeployToken, row.Digest, nil
}

// TouchDeployToken records last use, at most once a minute per token.
func (s *Store) TouchDeployToken(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deploy_tokens SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, id)
	return wrap("meta.TouchDeployToken", err)
}

// DeployTokenFilter selects tokens of one holder (both zero: all tokens).
type DeployTokenFilter struct {
	ProjectID  int64
	GroupID    int64
	ActiveOnly bool
}

func (f DeployTokenFilter) where() (string, []any) {
	w, args := "true", []any{}
	switch {
	case f.ProjectID > 0:
		w, args = "project_id = $1", []any{f.ProjectID}
	case f.GroupID > 0:
		w, args = "group_id = $1", []any{f.GroupID}
	}
	if f.ActiveOnly {
		w += " AND NOT revoked AND (expires_at IS NULL OR expires_at >= now())"
	}
	return w, args
}

// ListDeployTokens pages tokens by ascending id.
func (s *Store) ListDeployTokens(ctx context.Context, f DeployTokenFilter, limit, offset int) ([]DeployToken, int, error) {
	w, args := f.where()
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM deploy_tokens WHERE `+w, args...); err != nil {
		return nil, 0, wrap("meta.ListDeployTokens", err)
	}
	n := len(args)
	args = append(args, limit, offset)
	var ts []DeployToken
	err := s.db.SelectContext(ctx, &ts, `SELECT `+dtCols+` FROM deploy_tokens WHERE `+w+
		` ORDER BY id LIMIT $`+itoaInt64(int64(n+1))+` OFFSET $`+itoaInt64(int64(n+2)), args...)
	if err != nil {
		return nil, 0, wrap("meta.ListDeployTokens", err)
	}
	return ts, total, nil
}

// DeployToken loads one token of a holder.
func (s *Store) DeployToken(ctx context.Context, f DeployTokenFilter, id int64) (*DeployToken, error) {
	w, args := f.where()
	args = append(args, id)
	var t DeployToken
	err := s.db.GetContext(ctx, &t, `SELECT `+dtCols+` FROM deploy_tokens WHERE `+w+` AND id = $`+itoaInt64(int64(len(args))), args...)
	if err != nil {
		return nil, wrap("meta.DeployToken", err)
	}
	return &t, nil
}

// DeleteDeployToken destroys a token of a holder (GitLab's REST DELETE).
func (s *Store) DeleteDeployToken(ctx context.Context, f DeployTokenFilter, id int64) (*DeployToken, error) {
	w, args := f.where()
	args = append(args, id)
	var t DeployToken
	err := s.db.GetContext(ctx, &t, `DELETE FROM deploy_tokens WHERE `+w+` AND id = $`+itoaInt64(int64(len(args)))+` RETURNING `+dtCols, args...)
	if err != nil {
		return nil, wrap("meta.DeleteDeployToken", err)
	}
	// Other nodes drop the token from their caches.
	_ = s.Notify(ctx, TokensChannel, "deploy:"+itoaInt64(t.ID))
	return &t, nil
}

// RevokeDeployToken marks a token revoked (the web page's Revoke).
func (s *Store) RevokeDeployToken(ctx context.Context, f DeployTokenFilter, id int64) (*DeployToken, error) {
	w, args := f.where()
	args = append(args, id)
	var t DeployToken
	err := s.db.GetContext(ctx, &t, `UPDATE deploy_tokens SET revoked = true WHERE `+w+` AND id = $`+itoaInt64(int64(len(args)))+` RETURNING `+dtCols, args...)
	if err != nil {
		return nil, wrap("meta.RevokeDeployToken", err)
	}
	// Other nodes drop the token from their caches.
	_ = s.Notify(ctx, TokensChannel, "deploy:"+itoaInt64(t.ID))
	return &t, nil
}

func itoaInt64(n int64) string { return strconv.FormatInt(n, 10) }
