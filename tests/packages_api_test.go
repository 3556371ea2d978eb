package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestPackagesAPIListGetDelete(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	devID, dev := e.User("dev")
	e.Member("projects", s.ProjectID, devID, 30)
	put := func(name, version, file string) {
		e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/%s/%s/%s", s.ProjectID, name, version, file), "data-"+name+version, DeployHdr(s.WriteToken)))
	}
	put("alpha", "1.0", "a.bin")
	put("alpha", "2.0", "a.bin")
	put("beta", "1.0", "b.bin")
	put("beta", "1.0", "b2.bin")

	base := fmt.Sprintf("/api/v4/projects/%d/packages", s.ProjectID)
	var list []map[string]any
	e.Must(200, e.Do("GET", base+"?package_type=generic&package_name=ALP&order_by=version&sort=desc", nil, PAT(e.Admin))).JSON(t, &list)
	if len(list) != 2 || list[0]["version"] != "2.0" || list[1]["version"] != "1.0" {
		t.Fatalf("filtered list: %v", list)
	}
	links := list[0]["_links"].(map[string]any)
	if !strings.HasPrefix(links["delete_api_path"].(string), e.URL+"/api/v4/projects/") || links["web_path"] == nil {
		t.Errorf("_links: %v", links)
	}
	// Deploy tokens are not credentials on the packages API.
	e.Must(404, e.Do("GET", base, nil, DeployHdr(s.ReadToken)))
	e.Must(401, e.Do("GET", base, nil, Bearer(s.ReadToken)))
	e.Must(404, e.Do("GET", base, nil, nil))
	r := e.Do("GET", base+"?package_type=bogus", nil, PAT(e.Admin))
	e.Must(400, r)
	ErrBody(t, r, "error", "package_type does not have a valid value")
	e.Must(400, e.Do("GET", base+"?order_by=size", nil, PAT(e.Admin)))

	// Developer reads but has no delete link and cannot delete.
	e.Must(200, e.Do("GET", base, nil, PAT(dev))).JSON(t, &list)
	if len(list) != 3 {
		t.Fatalf("dev sees %d packages", len(list))
	}
	if _, ok := list[0]["_links"].(map[string]any)["delete_api_path"]; ok {
		t.Error("developer got delete_api_path")
	}
	var beta map[string]any
	for _, p := range list {
		if p["name"] == "beta" {
			beta = p
		}
	}
	betaID := int64(beta["id"].(float64))
	one := e.Must(200, e.Do("GET", fmt.Sprintf("%s/%d", base, betaID), nil, PAT(dev))).Map(t)
	if _, ok := one["versions"]; !ok {
		t.Error("GET package lacks versions")
	}
	var files []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("%s/%d/package_files", base, betaID), nil, PAT(dev))).JSON(t, &files)
	if len(files) != 2 || len(files[0]["file_sha256"].(string)) != 64 {
		t.Fatalf("files: %v", files)
	}
	e.Must(403, e.Do("DELETE", fmt.Sprintf("%s/%d", base, betaID), nil, PAT(dev)))
	e.Must(403, e.Do("DELETE", fmt.Sprintf("%s/%d/package_files/%v", base, betaID, files[0]["id"]), nil, PAT(dev)))

	// Maintainer (admin) deletes a file, then the package.
	e.Must(204, e.Do("DELETE", fmt.Sprintf("%s/%d/package_files/%v", base, betaID, files[0]["id"]), nil, PAT(e.Admin)))
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/generic/beta/1.0/b.bin", s.ProjectID), nil, DeployHdr(s.ReadToken)))
	e.Must(204, e.Do("DELETE", fmt.Sprintf("%s/%d", base, betaID), nil, PAT(e.Admin)))
	r = e.Do("GET", fmt.Sprintf("%s/%d", base, betaID), nil, PAT(e.Admin))
	e.Must(404, r)
	ErrBody(t, r, "message", "404 Not found")
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/generic/beta/1.0/b2.bin", s.ProjectID), nil, DeployHdr(s.ReadToken)))
	e.Must(400, e.Do("GET", base+"/notanumber", nil, PAT(e.Admin)))
	// A re-upload of a deleted version makes a fresh package.
	put("beta", "1.0", "b.bin")
	e.Must(200, e.Do("GET", base+"?package_name=beta", nil, PAT(e.Admin))).JSON(t, &list)
	if len(list) != 1 || int64(list[0]["id"].(float64)) == betaID {
		t.Errorf("re-upload: %v", list)
	}
	// Group listing covers subgroups.
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/packages", s.GroupID), nil, PAT(e.Admin))).JSON(t, &list)
	if len(list) != 3 || list[0]["project_path"] != "acme/sub/app" {
		t.Errorf("group list: %v", list)
	}
}

func TestPackagesAPIPagination(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	for i := 0; i < 45; i++ {
		e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p%02d/1.0/f", s.ProjectID, i), "x", DeployHdr(s.WriteToken)))
	}
	base := fmt.Sprintf("/api/v4/projects/%d/packages", s.ProjectID)
	r := e.Must(200, e.Do("GET", base+"?per_page=20&package_type=generic", nil, PAT(e.Admin)))
	h := r.Header
	if h.Get("X-Total") != "45" || h.Get("X-Total-Pages") != "3" || h.Get("X-Page") != "1" || h.Get("X-Next-Page") != "2" || h.Get("X-Prev-Page") != "" || h.Get("X-Per-Page") != "20" {
		t.Errorf("headers: %v", h)
	}
	link := h.Get("Link")
	want := fmt.Sprintf(`<%s%s?package_type=generic&page=2&per_page=20>; rel="next"`, e.URL, base)
	if !strings.Contains(link, want) || !strings.Contains(link, `rel="first"`) || !strings.Contains(link, `rel="last"`) {
		t.Errorf("Link = %s", link)
	}
	r = e.Must(200, e.Do("GET", base+"?per_page=20&page=3", nil, PAT(e.Admin)))
	var items []any
	r.JSON(t, &items)
	if len(items) != 5 || r.Header.Get("X-Next-Page") != "" || !strings.Contains(r.Header.Get("Link"), `rel="prev"`) {
		t.Errorf("last page: %d items, headers %v", len(items), r.Header)
	}
	r = e.Must(200, e.Do("GET", base+"?per_page=500", nil, PAT(e.Admin)))
	if r.Header.Get("X-Per-Page") != "100" {
		t.Errorf("per_page not clamped: %s", r.Header.Get("X-Per-Page"))
	}
	e.Must(400, e.Do("GET", base+"?per_page=0", nil, PAT(e.Admin)))
	// Empty list: one page.
	empty := e.Project("empty", s.SubID, "private")
	r = e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages", empty), nil, PAT(e.Admin)))
	if r.Header.Get("X-Total-Pages") != "1" || string(r.Body) != "[]" {
		t.Errorf("empty: %s %v", r.Body, r.Header)
	}
}

func TestIdentityAPI(t *testing.T) {
	e := NewEnv(t)
	me := e.Must(200, e.Do("GET", "/api/v4/user", nil, PAT(e.Admin))).Map(t)
	if me["is_admin"] != true || me["web_url"] != e.URL+"/root" {
		t.Errorf("/user: %v", me)
	}
	e.Must(401, e.Do("GET", "/api/v4/user", nil, nil))
	top := e.Group("acme", 0, "private")
	sub := e.Group("sub", top, "private")
	g := e.Must(200, e.Do("GET", "/api/v4/groups/acme%2Fsub", nil, PAT(e.Admin))).Map(t)
	if int64(g["id"].(float64)) != sub || g["full_path"] != "acme/sub" || g["full_name"] != "Acme / Sub" || g["parent_id"] != float64(top) {
		t.Errorf("group by path: %v", g)
	}
	r := e.Do("POST", "/api/v4/groups", map[string]any{"name": "dup", "path": "sub", "parent_id": top}, PAT(e.Admin))
	e.Must(400, r)
	if !strings.Contains(string(r.Body), "has already been taken") {
		t.Errorf("dup path: %s", r.Body)
	}
	e.Must(400, e.Do("POST", "/api/v4/groups", map[string]any{"name": "pub", "path": "pub", "parent_id": top, "visibility": "public"}, PAT(e.Admin)))
	p := e.Project("app", sub, "private")
	pj := e.Must(200, e.Do("GET", "/api/v4/projects/acme%2Fsub%2Fapp", nil, PAT(e.Admin))).Map(t)
	if int64(pj["id"].(float64)) != p || pj["path_with_namespace"] != "acme/sub/app" || pj["name_with_namespace"] != "Acme / Sub / app" {
		t.Errorf("project by path: %v", pj)
	}
	ns := pj["namespace"].(map[string]any)
	if ns["kind"] != "group" || ns["full_path"] != "acme/sub" {
		t.Errorf("namespace: %v", ns)
	}
	e.Must(404, e.Do("GET", "/api/v4/projects/app", nil, PAT(e.Admin)))
	e.Must(400, e.Do("POST", "/api/v4/projects", map[string]any{"path": "app", "namespace_id": sub}, PAT(e.Admin)))

	uid, tok := e.User("dev")
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", p), nil, PAT(tok)))
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d", top), nil, PAT(tok)))
	r = e.Do("POST", "/api/v4/users", map[string]any{"email": "dev@example.com", "username": "dev2", "name": "x", "password": "longenough1"}, PAT(e.Admin))
	e.Must(409, r)
	ErrBody(t, r, "message", "Email has already been taken")
	r = e.Do("POST", "/api/v4/users", map[string]any{"email": "x@example.com", "username": "DEV", "name": "x", "password": "longenough1"}, PAT(e.Admin))
	e.Must(409, r)
	ErrBody(t, r, "message", "Username has already been taken")
	e.Must(403, e.Do("POST", "/api/v4/users", map[string]any{"email": "y@example.com", "username": "y", "name": "y", "password": "longenough1"}, PAT(tok)))

	// Membership through the group makes project and group visible.
	e.Member("groups", top, uid, 20)
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", p), nil, PAT(tok)))
	e.Must(409, e.Do("POST", fmt.Sprintf("/api/v4/groups/%d/members", top), map[string]any{"user_id": uid, "access_level": 30}, PAT(e.Admin)))
	r = e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/members", p), map[string]any{"user_id": 99999, "access_level": 30}, PAT(e.Admin))
	e.Must(404, r)
	ErrBody(t, r, "message", "404 User Not Found")
	e.Must(400, e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/members", p), map[string]any{"user_id": uid, "access_level": 42}, PAT(e.Admin)))
	// A reporter cannot add members.
	e.Must(403, e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/members", p), map[string]any{"user_id": 1, "access_level": 30}, PAT(tok)))
	m := e.Must(200, e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d/members/%d", top, uid), map[string]any{"access_level": 40}, PAT(e.Admin))).Map(t)
	if m["access_level"] != float64(40) {
		t.Errorf("update member: %v", m)
	}
	var members []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/members", top), nil, PAT(tok))).JSON(t, &members)
	if len(members) != 2 { // root (creator, owner) and dev
		t.Errorf("members: %v", members)
	}
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d/members/%d", top, uid), nil, PAT(e.Admin)))
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", p), nil, PAT(tok)))
	// Unknown routes answer GitLab's catch-all.
	r = e.Do("GET", "/api/v4/nope", nil, nil)
	e.Must(404, r)
	ErrBody(t, r, "error", "404 Not Found")
}

// Who may create a subgroup or a project where: GitLab's defaults,
// Maintainer for a subgroup and Developer for a project, a namespace the
// caller cannot see (or that is not there, or is a person's where a group
// is needed) answering 404 and one they see but may not create in 403.
func TestWhoMayCreateGroupsAndProjects(t *testing.T) {
	e := NewEnv(t)
	acme := e.Group("acme", 0, "private")
	open := e.Group("open", 0, "public")
	tok := map[string]string{}
	for _, m := range []struct {
		name  string
		level int
	}{{"reporter", 20}, {"developer", 30}, {"maintainer", 40}} {
		id, pat := e.User(m.name)
		e.Member("groups", acme, id, m.level)
		tok[m.name] = pat
	}
	_, tok["outsider"] = e.User("outsider")
	r := e.Must(201, e.Do("POST", "/api/v4/users", map[string]any{"email": "nocreate@example.com", "username": "nocreate",
		"name": "nocreate", "password": "s3cret-Passw0rd", "can_create_group": false}, PAT(e.Admin))).Map(t)
	tok["nocreate"] = e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", int64(r["id"].(float64))),
		map[string]any{"name": "t", "scopes": []string{"api"}}, PAT(e.Admin))).Map(t)["token"].(string)
	// The outsider's personal namespace, where their own projects go.
	own := e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": "mine"}, PAT(tok["outsider"]))).Map(t)
	personal := own["namespace"].(map[string]any)["id"]
	if own["path_with_namespace"] != "outsider/mine" {
		t.Fatalf("a project without namespace_id: %v", own)
	}

	n := 0
	for _, tc := range []struct {
		name   string
		who    string
		what   string // "groups" or "projects"
		in     any    // parent_id or namespace_id; nil for none
		status int
		msg    string
	}{
		{"subgroup, outsider", "outsider", "groups", acme, 404, "404 Group Not Found"},
		{"subgroup, reporter", "reporter", "groups", acme, 403, "403 Forbidden"},
		{"subgroup, developer", "developer", "groups", acme, 403, "403 Forbidden"},
		{"subgroup, maintainer", "maintainer", "groups", acme, 201, ""},
		{"subgroup of a public group, outsider", "outsider", "groups", open, 403, "403 Forbidden"},
		{"subgroup of a missing group", "maintainer", "groups", 999999, 404, "404 Group Not Found"},
		{"subgroup of a personal namespace, its owner", "outsider", "groups", personal, 404, "404 Group Not Found"},
		{"top-level group, may create groups", "outsider", "groups", nil, 201, ""},
		{"top-level group, may not create groups", "nocreate", "groups", nil, 403, "403 Forbidden"},
		{"project, outsider", "outsider", "projects", acme, 404, "404 Namespace Not Found"},
		{"project, reporter", "reporter", "projects", acme, 403, "403 Forbidden"},
		{"project, developer", "developer", "projects", acme, 201, ""},
		{"project in a public group, outsider", "outsider", "projects", open, 403, "403 Forbidden"},
		{"project in a missing namespace", "developer", "projects", 999999, 404, "404 Namespace Not Found"},
		{"project in another's personal namespace", "developer", "projects", personal, 404, "404 Namespace Not Found"},
		{"project in one's own namespace, by id", "outsider", "projects", personal, 201, ""},
	} {
		n++
		path := fmt.Sprintf("made-%d", n)
		body := map[string]any{"name": path, "path": path}
		if tc.in != nil {
			key := "parent_id"
			if tc.what == "projects" {
				key = "namespace_id"
			}
			body[key] = tc.in
		}
		r := e.Do("POST", "/api/v4/"+tc.what, body, PAT(tok[tc.who]))
		var m map[string]any
		_ = json.Unmarshal(r.Body, &m)
		if r.Status != tc.status || (tc.msg != "" && m["message"] != tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, r.Status, r.Body, tc.status, tc.msg)
		}
	}
}

// TestPackagesAPIListOrdersAndGroupFilters covers GitLab's list parameters
// beyond the basic filters: package files' order_by (id, created_at,
// file_name) and sort, and the group listing's exclude_subgroups and
// order_by=project_path (python-gitlab declares exclude_subgroups).
func TestPackagesAPIListOrdersAndGroupFilters(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	top := e.Project("top", s.GroupID, "private")
	topTok, _, _ := e.DeployToken("projects", top, "write_package_registry")
	put := func(project int64, tok, name, file string) {
		e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/%s/1.0/%s", project, name, file), "x", DeployHdr(tok)))
	}
	for _, f := range []string{"b.bin", "a.bin", "c.bin"} {
		put(s.ProjectID, s.WriteToken, "files", f)
	}
	put(top, topTok, "toppkg", "t.bin")

	base := fmt.Sprintf("/api/v4/projects/%d/packages", s.ProjectID)
	var pkgs []map[string]any
	e.Must(200, e.Do("GET", base+"?package_name=files", nil, PAT(e.Admin))).JSON(t, &pkgs)
	if len(pkgs) != 1 {
		t.Fatalf("packages: %v", pkgs)
	}
	filesURL := fmt.Sprintf("%s/%v/package_files", base, pkgs[0]["id"])
	names := func(query string) string {
		t.Helper()
		var files []map[string]any
		e.Must(200, e.Do("GET", filesURL+query, nil, PAT(e.Admin))).JSON(t, &files)
		var out []string
		for _, f := range files {
			out = append(out, f["file_name"].(string))
		}
		return strings.Join(out, ",")
	}
	for query, want := range map[string]string{
		"":                                      "b.bin,a.bin,c.bin",
		"?sort=desc":                            "c.bin,a.bin,b.bin",
		"?order_by=id&sort=asc":                 "b.bin,a.bin,c.bin",
		"?order_by=file_name":                   "a.bin,b.bin,c.bin",
		"?order_by=file_name&sort=desc":         "c.bin,b.bin,a.bin",
		"?order_by=created_at&sort=desc":        "c.bin,a.bin,b.bin",
		"?order_by=file_name&per_page=1&page=2": "b.bin",
	} {
		if got := names(query); got != want {
			t.Errorf("package_files%s = %s, want %s", query, got, want)
		}
	}
	r := e.Must(400, e.Do("GET", filesURL+"?order_by=size", nil, PAT(e.Admin)))
	ErrBody(t, r, "error", "order_by does not have a valid value")
	r = e.Must(400, e.Do("GET", filesURL+"?sort=up", nil, PAT(e.Admin)))
	ErrBody(t, r, "error", "sort does not have a valid value")
	// Parameters are validated before the package is looked up.
	e.Must(400, e.Do("GET", base+"/999999/package_files?order_by=size", nil, PAT(e.Admin)))

	group := fmt.Sprintf("/api/v4/groups/%d/packages", s.GroupID)
	paths := func(query string) string {
		t.Helper()
		var list []map[string]any
		e.Must(200, e.Do("GET", group+query, nil, PAT(e.Admin))).JSON(t, &list)
		var out []string
		for _, p := range list {
			out = append(out, p["project_path"].(string)+":"+p["name"].(string))
		}
		return strings.Join(out, ",")
	}
	for query, want := range map[string]string{
		"?order_by=project_path":                 "acme/sub/app:files,acme/top:toppkg",
		"?order_by=project_path&sort=desc":       "acme/top:toppkg,acme/sub/app:files",
		"?exclude_subgroups=true":                "acme/top:toppkg",
		"?exclude_subgroups=false&order_by=name": "acme/sub/app:files,acme/top:toppkg",
	} {
		if got := paths(query); got != want {
			t.Errorf("group packages%s = %s, want %s", query, got, want)
		}
	}
	r = e.Must(400, e.Do("GET", group+"?exclude_subgroups=maybe", nil, PAT(e.Admin)))
	ErrBody(t, r, "error", "exclude_subgroups is invalid")
	// order_by=project_path is the group listing's only.
	e.Must(400, e.Do("GET", base+"?order_by=project_path", nil, PAT(e.Admin)))

	// project_id and project_path belong to the group listing's entity.
	var glist []map[string]any
	e.Must(200, e.Do("GET", group+"?exclude_subgroups=true", nil, PAT(e.Admin))).JSON(t, &glist)
	if len(glist) != 1 || glist[0]["project_id"] != float64(top) {
		t.Errorf("group item lacks project_id: %v", glist)
	}
	one := e.Must(200, e.Do("GET", fmt.Sprintf("%s/%v", base, pkgs[0]["id"]), nil, PAT(e.Admin))).Map(t)
	for _, item := range []map[string]any{pkgs[0], one} {
		for _, k := range []string{"project_id", "project_path"} {
			if _, ok := item[k]; ok {
				t.Errorf("project package entity carries %s: %v", k, item)
			}
		}
	}
}

// TestPackagesAPIDeleteFileCheckOrder: GitLab validates both ids, then the
// role, then looks the package and the file up (gitlabhq
// lib/api/package_files.rb), and a missing file is its not_found!.
func TestPackagesAPIDeleteFileCheckOrder(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	devID, dev := e.User("dev")
	e.Member("projects", s.ProjectID, devID, 30)
	e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f", s.ProjectID), "x", DeployHdr(s.WriteToken)))
	base := fmt.Sprintf("/api/v4/projects/%d/packages", s.ProjectID)
	var list []map[string]any
	e.Must(200, e.Do("GET", base, nil, PAT(e.Admin))).JSON(t, &list)
	pkg := fmt.Sprintf("%s/%v", base, list[0]["id"])

	ErrBody(t, e.Must(400, e.Do("DELETE", base+"/999999/package_files/abc", nil, PAT(e.Admin))), "error", "package_file_id is invalid")
	ErrBody(t, e.Must(403, e.Do("DELETE", base+"/999999/package_files/1", nil, PAT(dev))), "message", "403 Forbidden")
	ErrBody(t, e.Must(404, e.Do("DELETE", base+"/999999/package_files/1", nil, PAT(e.Admin))), "message", "404 Not found")
	ErrBody(t, e.Must(404, e.Do("DELETE", pkg+"/package_files/999999", nil, PAT(e.Admin))), "message", "404 Not Found")
}

// TestPackagesAPIDownloadPackageFile: GitLab 18.4's
// GET /projects/:id/packages/:package_id/package_files/:package_file_id/download
// serves a file by id to whoever reads the project's packages.
func TestPackagesAPIDownloadPackageFile(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	gen := fmt.Sprintf("/api/v4/projects/%d/packages/generic/", s.ProjectID)
	e.Must(201, e.Do("PUT", gen+"tool/1.0/tool.bin", "0123456789", DeployHdr(s.WriteToken)))
	e.Must(201, e.Do("PUT", gen+"tool/1.0/d/e/inner.txt", "inner", DeployHdr(s.WriteToken)))
	base := fmt.Sprintf("/api/v4/projects/%d/packages", s.ProjectID)
	var pkgs, files []map[string]any
	e.Must(200, e.Do("GET", base, nil, PAT(e.Admin))).JSON(t, &pkgs)
	pkg := fmt.Sprintf("%s/%v", base, pkgs[0]["id"])
	e.Must(200, e.Do("GET", pkg+"/package_files", nil, PAT(e.Admin))).JSON(t, &files)
	if len(files) != 2 {
		t.Fatalf("files: %v", files)
	}
	dl := func(i int) string { return fmt.Sprintf("%s/package_files/%v/download", pkg, files[i]["id"]) }

	r := e.Must(200, e.Do("GET", dl(0), nil, PAT(e.Admin)))
	if string(r.Body) != "0123456789" || r.Header.Get("X-Checksum-SHA256") != files[0]["file_sha256"] ||
		!strings.HasPrefix(r.Header.Get("Content-Disposition"), `attachment; filename="tool.bin"`) {
		t.Errorf("download: %q %v", r.Body, r.Header)
	}
	r = e.Must(206, e.Do("GET", dl(0), nil, H{"PRIVATE-TOKEN": e.Admin, "Range": "bytes=2-4"}))
	if string(r.Body) != "234" {
		t.Errorf("range: %q", r.Body)
	}
	r = e.Must(200, e.Do("HEAD", dl(0), nil, PAT(e.Admin)))
	if len(r.Body) != 0 || r.Header.Get("Content-Length") != "10" {
		t.Errorf("HEAD: %q %v", r.Body, r.Header)
	}
	r = e.Must(200, e.Do("GET", dl(1), nil, PAT(e.Admin)))
	if string(r.Body) != "inner" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), `attachment; filename="inner.txt"`) {
		t.Errorf("directory file: %q %v", r.Body, r.Header)
	}
	// Deploy tokens are not credentials on the packages API.
	e.Must(404, e.Do("GET", dl(0), nil, DeployHdr(s.ReadToken)))
	ErrBody(t, e.Must(404, e.Do("GET", pkg+"/package_files/999999/download", nil, PAT(e.Admin))), "message", "404 Not Found")
	ErrBody(t, e.Must(404, e.Do("GET", base+"/999999/package_files/1/download", nil, PAT(e.Admin))), "message", "404 Not found")
	ErrBody(t, e.Must(400, e.Do("GET", pkg+"/package_files/x/download", nil, PAT(e.Admin))), "error", "package_file_id is invalid")
}
