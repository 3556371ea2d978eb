package meta

import (
	"context"
	"errors"

	"github.com/pkgate/pkgate/internal/errs"
)

// VisibilityRank orders the visibilities: a project or a subgroup may be
// no more visible than the group it is in (GitLab's
// visibility_level_allowed_by_group and _by_parent).
var VisibilityRank = map[string]int{"private": 0, "internal": 10, "public": 20}

// ErrVisibility is a visibility that the namespaces around a group or
// project do not allow: more than its group's, or, for a group, less
// than something in it.
var ErrVisibility = errors.New("visibility not allowed by the namespace tree")

// The visibility rule between a group and what is in it holds under
// concurrent changes because every write that relies on a namespace's
// visibility takes a row lock on it first, in the same order: a group's
// own change locks its row FOR UPDATE and only then reads what is in it;
// a change or a creation inside a group locks the group's row FOR SHARE
// and reads its visibility in that same statement (under READ COMMITTED
// a statement that waited for a lock reads the row as the other
// transaction committed it). So a group made private and a project made
// public in it at the same moment cannot both pass their checks.

// lockOrder: every transaction here that locks more than one of these
// rows takes them from the top of the tree down, a group before what is
// in it (deletions: meta/delete.go; edits below), so that two of them
// wait for each other instead of deadlocking. Should a deadlock happen
// anyway, txRetry runs the loser again.

// allowedBelow locks namespace id against a concurrent change of its
// visibility, until the transaction ends, and refuses visibility v for
// what is in it when id is a group less visible than v (personal
// namespaces allow anything): ErrVisibility, with GitLab's message for a
// subgroup (visibility_level_allowed_by_parent).
func allowedBelow(ctx context.Context, tx *Tx, op string, id int64, v string) error {
	var kind, visibility string
	if err := tx.tx.QueryRowxContext(ctx, `SELECT kind, visibility FROM namespaces WHERE id = $1 FOR SHARE`, id).Scan(&kind, &visibility); err != nil {
		return wrap(op, err)
	}
	if kind == "group" && VisibilityRank[v] > VisibilityRank[visibility] {
		return errs.E(op, errs.Invalid, errs.Msg("%s is not allowed since the parent group has a %s visibility.", v, visibility), ErrVisibility)
	}
	return nil
}

// ProjectChange is an edit of a project; nil fields stay as they are.
type ProjectChange struct {
	Name, Description, Visibility *string
	PackagesEnabled               *bool
}

// UpdateProject applies ch to project id and returns the project as it
// was and as it is now. A visibility above its group's is ErrVisibility
// (errs.Invalid); a missing project is errs.NotFound.
func (s *Store) UpdateProject(ctx context.Context, id int64, ch ProjectChange) (before, after *Project, err error) {
	const op = "meta.UpdateProject"
	err = s.txRetry(ctx, func(tx *Tx) error {
		// The group's row before the project's, the order in which a
		// deletion locks them (see lockOrder). A project never moves, so
		// its namespace can be read before either lock.
		var nsID int64
		if err := tx.tx.GetContext(ctx, &nsID, `SELECT namespace_id FROM projects WHERE id = $1`, id); err != nil {
			return wrap(op, err)
		}
		if ch.Visibility != nil {
			if err := allowedBelow(ctx, tx, op, nsID, *ch.Visibility); err != nil {
				return err
			}
		}
		before = new(Project)
		if err := tx.tx.GetContext(ctx, before, projectSelect+` WHERE p.id = $1 FOR UPDATE OF p`, id); err != nil {
			return wrap(op, err)
		}
		if _, err := tx.tx.ExecContext(ctx, `UPDATE projects SET name = COALESCE($2, name), description = COALESCE($3, description),
			visibility = COALESCE($4, visibility), packages_enabled = COALESCE($5, packages_enabled) WHERE id = $1`,
			id, ch.Name, ch.Description, ch.Visibility, ch.PackagesEnabled); err != nil {
			return wrap(op, err)
		}
		after = new(Project)
		return wrap(op, tx.tx.GetContext(ctx, after, projectSelect+` WHERE p.id = $1`, id))
	})
	if err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// GroupChange is an edit of a group; nil fields stay as they are.
type GroupChange struct {
	Name, Description, Visibility *string
}

// UpdateGroup applies ch to group id and returns the group as it was and
// as it is now. A new name renames the group in the full names of every
// namespace below it. A visibility above its parent's, or below that of
// a subgroup or a project in it, is ErrVisibility (errs.Invalid), with
// what stands in the way as the message (GitLab's
// visibility_level_allowed_by_parent, _by_sub_groups, _by_projects).
func (s *Store) UpdateGroup(ctx context.Context, id int64, ch GroupChange) (before, after *Namespace, err error) {
	const op = "meta.UpdateGroup"
	err = s.txRetry(ctx, func(tx *Tx) error {
		// The parent's row before the group's, the order in which a
		// deletion locks them (see lockOrder). A group never moves, so its
		// parent can be read before either lock.
		var parent *int64
		if err := tx.tx.GetContext(ctx, &parent, `SELECT parent_id FROM namespaces WHERE id = $1 AND kind = 'group'`, id); err != nil {
			return wrap(op, err)
		}
		if v := ch.Visibility; v != nil && parent != nil {
			if err := allowedBelow(ctx, tx, op, *parent, *v); err != nil {
				return err
			}
		}
		before = new(Namespace)
		if err := tx.tx.GetContext(ctx, before, `SELECT `+nsCols+` FROM namespaces WHERE id = $1 AND kind = 'group' FOR UPDATE`, id); err != nil {
			return wrap(op, err)
		}
		if v := ch.Visibility; v != nil && *v != before.Visibility {
			var projects, groups bool
			err := tx.tx.QueryRowxContext(ctx, `SELECT
				EXISTS (SELECT 1 FROM projects WHERE namespace_id = $1 AND `+rankSQL("visibility")+` > `+rankSQL("$2")+`),
				EXISTS (SELECT 1 FROM namespaces WHERE parent_id = $1 AND `+rankSQL("visibility")+` > `+rankSQL("$2")+`)`,
				id, *v).Scan(&projects, &groups)
			switch {
			case err != nil:
				return wrap(op, err)
			case projects:
				return errs.E(op, errs.Invalid, errs.Msg("%s is not allowed since this group contains projects with higher visibility.", *v), ErrVisibility)
			case groups:
				return errs.E(op, errs.Invalid, errs.Msg("%s is not allowed since there are sub-groups with higher visibility.", *v), ErrVisibility)
			}
		}
		if _, err := tx.tx.ExecContext(ctx, `UPDATE namespaces SET name = COALESCE($2, name), description = COALESCE($3, description),
			visibility = COALESCE($4, visibility) WHERE id = $1`, id, ch.Name, ch.Description, ch.Visibility); err != nil {
			return wrap(op, err)
		}
		if ch.Name != nil && *ch.Name != before.Name {
			// Full names are stored: "Parent / Child" of this group and of
			// every namespace below it begins with the old one.
			newFull := *ch.Name
			if i := len(before.FullName) - len(before.Name); i > 0 {
				newFull = before.FullName[:i] + *ch.Name
			}
			if _, err := tx.tx.ExecContext(ctx, `UPDATE namespaces SET full_name = $2 || substr(full_name, char_length($3) + 1)
				WHERE $1 = ANY(traversal_ids)`, id, newFull, before.FullName); err != nil {
				return wrap(op, err)
			}
		}
		after = new(Namespace)
		return wrap(op, tx.tx.GetContext(ctx, after, `SELECT `+nsCols+` FROM namespaces WHERE id = $1`, id))
	})
	if err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// rankSQL is VisibilityRank in SQL, of a column or a placeholder.
func rankSQL(v string) string {
	return "(CASE " + v + "::text WHEN 'public' THEN 20 WHEN 'internal' THEN 10 ELSE 0 END)"
}
