package meta

import (
	"context"
	"errors"
	"slices"

	"github.com/lib/pq"

	"github.com/pkgate/pkgate/internal/errs"
)

// Deleting a project or a group removes it at once with everything in it:
// subgroups, projects, packages with their files and npm tags, members and
// deploy tokens, in one transaction. GitLab answers 202 and destroys in a
// background job, and newer versions only mark the project or group for
// deletion, to be restored within a retention period. Decision: here it
// is immediate and final, because what a package registry must not do is
// keep serving a package its owner deleted: from the commit on, every
// node answers 404 for all of it (see DeleteProject). The blobs stay until
// the janitor finds no file referring to them (gateway gc), as after a
// package's deletion: a concurrent upload that deduplicated against one
// of them is never broken.

// Deletion is what a deletion removed: what caches must drop and the
// audit log records.
type Deletion struct {
	User         *User       // the user deleted (DeleteUser), as they were
	Groups       []Namespace // the groups deleted, each tree parents first; none for a project
	Projects     []Project
	DeployTokens []int64 // ids of the deploy tokens deleted with them
}

// ProjectIDs are the ids of d.Projects.
func (d *Deletion) ProjectIDs() []int64 {
	ids := make([]int64, len(d.Projects))
	for i, p := range d.Projects {
		ids[i] = p.ID
	}
	return ids
}

// DeleteProject deletes project id and everything in it; audit, if not
// nil, gives the events to record in the same transaction. A missing
// project is errs.NotFound.
//
// The project's row is locked first, as an edit locks it, and an upload
// committing into the project at the same moment either commits first
// (and is deleted with it) or fails its foreign key afterwards
// (errs.NotFound: its object is then dropped, see registry.Publish).
func (s *Store) DeleteProject(ctx context.Context, id int64, audit func(*Deletion) []*AuditEvent) (*Deletion, error) {
	const op = "meta.DeleteProject"
	d := &Deletion{}
	err := s.txRetry(ctx, func(tx *Tx) error {
		*d = Deletion{}
		if err := tx.tx.SelectContext(ctx, &d.Projects, projectSelect+` WHERE p.id = $1 FOR UPDATE OF p`, id); err != nil {
			return wrap(op, err)
		}
		if len(d.Projects) == 0 {
			return errs.New(op, errs.NotFound, "404 Project Not Found")
		}
		return d.purge(ctx, tx, op, audit)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DeleteGroup deletes group id with its subgroups and every project in
// them, as DeleteProject does a project. A missing group (or a personal
// namespace) is errs.NotFound.
//
// Every group of the tree is locked FOR UPDATE before anything is read
// from it. A subgroup or project created in the tree meanwhile has to
// lock its parent (FOR SHARE, or FOR KEY SHARE by its foreign key) and so
// either committed before the lock, and a second pass over the tree finds
// it (passes repeat until one finds nothing new), or waits and then
// finds its parent gone (errs.NotFound).
func (s *Store) DeleteGroup(ctx context.Context, id int64, audit func(*Deletion) []*AuditEvent) (*Deletion, error) {
	const op = "meta.DeleteGroup"
	d := &Deletion{}
	err := s.txRetry(ctx, func(tx *Tx) error {
		*d = Deletion{}
		if err := d.addGroupTree(ctx, tx, op, id); err != nil {
			return err
		}
		return d.purge(ctx, tx, op, audit)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// addGroupTree locks group id's tree, as DeleteGroup describes, and adds
// its groups (parents first) and their projects to d.
func (d *Deletion) addGroupTree(ctx context.Context, tx *Tx, op string, id int64) error {
	var ids []int64
	for {
		var locked []int64
		// In id order, as every deletion locks: two deletions of nested
		// groups wait for each other instead of deadlocking.
		if err := tx.tx.SelectContext(ctx, &locked, `SELECT id FROM namespaces
			WHERE traversal_ids @> ARRAY[$1::bigint] AND kind = 'group' ORDER BY id FOR UPDATE`, id); err != nil {
			return wrap(op, err)
		}
		if len(locked) == 0 {
			return errs.New(op, errs.NotFound, "404 Group Not Found")
		}
		if slices.Equal(locked, ids) {
			break
		}
		ids = locked
	}
	var groups []Namespace
	if err := tx.tx.SelectContext(ctx, &groups, `SELECT `+nsCols+` FROM namespaces WHERE id = ANY($1)
		ORDER BY cardinality(traversal_ids), id`, pq.Int64Array(ids)); err != nil {
		return wrap(op, err)
	}
	var projects []Project
	if err := tx.tx.SelectContext(ctx, &projects, projectSelect+` WHERE p.namespace_id = ANY($1) ORDER BY p.id FOR UPDATE OF p`,
		pq.Int64Array(ids)); err != nil {
		return wrap(op, err)
	}
	d.Groups = append(d.Groups, groups...)
	d.Projects = append(d.Projects, projects...)
	return nil
}

// ErrSoleOwner refuses to delete a user who is the last Owner of a group
// unless the groups go too (GitLab's hard_delete).
var ErrSoleOwner = errors.New("user cannot be removed while is the sole-owner of a group")

// DeleteUser deletes user id with their personal namespace and its
// projects, their memberships and personal access tokens; with
// soloGroups, also the groups they are the last Owner of (on the group or
// above it), with everything in them; without, such a user is
// refused (ErrSoleOwner, errs.Conflict), as GitLab refuses a deletion
// without hard_delete. Deploy tokens they created keep working, as in
// GitLab: they belong to their project or group. audit gives the events
// to record in the same transaction; d.User is the user as they were.
func (s *Store) DeleteUser(ctx context.Context, id int64, soloGroups bool, audit func(*Deletion) []*AuditEvent) (*Deletion, error) {
	const op = "meta.DeleteUser"
	d := &Deletion{}
	err := s.txRetry(ctx, func(tx *Tx) error {
		*d = Deletion{User: &User{}}
		// First the lock every change of a group's Owners takes on its
		// tree (see changeMember), for each tree the user owns something
		// in, in root order: the check below must not race an Owner's
		// removal (or another Owner's deletion) that counts on this user
		// staying.
		var roots []int64
		if err := tx.tx.SelectContext(ctx, &roots, `SELECT DISTINCT n.traversal_ids[1] FROM group_members m
			JOIN namespaces n ON n.id = m.namespace_id WHERE m.user_id = $1 AND m.access_level = $2 ORDER BY 1`, id, Owner); err != nil {
			return wrap(op, err)
		}
		for _, r := range roots {
			if err := lockTreeOwners(ctx, tx, r); err != nil {
				return wrap(op, err)
			}
		}
		if err := tx.tx.GetContext(ctx, d.User, `SELECT `+userCols+` FROM users WHERE id = $1 FOR UPDATE`, id); err != nil {
			return wrap(op, err)
		}
		// The groups whose last Owner they are, by the rule that keeps a
		// last Owner from leaving (changeMember, ownerCounts: blocked
		// Owners count, an expired one where none is in force), on the
		// group or above it; outermost first: one nested in another goes
		// with it.
		var solo []int64
		if err := tx.tx.SelectContext(ctx, &solo, `SELECT n.id FROM namespaces n
			JOIN group_members m ON m.namespace_id = n.id AND m.user_id = $1 AND m.access_level = $2 AND `+ownerCounts("m", "n")+`
			WHERE n.kind = 'group' AND NOT EXISTS (SELECT 1 FROM group_members o JOIN namespaces h ON h.id = o.namespace_id
				WHERE o.namespace_id = ANY(n.traversal_ids) AND o.user_id <> $1 AND o.access_level = $2 AND `+ownerCounts("o", "h")+`)
			ORDER BY cardinality(n.traversal_ids), n.id`, id, Owner); err != nil {
			return wrap(op, err)
		}
		if len(solo) > 0 && !soloGroups {
			return errs.E(op, errs.Conflict, errs.Msg("User cannot be removed while is the sole-owner of a group"), ErrSoleOwner)
		}
		for _, g := range solo {
			if slices.ContainsFunc(d.Groups, func(n Namespace) bool { return n.ID == g }) {
				continue
			}
			// A group deleted meanwhile (its lock was held by that
			// deletion) has nothing left to take.
			if err := d.addGroupTree(ctx, tx, op, g); err != nil && !errs.Is(err, errs.NotFound) {
				return err
			}
		}
		// The personal namespace is locked first, as a project created in
		// it locks it (FOR SHARE): such a project is either found below or
		// finds its namespace gone.
		if _, err := tx.tx.ExecContext(ctx, `SELECT id FROM namespaces WHERE kind = 'user' AND owner_id = $1 FOR UPDATE`, id); err != nil {
			return wrap(op, err)
		}
		var personal []Project
		if err := tx.tx.SelectContext(ctx, &personal, projectSelect+` WHERE n.kind = 'user' AND n.owner_id = $1 ORDER BY p.id FOR UPDATE OF p`, id); err != nil {
			return wrap(op, err)
		}
		d.Projects = append(d.Projects, personal...)
		if err := d.purge(ctx, tx, op, audit); err != nil {
			return err
		}
		// Tokens, memberships, sessions and the personal namespace go by
		// their foreign keys' cascades; the user's cached tokens on every node.
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return wrap(op, err)
		}
		_, err := tx.tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, TokensChannel, "user:"+itoaInt64(id))
		return wrap(op, err)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// maxForgotten is the most deploy tokens, and the most projects, a
// deletion names one by one in its notifications.
const maxForgotten = 50

// purge deletes d's rows, with what refers to them, and tells every node
// (at commit: notifications sent in a transaction go out with it) to drop
// the deleted tokens and projects from its caches.
func (d *Deletion) purge(ctx context.Context, tx *Tx, op string, audit func(*Deletion) []*AuditEvent) error {
	projects := pq.Int64Array(d.ProjectIDs())
	groups := make(pq.Int64Array, len(d.Groups))
	for i, g := range d.Groups {
		groups[i] = g.ID
	}
	d.DeployTokens = d.DeployTokens[:0]
	if err := tx.tx.SelectContext(ctx, &d.DeployTokens, `DELETE FROM deploy_tokens WHERE project_id = ANY($1) OR group_id = ANY($2)
		RETURNING id`, projects, groups); err != nil {
		return wrap(op, err)
	}
	// Packages, files, tags and members go by their foreign keys'
	// cascades; subgroups all in one statement, which checks parent_id
	// once it is done. The generation triggers (migration 0011) are
	// deferred to the commit, where they would write the counters of the
	// deleted projects anew after the statement below removed them: here
	// they run with each statement instead.
	if len(projects) > 0 {
		if _, err := tx.tx.ExecContext(ctx, `SET CONSTRAINTS packages_generation, packages_generation_update,
			package_files_generation, npm_dist_tags_generation IMMEDIATE`); err != nil {
			return wrap(op, err)
		}
	}
	for _, q := range []struct {
		sql string
		ids pq.Int64Array
	}{
		{`DELETE FROM projects WHERE id = ANY($1)`, projects},
		{`DELETE FROM namespaces WHERE id = ANY($1)`, groups},
		// The cascade has just bumped them; ids are never reused, so no
		// cache will ask for these again.
		{`DELETE FROM package_generations WHERE project_id = ANY($1)`, projects},
	} {
		if len(q.ids) == 0 {
			continue
		}
		if _, err := tx.tx.ExecContext(ctx, q.sql, q.ids); err != nil {
			return wrap(op, err)
		}
	}
	// Each notification costs every node a pass over its cache; past
	// maxForgotten of a kind, one that drops them all costs less, and
	// every node reloads what it uses.
	var payloads pq.StringArray
	if len(d.DeployTokens) > maxForgotten {
		payloads = append(payloads, "deploy:*")
	} else {
		for _, t := range d.DeployTokens {
			payloads = append(payloads, "deploy:"+itoaInt64(t))
		}
	}
	if len(d.Projects) > maxForgotten {
		payloads = append(payloads, "project:*")
	} else {
		for _, p := range d.Projects {
			payloads = append(payloads, "project:"+itoaInt64(p.ID))
		}
	}
	if _, err := tx.tx.ExecContext(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) p`, TokensChannel, payloads); err != nil {
		return wrap(op, err)
	}
	if audit != nil {
		for _, e := range audit(d) {
			if _, err := tx.tx.ExecContext(ctx, auditInsert, e.auditArgs()...); err != nil {
				return wrap(op, err)
			}
		}
	}
	return nil
}
