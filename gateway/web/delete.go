package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// deleteForm is the "Delete project" / "Delete group" section at the foot
// of the settings page. A deletion here is immediate and final, as through
// the REST API (see meta.DeleteProject), so the form asks, as GitLab's
// does, for the full path to be typed: a confirmation that a stray click,
// or the wrong one of two open tabs, cannot give. It needs no script.
type deleteForm struct {
	Allowed bool   // the section is shown (see deleteRefusal)
	Typed   string // the confirmation as posted, shown again with Error
	Error   string
}

// deleteRefusal says why the signed-in user may not delete h, or "" if
// they may: as on the REST API only an Owner or an administrator may, and,
// as for every change from the pages, only in a session opened with an api
// token.
func (u *ui) deleteRefusal(s *session, h *holder) string {
	switch {
	case u.d.Delete == nil:
		return "This gateway does not delete from its pages."
	case h.Level < meta.Owner:
		return "Only owners of this " + h.Noun() + " can delete it. Your role: " + roleName(h.Level) + "."
	case !s.canWrite():
		return "You signed in with a read-only token (read_api scope). Sign in with a token that has the api scope to delete it."
	}
	return ""
}

// deleteHolder handles the section's form. Who may is decided here, on the
// server, whatever the page showed: a post for what the user cannot see is
// 404 and one without the right is 403, as for deploy tokens. The deletion
// itself is the REST API's (Deps.Delete): the same store call, audit
// events and cache invalidation.
func (u *ui) deleteHolder(kind holderKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := sessionFrom(c)
		h := u.resolve(c, s, kind)
		if h == nil {
			return
		}
		if why := u.deleteRefusal(s, h); why != "" {
			httpx.Logger(c).Warn("web: deletion refused", "user", s.user.Username, "holder", h.FullPath, "level", h.Level)
			u.message(c, s, http.StatusForbidden, "Not allowed", "You cannot delete this "+h.Noun()+". "+why)
			return
		}
		// Surrounding spaces are what copying the path from the page tends
		// to add; anything else must be the path exactly.
		typed := strings.TrimSpace(c.Request.PostForm.Get("confirm_path"))
		if typed != h.FullPath {
			msg := "Enter " + h.FullPath + " to confirm. Nothing was deleted."
			if typed != "" {
				msg = "“" + shorten(typed, 2*len(h.FullPath)+20) + "” is not " + h.FullPath + ". Nothing was deleted."
			}
			u.renderSettings(c, s, h, http.StatusUnprocessableEntity, &settingsPage{Delete: deleteForm{Typed: shorten(typed, 2*len(h.FullPath)+20), Error: msg}})
			return
		}
		if err := u.d.Delete(c, s.user, kind == kindGroup, h.ID); err != nil {
			if errs.Is(err, errs.NotFound) { // deleted meanwhile, by someone else or another tab
				u.notFound(c, s, "This "+h.Noun())
				return
			}
			u.fail(c, err)
			return
		}
		httpx.Logger(c).Info("web: deleted", "user", s.user.Username, "holder_kind", string(kind), "holder", h.FullPath, "id", h.ID)
		c.Redirect(http.StatusSeeOther, u.afterDeletion(c.Request.Context(), s, h))
	}
}

// afterDeletion is where the user lands once h is gone: the group it was
// in, if they can still see it (a private group may have been visible to
// them only through what was deleted), else their dashboard.
func (u *ui) afterDeletion(ctx context.Context, s *session, h *holder) string {
	var parent int64
	switch {
	case h.Kind == kindProject && h.Project.Namespace.Kind == "group":
		parent = h.Project.Namespace.ID
	case h.Kind == kindGroup && h.Group.ParentID != nil:
		parent = *h.Group.ParentID
	}
	if parent != 0 {
		if g, err := u.resolveGroup(ctx, s, strconv.FormatInt(parent, 10)); err == nil && g != nil {
			return g.Base
		}
	}
	return uiPrefix + "/"
}

// shorten cuts s to at most n runes, marking the cut: a confirmation
// pasted by mistake (a whole file, up to the form's limit) is not worth
// repeating in full.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
