package gateway

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// deleteProject is GitLab's DELETE /projects/:id: Owner (remove_project)
// or an administrator; 202 {"message":"202 Accepted"}, as GitLab answers
// (lib/api/helpers/projects_helpers.rb, delete_project). The project
// goes at once, not after a retention period (see meta.DeleteProject):
// from the answer on, its packages are 404 on every node.
func (s *Server) deleteProject(c *gin.Context) {
	const op = "gateway.deleteProject"
	id, ok := requireUser(c, op)
	if !ok {
		return
	}
	proj, level, err := s.projectFor(c, id)
	if err == nil && level < meta.Owner {
		err = errForbidden(op)
	}
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	s.answerDeletion(c, s.remove(c, id, false, proj.ID))
}

// deleteGroup is GitLab's DELETE /groups/:id: Owner (remove_group) or an
// administrator; 202. Its subgroups and every project in them go with it,
// each project recorded in the audit log as GitLab's
// Groups::DestroyService records them (it destroys each project through
// Projects::DestroyService).
func (s *Server) deleteGroup(c *gin.Context) {
	const op = "gateway.deleteGroup"
	id, ok := requireUser(c, op)
	if !ok {
		return
	}
	g, level, err := s.groupFor(c, id)
	if err == nil && level < meta.Owner {
		err = errForbidden(op)
	}
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	s.answerDeletion(c, s.remove(c, id, true, g.ID))
}

// deletionAudit gives the events of a deletion, recorded with it: each
// project's and group's, with GitLab EE's details for a destroy (remove
// "project" or "group"; event types project_destroyed, group_destroyed).
func (s *Server) deletionAudit(c *gin.Context, id *auth.Identity) func(*meta.Deletion) []*meta.AuditEvent {
	return func(d *meta.Deletion) []*meta.AuditEvent {
		var events []*meta.AuditEvent
		for i := range d.Projects {
			e := projectEntity(&d.Projects[i])
			events = append(events, attribute(c, id, newAuditEvent("project.destroy", e, e.target(), "", map[string]any{"remove": e.Type})))
		}
		for i := len(d.Groups) - 1; i >= 0; i-- { // subgroups before their parents, as they went
			e := groupEntity(&d.Groups[i])
			events = append(events, attribute(c, id, newAuditEvent("group.destroy", e, e.target(), "", map[string]any{"remove": e.Type})))
		}
		return events
	}
}

// answerDeletion answers a deletion as GitLab does: 202 once it is done.
func (s *Server) answerDeletion(c *gin.Context, err error) {
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"message": "202 Accepted"})
}

// remove deletes project id, or group id with everything in it, once the
// caller (the REST API's handlers, the web pages through Deps.Delete) has
// checked that by may. It is the one place that records a deletion's audit
// events, authored by by, and makes this node forget what went at once, so
// that a deletion from the pages is the API's in every respect; the other
// nodes hear it from the transaction's notifications.
func (s *Server) remove(c *gin.Context, by *auth.Identity, group bool, id int64) error {
	del := s.Store.DeleteProject
	if group {
		del = s.Store.DeleteGroup
	}
	d, err := del(c.Request.Context(), id, s.deletionAudit(c, by))
	if err != nil {
		return err
	}
	s.forgetDeletion(d)
	return nil
}

// forgetDeletion makes this node forget at once what a deletion removed;
// the other nodes hear it from the transaction's notifications.
func (s *Server) forgetDeletion(d *meta.Deletion) {
	if d.User != nil {
		s.Auth.Cache.ForgetUser(d.User.ID)
	}
	s.Auth.Cache.ForgetDeployTokens(d.DeployTokens)
	ids := d.ProjectIDs()
	s.Auth.ForgetProjects(ids)
	s.Store.ProjectsChanged(ids)
}

// deleteUser is GitLab's DELETE /users/:id, for admins: 204 once the user
// is gone with their personal projects, memberships and tokens (GitLab
// answers 204 and deletes in a background job). A user who is the last
// Owner of a group is refused with GitLab's 409 unless hard_delete is
// true, which takes those groups too (meta.DeleteUser). GitLab's
// hard_delete also decides whether the user's contributions (issues,
// comments) go to a ghost user; here the only contributions are audit
// events, which keep the author's name either way. As in GitLab an admin
// may delete their own account; `gateway admin bootstrap` makes a new
// admin if none is left.
func (s *Server) deleteUser(c *gin.Context) {
	const op = "gateway.deleteUser"
	if !requireAdmin(c, op) {
		return
	}
	p, err := readParams(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	hard, _, err := p.boolean("hard_delete")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	u, err := s.pathUser(c, op)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	by := identity(c)
	d, err := s.Store.DeleteUser(c.Request.Context(), u.ID, hard, func(d *meta.Deletion) []*meta.AuditEvent {
		e := userEntity(d.User)
		// GitLab's message, written when its job is only scheduled.
		return append(s.deletionAudit(c, by)(d), attribute(c, by, newAuditEvent("user.destroy", e, e.target(),
			fmt.Sprintf("User %s scheduled for deletion", d.User.Username), nil)))
	})
	if err != nil {
		if errs.Is(err, errs.NotFound) { // deleted meanwhile
			err = errs.New(op, errs.NotFound, "404 User Not Found")
		}
		httpx.Abort(c, err)
		return
	}
	s.forgetDeletion(d)
	c.Status(http.StatusNoContent)
}
