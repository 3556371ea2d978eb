package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// The attributes an edit may carry. GitLab's PUT /projects/:id and PUT
// /groups/:id take many more (repository, CI, merge request settings);
// those mean nothing here and are ignored, as Grape ignores undeclared
// parameters. path (and a project's namespace) are refused while they
// differ from the current ones: a path is part of every package URL the
// clients were configured with and of npm's naming convention, and
// moving one is not supported (decision).
var (
	projectEditable = []string{"name", "description", "visibility", "packages_enabled"}
	groupEditable   = []string{"name", "description", "visibility"}
)

// editParams are the attributes an edit changes (nil: left as is).
type editParams struct {
	name, description, visibility *string
	packagesEnabled               *bool
}

// readEdit reads an edit's attributes: at least one of GitLab's
// at_least_one_of must be there, and path, if given, must be the current
// one.
func readEdit(op string, p *params, editable []string, path string) (editParams, error) {
	var e editParams
	given := p.has("path") // one of GitLab's at_least_one_of, checked below
	for _, k := range editable {
		given = given || p.has(k)
	}
	if !given {
		return e, errs.Param(op, strings.Join(editable, ", ")+" are missing, at least one parameter must be provided")
	}
	if v, ok := p.str("path"); ok && v != path {
		return e, validation(op, "path", "cannot be changed on this gateway")
	}
	if v, ok := p.str("name"); ok {
		if strings.TrimSpace(v) == "" {
			return e, validation(op, "name", "can't be blank")
		}
		e.name = &v
	}
	if v, ok := p.str("description"); ok {
		e.description = &v
	}
	if v, ok := p.str("visibility"); ok {
		if _, known := meta.VisibilityRank[v]; !known {
			return e, errs.Param(op, "visibility does not have a valid value")
		}
		e.visibility = &v
	}
	if slices.Contains(editable, "packages_enabled") {
		v, ok, err := p.boolean("packages_enabled")
		if err != nil {
			return e, err
		}
		if ok {
			e.packagesEnabled = &v
		}
	}
	return e, nil
}

// updateProject is GitLab's PUT /projects/:id for the attributes a
// project has here: name, description, visibility, packages_enabled.
// As in GitLab (lib/api/projects.rb) an edit needs Maintainer
// (admin_project), and Owner when it names a name (rename_project) or a
// visibility (change_visibility_level); a visibility above the group's is
// 400. The change takes effect on every node at once: this node drops
// its cached settings of the project and tells the others (a lost
// notification: within 5 s). Each change of visibility, name or
// packages_enabled is audited as GitLab EE's ProjectChangesAuditor does.
func (s *Server) updateProject(c *gin.Context) {
	const op = "gateway.updateProject"
	id, p, ok := userParams(c, op)
	if !ok {
		return
	}
	proj, level, err := s.projectFor(c, id)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	e, err := readEdit(op, p, projectEditable, proj.Path)
	if ns, given := p.str("namespace"); err == nil && given && ns != strconv.FormatInt(proj.NamespaceID, 10) &&
		!strings.EqualFold(ns, proj.Namespace.FullPath) {
		err = validation(op, "namespace", "cannot be changed on this gateway")
	}
	switch {
	case err != nil:
		httpx.Abort(c, err)
		return
	case level < meta.Maintainer, (e.name != nil || e.visibility != nil) && level < meta.Owner:
		httpx.Abort(c, errForbidden(op))
		return
	}
	before, after, err := s.Store.UpdateProject(c.Request.Context(), proj.ID, meta.ProjectChange{
		Name: e.name, Description: e.description, Visibility: e.visibility, PackagesEnabled: e.packagesEnabled})
	if err != nil {
		if errors.Is(err, meta.ErrVisibility) {
			err = validation(op, "visibility_level", "must not be more permissive than the group's visibility")
		}
		httpx.Abort(c, err)
		return
	}
	s.settingsChanged(c, after.ID)
	entity := projectEntity(after)
	for _, ch := range []struct {
		action, change string
		from, to       any
	}{
		{"project.name", "name", before.FullName(), after.FullName()},
		{"project.visibility", "visibility_level", visibilityLabel(before.Visibility), visibilityLabel(after.Visibility)},
		{"project.packages_enabled", "packages_enabled", before.PackagesEnabled, after.PackagesEnabled},
	} {
		s.auditChange(c, id, entity, ch.action, ch.change, ch.from, ch.to)
	}
	c.JSON(http.StatusOK, s.projectJSON(after))
}

// updateGroup is GitLab's PUT /groups/:id for name, description and
// visibility. It needs Owner (admin_group, change_visibility_level); a
// visibility above the parent's, or below that of a subgroup or a
// project in it, is 400 with GitLab's messages (see meta.UpdateGroup).
// Every node drops its cached project settings (their namespace's name
// and visibility are among them).
func (s *Server) updateGroup(c *gin.Context) {
	const op = "gateway.updateGroup"
	id, p, ok := userParams(c, op)
	if !ok {
		return
	}
	g, level, err := s.groupFor(c, id)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	e, err := readEdit(op, p, groupEditable, g.Path)
	switch {
	case err != nil:
		httpx.Abort(c, err)
		return
	case level < meta.Owner:
		httpx.Abort(c, errForbidden(op))
		return
	}
	before, after, err := s.Store.UpdateGroup(c.Request.Context(), g.ID, meta.GroupChange{
		Name: e.name, Description: e.description, Visibility: e.visibility})
	if err != nil {
		var ee *errs.Error
		if errors.Is(err, meta.ErrVisibility) && errors.As(err, &ee) {
			err = validation(op, "visibility_level", ee.Msg)
		}
		httpx.Abort(c, err)
		return
	}
	s.settingsChanged(c, 0)
	entity := groupEntity(after)
	for _, ch := range []struct {
		action, change string
		from, to       any
	}{
		{"group.name", "name", before.Name, after.Name},
		{"group.visibility", "visibility", visibilityLabel(before.Visibility), visibilityLabel(after.Visibility)},
	} {
		s.auditChange(c, id, entity, ch.action, ch.change, ch.from, ch.to)
	}
	c.JSON(http.StatusOK, s.groupJSON(after))
}

// auditChange records a changed attribute as GitLab EE's
// ProjectChangesAuditor and GroupChangesAuditor do: change, from, to and
// "Changed <change> from <from> to <to>"; an attribute left as it was
// is not recorded. The entity is the target too.
func (s *Server) auditChange(c *gin.Context, id *auth.Identity, entity auditEntity, action, change string, from, to any) {
	if from == to {
		return
	}
	msg := fmt.Sprintf("Changed %s from %v to %v", change, from, to)
	s.audit(c, id, newAuditEvent(action, entity, entity.target(), msg, map[string]any{"change": change, "from": from, "to": to}))
}

// settingsChanged drops the cached settings of project id (0: of every
// project) here, and tells the other nodes to.
func (s *Server) settingsChanged(c *gin.Context, id int64) {
	s.Auth.ForgetProject(id)
	payload := "project:*"
	if id > 0 {
		payload = "project:" + strconv.FormatInt(id, 10)
	}
	if err := s.Store.Notify(context.WithoutCancel(c.Request.Context()), meta.TokensChannel, payload); err != nil {
		httpx.Logger(c).Warn("project settings change not sent to other nodes (they catch up within 5 s)", "err", err.Error())
	}
}

// visibilityLabel is GitLab's VisibilityLevel.level_name, as its audit
// events write a visibility.
func visibilityLabel(v string) string {
	return map[string]string{"private": "Private", "internal": "Internal", "public": "Public"}[v]
}
