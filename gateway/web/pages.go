package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/storage/meta"
)

type holderKind string

const (
	kindProject holderKind = "project"
	kindGroup   holderKind = "group"
)

// holder is a project or a group as the pages show it, with the caller's
// effective role on it.
type holder struct {
	Kind       holderKind
	ID         int64
	Name       string // display name
	FullName   string // "Acme / Sub / App"
	FullPath   string // "acme/sub/app"
	Visibility string
	Level      int
	Admin      bool // the user is an instance administrator (Level is Owner)
	Project    *meta.Project
	Group      *meta.Namespace
	Base       string // /-/ui/projects/5
	Perms      tokenPerms
}

func (h *holder) filter() meta.DeployTokenFilter {
	if h.Kind == kindGroup {
		return meta.DeployTokenFilter{GroupID: h.ID}
	}
	return meta.DeployTokenFilter{ProjectID: h.ID}
}

// Noun is "project" or "group".
func (h *holder) Noun() string { return string(h.Kind) }

// tokenPerms is what a user may do in a Deploy tokens section. The rules are
// the REST API's (spec 2.1/3.2): listing needs Maintainer+ on the project or
// group; creating and revoking need Maintainer+ on a project and Owner on a
// group; admins always pass. A session opened with a read_api token never
// changes anything.
type tokenPerms struct {
	List   bool
	Manage bool
	Why    string // why the form and the Revoke buttons are missing
}

func permsFor(kind holderKind, level int, canWrite bool) tokenPerms {
	var p tokenPerms
	p.List = level >= meta.Maintainer
	need := meta.Maintainer
	if kind == kindGroup {
		need = meta.Owner
	}
	p.Manage = p.List && level >= need && canWrite
	switch {
	case p.Manage:
	case !p.List:
		p.Why = "Only maintainers and owners of this " + string(kind) + " can view and manage its deploy tokens. Your role: " + roleName(level) + "."
		if kind == kindGroup {
			p.Why = "Only maintainers and owners of this group can view its deploy tokens, and only owners can manage them. Your role: " + roleName(level) + "."
		}
	case level < need:
		p.Why = "Only owners of this group can create or revoke its deploy tokens. As a " + roleName(level) + " you can view them."
	default:
		p.Why = "You signed in with a read-only token (read_api scope). Sign in with a token that has the api scope to create or revoke deploy tokens."
	}
	return p
}

// resolve loads the project or group named by :id as the signed-in user
// sees it; nil after an answer was written (missing or invisible: 404, as
// the API answers 404 for what the caller may not see).
func (u *ui) resolve(c *gin.Context, s *session, kind holderKind) *holder {
	ctx := c.Request.Context()
	var h *holder
	var err error
	if kind == kindGroup {
		h, err = u.resolveGroup(ctx, s, pathID(c))
	} else {
		h, err = u.resolveProject(ctx, s, pathID(c))
	}
	if err != nil {
		u.fail(c, err)
		return nil
	}
	if h == nil {
		u.notFound(c, s, "This "+string(kind))
		return nil
	}
	h.Admin = s.isAdmin()
	h.Perms = permsFor(kind, h.Level, s.canWrite())
	return h
}

// resolveProject finds a project the signed-in user can see (auth.ProjectRole).
func (u *ui) resolveProject(ctx context.Context, s *session, id string) (*holder, error) {
	p, err := auth.FindProject(ctx, u.d.Store, id)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	level, visible, err := auth.ProjectRole(ctx, u.d.Store, s.user, p)
	if err != nil || !visible {
		return nil, err
	}
	return &holder{Kind: kindProject, ID: p.ID, Name: p.Name, FullName: p.FullName(), FullPath: p.FullPath(),
		Visibility: p.Visibility, Level: level, Project: p, Base: uiPrefix + "/projects/" + strconv.FormatInt(p.ID, 10)}, nil
}

// resolveGroup finds a group the signed-in user can see (auth.GroupRole).
func (u *ui) resolveGroup(ctx context.Context, s *session, id string) (*holder, error) {
	g, err := auth.FindGroup(ctx, u.d.Store, id)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	level, visible, err := auth.GroupRole(ctx, u.d.Store, s.user, g)
	if err != nil || !visible {
		return nil, err
	}
	return &holder{Kind: kindGroup, ID: g.ID, Name: g.Name, FullName: g.FullName, FullPath: g.FullPath,
		Visibility: g.Visibility, Level: level, Group: g, Base: uiPrefix + "/groups/" + strconv.FormatInt(g.ID, 10)}, nil
}

// crumbs is the breadcrumb trail of a holder: its ancestor groups, then
// itself.
func (u *ui) crumbs(ctx context.Context, h *holder, last string) []crumb {
	out := []crumb{{Label: "Groups and projects", URL: uiPrefix + "/"}}
	var ns *meta.Namespace
	if h.Kind == kindGroup {
		ns = h.Group
	} else {
		ns = &h.Project.Namespace
	}
	ids := []int64(ns.TraversalIDs)
	if h.Kind == kindGroup && len(ids) > 0 {
		ids = ids[:len(ids)-1]
	}
	if ns.Kind == "group" {
		for _, id := range ids {
			g, err := u.d.Store.NamespaceByID(ctx, id)
			if err != nil {
				continue
			}
			out = append(out, crumb{Label: g.Name, URL: uiPrefix + "/groups/" + strconv.FormatInt(g.ID, 10)})
		}
	} else {
		out = append(out, crumb{Label: ns.Name})
	}
	out = append(out, crumb{Label: h.Name, URL: h.Base})
	if last != "" {
		out = append(out, crumb{Label: last})
	}
	return out
}

// listRow is a group or project line in a list.
type listRow struct {
	Name, FullName, FullPath, Visibility string
	Role                                 string
	URL, PackagesURL, SettingsURL        string
}

type pager struct {
	Page, Pages, Total int
	PrevURL, NextURL   string
}

func newPager(c *gin.Context, param string, page, perPage, total int) pager {
	pages := (total + perPage - 1) / perPage
	if pages < 1 {
		pages = 1
	}
	p := pager{Page: page, Pages: pages, Total: total}
	link := func(n int) string {
		q := c.Request.URL.Query()
		q.Set(param, strconv.Itoa(n))
		return c.Request.URL.EscapedPath() + "?" + q.Encode() // a project named by its path keeps its %2F
	}
	if page > 1 {
		p.PrevURL = link(page - 1)
	}
	if page < pages {
		p.NextURL = link(page + 1)
	}
	return p
}

func pageParam(c *gin.Context, name string) int {
	n, err := strconv.Atoi(c.Query(name))
	if err != nil || n < 1 || n > 100000 {
		return 1
	}
	return n
}

type dashboardPage struct {
	Groups, Projects         []listRow
	GroupPager, ProjectPager pager
	Admin                    bool
}

const listPerPage = 50

func (u *ui) dashboard(c *gin.Context) {
	s := sessionFrom(c)
	ctx := c.Request.Context()
	gp, pp := pageParam(c, "groups_page"), pageParam(c, "projects_page")
	groups, gtotal, err := u.d.Store.ListGroups(ctx, s.user, 0, listPerPage, (gp-1)*listPerPage)
	if err != nil {
		u.fail(c, err)
		return
	}
	projects, ptotal, err := u.d.Store.ListProjects(ctx, s.user, 0, false, listPerPage, (pp-1)*listPerPage)
	if err != nil {
		u.fail(c, err)
		return
	}
	d := dashboardPage{Admin: s.isAdmin(),
		GroupPager: newPager(c, "groups_page", gp, listPerPage, gtotal), ProjectPager: newPager(c, "projects_page", pp, listPerPage, ptotal)}
	if d.Groups, err = u.groupRows(ctx, s, groups); err != nil {
		u.fail(c, err)
		return
	}
	if d.Projects, err = u.projectRows(ctx, s, projects); err != nil {
		u.fail(c, err)
		return
	}
	v := u.view(s, "Groups and projects")
	v.Main = d
	u.render(c, http.StatusOK, "dashboard", v)
}

func (u *ui) groupRows(ctx context.Context, s *session, groups []meta.Namespace) ([]listRow, error) {
	levels := map[int64]int{}
	if !s.isAdmin() && len(groups) > 0 {
		ids := make([]int64, len(groups))
		for i, g := range groups {
			ids[i] = g.ID
		}
		var err error
		if levels, err = u.d.Store.GroupLevels(ctx, s.user.ID, ids); err != nil {
			return nil, err
		}
	}
	out := make([]listRow, 0, len(groups))
	for _, g := range groups {
		base := uiPrefix + "/groups/" + strconv.FormatInt(g.ID, 10)
		out = append(out, listRow{Name: g.Name, FullName: g.FullName, FullPath: g.FullPath, Visibility: g.Visibility,
			Role: u.roleLabel(s, levels[g.ID]), URL: base, SettingsURL: base + "/settings#deploy-tokens"})
	}
	return out, nil
}

func (u *ui) projectRows(ctx context.Context, s *session, projects []meta.Project) ([]listRow, error) {
	levels := map[int64]int{}
	if !s.isAdmin() && len(projects) > 0 {
		ids := make([]int64, len(projects))
		for i, p := range projects {
			ids[i] = p.ID
		}
		var err error
		if levels, err = u.d.Store.ProjectLevels(ctx, s.user.ID, ids); err != nil {
			return nil, err
		}
	}
	out := make([]listRow, 0, len(projects))
	for i := range projects {
		p := &projects[i]
		base := uiPrefix + "/projects/" + strconv.FormatInt(p.ID, 10)
		out = append(out, listRow{Name: p.Name, FullName: p.FullName(), FullPath: p.FullPath(), Visibility: p.Visibility,
			Role: u.roleLabel(s, levels[p.ID]), URL: base, PackagesURL: base + "/packages", SettingsURL: base + "/settings#deploy-tokens"})
	}
	return out, nil
}

func (u *ui) roleLabel(s *session, level int) string {
	if s.isAdmin() {
		return "Administrator"
	}
	return roleName(level)
}

func (u *ui) projectHome(c *gin.Context) {
	s := sessionFrom(c)
	h := u.resolve(c, s, kindProject)
	if h == nil {
		return
	}
	c.Redirect(http.StatusSeeOther, h.Base+"/packages")
}

// holderHeader is the title block and tabs shared by a holder's pages.
type holderHeader struct {
	H   *holder
	Tab string // packages, overview, settings
}

type packageRow struct {
	Pkg       meta.Package
	Files     []meta.PackageFile
	TotalSize int64
	Commands  []InstallCommand
	Version   string
}

type packagesPage struct {
	holderHeader
	Enabled  bool
	Packages []packageRow
	Pager    pager
	Setups   []clientSetup
	Registry string // the project's package API base
}

const packagesPerPage = 20

func (u *ui) projectPackages(c *gin.Context) {
	s := sessionFrom(c)
	ctx := c.Request.Context()
	h := u.resolve(c, s, kindProject)
	if h == nil {
		return
	}
	d := packagesPage{holderHeader: holderHeader{H: h, Tab: "packages"}, Enabled: h.Project.PackagesEnabled,
		Setups: clientSetups(u.base(), h.ID), Registry: u.base() + "/api/v4/projects/" + strconv.FormatInt(h.ID, 10) + "/packages"}
	if d.Enabled {
		pg := pageParam(c, "page")
		pkgs, total, err := u.d.Store.ListPackages(ctx, meta.PackageFilter{ProjectID: h.ID, OrderBy: "created_at", Desc: true},
			packagesPerPage, (pg-1)*packagesPerPage)
		if err != nil {
			u.fail(c, err)
			return
		}
		d.Pager = newPager(c, "page", pg, packagesPerPage, total)
		ids := make([]int64, len(pkgs))
		for i, p := range pkgs {
			ids[i] = p.ID
		}
		files := map[int64][]meta.PackageFile{}
		if len(ids) > 0 {
			all, err := u.d.Store.AllFiles(ctx, ids)
			if err != nil {
				u.fail(c, err)
				return
			}
			for _, f := range all {
				files[f.PackageID] = append(files[f.PackageID], f)
			}
		}
		for _, p := range pkgs {
			r := packageRow{Pkg: p, Files: files[p.ID], Version: p.VersionString()}
			for _, f := range r.Files {
				r.TotalSize += f.Size
			}
			r.Commands = installCommands(u.base(), h.ID, p, r.Files)
			d.Packages = append(d.Packages, r)
		}
	}
	v := u.view(s, "Packages · "+h.FullName)
	v.Crumbs = u.crumbs(ctx, h, "Packages")
	v.Main = d
	u.render(c, http.StatusOK, "packages", v)
}

type groupPage struct {
	holderHeader
	Subgroups, Projects []listRow
	MoreSubgroups       int
	MoreProjects        int
}

func (u *ui) groupHome(c *gin.Context) {
	s := sessionFrom(c)
	ctx := c.Request.Context()
	h := u.resolve(c, s, kindGroup)
	if h == nil {
		return
	}
	const limit = 100
	subs, stotal, err := u.d.Store.ListGroups(ctx, s.user, h.ID, limit, 0)
	if err != nil {
		u.fail(c, err)
		return
	}
	projects, ptotal, err := u.d.Store.ListProjects(ctx, s.user, h.ID, true, limit, 0)
	if err != nil {
		u.fail(c, err)
		return
	}
	d := groupPage{holderHeader: holderHeader{H: h, Tab: "overview"}, MoreSubgroups: stotal - len(subs), MoreProjects: ptotal - len(projects)}
	if d.Subgroups, err = u.groupRows(ctx, s, subs); err != nil {
		u.fail(c, err)
		return
	}
	if d.Projects, err = u.projectRows(ctx, s, projects); err != nil {
		u.fail(c, err)
		return
	}
	v := u.view(s, h.FullName)
	v.Crumbs = u.crumbs(ctx, h, "")
	v.Main = d
	u.render(c, http.StatusOK, "group", v)
}

// base is the external URL without trailing slash.
func (u *ui) base() string { return trimSlash(u.d.ExternalURL) }

// settingsURL is where a holder's Deploy tokens section lives.
func settingsURL(h *holder, q url.Values) string {
	s := h.Base + "/settings"
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s + "#deploy-tokens"
}
