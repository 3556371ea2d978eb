package tests

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEditProject: PUT /projects/:id changes name, description,
// visibility and packages_enabled, with GitLab's roles (Maintainer for
// an edit, Owner for a name or a visibility), the group's visibility as a
// ceiling, path and namespace left alone, and the change in force on the
// package routes at once.
func TestEditProject(t *testing.T) {
	e := NewEnv(t)
	g := e.Group("acme", 0, "public")
	sub := e.Group("sub", g, "internal")
	p := e.Project("app", sub, "private")
	ownerID, owner := e.User("olga")
	e.Member("groups", sub, ownerID, 50)
	maintID, maint := e.User("mia")
	e.Member("projects", p, maintID, 40)
	devID, dev := e.User("dan")
	e.Member("projects", p, devID, 30)
	_, outsider := e.User("otto")
	url := fmt.Sprintf("/api/v4/projects/%d", p)
	file := url + "/packages/generic/tool/1.0/t.bin"
	e.Must(201, e.Do("PUT", file, "bin", PAT(e.Admin)))
	read, _, _ := e.DeployToken("projects", p, "read_package_registry")
	e.Must(200, e.Do("GET", file, nil, DeployHdr(read))) // the project's settings are cached now

	for _, c := range []struct {
		name   string
		who    string
		body   map[string]any
		status int
		key    string // of the error body, when a string
		msg    string
	}{
		{"nothing to change", owner, map[string]any{"default_branch": "main"}, 400, "error",
			"name, description, visibility, packages_enabled are missing, at least one parameter must be provided"},
		{"developer", dev, map[string]any{"description": "x"}, 403, "message", "403 Forbidden"},
		{"outsider", outsider, map[string]any{"description": "x"}, 404, "message", "404 Project Not Found"},
		{"maintainer renames", maint, map[string]any{"name": "X"}, 403, "message", "403 Forbidden"},
		{"maintainer changes visibility", maint, map[string]any{"visibility": "internal"}, 403, "message", "403 Forbidden"},
		{"above the group", owner, map[string]any{"visibility": "public"}, 400, "", "visibility_level"},
		{"unknown visibility", owner, map[string]any{"visibility": "secret"}, 400, "error", "visibility does not have a valid value"},
		{"blank name", owner, map[string]any{"name": " "}, 400, "", "name"},
		{"another path", owner, map[string]any{"path": "moved", "description": "x"}, 400, "", "path"},
		{"another namespace", e.Admin, map[string]any{"namespace": g, "description": "x"}, 400, "", "namespace"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do("PUT", url, c.body, PAT(c.who))
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if !strings.Contains(string(r.Body), c.msg) {
				t.Errorf("body %s, want %s", r.Body, c.msg)
			}
			if c.key != "" {
				ErrBody(t, r, c.key, "")
			}
		})
	}
	// Nothing refused above changed anything.
	if m := e.Must(200, e.Do("GET", url, nil, PAT(e.Admin))).Map(t); m["name"] != "app" || m["visibility"] != "private" || m["description"] != "" {
		t.Fatalf("after refused edits: %v", m)
	}

	// A Maintainer turns packages off: the package routes answer 403 at once.
	m := e.Must(200, e.Do("PUT", url, map[string]any{"packages_enabled": false, "description": "tools", "path": "app"}, PAT(maint))).Map(t)
	if m["packages_enabled"] != false || m["description"] != "tools" {
		t.Fatalf("edited: %v", m)
	}
	e.Must(403, e.Do("GET", file, nil, DeployHdr(read)))
	e.Must(200, e.Do("PUT", url, map[string]any{"packages_enabled": true}, PAT(maint)))
	e.Must(200, e.Do("GET", file, nil, DeployHdr(read)))

	// The Owner renames it and opens it to signed-in users.
	e.Must(404, e.Do("GET", url, nil, PAT(outsider)))
	m = e.Must(200, e.Do("PUT", url, map[string]any{"name": "App Two", "visibility": "internal"}, PAT(owner))).Map(t)
	if m["name"] != "App Two" || m["name_with_namespace"] != "Acme / Sub / App Two" || m["path_with_namespace"] != "acme/sub/app" || m["visibility"] != "internal" {
		t.Fatalf("renamed: %v", m)
	}
	e.Must(200, e.Do("GET", url, nil, PAT(outsider)))
	e.Must(200, e.Do("GET", file, nil, PAT(outsider)))
	e.Must(401, e.Do("GET", file, nil, nil))

	// Audited on the project, as GitLab EE's ProjectChangesAuditor does.
	var got []string
	for _, ev := range auditList(e, url+"/audit_events", e.Admin) {
		d, _ := ev["details"].(map[string]any)
		if strings.HasSuffix(fmt.Sprint(ev["event_name"]), "_updated") {
			got = append(got, fmt.Sprint(ev["event_name"], ": ", d["change"], " ", d["from"], " -> ", d["to"], " (", d["custom_message"], ") by ", ev["author_name"]))
		}
	}
	want := []string{
		"project_visibility_level_updated: visibility_level Private -> Internal (Changed visibility_level from Private to Internal) by olga",
		"project_name_updated: name Acme / Sub / app -> Acme / Sub / App Two (Changed name from Acme / Sub / app to Acme / Sub / App Two) by olga",
		"project_packages_enabled_updated: packages_enabled false -> true (Changed packages_enabled from false to true) by mia",
		"project_packages_enabled_updated: packages_enabled true -> false (Changed packages_enabled from true to false) by mia",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestEditGroup: PUT /groups/:id changes name, description and
// visibility; only an Owner may; a group is never more visible than its
// parent nor less than what is in it; a new name reaches the full names
// below it.
func TestEditGroup(t *testing.T) {
	e := NewEnv(t)
	g := e.Group("acme", 0, "public")
	sub := e.Group("sub", g, "internal")
	deep := e.Group("deep", sub, "private")
	p := e.Project("app", sub, "internal")
	maintID, maint := e.User("mia")
	e.Member("groups", sub, maintID, 40)
	ownerID, owner := e.User("olga")
	e.Member("groups", sub, ownerID, 50)
	url := func(id int64) string { return fmt.Sprintf("/api/v4/groups/%d", id) }
	// Nor is anything made more visible than the group it goes into.
	r := e.Must(400, e.Do("POST", "/api/v4/groups", map[string]any{"name": "Loud", "path": "loud", "parent_id": sub, "visibility": "public"}, PAT(e.Admin)))
	if !strings.Contains(string(r.Body), `"visibility_level":["must not be more permissive than the parent group's visibility"]`) {
		t.Errorf("public subgroup of an internal group: %s", r.Body)
	}
	r = e.Must(400, e.Do("POST", "/api/v4/projects", map[string]any{"path": "loud", "namespace_id": sub, "visibility": "public"}, PAT(e.Admin)))
	if !strings.Contains(string(r.Body), `"visibility_level":["must not be more permissive than the group's visibility"]`) {
		t.Errorf("public project in an internal group: %s", r.Body)
	}
	for _, c := range []struct {
		name   string
		id     int64
		who    string
		body   map[string]any
		status int
		msg    string
	}{
		{"maintainer", sub, maint, map[string]any{"description": "x"}, 403, "403 Forbidden"},
		{"owner of the subgroup, on its parent", g, owner, map[string]any{"description": "x"}, 403, "403 Forbidden"},
		{"below a project", sub, owner, map[string]any{"visibility": "private"}, 400,
			"private is not allowed since this group contains projects with higher visibility."},
		{"below a subgroup", g, e.Admin, map[string]any{"visibility": "private"}, 400,
			"private is not allowed since there are sub-groups with higher visibility."},
		{"above the parent", deep, e.Admin, map[string]any{"visibility": "public"}, 400,
			"public is not allowed since the parent group has a internal visibility."},
		{"another path", sub, owner, map[string]any{"path": "moved"}, 400, "path"},
		{"nothing to change", sub, owner, map[string]any{}, 400, "at least one parameter must be provided"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do("PUT", url(c.id), c.body, PAT(c.who))
			if r.Status != c.status || !strings.Contains(string(r.Body), c.msg) {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, c.status, c.msg)
			}
		})
	}
	m := e.Must(200, e.Do("PUT", url(sub), map[string]any{"name": "Subteam", "visibility": "public", "description": "d"}, PAT(owner))).Map(t)
	if m["name"] != "Subteam" || m["full_name"] != "Acme / Subteam" || m["visibility"] != "public" || m["description"] != "d" {
		t.Fatalf("edited: %v", m)
	}
	if m := e.Must(200, e.Do("GET", url(deep), nil, PAT(e.Admin))).Map(t); m["full_name"] != "Acme / Subteam / Deep" {
		t.Errorf("subgroup's full name %v", m["full_name"])
	}
	if m := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", p), nil, PAT(e.Admin))).Map(t); m["name_with_namespace"] != "Acme / Subteam / app" {
		t.Errorf("project's full name %v", m["name_with_namespace"])
	}
	var got []string
	for _, ev := range auditList(e, url(sub)+"/audit_events", e.Admin) {
		d, _ := ev["details"].(map[string]any)
		if strings.HasSuffix(fmt.Sprint(ev["event_name"]), "_updated") {
			got = append(got, fmt.Sprint(ev["event_name"], ": ", d["change"], " ", d["from"], " -> ", d["to"]))
		}
	}
	want := "group_visibility_level_updated: visibility Internal -> Public\ngroup_name_updated: name Sub -> Subteam"
	if g := strings.Join(got, "\n"); g != want && g != "group_name_updated: name Sub -> Subteam\ngroup_visibility_level_updated: visibility Internal -> Public" {
		t.Errorf("audit events:\n%s\nwant\n%s", g, want)
	}
}

// TestEditVisibilityRace: a group made private while a project in it is
// made public, over and over at the same moment: one of the two may
// win, never both (the row locks of meta/edit.go).
func TestEditVisibilityRace(t *testing.T) {
	e := NewEnv(t)
	for i := range 15 {
		g := e.Group(fmt.Sprintf("g%d", i), 0, "public")
		p := e.Project("p", g, "internal")
		var wg sync.WaitGroup
		var gs, ps int
		wg.Add(2)
		go func() {
			defer wg.Done()
			gs = e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d", g), map[string]any{"visibility": "internal"}, PAT(e.Admin)).Status
		}()
		go func() {
			defer wg.Done()
			ps = e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d", p), map[string]any{"visibility": "public"}, PAT(e.Admin)).Status
		}()
		wg.Wait()
		gv := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d", g), nil, PAT(e.Admin))).Map(t)["visibility"]
		pv := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", p), nil, PAT(e.Admin))).Map(t)["visibility"]
		if gv == "internal" && pv == "public" {
			t.Fatalf("round %d: a public project in an internal group (group %d, project %d)", i, gs, ps)
		}
		if (gs == 200) == (ps == 200) {
			t.Fatalf("round %d: group %d, project %d: exactly one should win", i, gs, ps)
		}
	}
}

// TestEditOnTwoNodes: a project opened to anonymous readers through one
// node is open on the other at once, although that node had its
// settings cached (they are dropped on a notification, not after their
// 5 s).
func TestEditOnTwoNodes(t *testing.T) {
	a := NewEnv(t)
	b := a.SecondNode()
	g := a.Group("open", 0, "public")
	p := a.Project("lib", g, "private")
	file := fmt.Sprintf("/api/v4/projects/%d/packages/generic/lib/1.0/l.bin", p)
	a.Must(201, a.Do("PUT", file, "lib", PAT(a.Admin)))
	b.Must(401, b.Do("GET", file, nil, nil)) // node b caches the project as private
	a.Must(200, a.Do("PUT", fmt.Sprintf("/api/v4/projects/%d", p), map[string]any{"visibility": "public"}, PAT(a.Admin)))
	// Within 2 s: below the cache's 5 s.
	eventually(t, 2*time.Second, "node b still serves the project as private", func() bool {
		return b.Do("GET", file, nil, nil).Status == 200
	})
}
