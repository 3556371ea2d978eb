package tests

import (
	"fmt"
	"testing"
	"time"
)

// Memberships and the rules around them (spec 3.2, 3.5, 3.6, 6.5, 6.6):
// an expired membership shows nothing private, a Maintainer cannot
// demote or remove an Owner, a subgroup and a project never share a
// path, and the packages API's smaller rules.
func TestMembershipEdges(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	g := e.Group("grp", 0, "private")
	p := e.Project("app", g, "private")
	e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.0/f.bin", p), "x", admin))
	past := time.Now().UTC().AddDate(0, 0, -3).Format("2006-01-02")

	t.Run("expired group membership shows nothing", func(t *testing.T) {
		xID, x := e.User("expired")
		e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/groups/%d/members", g), map[string]any{"user_id": xID, "access_level": 30, "expires_at": past}, admin))
		e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d", g), nil, PAT(x)))
		e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/packages", g), nil, PAT(x)))
		e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", p), nil, PAT(x)))
		for _, u := range []string{"/api/v4/projects", "/api/v4/groups"} {
			var got []map[string]any
			e.Must(200, e.Do("GET", u, nil, PAT(x))).JSON(t, &got)
			if len(got) != 0 {
				t.Errorf("%s lists %v to an expired member", u, got)
			}
		}
	})
	t.Run("expired project membership shows nothing", func(t *testing.T) {
		g2 := e.Group("grp2", 0, "private")
		p2 := e.Project("app2", g2, "private")
		yID, y := e.User("expired2")
		e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/members", p2), map[string]any{"user_id": yID, "access_level": 30, "expires_at": past}, admin))
		e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d", g2), nil, PAT(y)))
		var got []map[string]any
		e.Must(200, e.Do("GET", "/api/v4/projects", nil, PAT(y))).JSON(t, &got)
		if len(got) != 0 {
			t.Errorf("projects listed to an expired member: %v", got)
		}
	})
	t.Run("a Maintainer cannot demote or remove an Owner", func(t *testing.T) {
		oID, _ := e.User("owner1")
		mID, m := e.User("maint1")
		e.Member("projects", p, oID, 50)
		e.Member("projects", p, mID, 40)
		member := fmt.Sprintf("/api/v4/projects/%d/members/%d", p, oID)
		e.Must(403, e.Do("PUT", member, map[string]any{"access_level": 10}, PAT(m)))
		e.Must(403, e.Do("DELETE", member, nil, PAT(m)))
		// A Maintainer still manages everyone else, and an admin an Owner.
		dID, _ := e.User("dev1")
		e.Member("projects", p, dID, 30)
		e.Must(200, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/members/%d", p, dID), map[string]any{"access_level": 20}, PAT(m)))
		e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/members/%d", p, dID), nil, PAT(m)))
		e.Must(404, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/members/%d", p, dID), nil, PAT(m)))
		e.Must(200, e.Do("PUT", member, map[string]any{"access_level": 40}, admin))
	})
	t.Run("a member is named by user_id or by username, not both", func(t *testing.T) {
		bID, _ := e.User("both")
		ErrBody(t, e.Must(400, e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/members", p), map[string]any{"user_id": bID, "username": "both", "access_level": 30}, admin)),
			"error", "user_id, username are mutually exclusive")
		e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/members", p), map[string]any{"username": "both", "access_level": 30}, admin))
	})
	t.Run("a subgroup and a project never share a path", func(t *testing.T) {
		r := e.Must(400, e.Do("POST", "/api/v4/groups", map[string]any{"name": "App", "path": "APP", "parent_id": g}, admin))
		if m := r.Map(t)["message"]; fmt.Sprint(m) != "map[path:[has already been taken]]" {
			t.Errorf("message: %v", m)
		}
		e.Group("sub", g, "private")
		e.Must(400, e.Do("POST", "/api/v4/projects", map[string]any{"name": "sub", "path": "sub", "namespace_id": g}, admin))
	})
	t.Run("packages API", func(t *testing.T) {
		var pkgs []map[string]any
		e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages", p), nil, admin)).JSON(t, &pkgs)
		pkg := fmt.Sprintf("/api/v4/projects/%d/packages/%v", p, pkgs[0]["id"])
		ErrBody(t, e.Must(400, e.Do("DELETE", pkg+"/package_files/abc", nil, admin)), "error", "package_file_id is invalid")
		// A package in error status: its files are listed, its details refused.
		if _, err := e.Store.DB().Exec(`UPDATE packages SET status = 'error' WHERE id = $1`, pkgs[0]["id"]); err != nil {
			t.Fatal(err)
		}
		var files []map[string]any
		e.Must(200, e.Do("GET", pkg+"/package_files", nil, admin)).JSON(t, &files)
		if len(files) != 1 {
			t.Errorf("files of a failed package: %v", files)
		}
		ErrBody(t, e.Must(404, e.Do("GET", pkg, nil, admin)), "message", "Package not found")
	})
	t.Run("group projects without and with subgroups", func(t *testing.T) {
		top := e.Group("tree", 0, "public")
		e.Project("direct", top, "public")
		sub := e.Group("deeper", top, "public")
		e.Project("nested", sub, "public")
		for _, c := range []struct {
			query string
			want  int
		}{{"", 1}, {"?include_subgroups=false", 1}, {"?include_subgroups=true", 2}} {
			var got []map[string]any
			e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/projects%s", top, c.query), nil, admin)).JSON(t, &got)
			if len(got) != c.want {
				t.Errorf("projects%s: %d, want %d", c.query, len(got), c.want)
			}
		}
		e.Must(400, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/projects?include_subgroups=maybe", top), nil, admin))
	})
	t.Run("users search pages", func(t *testing.T) {
		e.User("findme")
		r := e.Must(200, e.Do("GET", "/api/v4/users?username=findme&per_page=5", nil, admin))
		if r.Header.Get("X-Per-Page") != "5" || r.Header.Get("X-Total") != "1" {
			t.Errorf("headers: %v", r.Header)
		}
		var got []map[string]any
		e.Must(200, e.Do("GET", "/api/v4/users?username=findme&page=2", nil, admin)).JSON(t, &got)
		if len(got) != 0 {
			t.Errorf("page 2: %v", got)
		}
	})
}
