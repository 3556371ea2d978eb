package gateway

import (
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// getAndHead registers a REST API read for GET and for HEAD, with the
// same middleware and handlers. GitLab's REST API is built on Grape, which
// answers HEAD for every GET route: the GET's status and headers
// (pagination, Cache-Control, X-Request-Id, WWW-Authenticate on 401) and
// no body; monitors and scripts probe with HEAD. The handler writes its
// JSON as for GET and net/http drops it, having sized Content-Length by
// it as for GET where the answer fits its buffer (sentBytes keeps these
// bytes out of what the gateway counts as sent); errors likewise
// (httpx.Abort). The package protocols
// register their own HEAD routes (formats/...); this is for the REST API's
// routes only, every one of whose GET routes goes through here.
func getAndHead(rg gin.IRoutes, path string, handlers ...gin.HandlerFunc) {
	rg.GET(path, handlers...)
	rg.HEAD(path, handlers...)
}

func (s *Server) registerAPI(v4 *gin.RouterGroup) {
	api := v4.Group("", s.apiAuth())
	readUser := v4.Group("", s.apiAuthReadUser())
	getAndHead(readUser, "/user", s.currentUser)
	getAndHead(readUser, "/users", s.listUsers)
	api.POST("/users", s.createUser)
	getAndHead(readUser, "/users/:id", s.getUser)
	api.POST("/users/:id/block", s.setUserState("blocked"))
	api.POST("/users/:id/unblock", s.setUserState("active"))
	api.DELETE("/users/:id", s.deleteUser)
	api.POST("/users/:id/personal_access_tokens", s.createPAT)
	s.registerPATs(api, v4.Group("", s.apiAuthAnyScope()))

	getAndHead(readUser, "/version", s.version)
	getAndHead(readUser, "/metadata", s.metadata)
	getAndHead(api, "/namespaces", s.listNamespaces)
	getAndHead(api, "/namespaces/:id", s.getNamespace)

	api.POST("/groups", s.createGroup)
	getAndHead(api, "/groups", s.listGroups)
	getAndHead(api, "/groups/:id", s.getGroup)
	api.PUT("/groups/:id", s.updateGroup)
	api.DELETE("/groups/:id", s.deleteGroup)
	getAndHead(api, "/groups/:id/subgroups", s.listSubgroups)
	getAndHead(api, "/groups/:id/projects", s.listGroupProjects)

	api.POST("/projects", s.createProject)
	getAndHead(api, "/projects", s.listProjects)
	getAndHead(api, "/projects/:id", s.getProject)
	api.PUT("/projects/:id", s.updateProject)
	api.DELETE("/projects/:id", s.deleteProject)

	for _, kind := range []string{"projects", "groups"} {
		group := kind == "groups"
		getAndHead(api, "/"+kind+"/:id/members", s.listMembers(group, false))
		getAndHead(api, "/"+kind+"/:id/members/all", s.listMembers(group, true))
		api.POST("/"+kind+"/:id/members", s.addMember(group))
		getAndHead(api, "/"+kind+"/:id/members/:user_id", s.getMember(group, false))
		getAndHead(api, "/"+kind+"/:id/members/all/:user_id", s.getMember(group, true))
		api.PUT("/"+kind+"/:id/members/:user_id", s.updateMember(group))
		api.DELETE("/"+kind+"/:id/members/:user_id", s.removeMember(group))
	}
	getAndHead(api, "/audit_events", s.listAudit)
	getAndHead(api, "/audit_events/:id", s.getAudit)
	getAndHead(api, "/groups/:id/audit_events", s.listHolderAudit(true))
	getAndHead(api, "/groups/:id/audit_events/:audit_event_id", s.getHolderAudit(true))
	getAndHead(api, "/projects/:id/audit_events", s.listHolderAudit(false))
	getAndHead(api, "/projects/:id/audit_events/:audit_event_id", s.getHolderAudit(false))
	s.registerDeployTokens(api)
	s.registerPackagesAPI(api)
}

func (s *Server) userJSON(u *meta.User, full bool) gin.H {
	h := gin.H{
		"id": u.ID, "username": u.Username, "name": u.Name, "state": u.State,
		"avatar_url": nil, "web_url": s.Cfg.ExternalURL + "/" + u.Username,
		"created_at": httpx.TS(u.CreatedAt), "locked": false,
	}
	if full {
		h["email"] = u.Email
		h["is_admin"] = u.IsAdmin
		h["can_create_group"] = u.CanCreateGroup
	}
	return h
}

func (s *Server) currentUser(c *gin.Context) {
	id := identity(c)
	if id.User == nil {
		httpx.Abort(c, errUnauthorized("gateway.currentUser"))
		return
	}
	c.JSON(http.StatusOK, s.userJSON(id.User, true))
}

func (s *Server) listUsers(c *gin.Context) {
	id := identity(c)
	ctx := c.Request.Context()
	if name := c.Query("username"); name != "" {
		pg, err := httpx.ParsePage(c)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		out, total := []gin.H{}, 0
		u, err := s.Store.UserByUsername(ctx, name)
		switch {
		case err == nil:
			total = 1
			if pg.Page == 1 {
				out = append(out, s.userJSON(u, id.IsAdmin()))
			}
		case !errs.Is(err, errs.NotFound):
			httpx.Abort(c, err)
			return
		}
		httpx.SetPageHeaders(c, s.Cfg.ExternalURL, pg, total)
		c.JSON(http.StatusOK, out)
		return
	}
	list(c, s.Cfg.ExternalURL, func(limit, offset int) ([]meta.User, int, error) {
		return s.Store.ListUsers(ctx, limit, offset)
	}, func(u *meta.User) gin.H { return s.userJSON(u, id.IsAdmin()) })
}

// pathUser loads the user :id names; an unknown one is GitLab's 404
// User Not Found.
func (s *Server) pathUser(c *gin.Context, op string) (*meta.User, error) {
	n, err := httpx.ParseID(c, "id")
	if err != nil {
		return nil, err
	}
	u, err := s.Store.UserByID(c.Request.Context(), n)
	if errs.Is(err, errs.NotFound) {
		return nil, errs.New(op, errs.NotFound, "404 User Not Found")
	}
	return u, err
}

func (s *Server) getUser(c *gin.Context) {
	id := identity(c)
	u, err := s.pathUser(c, "gateway.getUser")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, s.userJSON(u, id.IsAdmin() || (id.User != nil && id.User.ID == u.ID)))
}

// setUserState is GitLab's POST /users/:id/block and /unblock (lib/api/
// users.rb), for admins: 201 true; blocking a blocked user changes
// nothing and answers 201 null, as GitLab's `break` does; an admin
// cannot block themselves (403). A blocked user's PATs are refused with
// 403 on every node at once (their cached identities are dropped here
// and, through a notification, elsewhere), and the web pages sign them
// out; deploy tokens they made keep working, as in GitLab. Each change
// is audited as GitLab EE's Users::BlockService and UnblockService do
// (user_blocked, user_unblocked).
func (s *Server) setUserState(state string) gin.HandlerFunc {
	return func(c *gin.Context) {
		const op = "gateway.setUserState"
		if !requireAdmin(c, op) {
			return
		}
		id := identity(c)
		ctx := c.Request.Context()
		u, err := s.pathUser(c, op)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if state == "blocked" && u.ID == id.User.ID {
			httpx.Abort(c, errs.New(op, errs.Forbidden, "403 Forbidden - The API initiating user cannot be blocked by the API"))
			return
		}
		changed, err := s.Store.SetUserState(ctx, u.ID, state)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if !changed && state == "blocked" {
			c.JSON(http.StatusCreated, nil)
			return
		}
		if changed {
			s.Auth.Cache.ForgetUser(u.ID)
			action, msg := "user.block", "Blocked user"
			if state == "active" {
				action, msg = "user.unblock", "Unblocked user"
			}
			s.audit(c, id, newAuditEvent(action, userEntity(u), userEntity(u).target(), msg, nil))
		}
		c.JSON(http.StatusCreated, true)
	}
}

var (
	usernameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$`)
	pathRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$`)
)

func validPath(p string) bool {
	return pathRE.MatchString(p) && !strings.HasSuffix(p, ".") && !strings.HasSuffix(p, ".git") && !strings.HasSuffix(p, ".atom")
}

func (s *Server) createUser(c *gin.Context) {
	const op = "gateway.createUser"
	if !requireAdmin(c, op) {
		return
	}
	id := identity(c)
	p, err := readParams(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if err := missing(p, "email", "username", "name"); err != nil {
		httpx.Abort(c, err)
		return
	}
	email, _ := p.str("email")
	username, _ := p.str("username")
	name, _ := p.str("name")
	password, hasPassword := p.str("password")
	_, reset := p.str("reset_password")
	_, random := p.str("force_random_password")
	if !hasPassword && !reset && !random {
		httpx.Abort(c, errs.Param(op, "password, reset_password, force_random_password are missing, exactly one parameter must be provided"))
		return
	}
	if !strings.Contains(email, "@") {
		httpx.Abort(c, validation(op, "email", "is invalid"))
		return
	}
	if !usernameRE.MatchString(username) || strings.HasSuffix(username, ".") || strings.HasSuffix(username, ".git") {
		httpx.Abort(c, validation(op, "username", "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'."))
		return
	}
	if hasPassword && len(password) < 8 {
		httpx.Abort(c, validation(op, "password", "is too short (minimum is 8 characters)"))
		return
	}
	if !hasPassword {
		password, _ = auth.NewSecret("")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		httpx.Abort(c, validation(op, "password", "is invalid"))
		return
	}
	admin, _, err := p.boolean("admin")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	canCreate, given, err := p.boolean("can_create_group")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if !given {
		canCreate = true
	}
	u := &meta.User{Username: username, Email: email, Name: name, PasswordHash: string(hash), IsAdmin: admin, CanCreateGroup: canCreate}
	if err := s.Store.CreateUser(c.Request.Context(), u); err != nil {
		httpx.Abort(c, err)
		return
	}
	s.audit(c, id, UserCreatedAudit(u))
	c.JSON(http.StatusCreated, s.userJSON(u, true))
}

func (s *Server) createPAT(c *gin.Context) {
	const op = "gateway.createPAT"
	if !requireAdmin(c, op) {
		return
	}
	id := identity(c)
	uid, err := httpx.ParseID(c, "id")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	p, err := readParams(c)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if err := missing(p, "name", "scopes"); err != nil {
		httpx.Abort(c, err)
		return
	}
	name, _ := p.str("name")
	raw, _ := p.list("scopes")
	scopes, ok := auth.NormalizeScopes(raw, auth.PATScopes)
	if !ok || len(scopes) == 0 {
		httpx.Abort(c, errs.Param(op, "scopes does not have a valid value"))
		return
	}
	var expires *time.Time
	if v, ok := p.str("expires_at"); ok && v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			httpx.Abort(c, errs.Param(op, "expires_at is invalid"))
			return
		}
		expires = &t
	}
	owner, err := s.Store.UserByID(c.Request.Context(), uid)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			err = errs.New(op, errs.NotFound, "404 User Not Found")
		}
		httpx.Abort(c, err)
		return
	}
	desc, _ := p.str("description")
	pat := &meta.PAT{UserID: uid, Name: name, Description: desc, Scopes: scopes, ExpiresAt: expires}
	secret, err := auth.IssuePAT(c.Request.Context(), s.Store, pat)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	s.audit(c, id, PATAudit("personal_access_token.create", owner, pat))
	out := patJSON(pat)
	out["token"] = secret
	c.JSON(http.StatusCreated, out)
}

func patJSON(p *meta.PAT) gin.H {
	return gin.H{
		"id": p.ID, "name": p.Name, "description": p.Description, "revoked": p.Revoked,
		"created_at": httpx.TS(p.CreatedAt), "scopes": []string(p.Scopes), "user_id": p.UserID,
		"last_used_at": httpx.TSPtr(p.LastUsedAt), "active": p.Active(time.Now().UTC()), "expires_at": dateOrNil(p.ExpiresAt),
	}
}
