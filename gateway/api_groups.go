package gateway

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

func (s *Server) groupJSON(g *meta.Namespace) gin.H {
	return gin.H{
		"id": g.ID, "name": g.Name, "path": g.Path, "full_name": g.FullName, "full_path": g.FullPath,
		"parent_id": g.ParentID, "visibility": g.Visibility, "web_url": s.Cfg.ExternalURL + "/groups/" + g.FullPath,
		"description": g.Description, "created_at": httpx.TS(g.CreatedAt), "avatar_url": nil,
	}
}

func (s *Server) namespaceJSON(n *meta.Namespace) gin.H {
	web := s.Cfg.ExternalURL + "/groups/" + n.FullPath
	if n.Kind == "user" {
		web = s.Cfg.ExternalURL + "/" + n.FullPath
	}
	return gin.H{"id": n.ID, "name": n.Name, "path": n.Path, "kind": n.Kind, "full_path": n.FullPath,
		"parent_id": n.ParentID, "web_url": web, "avatar_url": nil}
}

func (s *Server) projectJSON(p *meta.Project) gin.H {
	return gin.H{
		"id": p.ID, "name": p.Name, "path": p.Path, "description": p.Description,
		"path_with_namespace": p.FullPath(), "name_with_namespace": p.FullName(),
		"namespace": s.namespaceJSON(&p.Namespace), "visibility": p.Visibility,
		"web_url": s.Cfg.ExternalURL + "/" + p.FullPath(), "packages_enabled": p.PackagesEnabled,
		"created_at": httpx.TS(p.CreatedAt), "default_branch": nil,
		"http_url_to_repo": s.Cfg.ExternalURL + "/" + p.FullPath() + ".git",
	}
}

func (s *Server) createGroup(c *gin.Context) {
	const op = "gateway.createGroup"
	id, p, ok := userParams(c, op)
	if !ok {
		return
	}
	if err := missing(p, "name", "path"); err != nil {
		httpx.Abort(c, err)
		return
	}
	name, _ := p.str("name")
	path, _ := p.str("path")
	visibility, ok := p.str("visibility")
	if !ok || visibility == "" {
		visibility = "private"
	}
	if _, ok := meta.VisibilityRank[visibility]; !ok {
		httpx.Abort(c, errs.Param(op, "visibility does not have a valid value"))
		return
	}
	parentID, hasParent, err := p.integer("parent_id")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if strings.TrimSpace(name) == "" {
		httpx.Abort(c, validation(op, "name", "can't be blank"))
		return
	}
	if !validPath(path) {
		httpx.Abort(c, validation(op, "path", "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.', '.git' or '.atom'"))
		return
	}
	desc, _ := p.str("description")
	ctx := c.Request.Context()
	var parent *meta.Namespace
	if hasParent && parentID > 0 {
		// Decision: GitLab's default subgroup-creation level, Maintainer+.
		if parent, err = s.creationTarget(ctx, op, id, parentID, true, meta.Maintainer); err != nil {
			httpx.Abort(c, err)
			return
		}
	} else if !id.IsAdmin() && !id.User.CanCreateGroup {
		httpx.Abort(c, errForbidden(op))
		return
	}
	g := &meta.Namespace{Name: name, Path: path, Visibility: visibility, Description: desc}
	if err := s.Store.CreateGroup(ctx, g, parent, id.User.ID); err != nil {
		switch {
		case errors.Is(err, meta.ErrVisibility): // checked under the parent's lock
			err = validation(op, "visibility_level", "must not be more permissive than the parent group's visibility")
		case errs.Is(err, errs.Invalid):
			err = validation(op, "path", "has already been taken")
		}
		httpx.Abort(c, err)
		return
	}
	s.audit(c, id, createdAudit("group.create", groupEntity(g)))
	c.JSON(http.StatusCreated, s.groupJSON(g))
}

func (s *Server) listGroups(c *gin.Context) { s.groupList(c, 0) }

func (s *Server) listSubgroups(c *gin.Context) {
	g, _, err := s.groupFor(c, identity(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	s.groupList(c, g.ID)
}

func (s *Server) groupList(c *gin.Context, parent int64) {
	list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.Namespace, int, error) {
		return s.Store.ListGroups(c.Request.Context(), identity(c).User, parent, limit, offset)
	}, s.groupJSON)
}

func (s *Server) getGroup(c *gin.Context) {
	g, _, err := s.groupFor(c, identity(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, s.groupJSON(g))
}

func (s *Server) listGroupProjects(c *gin.Context) {
	id := identity(c)
	g, _, err := s.groupFor(c, id)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	// GitLab lists the group's own projects unless include_subgroups is
	// true (python-gitlab's group.projects.list() relies on it).
	sub := false
	if q := c.Query("include_subgroups"); q != "" {
		if sub, err = httpx.ParseBool(q); err != nil {
			httpx.Abort(c, errs.Param("gateway.listGroupProjects", "include_subgroups is invalid"))
			return
		}
	}
	s.projectList(c, g.ID, sub)
}

func (s *Server) listProjects(c *gin.Context) { s.projectList(c, 0, false) }

func (s *Server) projectList(c *gin.Context, ns int64, subgroups bool) {
	list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.Project, int, error) {
		return s.Store.ListProjects(c.Request.Context(), identity(c).User, ns, subgroups, limit, offset)
	}, s.projectJSON)
}

func (s *Server) getProject(c *gin.Context) {
	p, _, err := s.projectFor(c, identity(c))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, s.projectJSON(p))
}

var slugRE = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// creationTarget loads the namespace a new subgroup (groupsOnly) or
// project is to go into and checks that id holds at least the role least
// there. One that does not exist, is not a group where only a group will
// do, or that id cannot see answers 404, as GitLab does, so that a caller
// learns nothing of namespaces hidden from them; one they see but may not
// create in answers 403.
func (s *Server) creationTarget(ctx context.Context, op string, id *auth.Identity, nsID int64, groupsOnly bool, least int) (*meta.Namespace, error) {
	notFound := errs.New(op, errs.NotFound, "404 Namespace Not Found")
	if groupsOnly {
		notFound = errs.New(op, errs.NotFound, "404 Group Not Found")
	}
	ns, err := s.Store.NamespaceByID(ctx, nsID)
	switch {
	case errs.Is(err, errs.NotFound):
		return nil, notFound
	case err != nil:
		return nil, err
	case groupsOnly && ns.Kind != "group":
		return nil, notFound
	}
	level, visible, err := auth.GroupRole(ctx, s.Store, id.User, ns)
	switch {
	case err != nil:
		return nil, err
	case !visible:
		return nil, notFound
	case level < least:
		return nil, errForbidden(op)
	}
	return ns, nil
}

func (s *Server) createProject(c *gin.Context) {
	const op = "gateway.createProject"
	id, p, ok := userParams(c, op)
	if !ok {
		return
	}
	name, hasName := p.str("name")
	path, hasPath := p.str("path")
	if (!hasName || name == "") && (!hasPath || path == "") {
		httpx.Abort(c, errs.Param(op, "name, path are missing, at least one parameter must be provided"))
		return
	}
	if path == "" {
		path = strings.Trim(slugRE.ReplaceAllString(strings.ToLower(name), "-"), "-.")
	}
	if name == "" {
		name = path
	}
	if !validPath(path) {
		httpx.Abort(c, validation(op, "path", "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'"))
		return
	}
	visibility, ok := p.str("visibility")
	if !ok || visibility == "" {
		visibility = "private"
	}
	if _, ok := meta.VisibilityRank[visibility]; !ok {
		httpx.Abort(c, errs.Param(op, "visibility does not have a valid value"))
		return
	}
	pkgs, given, err := p.boolean("packages_enabled")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if !given {
		pkgs = true
	}
	nsID, hasNS, err := p.integer("namespace_id")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	ctx := c.Request.Context()
	var ns *meta.Namespace
	if hasNS && nsID > 0 {
		// Decision: GitLab's default project-creation level, Developer+.
		if ns, err = s.creationTarget(ctx, op, id, nsID, false, meta.Developer); err != nil {
			httpx.Abort(c, err)
			return
		}
	} else {
		if ns, err = s.Store.PersonalNamespace(ctx, id.User.ID); err != nil {
			httpx.Abort(c, err)
			return
		}
	}
	desc, _ := p.str("description")
	proj := &meta.Project{NamespaceID: ns.ID, Name: name, Path: path, Visibility: visibility, PackagesEnabled: pkgs, Description: desc}
	if err := s.Store.CreateProject(ctx, proj); err != nil {
		switch {
		case errors.Is(err, meta.ErrVisibility): // checked under the group's lock
			err = validation(op, "visibility_level", "must not be more permissive than the group's visibility")
		case errs.Is(err, errs.Invalid):
			err = &errs.Error{Op: op, Kind: errs.Invalid, Body: map[string]any{"message": map[string][]string{
				"path": {"has already been taken"}, "name": {"has already been taken"}}}}
		}
		httpx.Abort(c, err)
		return
	}
	s.audit(c, id, createdAudit("project.create", projectEntity(proj)))
	c.JSON(http.StatusCreated, s.projectJSON(proj))
}

// --- members ---

func (s *Server) memberJSON(m *meta.Member) gin.H {
	return gin.H{
		"id": m.UserID, "username": m.Username, "name": m.Name, "state": m.State, "avatar_url": nil,
		"web_url": s.Cfg.ExternalURL + "/" + m.Username, "access_level": m.AccessLevel,
		"created_at": httpx.TS(m.CreatedAt), "expires_at": dateOrNil(m.ExpiresAt),
	}
}

// memberSource resolves :id as a project or group, the caller's level on
// it, and it as the entity of the audit events of its memberships.
func (s *Server) memberSource(c *gin.Context, group bool) (meta.MemberSource, int, auditEntity, error) {
	id := identity(c)
	if group {
		g, lvl, err := s.groupFor(c, id)
		if err != nil {
			return meta.MemberSource{}, 0, auditEntity{}, err
		}
		return meta.MemberSource{Group: true, ID: g.ID, Root: g.ParentID == nil}, lvl, groupEntity(g), nil
	}
	p, lvl, err := s.projectFor(c, id)
	if err != nil {
		return meta.MemberSource{}, 0, auditEntity{}, err
	}
	src := meta.MemberSource{ID: p.ID}
	if p.Namespace.Kind == "user" && p.Namespace.OwnerID != nil {
		src.Holder = *p.Namespace.OwnerID
	}
	return src, lvl, projectEntity(p), nil
}

// canManage: project members need Maintainer+, group members Owner.
func canManage(group bool, level int) bool {
	if group {
		return level >= meta.Owner
	}
	return level >= meta.Maintainer
}

var validLevels = map[int64]bool{5: true, 10: true, 15: true, 20: true, 30: true, 40: true, 50: true}

// levelErrors is the model's validation of access level lvl on src:
// GitLab's access_level_inclusion. Minimal Access is for top-level groups
// only; a subgroup's membership at it gets both of EE GroupMember's
// errors, a project's the plain one (gitlabhq
// ee/app/models/ee/group_member.rb, app/models/members/project_member.rb).
// This gateway admits it where a licensed GitLab would.
func levelErrors(src meta.MemberSource, lvl int) []string {
	switch {
	case !validLevels[int64(lvl)]:
		return []string{"is not included in the list"}
	case lvl != meta.MinimalAccess || src.Root:
		return nil
	case src.Group:
		return []string{"is not included in the list", "supported on top level groups only"}
	}
	return []string{"is not included in the list"}
}

// listMembers is GET .../members, or with all GET .../members/all: the
// direct members, for a project in a personal namespace its holder among
// them (meta.MemberSource.Holder), or with all every member with those
// who are members through a group above (one row a user, their highest
// level: meta.Store.ListAllMembers), of the memberships GitLab lists
// only (none expired but a group's last Owners, none at Minimal Access on
// a group: see meta.listed), narrowed by query and user_ids as GitLab's
// retrieve_members does (gitlabhq lib/api/members.rb, lib/api/helpers/members_helpers.rb; see
// meta.MemberFilter), in the order the memberships were made (GitLab's
// membership id; see meta.memberOrder) unless a query orders them,
// paginated, with the pagination headers counting what the filters keep.
// Grape checks user_ids, and for members/all state, before the handler
// runs. The members API wants a signed-in caller on every route, a public
// group or project's included: API::Members runs `before {
// authenticate! }`, ahead of Grape's parameter checks, so an anonymous
// caller is 401 before anything else.
//
// state is GitLab EE's filter of members/all by membership state
// (ee/lib/ee/api/helpers/members_helpers.rb optional_state_filter_ee:
// values awaiting and active, else 400 "state does not have a valid
// value"; retrieve_members with_state): every membership here is active,
// none awaits a seat, so active keeps everyone and awaiting no one.
func (s *Server) listMembers(group, all bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		const op = "gateway.listMembers"
		_, p, ok := userParams(c, op)
		if !ok {
			return
		}
		var f meta.MemberFilter
		f.Query, _ = p.str("query")
		var err error
		if f.UserIDs, err = integerList(op, p, "user_ids"); err != nil {
			httpx.Abort(c, err)
			return
		}
		state, hasState := p.str("state")
		if all && hasState && state != "active" && state != "awaiting" {
			httpx.Abort(c, errs.Param(op, "state does not have a valid value"))
			return
		}
		src, _, _, err := s.memberSource(c, group)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.Member, int, error) {
			switch {
			case !all:
				return s.Store.ListMembers(c.Request.Context(), src, f, limit, offset)
			case state == "awaiting":
				return nil, 0, nil
			}
			return s.Store.ListAllMembers(c.Request.Context(), src, f, limit, offset)
		}, s.memberJSON)
	}
}

// integerList reads a list of integers as Grape's
// CommaSeparatedToIntegerArray does (gitlabhq
// lib/api/validations/types/comma_separated_to_integer_array.rb): a
// comma-separated string, repeated keys or a JSON array, each item an
// integer, else 400 {"error":"<k> is invalid"}.
func integerList(op string, p *params, k string) ([]int64, error) {
	items, ok := p.list(k)
	if !ok {
		return nil, nil
	}
	var out []int64
	for _, item := range items {
		for _, part := range strings.Split(item, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.ParseInt(part, 10, 64)
			if err != nil {
				return nil, errs.Param(op, k+" is invalid")
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// getMember is GET .../members/:user_id, a direct member, or with all GET
// .../members/all/:user_id, a member as GET .../members/all lists them
// (gitlabhq lib/api/members.rb: find_all_members(source).find_by!): 404
// Not found when the user is no member. As in GitLab, an anonymous caller
// is 401 and a user_id that is no integer 400 before the group or project
// is looked up (see listMembers).
func (s *Server) getMember(group, all bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := requireUser(c, "gateway.getMember"); !ok {
			return
		}
		uid, err := httpx.ParseID(c, "user_id")
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		src, _, _, err := s.memberSource(c, group)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		get := s.Store.GetMember
		if all {
			get = s.Store.GetAllMember
		}
		m, err := get(c.Request.Context(), src, uid)
		if err != nil {
			if errs.Is(err, errs.NotFound) {
				err = errNoMember("gateway.getMember")
			}
			httpx.Abort(c, err)
			return
		}
		c.JSON(http.StatusOK, s.memberJSON(m))
	}
}

// errNoMember answers a member looked up by user id and not found: GitLab
// finds it with find_by!, whose ActiveRecord::RecordNotFound the API
// renders as 404 {"message":"404 Not found"} (gitlabhq lib/api/members.rb,
// lib/api/api.rb; spec 0.1, record lookup miss).
func errNoMember(op string) error { return errs.New(op, errs.NotFound, "404 Not found") }

// levelParam reads access_level as Grape's Integer parameter does: one
// that is not an integer is 400 before the handler looks at anything.
func levelParam(p *params) (int, error) {
	lvl, _, err := p.integer("access_level")
	return int(lvl), err
}

// expiryParam reads expires_at, a date YYYY-MM-DD; nil when it is absent
// or empty.
func expiryParam(op string, p *params) (*time.Time, error) {
	v, ok := p.str("expires_at")
	if !ok || v == "" {
		return nil, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return nil, errs.Param(op, "expires_at is invalid")
	}
	return &t, nil
}

// expiryUpdate reads expires_at for an update: set reports whether the
// request names it at all, and an empty or null one clears the expiry.
// GitLab declares it a DateTime, which Grape reads from "" as nil (its
// PrimitiveCoercer treats an empty string as no value, ruby-grape/grape
// lib/grape/validations/types/primitive_coercer.rb), and
// declared_params(include_missing: false) keeps a parameter that was
// sent, nil or not; Members::UpdateService assigns it to the member
// (member.attributes = params), so the expiry goes (gitlabhq
// lib/api/members.rb, app/services/members/update_service.rb).
func expiryUpdate(op string, p *params) (exp *time.Time, set bool, err error) {
	if !p.has("expires_at") {
		return nil, false, nil
	}
	exp, err = expiryParam(op, p)
	return exp, true, err
}

// grantable checks an access level the caller (at level) wants to give: one
// that is no level is the model's validation error, Owner only an Owner
// may grant.
func grantable(op string, src meta.MemberSource, lvl, level int) error {
	if e := levelErrors(src, lvl); e != nil {
		return validation(op, "access_level", e...)
	}
	if lvl == meta.Owner && level < meta.Owner {
		return errForbidden(op)
	}
	return nil
}

// addMember is POST .../members. GitLab's order (gitlabhq
// lib/api/members.rb post ":id/members", lib/api/helpers/members_helpers.rb
// add_single_member and check_existing_membership,
// app/services/members/create_service.rb,
// app/services/members/creator_service.rb): Grape's parameter checks
// (400: access_level missing or no integer, user_id and username, an
// expires_at that is no date), the group or project (find_source: 404 to a
// caller who cannot see it, who so learns nothing of users or
// memberships), the user (404 User Not Found), an existing membership
// (409 Member already exists), and only then the caller's rights, in
// Members::CreateService: an Owner level on a project wants manage_owners
// and the membership admin_*_member (403, AccessDeniedError, which
// add_single_member raises ahead of any validation error); last the
// model's validations (400: a level that is none, an expiry in the past),
// rendered together by render_validation_error!.
func (s *Server) addMember(group bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		const op = "gateway.addMember"
		_, p, ok := userParams(c, op)
		if !ok {
			return
		}
		if err := missing(p, "access_level"); err != nil {
			httpx.Abort(c, err)
			return
		}
		if !p.has("user_id") && !p.has("username") {
			httpx.Abort(c, errs.Param(op, "user_id, username are missing, exactly one parameter must be provided"))
			return
		}
		if p.has("user_id") && p.has("username") {
			httpx.Abort(c, errs.Param(op, "user_id, username are mutually exclusive"))
			return
		}
		lvl, err := levelParam(p)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		exp, err := expiryParam(op, p)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		uid, byID, err := p.integer("user_id")
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		src, level, entity, err := s.memberSource(c, group)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		ctx := c.Request.Context()
		var u *meta.User
		if byID {
			u, err = s.Store.UserByID(ctx, uid)
		} else {
			name, _ := p.str("username")
			u, err = s.Store.UserByUsername(ctx, name)
		}
		if err != nil {
			if errs.Is(err, errs.NotFound) {
				err = errs.New(op, errs.NotFound, "404 User Not Found")
			}
			httpx.Abort(c, err)
			return
		}
		if src.Holder != 0 && u.ID == src.Holder {
			httpx.Abort(c, errHolder(op, http.MethodPost))
			return
		}
		switch _, err := s.Store.GetMember(ctx, src, u.ID); {
		case err == nil:
			httpx.Abort(c, errs.New(op, errs.Conflict, "Member already exists"))
			return
		case !errs.Is(err, errs.NotFound):
			httpx.Abort(c, err)
			return
		}
		if !canManage(group, level) || (lvl == meta.Owner && level < meta.Owner) {
			httpx.Abort(c, errForbidden(op))
			return
		}
		if err := newMemberInvalid(op, src, lvl, exp); err != nil {
			httpx.Abort(c, err)
			return
		}
		m, err := s.Store.AddMember(ctx, src, u.ID, lvl, exp)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		s.audit(c, identity(c), memberAudit("member.create", entity, m, nil))
		c.JSON(http.StatusCreated, s.memberJSON(m))
	}
}

// newMemberInvalid is the model's validation of a new membership: a level
// that is none and an expiry before today, each under its field, both
// at once when both fail, as render_validation_error! shows every error
// of the record (gitlabhq app/models/member.rb access_level_inclusion and
// expires_at future_date, app/validators/future_date_validator.rb).
func newMemberInvalid(op string, src meta.MemberSource, lvl int, exp *time.Time) error {
	fields := map[string][]string{}
	if e := levelErrors(src, lvl); e != nil {
		fields["access_level"] = e
	}
	if exp != nil && beforeToday(*exp) {
		fields["expires_at"] = []string{"cannot be a date in the past"}
	}
	if len(fields) == 0 {
		return nil
	}
	return &errs.Error{Op: op, Kind: errs.Invalid, Body: map[string]any{"message": fields}}
}

// updateMember is PUT .../members/:user_id. GitLab's order (gitlabhq
// lib/api/members.rb): Grape's parameter checks (400), the group or project
// (404 to a caller who cannot see it, so they learn nothing more), the
// member (find_by!, 404 Not found), then authorize! update_*_member (403),
// then Members::UpdateService (403 for an Owner level only an Owner may
// give, then the model's validations, 400).
func (s *Server) updateMember(group bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		const op = "gateway.updateMember"
		_, p, ok := userParams(c, op)
		if !ok {
			return
		}
		if err := missing(p, "access_level"); err != nil {
			httpx.Abort(c, err)
			return
		}
		uid, err := httpx.ParseID(c, "user_id")
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		lvl, err := levelParam(p)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		exp, setExp, err := expiryUpdate(op, p)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		src, level, entity, err := s.memberSource(c, group)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if src.Holder != 0 && uid == src.Holder {
			httpx.Abort(c, errHolder(op, http.MethodPut))
			return
		}
		var before meta.Member
		m, err := s.Store.UpdateMember(c.Request.Context(), src, uid, lvl, exp, setExp, func(cur *meta.Member, lastOwner bool) error {
			before = *cur
			if !canManage(group, level) {
				return errForbidden(op)
			}
			if err := ownerGuard(op, group, cur, level, lastOwner); err != nil {
				return err
			}
			if err := grantable(op, src, lvl, level); err != nil {
				return err
			}
			return updatedExpiry(op, cur, lvl, exp, setExp)
		})
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		s.audit(c, identity(c), memberAudit("member.update", entity, m, &before))
		c.JSON(http.StatusOK, s.memberJSON(m))
	}
}

// removeMember is DELETE .../members/:user_id. As for PUT, the group or
// project is found first (404 to whoever cannot see it), then the member
// (404 Not found), and only then does Members::DestroyService decide
// whether the caller may remove it (403) (gitlabhq lib/api/members.rb,
// app/services/members/destroy_service.rb).
//
// Any member may remove their own membership, whatever their level: the
// policies enable destroy_group_member and destroy_project_member for
// target_is_self (gitlabhq app/policies/group_member_policy.rb,
// app/policies/project_member_policy.rb, app/policies/concerns/
// member_policy_helpers.rb record_belongs_to_self?). ownerGuard still
// applies: a group's last Owner cannot leave, nor can a project Owner
// whose own level is below Owner.
//
// Removing a group member also removes their memberships of its
// subgroups and of the projects in its tree, unless skip_subresources is
// true (see meta.Store.RemoveMember); each of those is audited on its own
// subgroup or project, as GitLab's recursive DestroyService does.
func (s *Server) removeMember(group bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		const op = "gateway.removeMember"
		id, ok := requireUser(c, op)
		if !ok {
			return
		}
		uid, err := httpx.ParseID(c, "user_id")
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		p, err := readParams(c)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		// unassign_issuables is read only to refuse what Grape would: this
		// gateway has no issues or merge requests to unassign.
		skip, _, err := p.boolean("skip_subresources")
		if err == nil {
			_, _, err = p.boolean("unassign_issuables")
		}
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		src, level, entity, err := s.memberSource(c, group)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if src.Holder != 0 && uid == src.Holder {
			httpx.Abort(c, errHolder(op, http.MethodDelete))
			return
		}
		self := uid == id.User.ID
		var gone meta.Member
		below, err := s.Store.RemoveMember(c.Request.Context(), src, uid, !skip, func(cur *meta.Member, lastOwner bool) error {
			gone = *cur
			if !self && !canManage(group, level) {
				return errForbidden(op)
			}
			return ownerGuard(op, group, cur, level, lastOwner)
		})
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		s.audit(c, id, memberAudit("member.destroy", entity, &gone, nil))
		for _, r := range below {
			s.audit(c, id, memberAudit("member.destroy", holderEntity(r.Group, r.ID, r.FullPath), &gone, nil))
		}
		c.Status(http.StatusNoContent)
	}
}

// errHolder answers a request about the holder of the personal namespace
// a project is in. GitLab adds them to each such project as a member
// (Owner; gitlabhq app/services/projects/create_service.rb, and
// app/models/member.rb post_create_member_hook), so adding them again is
// 409 Member already exists (check_existing_membership in
// lib/api/helpers/members_helpers.rb, before the caller's rights are
// weighed), and ProjectMemberPolicy prevents update_project_member and
// destroy_project_member on that membership for everyone, the holder and
// admins included, so PUT and DELETE are 403 (gitlabhq
// app/policies/project_member_policy.rb
// target_is_holder_of_the_personal_namespace). GET shows that membership
// (meta.MemberSource.Holder).
func errHolder(op, method string) error {
	if method == http.MethodPost {
		return errs.New(op, errs.Conflict, "Member already exists")
	}
	return errForbidden(op)
}

// ownerGuard refuses a change to a project Owner's membership by a caller
// below Owner: only an Owner may grant Owner (spec 3.2), and GitLab's
// Members::UpdateService and Members::DestroyService keep anyone without
// manage_owners on the project from demoting or removing one as well,
// themselves included (gitlabhq app/services/members/base_service.rb
// cannot_revoke_owner_responsibilities_from_member_in_project?, which
// only ProjectMembers are subject to). Group memberships are changed
// only by Owners, or removed by the member themself, which GitLab allows
// at any level.
//
// It also refuses any update or removal of a group's last Owner (see
// meta.Store.changeMember for who counts), whoever asks, admins included:
// GitLab's GroupMemberPolicy prevents update_group_member and
// destroy_group_member on such a member, and a prevent rule outweighs
// every enable, so the API answers 403 Forbidden to PUT (authorize!) and
// DELETE (Members::DestroyService raising AccessDeniedError) alike, even
// when the PUT keeps the Owner level (gitlabhq
// app/policies/group_member_policy.rb, lib/api/members.rb,
// app/services/members/destroy_service.rb). Projects have no such rule:
// GitLab's only one protects the holder of a personal namespace, whose
// ownership this gateway keeps on the namespace, not in a membership
// (see errHolder).
func ownerGuard(op string, group bool, m *meta.Member, level int, lastOwner bool) error {
	if lastOwner || (!group && level < meta.Owner && m.AccessLevel >= meta.Owner) {
		return errForbidden(op)
	}
	return nil
}

// errPastExpiry is GitLab's Member validation `expires_at, future_date:
// true` (gitlabhq app/models/member.rb, app/validators/future_date_validator.rb),
// rendered by render_validation_error! as 400 in the model-validation
// shape.
func errPastExpiry(op string) error {
	return validation(op, "expires_at", "cannot be a date in the past")
}

// beforeToday reports whether day lies before today (UTC). The validator
// compares with Date.current, so today itself is still accepted.
func beforeToday(day time.Time) bool {
	y, m, d := day.Date()
	ty, tm, td := time.Now().UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Before(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC))
}

// updatedExpiry validates an update the way GitLab's Members::UpdateService
// saves it (gitlabhq app/services/members/update_service.rb): the whole
// record is validated, so a stored expiry already past fails an update
// that does not replace or clear it, but only when the update changes
// something, since an unchanged member is not saved at all. setExp tells
// whether the update names an expiry (exp nil: none).
func updatedExpiry(op string, m *meta.Member, level int, exp *time.Time, setExp bool) error {
	end := m.ExpiresAt
	if setExp {
		end = exp
	}
	changed := level != m.AccessLevel || (setExp && !sameDay(exp, m.ExpiresAt))
	if changed && end != nil && beforeToday(*end) {
		return errPastExpiry(op)
	}
	return nil
}

// sameDay reports whether two optional dates are the same (both none
// counts).
func sameDay(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
