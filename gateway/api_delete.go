package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
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
	d, err := s.Store.DeleteProject(c.Request.Context(), proj.ID, s.deletionAudit(c, id))
	s.deleted(c, d, err)
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
	d, err := s.Store.DeleteGroup(c.Request.Context(), g.ID, s.deletionAudit(c, id))
	s.deleted(c, d, err)
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

// deleted answers a deletion and makes this node forget what it removed
// at once; the other nodes hear it from the transaction's notifications.
func (s *Server) deleted(c *gin.Context, d *meta.Deletion, err error) {
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	for _, t := range d.DeployTokens {
		s.Auth.Cache.ForgetDeployToken(t)
	}
	ids := make([]int64, len(d.Projects))
	for i, p := range d.Projects {
		ids[i] = p.ID
		s.Auth.ForgetProject(p.ID)
	}
	s.Store.ProjectsChanged(ids)
	c.JSON(http.StatusAccepted, gin.H{"message": "202 Accepted"})
}
