package meta

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/pkgate/pkgate/internal/errs"
)

// PATFilter narrows the personal access token list the way GitLab's
// PersonalAccessTokensFinder does (gitlabhq
// app/finders/personal_access_tokens_finder.rb, with the scopes of
// app/models/personal_access_token.rb and
// app/models/concerns/created_at_filterable.rb). Zero values filter
// nothing.
type PATFilter struct {
	UserID  int64  // 0: every user's tokens
	State   string // "active", "inactive" or ""
	Revoked *bool
	// Timestamps compare inclusively, as GitLab's scopes do (<= and >=).
	CreatedBefore, CreatedAfter   *time.Time
	LastUsedBefore, LastUsedAfter *time.Time
	// Expiry dates: expires_at < ExpiresBefore, expires_at >= ExpiresAfter.
	ExpiresBefore, ExpiresAfter *time.Time
	Search                      string // fuzzy match on the name, see nameMatch
	Sort                        string // a key of patSorts; anything else is ascending id
	// Now decides active and inactive; the zero value means time.Now().
	Now time.Time
}

// patSorts are GitLab's sort values for tokens (Sortable#simple_sorts plus
// PersonalAccessToken.simple_sorts) as ORDER BY clauses. Unknown values
// are ignored, as the finder ignores them. GitLab adds no tie-breaker to
// the created and name orders; the id here keeps pages stable. The
// updated_* sorts are left out: no updated_at column is kept.
var patSorts = map[string]string{
	"created_asc":            "created_at ASC, id ASC",
	"created_at_asc":         "created_at ASC, id ASC",
	"created_desc":           "created_at DESC, id DESC",
	"created_at_desc":        "created_at DESC, id DESC",
	"created_date":           "created_at DESC, id DESC",
	"id_asc":                 "id ASC",
	"id_desc":                "id DESC",
	"name_asc":               "lower(name) ASC, id ASC",
	"name_desc":              "lower(name) DESC, id DESC",
	"expires_asc":            "expires_at ASC, id DESC",
	"expires_at_asc_id_desc": "expires_at ASC, id DESC",
	"expires_desc":           "expires_at DESC, id DESC",
	"last_used_asc":          "last_used_at ASC, id DESC",
	"last_used_desc":         "last_used_at DESC, id DESC",
}

// ListPATs pages through personal access tokens (secrets' digests not
// included); without a sort, by ascending id as GitLab's offset pagination
// orders an unordered list.
func (s *Store) ListPATs(ctx context.Context, f PATFilter, limit, offset int) ([]PAT, int, error) {
	const op = "meta.ListPATs"
	conds, args := []string{"true"}, []any{}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	if f.UserID > 0 {
		conds = append(conds, "user_id = "+arg(f.UserID))
	}
	// Active is PAT.Active in SQL: a token stops on its expiry date at
	// 00:00 UTC. Inactive is its complement. GitLab's inactive scope
	// (revoked OR expires_at < CURRENT_DATE) leaves a token out of both
	// lists on its expiry day, while the token itself already says
	// "active": false; here it is listed as inactive.
	if f.State == "active" || f.State == "inactive" {
		active := "(NOT revoked AND (expires_at IS NULL OR expires_at > " + arg(now.UTC().Format("2006-01-02")) + "::date))"
		if f.State == "inactive" {
			active = "NOT " + active
		}
		conds = append(conds, active)
	}
	if f.Revoked != nil {
		conds = append(conds, "revoked = "+arg(*f.Revoked))
	}
	for _, c := range []struct {
		t    *time.Time
		cond string
	}{
		{f.CreatedBefore, "created_at <= "}, {f.CreatedAfter, "created_at >= "},
		{f.LastUsedBefore, "last_used_at <= "}, {f.LastUsedAfter, "last_used_at >= "},
	} {
		if c.t != nil {
			conds = append(conds, c.cond+arg(*c.t))
		}
	}
	if f.ExpiresBefore != nil {
		conds = append(conds, "expires_at < "+arg(f.ExpiresBefore.UTC().Format("2006-01-02"))+"::date")
	}
	if f.ExpiresAfter != nil {
		conds = append(conds, "expires_at >= "+arg(f.ExpiresAfter.UTC().Format("2006-01-02"))+"::date")
	}
	if m := nameMatch(f.Search, arg); m != "" {
		conds = append(conds, m)
	}
	where := strings.Join(conds, " AND ")
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM personal_access_tokens WHERE `+where, args...); err != nil {
		return nil, 0, wrap(op, err)
	}
	order, ok := patSorts[f.Sort]
	if !ok {
		order = "id ASC"
	}
	lim, off := arg(limit), arg(offset)
	var ps []PAT
	err := s.db.SelectContext(ctx, &ps, `SELECT `+patCols+` FROM personal_access_tokens WHERE `+where+
		` ORDER BY `+order+` LIMIT `+lim+` OFFSET `+off, args...)
	return ps, total, wrap(op, err)
}

// RevokePAT marks a token revoked (revoking a revoked one again changes
// nothing and succeeds, as GitLab's revoke! does) and tells the other nodes
// to drop it from their caches; the caller drops it from this node's.
func (s *Store) RevokePAT(ctx context.Context, id int64) (*PAT, error) {
	var p PAT
	err := s.db.GetContext(ctx, &p, `UPDATE personal_access_tokens SET revoked = true WHERE id = $1 RETURNING `+patCols, id)
	if err != nil {
		return nil, wrap("meta.RevokePAT", err)
	}
	_ = s.Notify(ctx, TokensChannel, "pat:"+itoaInt64(p.ID))
	return &p, nil
}

// nameMatch is GitLab's fuzzy_search on the name column (gitlabhq
// lib/gitlab/sql/pattern.rb) as an SQL condition, or "" for a blank
// query: every term of at least 3 characters must occur in the name, case
// insensitively; a query without such a term must equal the whole name,
// case insensitively.
func nameMatch(query string, arg func(any) string) string {
	terms, whole := searchTerms(query, minSearchTerm)
	if whole == "" {
		return ""
	}
	if len(terms) == 0 {
		return "name ILIKE " + arg(likeEscaper.Replace(whole))
	}
	conds := make([]string, len(terms))
	for i, t := range terms {
		conds[i] = "name ILIKE " + arg("%"+likeEscaper.Replace(t)+"%")
	}
	return "(" + strings.Join(conds, " AND ") + ")"
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// minSearchTerm is GitLab's MIN_CHARS_FOR_PARTIAL_MATCHING.
const minSearchTerm = 3

// searchTerms splits a query as Gitlab::SQL::Pattern does: whitespace
// squeezed, "quoted phrases" (a quote at the start or after a space up to
// the next quote at the end or before a space) kept whole, other words
// split on spaces; terms shorter than min characters dropped (min is
// minSearchTerm, or 1 where GitLab passes use_minimum_char_limit: false).
// whole is the squeezed query.
func searchTerms(query string, min int) (terms []string, whole string) {
	whole = strings.Join(strings.Fields(query), " ")
	s := whole
	for s != "" {
		if s[0] == '"' {
			if j := strings.IndexByte(s[1:], '"'); j > 0 && (j+2 == len(s) || s[j+2] == ' ') {
				terms = appendTerm(terms, s[1:j+1], min)
				s = strings.TrimPrefix(s[j+2:], " ")
				continue
			}
		}
		word, rest, _ := strings.Cut(s, " ")
		terms = appendTerm(terms, word, min)
		s = rest
	}
	return terms, whole
}

func appendTerm(terms []string, t string, min int) []string {
	if len([]rune(t)) >= min {
		terms = append(terms, t)
	}
	return terms
}

// SetUserState blocks ("blocked") or unblocks ("active") a user and
// reports whether the state changed. A change tells the other nodes to
// drop the user's cached tokens (the caller drops this node's): a blocked
// user's PAT is refused everywhere on its next request.
func (s *Store) SetUserState(ctx context.Context, id int64, state string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET state = $2 WHERE id = $1 AND state <> $2`, id, state)
	if err != nil {
		return false, wrap("meta.SetUserState", err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, wrap("meta.SetUserState", err)
	}
	_ = s.Notify(ctx, TokensChannel, "user:"+itoaInt64(id))
	return true, nil
}

// ErrPATRevoked is RotatePAT's refusal of a token already revoked, with
// GitLab's message (gitlabhq app/services/personal_access_tokens/rotate_service.rb).
var ErrPATRevoked = errs.New("meta.RotatePAT", errs.Invalid, "400 Bad request - Token already revoked")

// RotatePAT replaces a token, in one transaction, as GitLab's
// RotateService does: the token is revoked and a new one stored for the
// same user with its name, description and scopes, expiresAt as its
// expiry and the old token as its previous_personal_access_token_id
// (the chain RevokePATFamily walks). A token revoked already is
// ErrPATRevoked, and nothing changes; a missing one is NotFound. The row
// is locked first, so two rotations of one token at once make one new
// token, and the loser is refused as GitLab refuses a revoked token. The
// other nodes are told to drop the old token at COMMIT; the caller drops
// it from this node's cache. digest is the new secret's.
func (s *Store) RotatePAT(ctx context.Context, id int64, expiresAt *time.Time, digest []byte) (old, rotated *PAT, err error) {
	const op = "meta.RotatePAT"
	err = s.Tx(ctx, func(tx *Tx) error {
		var p PAT
		if err := tx.tx.GetContext(ctx, &p, `SELECT `+patCols+` FROM personal_access_tokens WHERE id = $1 FOR UPDATE`, id); err != nil {
			return wrap(op, err)
		}
		if p.Revoked {
			return ErrPATRevoked
		}
		if _, err := tx.tx.ExecContext(ctx, `UPDATE personal_access_tokens SET revoked = true WHERE id = $1`, id); err != nil {
			return wrap(op, err)
		}
		p.Revoked = true
		var n PAT
		if err := tx.tx.GetContext(ctx, &n, `INSERT INTO personal_access_tokens
			(user_id, name, description, token_digest, scopes, expires_at, previous_personal_access_token_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+patCols,
			p.UserID, p.Name, p.Description, digest, p.Scopes, expiresAt, p.ID); err != nil {
			return wrap(op, err)
		}
		// Delivered at COMMIT, never for a rotation rolled back.
		if _, err := tx.tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, TokensChannel, "pat:"+itoaInt64(p.ID)); err != nil {
			return wrap(op, err)
		}
		old, rotated = &p, &n
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return old, rotated, nil
}

// RevokePATFamily revokes the live descendants of a token: the tokens
// rotated from it, from those, and so on (normally one, the current
// token of the chain), and returns their ids. It is GitLab's
// RevokeTokenFamilyService (gitlabhq
// app/services/personal_access_tokens/revoke_token_family_service.rb),
// which, like its pat_family.active, leaves revoked and expired members
// as they are. The other nodes are told to drop each; the caller drops
// them from this node's cache.
func (s *Store) RevokePATFamily(ctx context.Context, id int64) ([]int64, error) {
	const op = "meta.RevokePATFamily"
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, `WITH RECURSIVE family AS (
			SELECT id FROM personal_access_tokens WHERE previous_personal_access_token_id = $1
			UNION
			SELECT t.id FROM personal_access_tokens t JOIN family f ON t.previous_personal_access_token_id = f.id
		)
		UPDATE personal_access_tokens SET revoked = true
		WHERE id IN (SELECT id FROM family) AND NOT revoked
			AND (expires_at IS NULL OR expires_at > (now() AT TIME ZONE 'UTC')::date)
		RETURNING id`, id)
	if err != nil {
		return nil, wrap(op, err)
	}
	for _, n := range ids {
		_ = s.Notify(ctx, TokensChannel, "pat:"+itoaInt64(n))
	}
	return ids, nil
}
