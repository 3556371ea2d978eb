package meta

import (
	"context"
	"strconv"
	"strings"
)

// ListNamespaces is GitLab's GET /namespaces: every namespace for an
// admin; for anybody else their personal namespace and the groups they
// are a direct member of (User#namespaces: its groups association holds
// memberships in force from Guest up, not the subgroups those reach),
// with ownedOnly the groups they own. search matches name or path
// anywhere, case-insensitively, as Namespace.search does. By id, as
// GitLab pages an unordered relation in practice.
func (s *Store) ListNamespaces(ctx context.Context, u *User, ownedOnly bool, search string, limit, offset int) ([]Namespace, int, error) {
	const op = "meta.ListNamespaces"
	var conds []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if !u.IsAdmin {
		uid := arg(u.ID)
		level := ""
		if ownedOnly {
			level = " AND m.access_level = " + strconv.Itoa(Owner)
		}
		conds = append(conds, `((kind = 'user' AND owner_id = `+uid+`)
			OR (kind = 'group' AND EXISTS (SELECT 1 FROM group_members m WHERE m.namespace_id = namespaces.id AND m.user_id = `+uid+`
				AND `+grants("m")+level+`)))`)
	}
	if search != "" {
		pat := arg("%" + likeEscaper.Replace(search) + "%")
		conds = append(conds, "(name ILIKE "+pat+" OR path ILIKE "+pat+")")
	}
	where := "true"
	if len(conds) > 0 {
		where = strings.Join(conds, " AND ")
	}
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM namespaces WHERE `+where, args...); err != nil {
		return nil, 0, wrap(op, err)
	}
	lim, off := arg(limit), arg(offset)
	var ns []Namespace
	if err := s.db.SelectContext(ctx, &ns, `SELECT `+nsCols+` FROM namespaces WHERE `+where+` ORDER BY id LIMIT `+lim+` OFFSET `+off, args...); err != nil {
		return nil, 0, wrap(op, err)
	}
	return ns, total, nil
}
