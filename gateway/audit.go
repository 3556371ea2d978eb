package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// auditEntity is what GitLab calls an event's entity: the project or group
// whose object changed, or the user an account event is about. Filters
// and the group and project audit lists select events by it, and GitLab
// shows its full path (a user's username) as entity_path, so that a
// reader needs no second lookup to know what the event touched.
type auditEntity struct {
	Type string // as stored: "project", "group", "user"
	ID   int64
	Path string
}

func projectEntity(p *meta.Project) auditEntity {
	return auditEntity{Type: "project", ID: p.ID, Path: p.FullPath()}
}

func groupEntity(g *meta.Namespace) auditEntity {
	return auditEntity{Type: "group", ID: g.ID, Path: g.FullPath}
}

func userEntity(u *meta.User) auditEntity {
	return auditEntity{Type: "user", ID: u.ID, Path: u.Username}
}

// holderEntity is the project, or with group the group, that holds a
// membership or a token, by id and full path.
func holderEntity(group bool, id int64, path string) auditEntity {
	if group {
		return auditEntity{Type: "group", ID: id, Path: path}
	}
	return auditEntity{Type: "project", ID: id, Path: path}
}

// target names the entity as the target of an event about itself (its
// creation, an edit, a user's blocking), as GitLab does.
func (e auditEntity) target() meta.AuditTarget {
	return meta.AuditTarget{Type: entityTypes[e.Type], ID: e.ID, Details: e.Path}
}

// newAuditEvent is an event before its author and address are known. The
// details carry GitLab's target_* and custom_message keys next to the
// gateway's own; the keys GitLab derives from the author, the address and
// the entity are added when the event is read, from the columns.
func newAuditEvent(action string, entity auditEntity, target meta.AuditTarget, message string, extra map[string]any) *meta.AuditEvent {
	e := &meta.AuditEvent{Action: action, TargetType: entity.Type, TargetPath: entity.Path}
	if entity.ID > 0 {
		e.TargetID = &entity.ID
	}
	details := map[string]any{"target_type": target.Type, "target_details": target.Details}
	if message != "" {
		details["custom_message"] = message
	}
	if target.ID > 0 {
		details["target_id"] = target.ID
	} else {
		details["target_id"] = nil
	}
	for k, v := range extra {
		details[k] = v
	}
	e.Details, _ = json.Marshal(details)
	return e
}

// UserCreatedAudit is the event of a user's creation, without its author
// (the API's caller, or `admin bootstrap`). GitLab's user_created event is
// about the new user and names them as its target too.
func UserCreatedAudit(u *meta.User) *meta.AuditEvent {
	return newAuditEvent("user.create", userEntity(u), userEntity(u).target(),
		fmt.Sprintf("User %s created", u.Username), map[string]any{"add": "user", "admin": u.IsAdmin})
}

// PATAudit is the event of a personal access token's creation or
// revocation (action personal_access_token.create or .revoke), without
// its author. The entity is the token's owner, whoever acted, so that
// entity_type=User&entity_id= lists what happened to a user's tokens;
// GitLab's target is that user too, and its message names the token by
// id. Neither ever holds the secret.
func PATAudit(action string, owner *meta.User, p *meta.PAT) *meta.AuditEvent {
	verb := "Created"
	if action == "personal_access_token.revoke" {
		verb = "Revoked"
	}
	return newAuditEvent(action, userEntity(owner), meta.AuditTarget{Type: "User", ID: owner.ID, Details: owner.Name},
		fmt.Sprintf("%s personal access token with id %d", verb, p.ID),
		map[string]any{"token_id": p.ID, "name": p.Name, "scopes": []string(p.Scopes)})
}

// PATRotatedAudit is the event of a personal access token's rotation
// (action personal_access_token.rotate), without its author: on the
// owner, as PATAudit's, naming the token rotated by id in the message and
// token_id, and its successor in new_token_id with the new expiry. Never
// the secret.
func PATRotatedAudit(owner *meta.User, old, rotated *meta.PAT) *meta.AuditEvent {
	return newAuditEvent("personal_access_token.rotate", userEntity(owner), meta.AuditTarget{Type: "User", ID: owner.ID, Details: owner.Name},
		fmt.Sprintf("Rotated personal access token with id %d", old.ID),
		map[string]any{"token_id": old.ID, "new_token_id": rotated.ID, "name": rotated.Name, "scopes": []string(rotated.Scopes),
			"expires_at": dateOrNil(rotated.ExpiresAt)})
}

// deployTokenAudit is a deploy token's creation, revocation or deletion
// on its project or group, with GitLab's message.
func deployTokenAudit(action string, holder auditEntity, t *meta.DeployToken) *meta.AuditEvent {
	verb := map[string]string{"deploy_token.create": "Created", "deploy_token.revoke": "Revoked", "deploy_token.delete": "Destroyed"}[action]
	// GitLab interpolates the token's scopes, an array of Ruby symbols.
	scopes := make([]string, len(t.Scopes))
	for i, s := range t.Scopes {
		scopes[i] = ":" + s
	}
	msg := fmt.Sprintf("%s %s deploy token with name: %s with token_id: %d with scopes: [%s].",
		verb, holder.Type, t.Name, t.ID, strings.Join(scopes, ", "))
	return newAuditEvent(action, holder, meta.AuditTarget{Type: "DeployToken", ID: t.ID, Details: t.Name}, msg, map[string]any{
		"token_id": t.ID, "name": t.Name, "username": t.DisplayUsername(), "scopes": []string(t.Scopes), "expires_at": httpx.TSPtr(t.ExpiresAt)})
}

// accessLabels are GitLab's names of the access levels
// (Gitlab::Access.options_with_owner, and Minimal Access), as its member
// events name them.
var accessLabels = map[int]string{meta.MinimalAccess: "Minimal Access", 10: "Guest", 15: "Planner", 20: "Reporter",
	30: "Developer", 40: "Maintainer", meta.Owner: "Owner"}

// memberAudit is a membership's creation, change (before is the row as it
// was) or removal on its group or project (action member.create,
// .update, .destroy), with the details GitLab EE's AuditEventService
// for_member gives it (ee/app/services/ee/audit_event_service.rb): add
// "user_access" as the level's name, change "access_level" from and to
// with the expiry before and after, or remove "user_access"; the target
// is the user, by name. GitLab sets no custom_message on these.
func memberAudit(action string, holder auditEntity, m *meta.Member, before *meta.Member) *meta.AuditEvent {
	var extra map[string]any
	switch action {
	case "member.create":
		extra = map[string]any{"add": "user_access", "as": accessLabels[m.AccessLevel]}
	case "member.update":
		extra = map[string]any{"change": "access_level", "from": accessLabels[before.AccessLevel], "to": accessLabels[m.AccessLevel],
			"expiry_from": dateOrNil(before.ExpiresAt), "expiry_to": dateOrNil(m.ExpiresAt)}
	default:
		extra = map[string]any{"remove": "user_access"}
	}
	return newAuditEvent(action, holder, meta.AuditTarget{Type: "User", ID: m.UserID, Details: m.Name}, "", extra)
}

// createdAudit is the event of a group's or a project's creation, on the
// new group or project itself, as GitLab EE records it (Groups and
// Projects CreateService log_audit_event: AuditEventService with action
// :create, whose details are add "group" or "project" and the new
// entity as target; its event types group_created and project_created).
func createdAudit(action string, e auditEntity) *meta.AuditEvent {
	return newAuditEvent(action, e, e.target(), "", map[string]any{"add": e.Type})
}

// audit records an event for the request's caller; a failure is logged,
// never fails the request (the action already happened).
func (s *Server) audit(c *gin.Context, id *auth.Identity, e *meta.AuditEvent) {
	attribute(c, id, e)
	if err := s.Store.Audit(context.WithoutCancel(c.Request.Context()), e); err != nil {
		httpx.Logger(c).Error("audit event lost", "action", e.Action, "err", err.Error())
	}
}

// attribute sets who made the change and from where.
func attribute(c *gin.Context, id *auth.Identity, e *meta.AuditEvent) *meta.AuditEvent {
	e.IP = c.ClientIP()
	switch {
	case id != nil && id.Deploy != nil:
		e.ActorType, e.ActorID, e.ActorName = "deploy_token", &id.Deploy.ID, id.Deploy.DisplayUsername()
	case id != nil && id.User != nil:
		e.ActorType, e.ActorID, e.ActorName = "user", &id.User.ID, id.User.Username
	default:
		e.ActorType = "anonymous"
	}
	return e
}

// tokenType is GitLab's auth_token_type of a package event.
func tokenType(id *auth.Identity) any {
	switch {
	case id == nil:
	case id.Deploy != nil:
		return "DeployToken"
	case id.PAT != nil:
		return "PersonalAccessToken"
	}
	return nil
}

// auditPackages records every successful publish and delete on package
// routes, whatever the format: one place instead of one call per format.
// The event rides in the request's context, so the transaction that makes
// the change records it too (meta.PendingAudit); a change made without one
// is recorded here after the handler answered with success.
func (s *Server) auditPackages(c *gin.Context) {
	method := c.Request.Method
	if method != http.MethodPut && method != http.MethodPost && method != http.MethodDelete {
		c.Next()
		return
	}
	route := c.FullPath()
	format := formatOf(route)
	var action, message string
	var who func(c *gin.Context) *auth.Identity
	switch {
	case format != "api" && format != "internal" && format != "unmatched" && format != "ui":
		who = auth.IdentityFrom
		// GitLab's message, "<package_type.humanize> package published".
		kind := strings.ToUpper(format[:1]) + format[1:]
		action, message = "package.publish", kind+" package published"
		if method == http.MethodDelete {
			action, message = "package.delete", kind+" package deleted"
		}
	case strings.HasPrefix(route, "/api/v4/projects/:id/packages/:package_id"):
		who = identity
		action, message = "package.delete", "Package deleted"
		if strings.Contains(route, "package_files") {
			action, message = "package_file.delete", "Package file deleted"
		}
	default:
		c.Next()
		return
	}
	var pending *meta.PendingAudit
	event := func() *meta.AuditEvent {
		// The route's project; else the one the handler named (the
		// packages API, npm dist-tags above project level).
		var entity auditEntity
		if acc := auth.AccessFrom(c); acc != nil && acc.Project != nil {
			entity = projectEntity(acc.Project)
		} else if p := pending.Project(); p != nil {
			entity = projectEntity(p)
		} else {
			entity.Type = "project"
		}
		path := c.Request.URL.EscapedPath()
		target := meta.AuditTarget{Type: "Packages::Package", Details: path}
		if t := pending.Target(); t != nil {
			target = *t
		}
		id := who(c)
		return attribute(c, id, newAuditEvent(action, entity, target, message,
			map[string]any{"format": format, "method": method, "path": path, "auth_token_type": tokenType(id)}))
	}
	pending = &meta.PendingAudit{Build: event}
	c.Request = c.Request.WithContext(meta.WithPendingAudit(c.Request.Context(), pending))
	c.Next()
	if status := c.Writer.Status(); status < 200 || status > 299 || pending.Written() || pending.Skipped() {
		return
	}
	if err := s.Store.Audit(context.WithoutCancel(c.Request.Context()), event()); err != nil {
		httpx.Logger(c).Error("audit event lost", "action", action, "err", err.Error())
	}
}

// entityTypes maps the stored entity types to GitLab's class names, which
// its API returns and its entity_type filter takes.
var entityTypes = map[string]string{"project": "Project", "group": "Group", "user": "User"}

// eventName is GitLab's event_name (its audit event type) of an action:
// the name a SIEM rule or a script keys on. Actions GitLab does not
// record have none.
func eventName(e *meta.AuditEvent) any {
	name, ok := eventNames[e.Action]
	switch {
	case !ok:
		return nil
	case strings.HasPrefix(e.Action, "deploy_token.") && e.TargetType == "group":
		return "group_" + name
	}
	return name
}

// eventNames are the event names of the actions GitLab records; a
// group's deploy token events take a group_ prefix (see eventName).
var eventNames = map[string]string{
	"deploy_token.create":          "deploy_token_created",
	"deploy_token.revoke":          "deploy_token_revoked",
	"deploy_token.delete":          "deploy_token_destroyed",
	"personal_access_token.create": "personal_access_token_created",
	"personal_access_token.revoke": "personal_access_token_revoked",
	"personal_access_token.rotate": "personal_access_token_rotated",
	"user.create":                  "user_created",
	"user.block":                   "user_blocked",
	"user.unblock":                 "user_unblocked",
	"user.destroy":                 "user_destroyed",
	"group.create":                 "group_created",
	"project.create":               "project_created",
	"project.destroy":              "project_destroyed",
	"group.destroy":                "group_destroyed",
	"project.name":                 "project_name_updated",
	"project.visibility":           "project_visibility_level_updated",
	"project.packages_enabled":     "project_packages_enabled_updated",
	"group.name":                   "group_name_updated",
	"group.visibility":             "group_visibility_level_updated",
	"member.create":                "member_created",
	"member.update":                "member_updated",
	"member.destroy":               "member_destroyed",
	"package.publish":              "package_registry_package_published",
	"package.delete":               "package_registry_package_deleted",
}

// auditJSON renders an event as GitLab's audit event entity, keeping the
// gateway's own fields (author_type, action, and the copies of
// author_name, entity_path and ip_address at the top).
func auditJSON(e *meta.AuditEvent) gin.H {
	details := map[string]any{}
	_ = json.Unmarshal(e.Details, &details)
	details["author_name"] = e.ActorName
	details["entity_path"] = e.TargetPath
	details["ip_address"] = nilIfEmpty(e.IP)
	// GitLab's author_id is a user's id, and negative for the authors
	// that are not users: a script resolving it through /users must
	// not find an unrelated user with a deploy token's id.
	var authorID any = e.ActorID
	switch e.ActorType {
	case "user":
		details["author_class"] = "User"
	case "deploy_token":
		details["author_class"] = "DeployToken"
		authorID = -2
		if e.ActorID != nil {
			details["author_deploy_token_id"] = *e.ActorID
		}
	case "anonymous":
		details["author_class"] = "Gitlab::Audit::UnauthenticatedAuthor"
		authorID = -1
	}
	name := eventName(e)
	if name != nil {
		details["event_name"] = name
	}
	entityType := e.TargetType
	if t, ok := entityTypes[entityType]; ok {
		entityType = t
	}
	return gin.H{
		"id": e.ID, "created_at": httpx.TS(e.CreatedAt), "author_type": e.ActorType, "author_id": authorID,
		"author_name": e.ActorName, "action": e.Action, "event_name": name, "entity_type": entityType, "entity_id": e.TargetID,
		"entity_path": e.TargetPath, "ip_address": e.IP, "details": details,
	}
}

// auditTime parses created_after and created_before as GitLab's DateTime
// parameters do, fractions of a second included: a reader resuming after
// the last created_at it saw must not get the events of that second again.
func auditTime(v string) (*time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v)); err == nil {
		return &t, true
	}
	return auth.ParseExpiry(v)
}

// auditFilter reads the filters of every audit list: created_after and
// created_before (both inclusive, as in GitLab) and the gateway's action
// prefix.
func auditFilter(c *gin.Context, op string) (meta.AuditFilter, error) {
	var f meta.AuditFilter
	f.Action = c.Query("action")
	for _, name := range []string{"created_after", "created_before"} {
		v := c.Query(name)
		if v == "" {
			continue
		}
		t, ok := auditTime(v)
		if !ok {
			return f, errs.Param(op, name+" is invalid")
		}
		if name == "created_after" {
			f.CreatedAfter = t
		} else {
			f.CreatedBefore = t
		}
	}
	return f, nil
}

// gitlabEntityTypes are the values GitLab's entity_type filter accepts;
// the gateway records no instance-scoped events, so the last matches
// nothing.
var gitlabEntityTypes = map[string]string{"Project": "project", "Group": "group", "User": "user", "Gitlab::Audit::InstanceScope": "instance"}

// listAudit is the admin API: GET /api/v4/audit_events with GitLab's
// filters (created_after, created_before, entity_type, entity_id) and the
// gateway's action prefix.
func (s *Server) listAudit(c *gin.Context) {
	const op = "gateway.listAudit"
	if !requireAdmin(c, op) {
		return
	}
	f, err := auditFilter(c, op)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if v := c.Query("entity_type"); v != "" {
		if f.EntityType = gitlabEntityTypes[v]; f.EntityType == "" {
			httpx.Abort(c, errs.Param(op, "entity_type does not have a valid value"))
			return
		}
	}
	if v := c.Query("entity_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			httpx.Abort(c, errs.Param(op, "entity_id is invalid"))
			return
		}
		if f.EntityType == "" {
			httpx.Abort(c, errs.Param(op, "entity_type is missing"))
			return
		}
		// GitLab's finder ignores an entity_id of 0.
		if n != 0 {
			f.EntityID = &n
		}
	}
	s.pageAudit(c, f)
}

// pageAudit answers one page of the events f selects, counting no more of
// them than the page's headers need (httpx.CountCap).
func (s *Server) pageAudit(c *gin.Context, f meta.AuditFilter) {
	list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.AuditEvent, int, error) {
		return s.Store.ListAudit(c.Request.Context(), f, limit, offset, httpx.CountCap(limit, offset))
	}, auditJSON)
}

// getAudit is GET /api/v4/audit_events/:id, for admins.
func (s *Server) getAudit(c *gin.Context) {
	const op = "gateway.getAudit"
	if !requireAdmin(c, op) {
		return
	}
	s.showAudit(c, meta.AuditFilter{}, "id")
}

func (s *Server) showAudit(c *gin.Context, f meta.AuditFilter, param string) {
	id, err := httpx.ParseID(c, param)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	e, err := s.Store.AuditByID(c.Request.Context(), f, id)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, auditJSON(e))
}

// holderAudit scopes the audit list of a group or project as GitLab's
// group and project audit events API does: events whose entity is that
// group or project, readable from Developer up; below the role that
// manages it (a group's Owner, a project's Maintainer) a member sees only
// the events they authored.
func (s *Server) holderAudit(c *gin.Context, group bool) (meta.AuditFilter, error) {
	const op = "gateway.holderAudit"
	id := identity(c)
	var entity auditEntity
	var level, all int
	if group {
		g, lvl, err := s.groupFor(c, id)
		if err != nil {
			return meta.AuditFilter{}, err
		}
		entity, level, all = groupEntity(g), lvl, meta.Owner
	} else {
		p, lvl, err := s.projectFor(c, id)
		if err != nil {
			return meta.AuditFilter{}, err
		}
		entity, level, all = projectEntity(p), lvl, meta.Maintainer
	}
	if level < meta.Developer || id.User == nil {
		return meta.AuditFilter{}, errForbidden(op)
	}
	f, err := auditFilter(c, op)
	if err != nil {
		return f, err
	}
	f.EntityType, f.EntityID = entity.Type, &entity.ID
	if level < all {
		f.UserID = &id.User.ID
	}
	return f, nil
}

// listHolderAudit is GET /groups/:id/audit_events and
// /projects/:id/audit_events.
func (s *Server) listHolderAudit(group bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		f, err := s.holderAudit(c, group)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		s.pageAudit(c, f)
	}
}

// getHolderAudit is GET /groups/:id/audit_events/:audit_event_id and the
// project's: one event of that list, 404 for any other.
func (s *Server) getHolderAudit(group bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		f, err := s.holderAudit(c, group)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		s.showAudit(c, f, "audit_event_id")
	}
}
