package meta

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/pkgate/pkgate/internal/errs"
)

// Access levels (GitLab's integers).
const (
	NoAccess      = 0
	MinimalAccess = 5
	Guest         = 10
	Reporter      = 20
	Developer     = 30
	Maintainer    = 40
	Owner         = 50
)

// User is a person or an admin.
type User struct {
	ID             int64     `db:"id"`
	Username       string    `db:"username"`
	Email          string    `db:"email"`
	Name           string    `db:"name"`
	PasswordHash   string    `db:"password_hash"`
	IsAdmin        bool      `db:"is_admin"`
	State          string    `db:"state"`
	CanCreateGroup bool      `db:"can_create_group"`
	CreatedAt      time.Time `db:"created_at"`
}

const userCols = `id, username, email, name, password_hash, is_admin, state, can_create_group, created_at`

// CreateUser inserts a user and its personal namespace. Duplicate email or
// username come back as Conflict with GitLab's messages.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	const op = "meta.CreateUser"
	return s.Tx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.tx.GetContext(ctx, &n, `SELECT count(*) FROM users WHERE lower(email) = lower($1)`, u.Email); err != nil {
			return wrap(op, err)
		}
		if n > 0 {
			return errs.New(op, errs.Conflict, "Email has already been taken")
		}
		err := tx.tx.GetContext(ctx, u, `INSERT INTO users (username, email, name, password_hash, is_admin, can_create_group)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+userCols,
			u.Username, u.Email, u.Name, u.PasswordHash, u.IsAdmin, u.CanCreateGroup)
		if err != nil {
			if IsUniqueViolation(err) {
				if strings.Contains(err.Error(), "email") {
					return errs.New(op, errs.Conflict, "Email has already been taken")
				}
				return errs.New(op, errs.Conflict, "Username has already been taken")
			}
			return wrap(op, err)
		}
		_, err = tx.tx.ExecContext(ctx, `INSERT INTO namespaces (kind, name, path, full_path, full_name, owner_id, traversal_ids, visibility)
			VALUES ('user', $1, $2, $2, $1, $3, '{}', 'private')`, u.Name, u.Username, u.ID)
		if err != nil {
			if IsUniqueViolation(err) {
				return errs.New(op, errs.Conflict, "Username has already been taken")
			}
			return wrap(op, err)
		}
		_, err = tx.tx.ExecContext(ctx, `UPDATE namespaces SET traversal_ids = ARRAY[id] WHERE owner_id = $1 AND kind = 'user'`, u.ID)
		return wrap(op, err)
	})
}

// UserByID loads a user.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT `+userCols+` FROM users WHERE id = $1`, id)
	if err != nil {
		return nil, wrap("meta.UserByID", err)
	}
	return &u, nil
}

// UserByUsername loads a user by case-insensitive username.
func (s *Store) UserByUsername(ctx context.Context, name string) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT `+userCols+` FROM users WHERE lower(username) = lower($1)`, name)
	if err != nil {
		return nil, wrap("meta.UserByUsername", err)
	}
	return &u, nil
}

// ListUsers pages through users by id.
func (s *Store) ListUsers(ctx context.Context, limit, offset int) ([]User, int, error) {
	var us []User
	if err := s.db.SelectContext(ctx, &us, `SELECT `+userCols+` FROM users ORDER BY id LIMIT $1 OFFSET $2`, limit, offset); err != nil {
		return nil, 0, wrap("meta.ListUsers", err)
	}
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM users`); err != nil {
		return nil, 0, wrap("meta.ListUsers", err)
	}
	return us, total, nil
}

// PAT is a personal access token (secret not included).
type PAT struct {
	ID          int64          `db:"id"`
	UserID      int64          `db:"user_id"`
	Name        string         `db:"name"`
	Description string         `db:"description"`
	Scopes      pq.StringArray `db:"scopes"`
	ExpiresAt   *time.Time     `db:"expires_at"`
	Revoked     bool           `db:"revoked"`
	LastUsedAt  *time.Time     `db:"last_used_at"`
	CreatedAt   time.Time      `db:"created_at"`
}

const patCols = `id, user_id, name, description, scopes, expires_at, revoked, last_used_at, created_at`

// Active reports GitLab's "active": not revoked and not expired. A PAT
// expires on its date at 00:00 UTC (GitLab's Expirable: expires_at <=
// now, the date read as its midnight), so on the expiry date itself it no
// longer works, as a deploy token does not.
func (p *PAT) Active(now time.Time) bool {
	if p.Revoked {
		return false
	}
	if p.ExpiresAt == nil {
		return true
	}
	e := p.ExpiresAt.UTC()
	midnight := time.Date(e.Year(), e.Month(), e.Day(), 0, 0, 0, 0, time.UTC)
	return now.Before(midnight)
}

// CreatePAT stores a token digest.
func (s *Store) CreatePAT(ctx context.Context, p *PAT, digest []byte) error {
	err := s.db.GetContext(ctx, p, `INSERT INTO personal_access_tokens (user_id, name, description, token_digest, scopes, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+patCols, p.UserID, p.Name, p.Description, digest, p.Scopes, p.ExpiresAt)
	return wrap("meta.CreatePAT", err)
}

// PATByDigest finds a token (active or not) by its secret's digest, with its
// user and the stored digest (for a constant-time comparison).
func (s *Store) PATByDigest(ctx context.Context, digest []byte) (*PAT, *User, []byte, error) {
	var row struct {
		PAT
		Digest []byte `db:"token_digest"`
		U      User   `db:"u"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT t.token_digest, t.id, t.user_id, t.name, t.description, t.scopes, t.expires_at, t.revoked, t.last_used_at, t.created_at,
		u.id "u.id", u.username "u.username", u.email "u.email", u.name "u.name", u.password_hash "u.password_hash",
		u.is_admin "u.is_admin", u.state "u.state", u.can_create_group "u.can_create_group", u.created_at "u.created_at"
		FROM personal_access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_digest = $1`, digest)
	if err != nil {
		return nil, nil, nil, wrap("meta.PATByDigest", err)
	}
	return &row.PAT, &row.U, row.Digest, nil
}

// LastUsedIPs is how many addresses a token keeps, GitLab's
// PersonalAccessTokens::LastUsedService::NUM_IPS_TO_STORE (gitlabhq
// app/services/personal_access_tokens/last_used_service.rb).
const LastUsedIPs = 5

// TouchPAT records a use of a token from ip (empty: address unknown) in
// one round trip, throttled so that authentication never writes on every
// request:
//
//   - last_used_at moves at most once a minute;
//   - ip is added unless the token already has it or got an address
//     within the last minute, and the oldest addresses beyond LastUsedIPs
//     are dropped. GitLab keeps the same list (update_pat_ip and
//     last_used_ip_needs_update? of last_used_service.rb; its API
//     documents it as "the five most recent unique IP addresses ... The
//     list updates once per minute per token"). GitLab gates the address
//     on last_used_at being a minute old, which it moves only every ten
//     minutes; last_used_at here moves every minute, so the minute is
//     counted from the newest address instead, keeping GitLab's rate.
//
// An address already listed keeps its place: the list is of the addresses
// first seen most recently, as GitLab's, not of the latest uses. ip must
// be a valid address (auth canonicalises it).
func (s *Store) TouchPAT(ctx context.Context, id int64, ip string) error {
	if ip == "" {
		_, err := s.db.ExecContext(ctx, `UPDATE personal_access_tokens SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, id)
		return wrap("meta.TouchPAT", err)
	}
	// Every part of one statement reads the table as it was before the
	// statement: the DELETE does not see the address just added, so it
	// keeps the newest LastUsedIPs-1 older ones beside it. Two nodes adding
	// different addresses at once may leave one too many until the next
	// addition; PATLastUsedIPs never shows more than LastUsedIPs.
	_, err := s.db.ExecContext(ctx, `WITH touched AS (
			UPDATE personal_access_tokens SET last_used_at = now()
			WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
		), added AS (
			INSERT INTO personal_access_token_last_used_ips (personal_access_token_id, ip_address)
			SELECT $1, $2::inet WHERE NOT EXISTS (
				SELECT 1 FROM personal_access_token_last_used_ips
				WHERE personal_access_token_id = $1 AND (ip_address = $2::inet OR created_at > now() - interval '1 minute'))
			ON CONFLICT DO NOTHING
			RETURNING id
		)
		DELETE FROM personal_access_token_last_used_ips
		WHERE personal_access_token_id = $1 AND EXISTS (SELECT 1 FROM added) AND id NOT IN (
			SELECT id FROM personal_access_token_last_used_ips WHERE personal_access_token_id = $1
			ORDER BY created_at DESC, id DESC LIMIT $3)`, id, ip, LastUsedIPs-1)
	return wrap("meta.TouchPAT", err)
}

// PATLastUsedIPs returns the addresses each token was last used from,
// oldest first: GitLab's entity maps the has_many in the order the
// database returns it, which for rows only ever added and deleted is the
// order they were added in (gitlabhq
// lib/api/entities/personal_access_token_with_last_used_ips.rb,
// app/models/personal_access_token.rb). A token without any has no key.
func (s *Store) PATLastUsedIPs(ctx context.Context, ids ...int64) (map[int64][]string, error) {
	var rows []struct {
		ID int64  `db:"personal_access_token_id"`
		IP string `db:"ip"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT personal_access_token_id, host(ip_address) AS ip
		FROM personal_access_token_last_used_ips WHERE personal_access_token_id = ANY($1)
		ORDER BY personal_access_token_id, created_at, id`, pq.Int64Array(ids))
	if err != nil {
		return nil, wrap("meta.PATLastUsedIPs", err)
	}
	out := map[int64][]string{}
	for _, r := range rows {
		l := append(out[r.ID], r.IP)
		if len(l) > LastUsedIPs {
			l = l[1:] // a race between nodes left one too many: the oldest goes
		}
		out[r.ID] = l
	}
	return out, nil
}

// Namespace is a group or a user's personal namespace.
type Namespace struct {
	ID           int64         `db:"id"`
	Kind         string        `db:"kind"`
	Name         string        `db:"name"`
	Path         string        `db:"path"`
	FullPath     string        `db:"full_path"`
	FullName     string        `db:"full_name"`
	ParentID     *int64        `db:"parent_id"`
	OwnerID      *int64        `db:"owner_id"`
	TraversalIDs pq.Int64Array `db:"traversal_ids"`
	Visibility   string        `db:"visibility"`
	Description  string        `db:"description"`
	CreatedAt    time.Time     `db:"created_at"`
}

const nsCols = `id, kind, name, path, full_path, full_name, parent_id, owner_id, traversal_ids, visibility, description, created_at`

// CreateGroup inserts a group under parent (nil: top level) and makes the
// creator its Owner, as GitLab does.
func (s *Store) CreateGroup(ctx context.Context, g *Namespace, parent *Namespace, creatorID int64) error {
	const op = "meta.CreateGroup"
	g.Kind = "group"
	g.FullPath, g.FullName = g.Path, g.Name
	var traversal []int64
	if parent != nil {
		g.ParentID = &parent.ID
		g.FullPath = parent.FullPath + "/" + g.Path
		g.FullName = parent.FullName + " / " + g.Name
		traversal = append(traversal, parent.TraversalIDs...)
	}
	return s.Tx(ctx, func(tx *Tx) error {
		if parent != nil {
			// Checked under the parent's row lock (see edit.go).
			if err := allowedBelow(ctx, tx, op, parent.ID, g.Visibility); err != nil {
				return err
			}
		}
		// A subgroup and a project share their parent's path space: both
		// resolve from the same full path (spec 3.5).
		err := tx.tx.GetContext(ctx, g, `INSERT INTO namespaces (kind, name, path, full_path, full_name, parent_id, visibility, description, traversal_ids)
			SELECT 'group', $1, $2, $3, $4, $5, $6, $7, '{}'
			WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.namespace_id = $5 AND lower(p.path) = lower($2))
			RETURNING `+nsCols,
			g.Name, g.Path, g.FullPath, g.FullName, g.ParentID, g.Visibility, g.Description)
		if err != nil {
			if IsUniqueViolation(err) || errors.Is(err, sql.ErrNoRows) {
				return errs.E(op, errs.Invalid, errs.Msg("path has already been taken"), err)
			}
			return wrap(op, err)
		}
		g.TraversalIDs = append(traversal, g.ID)
		if _, err := tx.tx.ExecContext(ctx, `UPDATE namespaces SET traversal_ids = $1 WHERE id = $2`, g.TraversalIDs, g.ID); err != nil {
			return wrap(op, err)
		}
		if creatorID > 0 {
			_, err = tx.tx.ExecContext(ctx, `INSERT INTO group_members (namespace_id, user_id, access_level) VALUES ($1, $2, $3)`, g.ID, creatorID, Owner)
		}
		return wrap(op, err)
	})
}

// NamespaceByID loads a namespace of any kind.
func (s *Store) NamespaceByID(ctx context.Context, id int64) (*Namespace, error) {
	var n Namespace
	if err := s.db.GetContext(ctx, &n, `SELECT `+nsCols+` FROM namespaces WHERE id = $1`, id); err != nil {
		return nil, wrap("meta.NamespaceByID", err)
	}
	return &n, nil
}

// NamespaceByPath loads a namespace by case-insensitive full path.
func (s *Store) NamespaceByPath(ctx context.Context, fullPath string) (*Namespace, error) {
	var n Namespace
	if err := s.db.GetContext(ctx, &n, `SELECT `+nsCols+` FROM namespaces WHERE lower(full_path) = lower($1)`, fullPath); err != nil {
		return nil, wrap("meta.NamespaceByPath", err)
	}
	return &n, nil
}

// PersonalNamespace returns a user's own namespace.
func (s *Store) PersonalNamespace(ctx context.Context, userID int64) (*Namespace, error) {
	var n Namespace
	if err := s.db.GetContext(ctx, &n, `SELECT `+nsCols+` FROM namespaces WHERE owner_id = $1 AND kind = 'user'`, userID); err != nil {
		return nil, wrap("meta.PersonalNamespace", err)
	}
	return &n, nil
}

// ListGroups lists groups visible to a user (nil user: public only; admin:
// all), optionally only the direct children of parentID.
func (s *Store) ListGroups(ctx context.Context, u *User, parentID int64, limit, offset int) ([]Namespace, int, error) {
	conds := []string{"kind = 'group'"}
	args := []any{}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	switch {
	case u == nil:
		conds = append(conds, "visibility = 'public'")
	case !u.IsAdmin:
		uid := arg(u.ID)
		conds = append(conds, `(visibility <> 'private'
			OR EXISTS (SELECT 1 FROM group_members m WHERE m.user_id = `+uid+` AND m.namespace_id = ANY(namespaces.traversal_ids) AND `+grants("m")+`)
			OR EXISTS (SELECT 1 FROM group_members m JOIN namespaces d ON d.id = m.namespace_id WHERE m.user_id = `+uid+` AND namespaces.id = ANY(d.traversal_ids) AND `+grants("m")+`)
			OR EXISTS (SELECT 1 FROM project_members pm JOIN projects p ON p.id = pm.project_id JOIN namespaces pn ON pn.id = p.namespace_id
				WHERE pm.user_id = `+uid+` AND namespaces.id = ANY(pn.traversal_ids) AND `+grants("pm")+`))`)
	}
	if parentID > 0 {
		conds = append(conds, "parent_id = "+arg(parentID))
	}
	where := strings.Join(conds, " AND ")
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM namespaces WHERE `+where, args...); err != nil {
		return nil, 0, wrap("meta.ListGroups", err)
	}
	lim, off := arg(limit), arg(offset)
	var ns []Namespace
	if err := s.db.SelectContext(ctx, &ns, `SELECT `+nsCols+` FROM namespaces WHERE `+where+` ORDER BY id LIMIT `+lim+` OFFSET `+off, args...); err != nil {
		return nil, 0, wrap("meta.ListGroups", err)
	}
	return ns, total, nil
}

// Project is a project with its namespace.
type Project struct {
	ID              int64     `db:"id"`
	NamespaceID     int64     `db:"namespace_id"`
	Name            string    `db:"name"`
	Path            string    `db:"path"`
	Visibility      string    `db:"visibility"`
	PackagesEnabled bool      `db:"packages_enabled"`
	Description     string    `db:"description"`
	CreatedAt       time.Time `db:"created_at"`
	Namespace       Namespace `db:"ns"`
}

// FullPath is namespace/path.
func (p *Project) FullPath() string { return p.Namespace.FullPath + "/" + p.Path }

// FullName is "Namespace / Name".
func (p *Project) FullName() string { return p.Namespace.FullName + " / " + p.Name }

const projectSelect = `SELECT p.id, p.namespace_id, p.name, p.path, p.visibility, p.packages_enabled, p.description, p.created_at,
	n.id "ns.id", n.kind "ns.kind", n.name "ns.name", n.path "ns.path", n.full_path "ns.full_path", n.full_name "ns.full_name",
	n.parent_id "ns.parent_id", n.owner_id "ns.owner_id", n.traversal_ids "ns.traversal_ids", n.visibility "ns.visibility",
	n.description "ns.description", n.created_at "ns.created_at"
	FROM projects p JOIN namespaces n ON n.id = p.namespace_id`

// CreateProject inserts a project in a namespace.
func (s *Store) CreateProject(ctx context.Context, p *Project) error {
	const op = "meta.CreateProject"
	var id int64
	err := s.Tx(ctx, func(tx *Tx) error {
		// The group's visibility is read and held under its row lock (see
		// edit.go), so a group made private meanwhile cannot end up
		// holding a public project.
		if err := allowedBelow(ctx, tx, op, p.NamespaceID, p.Visibility); err != nil {
			return err
		}
		err := tx.tx.GetContext(ctx, &id, `INSERT INTO projects (namespace_id, name, path, visibility, packages_enabled, description)
			SELECT $1, $2, $3, $4, $5, $6
			WHERE NOT EXISTS (SELECT 1 FROM namespaces n WHERE n.parent_id = $1 AND lower(n.path) = lower($3))
			RETURNING id`, p.NamespaceID, p.Name, p.Path, p.Visibility, p.PackagesEnabled, p.Description)
		if IsUniqueViolation(err) || errors.Is(err, sql.ErrNoRows) {
			return errs.E(op, errs.Invalid, errs.Msg("path has already been taken"), err)
		}
		return wrap(op, err)
	})
	if err != nil {
		return err
	}
	got, err := s.ProjectByID(ctx, id)
	if err != nil {
		return err
	}
	*p = *got
	return nil
}

// ProjectByID loads a project.
func (s *Store) ProjectByID(ctx context.Context, id int64) (*Project, error) {
	var p Project
	if err := s.db.GetContext(ctx, &p, projectSelect+` WHERE p.id = $1`, id); err != nil {
		return nil, wrap("meta.ProjectByID", err)
	}
	return &p, nil
}

// ProjectByPath loads a project by case-insensitive "namespace/path".
func (s *Store) ProjectByPath(ctx context.Context, fullPath string) (*Project, error) {
	i := strings.LastIndex(fullPath, "/")
	if i <= 0 {
		return nil, errs.New("meta.ProjectByPath", errs.NotFound, "")
	}
	var p Project
	err := s.db.GetContext(ctx, &p, projectSelect+` WHERE lower(n.full_path) = lower($1) AND lower(p.path) = lower($2)`, fullPath[:i], fullPath[i+1:])
	if err != nil {
		return nil, wrap("meta.ProjectByPath", err)
	}
	return &p, nil
}

// ListProjects lists projects visible to u (nil: public only), optionally
// inside one namespace, with its subgroups' projects or without.
func (s *Store) ListProjects(ctx context.Context, u *User, inNamespace int64, subgroups bool, limit, offset int) ([]Project, int, error) {
	conds := []string{"true"}
	args := []any{}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	switch {
	case u == nil:
		conds = append(conds, "p.visibility = 'public'")
	case !u.IsAdmin:
		uid := arg(u.ID)
		conds = append(conds, `(p.visibility <> 'private' OR n.owner_id = `+uid+` OR `+projectMember("p.id", "n.traversal_ids", uid)+`)`)
	}
	switch {
	case inNamespace > 0 && subgroups:
		conds = append(conds, arg(inNamespace)+" = ANY(n.traversal_ids)")
	case inNamespace > 0:
		conds = append(conds, "p.namespace_id = "+arg(inNamespace))
	}
	where := strings.Join(conds, " AND ")
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM projects p JOIN namespaces n ON n.id = p.namespace_id WHERE `+where, args...); err != nil {
		return nil, 0, wrap("meta.ListProjects", err)
	}
	lim, off := arg(limit), arg(offset)
	var ps []Project
	if err := s.db.SelectContext(ctx, &ps, projectSelect+` WHERE `+where+` ORDER BY p.id LIMIT `+lim+` OFFSET `+off, args...); err != nil {
		return nil, 0, wrap("meta.ListProjects", err)
	}
	return ps, total, nil
}

// inForce is the SQL condition that membership row m has not expired.
// Every query that reads memberships applies it, so one that forgets it
// cannot leak what an expired member no longer sees.
//
// A membership ends at the start of its expiry date, UTC: GitLab's
// Member.not_expired scope keeps only `expires_at > Date.current`, and
// its Expirable#expired? and `expired` scope (which
// RemoveExpiredMembersWorker deletes by) hold a row expired once
// `expires_at <= Time.current`, the date read as its midnight (gitlabhq
// app/models/member.rb, app/models/concerns/expirable.rb,
// app/workers/remove_expired_members_worker.rb). Date.current is the date
// in GitLab's configured zone, UTC by default. The date is taken in UTC
// here, never from current_date, which follows the session's TimeZone.
func inForce(m string) string {
	return "(" + m + ".expires_at IS NULL OR " + m + ".expires_at > " + todayUTC + ")"
}

// grants is the SQL condition that membership row m gives its user any
// access: it is in force (see inForce) and above Minimal Access. GitLab
// builds a user's project authorizations from memberships at Guest and
// up only (Member.non_minimal_access), and a Minimal Access member of a
// top-level group gets 404 from the group and from everything in it,
// private or not public to them: the role exists for single sign-on to
// enrol users before they are given a role somewhere below (gitlabhq
// app/models/member.rb, ee/app/models/ee/group.rb
// minimal_access_role_allowed?, gitlab-org/gitlab#341768).
func grants(m string) string {
	return "(" + m + ".access_level > " + strconv.Itoa(MinimalAccess) + " AND " + inForce(m) + ")"
}

// todayUTC is the SQL expression of today's date in UTC, whatever the
// session's TimeZone.
const todayUTC = "(now() AT TIME ZONE 'UTC')::date"

// projectMember is the SQL condition that the user in placeholder uid
// holds a membership in force on a project (its id in column project, its
// namespace's traversal_ids in traversal): on the project itself or on a
// group above it.
func projectMember(project, traversal, uid string) string {
	return `(EXISTS (SELECT 1 FROM project_members pm WHERE pm.project_id = ` + project + ` AND pm.user_id = ` + uid + ` AND ` + grants("pm") + `)
		OR EXISTS (SELECT 1 FROM group_members gm WHERE gm.user_id = ` + uid + ` AND gm.namespace_id = ANY(` + traversal + `) AND ` + grants("gm") + `))`
}

// ProjectAccess is the effective access level of a user on a project: the
// highest of direct membership, membership of the namespace or any ancestor
// group, and ownership of a personal namespace.
func (s *Store) ProjectAccess(ctx context.Context, userID int64, p *Project) (int, error) {
	var lvl int
	err := s.db.GetContext(ctx, &lvl, `SELECT greatest(
		coalesce((SELECT access_level FROM project_members WHERE project_id = $1 AND user_id = $2 AND `+grants("project_members")+`), 0),
		coalesce((SELECT max(access_level) FROM group_members WHERE user_id = $2 AND namespace_id = ANY($3) AND `+grants("group_members")+`), 0),
		CASE WHEN $4::bigint = $2 THEN 50 ELSE 0 END)`, p.ID, userID, p.Namespace.TraversalIDs, p.Namespace.OwnerID)
	return lvl, wrap("meta.ProjectAccess", err)
}

// GroupAccess is a user's effective level on a group (own and ancestors).
func (s *Store) GroupAccess(ctx context.Context, userID int64, g *Namespace) (int, error) {
	if g.Kind == "user" {
		if g.OwnerID != nil && *g.OwnerID == userID {
			return Owner, nil
		}
		return NoAccess, nil
	}
	var lvl int
	err := s.db.GetContext(ctx, &lvl, `SELECT coalesce(max(access_level), 0) FROM group_members
		WHERE user_id = $1 AND namespace_id = ANY($2) AND `+grants("group_members"), userID, g.TraversalIDs)
	return lvl, wrap("meta.GroupAccess", err)
}

// HasProjectsInGroupTree reports whether a user is a member of some project
// or subgroup below g: such users may see a private group, as in GitLab.
func (s *Store) HasProjectsInGroupTree(ctx context.Context, userID int64, g *Namespace) (bool, error) {
	var ok bool
	err := s.db.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM project_members pm JOIN projects p ON p.id = pm.project_id
		JOIN namespaces n ON n.id = p.namespace_id WHERE pm.user_id = $1 AND $2 = ANY(n.traversal_ids) AND `+grants("pm")+`)
		OR EXISTS (SELECT 1 FROM group_members gm JOIN namespaces n ON n.id = gm.namespace_id WHERE gm.user_id = $1 AND $2 = ANY(n.traversal_ids) AND `+grants("gm")+`)`, userID, g.ID)
	return ok, wrap("meta.HasProjectsInGroupTree", err)
}

// Member is a membership with user details: a direct one, or the one
// that stands for a user in GET .../members/all (allMemberRows).
type Member struct {
	UserID      int64      `db:"user_id"`
	Username    string     `db:"username"`
	Name        string     `db:"name"`
	State       string     `db:"state"`
	AccessLevel int        `db:"access_level"`
	ExpiresAt   *time.Time `db:"expires_at"`
	CreatedAt   time.Time  `db:"created_at"`
}

// MemberSource names the table and key of a membership list.
type MemberSource struct {
	Group bool
	ID    int64
	// Holder is, for a project in a personal namespace, the namespace's
	// holder (0 otherwise): GitLab makes them a member, Owner, of every
	// project there (gitlabhq app/services/projects/create_service.rb
	// add_owner), while this gateway keeps their ownership on the
	// namespace and has no membership row for it. GetMember and
	// ListMembers show that membership all the same: Owner, no expiry,
	// made with the project.
	Holder int64
	// Root is whether the source is a top-level group, the only one that
	// admits Minimal Access.
	Root bool
}

func (m MemberSource) table() (string, string) {
	if m.Group {
		return "group_members", "namespace_id"
	}
	return "project_members", "project_id"
}

// AddMember inserts a direct membership; an existing one is Conflict,
// unless the lists leave it out (see listed): such a row, expired or at
// Minimal Access below a top-level group, is replaced by the new
// membership, made now. GitLab's daily job has deleted an expired row by
// then (and its conflict check passes over Minimal Access where the
// level is not allowed), so there a POST for that
// user makes a new member; here the list shows none, and a 409 "Member
// already exists" would name a member nobody can see. The rows listed
// never are replaced: an expired group Owner stays while it counts for
// the last-owner rule (ownerCounts), which is when the lists show it.
func (s *Store) AddMember(ctx context.Context, src MemberSource, userID int64, level int, expires *time.Time) (*Member, error) {
	const op = "meta.AddMember"
	table, key := src.table()
	insert := `INSERT INTO ` + table + ` AS m (` + key + `, user_id, access_level, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (` + key + `, user_id) DO UPDATE SET access_level = EXCLUDED.access_level, expires_at = EXCLUDED.expires_at, created_at = now()
		WHERE NOT ` + listed(src.Group, "m")
	var res sql.Result
	var err error
	if src.Group && level == Owner {
		// A new Owner changes who is a group's last one: under the lock
		// every such change takes (see changeMember), so that a user's
		// deletion that found its Owner the last (DeleteUser) and this
		// addition happen one after the other.
		err = s.Tx(ctx, func(tx *Tx) error {
			if err := lockGroupOwners(ctx, tx, src.ID); err != nil {
				return wrap(op, err)
			}
			res, err = tx.tx.ExecContext(ctx, insert, src.ID, userID, level, expires)
			return wrap(op, err)
		})
	} else {
		res, err = s.db.ExecContext(ctx, insert, src.ID, userID, level, expires)
		err = wrap(op, err)
	}
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, errs.E(op, errs.Conflict, errs.Msg("Member already exists"))
	}
	// The row as made, not as GetMember lists it: GitLab presents the
	// member it created, even one the lists leave out (see listed), such
	// as one at Minimal Access or one that expires today.
	return getMember(ctx, s.db, src, userID, "", "")
}

// GetMember loads one direct membership, the holder's of a personal
// namespace included (see MemberSource.Holder).
func (s *Store) GetMember(ctx context.Context, src MemberSource, userID int64) (*Member, error) {
	return s.memberIn(ctx, "meta.GetMember", memberRows, src, userID)
}

// getMember loads one direct membership row through db; cond is more SQL
// on the row m, such as " AND "+listed(...), and lock a locking clause
// such as "FOR UPDATE OF m"; either may be empty.
func getMember(ctx context.Context, db q, src MemberSource, userID int64, cond, lock string) (*Member, error) {
	table, key := src.table()
	var m Member
	err := db.GetContext(ctx, &m, `SELECT m.user_id, u.username, u.name, u.state, m.access_level, m.expires_at, m.created_at
		FROM `+table+` m JOIN users u ON u.id = m.user_id WHERE m.`+key+` = $1 AND m.user_id = $2`+cond+` `+lock, src.ID, userID)
	if err != nil {
		return nil, wrap("meta.GetMember", err)
	}
	return &m, nil
}

// MemberFilter narrows a membership list as GitLab's retrieve_members
// does with the list's query and user_ids parameters (gitlabhq
// lib/api/helpers/members_helpers.rb).
type MemberFilter struct {
	// Query, when it is not blank, keeps the members that User.search
	// finds (gitlabhq app/models/user.rb search,
	// lib/gitlab/sql/pattern.rb): a leading "@" is dropped (nothing is
	// found when nothing else is left), the rest is cut into terms at
	// spaces, a "quoted phrase" being one term, and a member is kept when
	// every term is in their name, or every term in their username, in
	// any case. GitLab also matches a public email exactly; users here
	// have none. The list is then ordered as User.search orders it: exact
	// username first, then exact name, then by name and id.
	Query string
	// UserIDs, when not empty, keeps only these users.
	UserIDs []int64
}

// memberRows is the SQL of a membership list's rows (user_id,
// access_level, expires_at, created_at): the direct membership rows of
// src that GitLab lists (see listed) and, for a project in a personal
// namespace, the holder's (see MemberSource.Holder), in place of any row
// of theirs. arg adds a placeholder.
func memberRows(src MemberSource, arg func(any) string) string {
	table, key := src.table()
	id := arg(src.ID)
	rows := `SELECT m.user_id, m.access_level, m.expires_at, m.created_at FROM ` + table + ` m WHERE m.` + key + ` = ` + id + ` AND ` + listed(src.Group, "m")
	if src.Holder != 0 {
		holder := arg(src.Holder)
		rows += ` AND m.user_id <> ` + holder + `
			UNION ALL SELECT ` + holder + `::bigint, ` + strconv.Itoa(Owner) + `, NULL::date, p.created_at FROM projects p WHERE p.id = ` + id
	}
	return rows
}

// listed is the SQL condition that GitLab's member lists and lookups
// show membership row m, of a group's (group) or a project's: GET
// .../members, .../members/:user_id and, for the rows they are made of,
// .../members/all and .../members/all/:user_id. It decides only what is
// shown; what a membership grants is grants'.
//
// Minimal Access: this gateway admits the level where a licensed GitLab
// EE does, on top-level groups (see the gateway's levelErrors), and lists
// it as that GitLab does: a top-level group's direct members are then
// all_group_members, Minimal Access included
// (ee/lib/ee/api/helpers/members_helpers.rb source_members,
// ee/app/models/ee/group.rb minimal_access_role_allowed?), so that such a
// member can be seen, raised and removed. Elsewhere a group's direct
// members are source.members, `non_request.non_minimal_access` (gitlabhq
// lib/api/helpers/members_helpers.rb, app/models/group.rb), which leaves
// out any such row made before subgroups refused the level; and the
// .../members/all lists drop it everywhere (see allMemberRows). A
// project's members (Project#namespace_members, non_request only) keep
// every level.
//
// Expiry: GitLab's queries have no expiry filter (app/models/member.rb:
// "expires_at is not implemented. A background worker purges expired
// rows"); RemoveExpiredMembersWorker, every day at 00:10
// (config/initializers/1_settings.rb), deletes each expired membership
// (app/workers/remove_expired_members_worker.rb) but a group's last Owner,
// whom Members::DestroyService keeps (app/services/members/destroy_service.rb
// process_destroy_of_group_owner_member). So GitLab lists, past the first
// minutes of a day, the memberships in force and the expired group Owners
// that count for the last-owner rule (see ownerCounts), and here the same
// rows are listed. GitLab still shows, until its next run, a membership
// given after 00:10 an expiry of that very day; it is left out here from
// the start.
func listed(group bool, m string) string {
	if !group {
		return inForce(m)
	}
	return "((" + m + ".access_level > " + strconv.Itoa(MinimalAccess) + " OR EXISTS (SELECT 1 FROM namespaces r WHERE r.id = " + m + `.namespace_id
		AND r.parent_id IS NULL)) AND (` + inForce(m) + " OR (" + m + ".access_level = " + strconv.Itoa(Owner) + `
		AND EXISTS (SELECT 1 FROM namespaces h WHERE h.id = ` + m + ".namespace_id AND " + ownerCounts(m, "h") + "))))"
}

// memberOrder is the order of a membership list without a query: the
// order the memberships were made in, the holder's of a personal
// namespace (made with the project) first. GitLab's lists have no order
// of their own (retrieve_members, MembersFinder and GroupMembersFinder
// add none), so the API's offset pagination orders them by the
// membership's id (gitlabhq lib/api/helpers/members_helpers.rb,
// lib/gitlab/pagination/offset_pagination.rb add_default_order:
// order(:id) when a relation has no order), which its one members
// table hands out in creation order. Memberships here have no id of
// their own; their created_at is the time of the transaction that made
// them, and the user id settles a tie.
const memberOrder = "ms.created_at, ms.user_id"

// ListMembers pages the direct memberships of src that f keeps, in the
// order they were made (see memberOrder), with their total.
func (s *Store) ListMembers(ctx context.Context, src MemberSource, f MemberFilter, limit, offset int) ([]Member, int, error) {
	return s.pageMembers(ctx, "meta.ListMembers", func(arg func(any) string) string { return memberRows(src, arg) }, f, limit, offset)
}

// ListAllMembers pages the members of src with those it inherits, one
// row a user (see allMemberRows), that f keeps, as ListMembers pages the
// direct ones.
func (s *Store) ListAllMembers(ctx context.Context, src MemberSource, f MemberFilter, limit, offset int) ([]Member, int, error) {
	return s.pageMembers(ctx, "meta.ListAllMembers", func(arg func(any) string) string { return allMemberRows(src, arg) }, f, limit, offset)
}

// GetAllMember loads a user's row among the members of src with those
// it inherits (see allMemberRows); NotFound when they are none of them.
func (s *Store) GetAllMember(ctx context.Context, src MemberSource, userID int64) (*Member, error) {
	return s.memberIn(ctx, "meta.GetAllMember", allMemberRows, src, userID)
}

// memberIn loads userID's row among the membership rows that rows builds
// for src (memberRows or allMemberRows); NotFound when there is none.
func (s *Store) memberIn(ctx context.Context, op string, rows func(MemberSource, func(any) string) string, src MemberSource, userID int64) (*Member, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	var m Member
	err := s.db.GetContext(ctx, &m, memberColumns+` FROM (`+rows(src, arg)+`) ms JOIN users u ON u.id = ms.user_id WHERE ms.user_id = `+arg(userID), args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	return &m, nil
}

// memberColumns selects a Member from a membership row ms and its user u.
const memberColumns = `SELECT ms.user_id, u.username, u.name, u.state, ms.access_level, ms.expires_at, ms.created_at`

// allMemberRows is the SQL of the rows (as memberRows's) of GET
// .../members/all: the members of src and those who are members through
// a group above it, one row a user, with the highest level they hold
// there. Only the memberships GitLab lists count (see listed): none at
// the Minimal Access level on a group, none expired but a group's last
// Owners. It follows GitLab's
// retrieve_members(deep: true) (gitlabhq lib/api/helpers/members_helpers.rb
// find_all_members):
//
// For a group, GroupMembersFinder with the direct and inherited relations
// (app/finders/group_members_finder.rb): the memberships of the group and
// its ancestors (non_minimal_access), of which Member's
// distinct_on_user_with_max_access_level keeps, for each user, the one of
// the highest level, on a tie the group's own, then the one that expires
// last (none first: Postgres sorts NULL first in a descending order), then
// the oldest (app/models/member.rb).
//
// For a project, MembersFinder with the direct and inherited relations
// (app/finders/members_finder.rb): the project's own memberships (for a
// project in a personal namespace, the holder's among them, see
// memberRows) and its group's as GroupMembersFinder finds them for that
// group; of a user in both, the project's membership is shown, with the
// level the user holds on the project (project_authorizations, the
// highest of the two). GitLab adds the members of groups the project or
// its groups are shared with; nothing is shared here.
func allMemberRows(src MemberSource, arg func(any) string) string {
	id := arg(src.ID)
	tree := `SELECT n.id, n.traversal_ids FROM namespaces n WHERE n.id = ` + id
	if !src.Group {
		tree = `SELECT n.id, n.traversal_ids FROM projects p JOIN namespaces n ON n.id = p.namespace_id
			WHERE p.id = ` + id + ` AND n.kind = 'group'`
	}
	groups := `SELECT DISTINCT ON (gm.user_id) gm.user_id, gm.access_level, gm.expires_at, gm.created_at
		FROM (` + tree + `) t JOIN group_members gm ON gm.namespace_id = ANY(t.traversal_ids)
		WHERE ` + listed(true, "gm") + ` AND gm.access_level > ` + strconv.Itoa(MinimalAccess) + `
		ORDER BY gm.user_id, gm.access_level DESC, gm.namespace_id = t.id DESC, gm.expires_at DESC NULLS FIRST, gm.created_at`
	if src.Group {
		return groups
	}
	return `SELECT DISTINCT ON (a.user_id) a.user_id, max(a.access_level) OVER (PARTITION BY a.user_id) AS access_level, a.expires_at, a.created_at
		FROM (SELECT 1 AS pref, d.user_id, d.access_level, d.expires_at, d.created_at FROM (` + memberRows(src, arg) + `) d
			UNION ALL SELECT 2, g.user_id, g.access_level, g.expires_at, g.created_at FROM (` + groups + `) g) a
		ORDER BY a.user_id, a.pref`
}

// pageMembers pages the membership rows that rows builds (SQL of
// user_id, access_level, expires_at and created_at; arg adds a
// placeholder) that f keeps, in memberOrder or, with a query, in
// User.search's, with their total.
func (s *Store) pageMembers(ctx context.Context, op string, rows func(arg func(any) string) string, f MemberFilter, limit, offset int) ([]Member, int, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	from := `FROM (` + rows(arg) + `) ms JOIN users u ON u.id = ms.user_id`
	conds := []string{"true"}
	exact := ""
	if len(f.UserIDs) > 0 {
		conds = append(conds, "ms.user_id = ANY("+arg(pq.Int64Array(f.UserIDs))+")")
	}
	if strings.TrimSpace(f.Query) != "" {
		terms, whole := searchTerms(strings.ToLower(strings.TrimPrefix(f.Query, "@")), 1)
		if len(terms) == 0 {
			conds = append(conds, "false")
		} else {
			var byName, byUsername []string
			for _, t := range terms {
				pat := arg("%" + likeEscaper.Replace(t) + "%")
				byName = append(byName, "u.name ILIKE "+pat)
				byUsername = append(byUsername, "u.username ILIKE "+pat)
			}
			conds = append(conds, "(("+strings.Join(byName, " AND ")+") OR ("+strings.Join(byUsername, " AND ")+"))")
			exact = whole
		}
	}
	where := " WHERE " + strings.Join(conds, " AND ")
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) `+from+where, args...); err != nil {
		return nil, 0, wrap(op, err)
	}
	order := memberOrder
	if exact != "" {
		q := arg(exact)
		order = "CASE WHEN lower(u.username) = " + q + " THEN 1 WHEN lower(u.name) = " + q + " THEN 2 ELSE 3 END, u.name, u.id"
	}
	lim, off := arg(limit), arg(offset)
	var ms []Member
	err := s.db.SelectContext(ctx, &ms, memberColumns+` `+from+where+` ORDER BY `+order+` LIMIT `+lim+` OFFSET `+off, args...)
	if err != nil {
		return nil, 0, wrap(op, err)
	}
	return ms, total, nil
}

// MemberCheck vets a change to one membership inside the change's
// transaction: m is the row as it stands, lastOwner whether it is the last
// Owner of its group (see changeMember). An error it returns is the
// change's answer, and nothing is written.
type MemberCheck func(m *Member, lastOwner bool) error

// UpdateMember changes a membership's level and, when setExpiry, its
// expiry (expires nil: none), if check lets it.
func (s *Store) UpdateMember(ctx context.Context, src MemberSource, userID int64, level int, expires *time.Time, setExpiry bool, check MemberCheck) (*Member, error) {
	const op = "meta.UpdateMember"
	var out *Member
	err := s.changeMember(ctx, op, src, userID, check, func(tx *Tx) error {
		table, key := src.table()
		if _, err := tx.tx.ExecContext(ctx, `UPDATE `+table+` SET access_level = $3,
			expires_at = CASE WHEN $5 THEN $4::date ELSE expires_at END WHERE `+key+` = $1 AND user_id = $2`,
			src.ID, userID, level, expires, setExpiry); err != nil {
			return wrap(op, err)
		}
		var err error
		out, err = getMember(ctx, tx.tx, src, userID, "", "")
		return err
	})
	return out, err
}

// RemoveMember deletes a membership if check lets it. For a group, with
// subresources, it also deletes the same user's memberships of the
// group's subgroups and of the projects in the group and its subgroups,
// all in the one transaction, as GitLab's Members::DestroyService does
// unless skip_subresources is true (gitlabhq
// app/services/members/destroy_service.rb delete_subresources). Their
// removal needs no check of its own: whoever may remove the group
// membership may remove those below it (an Owner of the group is Owner
// of all below it; a member leaving removes only their own), except that
// GitLab's GroupMemberPolicy refuses to destroy the membership of a
// subgroup's last Owner, and DestroyService then raises
// AccessDeniedError. So when the removal would leave a subgroup where the
// user was an Owner without an Owner that counts (see ownerCounts) on it
// or above it, the whole removal is 403 Forbidden and nothing is removed
// (GitLab, without a transaction, would have removed what it reached
// first). Which Owners count is judged as things stand before the
// removal, as GitLab's cleanup judged it.
//
// It returns the memberships below the group that went with it and that
// the lists showed (see listed), subgroups' first, each in path order:
// GitLab removes each through Members::DestroyService again, which
// audits it on its own group or project (ee/app/services/ee/members/
// destroy_service.rb), and the caller does the same. Rows the lists hid
// are left out: GitLab's daily job had deleted them already.
func (s *Store) RemoveMember(ctx context.Context, src MemberSource, userID int64, subresources bool, check MemberCheck) ([]Removal, error) {
	const op = "meta.RemoveMember"
	var below []Removal
	err := s.changeMember(ctx, op, src, userID, check, func(tx *Tx) error {
		cascade := src.Group && subresources
		if cascade {
			var ownerless bool
			err := tx.tx.GetContext(ctx, &ownerless, `SELECT EXISTS (SELECT 1 FROM group_members t JOIN namespaces s ON s.id = t.namespace_id
				WHERE t.user_id = $2 AND $1 = ANY(s.traversal_ids) AND s.id <> $1 AND t.access_level = `+strconv.Itoa(Owner)+`
				AND NOT EXISTS (SELECT 1 FROM group_members gm JOIN namespaces h ON h.id = gm.namespace_id
					WHERE gm.namespace_id = ANY(s.traversal_ids) AND gm.access_level = `+strconv.Itoa(Owner)+`
					AND NOT (gm.user_id = $2 AND $1 = ANY(h.traversal_ids)) AND `+ownerCounts("gm", "h")+`))`, src.ID, userID)
			if err != nil {
				return wrap(op, err)
			}
			if ownerless {
				return errs.New(op, errs.Forbidden, "403 Forbidden")
			}
		}
		table, key := src.table()
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+key+` = $1 AND user_id = $2`, src.ID, userID); err != nil {
			return wrap(op, err)
		}
		if !cascade {
			return nil
		}
		// Both lists are read in the statement's snapshot, before either
		// delete: the group rows' listed condition weighs the Owners
		// around them as they stood.
		err := tx.tx.SelectContext(ctx, &below, `WITH g AS (
				DELETE FROM group_members gm USING namespaces n
				WHERE n.id = gm.namespace_id AND gm.user_id = $2 AND $1 = ANY(n.traversal_ids) AND gm.namespace_id <> $1
				RETURNING true AS grp, n.id, n.full_path, `+listed(true, "gm")+` AS shown),
			p AS (
				DELETE FROM project_members pm USING projects p JOIN namespaces n ON n.id = p.namespace_id
				WHERE pm.project_id = p.id AND pm.user_id = $2 AND $1 = ANY(n.traversal_ids)
				RETURNING false AS grp, p.id, n.full_path || '/' || p.path AS full_path, `+listed(false, "pm")+` AS shown)
			SELECT grp, id, full_path FROM (SELECT * FROM g UNION ALL SELECT * FROM p) r WHERE shown
			ORDER BY grp DESC, full_path`, src.ID, userID)
		return wrap(op, err)
	})
	if err != nil {
		return nil, err
	}
	return below, nil
}

// Removal names a group or project whose membership went with the
// removal of a membership of a group above it.
type Removal struct {
	Group    bool   `db:"grp"`
	ID       int64  `db:"id"`
	FullPath string `db:"full_path"`
}

// ownerCounts is the SQL condition that Owner row m, on the group whose
// namespaces row is h, counts for the last-owner rule: it is in force, or
// it has expired but no Owner row in force is left on its group or above
// it.
//
// GitLab counts every Owner row, expired or not: last_owner_of_the_group?
// looks at member_owners_excluding_project_bots, the group's members
// (with its ancestors' for a subgroup) at Owner, with no expiry filter
// (gitlabhq app/models/members/group_member.rb, app/models/group.rb,
// app/models/members/members/members_with_parents.rb, app/models/member.rb
// all_owners). But RemoveExpiredMembersWorker, every day at 00:10
// (config/initializers/1_settings.rb), ten minutes after memberships
// expire, deletes every expired membership with Members::DestroyService,
// which keeps a group's last Owner (process_destroy_of_group_owner_member
// breaks on last_owner?) (app/workers/remove_expired_members_worker.rb,
// app/services/members/destroy_service.rb). So in GitLab an expired Owner
// remains only where no other Owner did, and then counts, for its group
// and for the subgroups below it. Here expired rows stay; counting those
// GitLab would have deleted would let the last Owner in force leave a
// group that GitLab keeps them in. Where several expired Owners remain
// with none in force, GitLab's cleanup keeps one of them; here each
// counts for the others.
func ownerCounts(m, h string) string {
	return "(" + inForce(m) + ` OR NOT EXISTS (SELECT 1 FROM group_members o WHERE o.namespace_id = ANY(` + h + `.traversal_ids)
		AND o.access_level = ` + strconv.Itoa(Owner) + ` AND ` + inForce("o") + `))`
}

// changeMember loads a membership, lets check vet it and runs write, all
// in one transaction. For a group it first takes a lock on the group's
// tree (its top-level ancestor), which every update or removal of a group
// membership below that root takes as well: two Owners removing each
// other at once would otherwise both see the other remain, and leave the
// group without one.
//
// lastOwner follows GitLab's GroupMember#last_owner_of_the_group? and
// Group#member_owners_excluding_project_bots (gitlabhq
// app/models/members/group_member.rb, app/models/group.rb): an Owner row
// is the last when no other Owner row that counts (see ownerCounts)
// remains on the group or, for a subgroup, on an ancestor; the same
// user's Owner row on an ancestor counts. Blocked users count, as in
// GitLab.
func (s *Store) changeMember(ctx context.Context, op string, src MemberSource, userID int64, check MemberCheck, write func(tx *Tx) error) error {
	return s.Tx(ctx, func(tx *Tx) error {
		if src.Group {
			if err := lockGroupOwners(ctx, tx, src.ID); err != nil {
				return wrap(op, err)
			}
		}
		// Only a member the lists show (see listed): GitLab's daily job
		// has deleted an expired one by then, and its lookup passes over
		// Minimal Access below a top-level group, so PUT and DELETE find
		// no such member there.
		m, err := getMember(ctx, tx.tx, src, userID, " AND "+listed(src.Group, "m"), "FOR UPDATE OF m")
		if err != nil {
			if errs.Is(err, errs.NotFound) {
				// GitLab's find_by! miss (spec 0.1, record lookup miss).
				return errs.New(op, errs.NotFound, "404 Not found")
			}
			return err
		}
		last := false
		if src.Group && m.AccessLevel == Owner {
			err := tx.tx.GetContext(ctx, &last, `SELECT NOT EXISTS (SELECT 1 FROM group_members gm JOIN namespaces n ON n.id = $1
				JOIN namespaces h ON h.id = gm.namespace_id
				WHERE gm.namespace_id = ANY(n.traversal_ids) AND gm.access_level = `+strconv.Itoa(Owner)+` AND `+ownerCounts("gm", "h")+`
				AND NOT (gm.namespace_id = $1 AND gm.user_id = $2))`, src.ID, userID)
			if err != nil {
				return wrap(op, err)
			}
		}
		if check != nil {
			if err := check(m, last); err != nil {
				return err
			}
		}
		return write(tx)
	})
}

// lockGroupOwners takes the lock on the Owners of group id's tree (its
// top-level ancestor's), which every change of who owns a group in it
// takes first (changeMember, AddMember, DeleteUser).
func lockGroupOwners(ctx context.Context, tx *Tx, id int64) error {
	var root int64
	if err := tx.tx.GetContext(ctx, &root, `SELECT traversal_ids[1] FROM namespaces WHERE id = $1`, id); err != nil {
		return err
	}
	return lockTreeOwners(ctx, tx, root)
}

// lockTreeOwners is lockGroupOwners for the tree of top-level group root.
func lockTreeOwners(ctx context.Context, tx *Tx, root int64) error {
	return tx.AdvisoryLock(ctx, "group-owners/"+strconv.FormatInt(root, 10))
}

// ReadableProjectIDs lists the projects in a group's tree whose packages a
// caller may read: admins and group deploy tokens of this very group read
// all of them, users read public and internal ones plus those they are
// members of (directly, through an ancestor group, or as owner), anonymous
// callers read public ones.
func (s *Store) ReadableProjectIDs(ctx context.Context, groupID int64, u *User, allInTree bool) ([]int64, error) {
	cond, args := "p.visibility = 'public'", []any{groupID}
	switch {
	case allInTree || (u != nil && u.IsAdmin):
		cond = "true"
	case u != nil:
		cond = `(p.visibility <> 'private' OR n.owner_id = $2 OR ` + projectMember("p.id", "n.traversal_ids", "$2") + `)`
		args = append(args, u.ID)
	}
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, `SELECT p.id FROM projects p JOIN namespaces n ON n.id = p.namespace_id
		WHERE $1 = ANY(n.traversal_ids) AND p.packages_enabled AND `+cond+` ORDER BY p.id`, args...)
	return ids, wrap("meta.ReadableProjectIDs", err)
}
