package auth

import (
	"context"

	"github.com/pkgate/pkgate/storage/meta"
)

// ProjectRole is GitLab's rule for what a person (nil: anonymous) sees of
// a project: their role on it (admins act as Owner) and whether it is
// visible to them — public to everyone, internal to anyone signed in,
// private to members. The API, the web pages and the package access
// decision all use it.
func ProjectRole(ctx context.Context, st *meta.Store, user *meta.User, p *meta.Project) (level int, visible bool, err error) {
	switch {
	case user == nil:
		return 0, p.Visibility == "public", nil
	case user.IsAdmin:
		level = meta.Owner
	default:
		if level, err = st.ProjectAccess(ctx, user.ID, p); err != nil {
			return 0, false, err
		}
	}
	return level, p.Visibility != "private" || level > 0, nil
}

// GroupRole is the same rule for a group: a private group is also visible
// to members of anything below it.
func GroupRole(ctx context.Context, st *meta.Store, user *meta.User, g *meta.Namespace) (level int, visible bool, err error) {
	switch {
	case user == nil:
		return 0, g.Visibility == "public", nil
	case user.IsAdmin:
		return meta.Owner, true, nil
	}
	if level, err = st.GroupAccess(ctx, user.ID, g); err != nil {
		return 0, false, err
	}
	if level > 0 || g.Visibility != "private" {
		return level, true, nil
	}
	below, err := st.HasProjectsInGroupTree(ctx, user.ID, g)
	return level, below, err
}
