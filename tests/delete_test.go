package tests

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/storage/janitor"
)

// auditNames lists "event_name entity_path by author" of the instance's
// audit events whose name ends in suffix, oldest first.
func auditNames(e *Env, suffix string) []string {
	var got []string
	for _, ev := range auditList(e, "/api/v4/audit_events", e.Admin) {
		if name := fmt.Sprint(ev["event_name"]); strings.HasSuffix(name, suffix) {
			got = append(got, fmt.Sprint(name, " ", ev["entity_path"], " by ", ev["author_name"]))
		}
	}
	slices.Reverse(got)
	return got
}

// TestDeleteProject: DELETE /projects/:id takes an Owner, answers 202 as
// GitLab does, and takes the project's packages, tokens and members with
// it at once: nothing of it downloads afterwards, whoever asks, and gc
// frees its blobs.
func TestDeleteProject(t *testing.T) {
	e := NewEnv(t)
	g := e.Group("acme", 0, "private")
	p := e.Project("app", g, "private")
	ownerID, owner := e.User("olga")
	e.Member("groups", g, ownerID, 50)
	maintID, maint := e.User("mia")
	e.Member("projects", p, maintID, 40)
	_, outsider := e.User("otto")
	url := fmt.Sprintf("/api/v4/projects/%d", p)
	file := url + "/packages/generic/tool/1.0/t.bin"
	e.Must(201, e.Do("PUT", file, "bytes of the deleted project", PAT(e.Admin)))
	npmToken, _, _ := e.DeployToken("projects", p, "read_package_registry", "write_package_registry")
	e.Must(200, e.npmPublish(p, npmToken, "@acme/lib", "1.0.0")) // an npm package has a generation counter
	projectToken, _, _ := e.DeployToken("projects", p, "read_package_registry")
	groupToken, _, _ := e.DeployToken("groups", g, "read_package_registry")
	// Both tokens and the project's settings are cached now.
	e.Must(200, e.Do("GET", file, nil, DeployHdr(projectToken)))
	e.Must(200, e.Do("GET", file, nil, DeployHdr(groupToken)))

	readOnly := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", ownerID),
		map[string]any{"name": "ro", "scopes": []string{"read_api"}}, PAT(e.Admin))).Map(t)["token"].(string)
	for _, c := range []struct {
		name   string
		h      H
		status int
	}{
		{"anonymous", nil, 401},
		{"the owner with a read_api token", PAT(readOnly), 403},
		{"outsider", PAT(outsider), 404},
		{"maintainer", PAT(maint), 403},
		{"deploy token", DeployHdr(projectToken), 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.Must(c.status, e.Do("DELETE", url, nil, c.h))
		})
	}
	e.Must(200, e.Do("GET", file, nil, DeployHdr(projectToken))) // nothing refused above deleted anything

	r := e.Must(202, e.Do("DELETE", url, nil, PAT(owner)))
	if m := r.Map(t); m["message"] != "202 Accepted" {
		t.Errorf("answer %s", r.Body)
	}
	ErrBody(t, e.Must(404, e.Do("GET", url, nil, PAT(e.Admin))), "message", "404 Project Not Found")
	e.Must(404, e.Do("DELETE", url, nil, PAT(e.Admin)))
	e.Must(404, e.Do("GET", file, nil, PAT(e.Admin)))
	e.Must(404, e.Do("GET", file, nil, DeployHdr(groupToken)))
	e.Must(401, e.Do("GET", file, nil, DeployHdr(projectToken))) // the token went with its project
	var projects []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/projects", g), nil, PAT(e.Admin))).JSON(t, &projects)
	if len(projects) != 0 {
		t.Errorf("group still lists %v", projects)
	}
	var memberships, generations int
	if err := e.Store.DB().Get(&memberships, `SELECT count(*) FROM project_members WHERE user_id = $1`, maintID); err != nil || memberships != 0 {
		t.Errorf("%d memberships left (%v)", memberships, err)
	}
	if err := e.Store.DB().Get(&generations, `SELECT count(*) FROM package_generations WHERE project_id = $1`, p); err != nil || generations != 0 {
		t.Errorf("%d generation counters left (%v)", generations, err)
	}

	// The path is free again, and the new project starts empty.
	p2 := e.Project("app", g, "private")
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.0/t.bin", p2), nil, PAT(e.Admin)))

	if got, want := auditNames(e, "_destroyed"), []string{"project_destroyed acme/app by olga"}; !slices.Equal(got, want) {
		t.Errorf("audit events %q, want %q", got, want)
	}

	// Its blobs are nobody's now: gc frees them once the grace period is over.
	rep, err := janitor.Run(context.Background(), e.Store, e.Server.Blobs, janitor.Options{Grace: time.Hour,
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if err != nil || rep.BlobRows != 2 || rep.Bytes <= int64(len("bytes of the deleted project")) { // the file and the npm tarball
		t.Errorf("gc: %+v %v", rep, err)
	}
	assertNoOrphanObjects(t, e)
}

// TestDeleteGroup: DELETE /groups/:id takes an Owner of the group and
// removes its subgroups and every project in them, with their tokens;
// the parent and its other children stay.
func TestDeleteGroup(t *testing.T) {
	e := NewEnv(t)
	g := e.Group("acme", 0, "private")
	sub := e.Group("sub", g, "private")
	deep := e.Group("deep", sub, "private")
	other := e.Group("other", g, "private")
	inSub := e.Project("lib", sub, "private")
	inDeep := e.Project("core", deep, "private")
	kept := e.Project("kept", other, "private")
	subOwnerID, subOwner := e.User("olga")
	e.Member("groups", sub, subOwnerID, 50)
	maintID, maint := e.User("mia")
	e.Member("groups", g, maintID, 40)
	fileOf := func(p int64) string { return fmt.Sprintf("/api/v4/projects/%d/packages/generic/x/1.0/x.bin", p) }
	for _, p := range []int64{inSub, inDeep, kept} {
		e.Must(201, e.Do("PUT", fileOf(p), fmt.Sprint("file of ", p), PAT(e.Admin)))
	}
	subToken, _, _ := e.DeployToken("groups", sub, "read_package_registry")
	deepToken, _, _ := e.DeployToken("groups", deep, "read_package_registry")
	topToken, _, _ := e.DeployToken("groups", g, "read_package_registry")
	e.Must(200, e.Do("GET", fileOf(inDeep), nil, DeployHdr(subToken)))
	e.Must(200, e.Do("GET", fileOf(inDeep), nil, DeployHdr(deepToken)))

	groupURL := func(id int64) string { return fmt.Sprintf("/api/v4/groups/%d", id) }
	e.Must(403, e.Do("DELETE", groupURL(sub), nil, PAT(maint)))  // Maintainer above it
	e.Must(403, e.Do("DELETE", groupURL(g), nil, PAT(subOwner))) // Owner below it
	e.Must(401, e.Do("DELETE", groupURL(sub), nil, nil))         // anonymous
	e.Must(404, e.Do("DELETE", groupURL(1<<40), nil, PAT(e.Admin)))
	var personal int64 // a user's namespace is no group
	if err := e.Store.DB().Get(&personal, `SELECT id FROM namespaces WHERE owner_id = $1 AND kind = 'user'`, subOwnerID); err != nil {
		t.Fatal(err)
	}
	e.Must(404, e.Do("DELETE", groupURL(personal), nil, PAT(e.Admin)))

	e.Must(202, e.Do("DELETE", groupURL(sub), nil, PAT(subOwner)))
	for _, id := range []int64{sub, deep} {
		e.Must(404, e.Do("GET", groupURL(id), nil, PAT(e.Admin)))
	}
	for _, p := range []int64{inSub, inDeep} {
		e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", p), nil, PAT(e.Admin)))
		e.Must(404, e.Do("GET", fileOf(p), nil, DeployHdr(topToken)))
	}
	e.Must(401, e.Do("GET", fileOf(inDeep), nil, DeployHdr(subToken)))
	e.Must(401, e.Do("GET", fileOf(inDeep), nil, DeployHdr(deepToken)))
	e.Must(200, e.Do("GET", fileOf(kept), nil, DeployHdr(topToken)))
	var subgroups []map[string]any
	e.Must(200, e.Do("GET", groupURL(g)+"/subgroups", nil, PAT(e.Admin))).JSON(t, &subgroups)
	if len(subgroups) != 1 || subgroups[0]["path"] != "other" {
		t.Errorf("subgroups left: %v", subgroups)
	}
	// Her ownership went with the group; the group's path is free again.
	var memberships int
	if err := e.Store.DB().Get(&memberships, `SELECT count(*) FROM group_members WHERE user_id = $1`, subOwnerID); err != nil || memberships != 0 {
		t.Errorf("%d memberships left (%v)", memberships, err)
	}
	e.Group("sub", g, "private")

	got := auditNames(e, "_destroyed")
	want := []string{"project_destroyed acme/sub/lib by olga", "project_destroyed acme/sub/deep/core by olga",
		"group_destroyed acme/sub/deep by olga", "group_destroyed acme/sub by olga"}
	if !slices.Equal(got, want) {
		t.Errorf("audit events %q, want %q", got, want)
	}
}

// TestDeleteRace: a group deleted while projects and subgroups are
// created in it and files uploaded to it: each request either happens
// before the deletion (and goes with it) or fails cleanly after it,
// never with a 500, and nothing is left that names the group.
func TestDeleteRace(t *testing.T) {
	e := NewEnv(t)
	for i := range 8 {
		g := e.Group(fmt.Sprintf("race%d", i), 0, "private")
		sub := e.Group("sub", g, "private")
		p := e.Project("p", sub, "private")
		var wg sync.WaitGroup
		statuses := make([]int, 4)
		for j, req := range []func() *Resp{
			func() *Resp { return e.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d", g), nil, PAT(e.Admin)) },
			func() *Resp {
				return e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/x/1.0/x.bin", p), "x", PAT(e.Admin))
			},
			func() *Resp {
				return e.Do("POST", "/api/v4/projects", map[string]any{"path": "new", "namespace_id": sub}, PAT(e.Admin))
			},
			func() *Resp {
				return e.Do("POST", "/api/v4/groups", map[string]any{"path": "deeper", "name": "deeper", "parent_id": sub}, PAT(e.Admin))
			},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[j] = req().Status
			}()
		}
		wg.Wait()
		if statuses[0] != 202 {
			t.Fatalf("round %d: delete %d (others %v)", i, statuses[0], statuses[1:])
		}
		for j, s := range statuses[1:] {
			if s != 201 && s != 404 {
				t.Errorf("round %d: request %d answered %d", i, j+1, s)
			}
		}
		var left int
		if err := e.Store.DB().Get(&left, `SELECT (SELECT count(*) FROM namespaces WHERE $1 = ANY(traversal_ids))
			+ (SELECT count(*) FROM projects p JOIN namespaces n ON n.id = p.namespace_id WHERE $1 = ANY(n.traversal_ids))`, g); err != nil || left != 0 {
			t.Fatalf("round %d: %d rows left in the deleted group (%v)", i, left, err)
		}
	}
}

// TestDeleteOnTwoNodes: a project deleted through one node is gone on
// the other at once, though that node had the project and its token
// cached.
func TestDeleteOnTwoNodes(t *testing.T) {
	a := NewEnv(t)
	b := a.SecondNode()
	g := a.Group("gone", 0, "private")
	p := a.Project("lib", g, "private")
	file := fmt.Sprintf("/api/v4/projects/%d/packages/generic/lib/1.0/l.bin", p)
	a.Must(201, a.Do("PUT", file, "lib", PAT(a.Admin)))
	tok, _, _ := a.DeployToken("groups", g, "read_package_registry")
	b.Must(200, b.Do("GET", file, nil, DeployHdr(tok)))
	a.Must(202, a.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d", g), nil, PAT(a.Admin)))
	// Within 2 s: below the caches' 5 s.
	eventually(t, 2*time.Second, "node b still serves the deleted group's package", func() bool {
		return b.Do("GET", file, nil, DeployHdr(tok)).Status == 401
	})
}

// TestDeleteForgetsAtOnce: the node that deletes a project forgets the
// project's deploy tokens itself, without waiting for the notifications
// it also sends: with its listeners cut off (as when their connection
// drops), a token deleted with its project is refused as no token at
// all, not treated as a live token whose project is missing.
func TestDeleteForgetsAtOnce(t *testing.T) {
	e := NewEnv(t)
	g := e.Group("acme", 0, "private")
	p := e.Project("app", g, "private")
	file := fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.0/t.bin", p)
	e.Must(201, e.Do("PUT", file, "bytes", PAT(e.Admin)))
	tok, _, _ := e.DeployToken("groups", g, "read_package_registry")
	own, _, _ := e.DeployToken("projects", p, "read_package_registry")
	// A listener reconnects half a second after it last connected (lib/pq)
	// and then drops every cache. So: cut the listeners once, wait for
	// them to come back, fill the caches, and cut them again at once; the
	// deletion and the downloads then fall into that half second.
	listeners := func() (pids []int) {
		if err := e.Store.DB().Select(&pids, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND query ILIKE 'listen %' AND state = 'idle' ORDER BY pid`); err != nil {
			t.Fatal(err)
		}
		return pids
	}
	cut := func(pids []int) {
		if len(pids) != 2 {
			t.Fatalf("listeners %v, want 2", pids)
		}
		if _, err := e.Store.DB().Exec(`SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid`, pq.Array(pids)); err != nil {
			t.Fatal(err)
		}
	}
	old := listeners()
	cut(old)
	var fresh []int
	eventually(t, 5*time.Second, "the listeners did not come back", func() bool {
		fresh = slices.DeleteFunc(listeners(), func(pid int) bool { return slices.Contains(old, pid) })
		return len(fresh) == 2
	})
	time.Sleep(100 * time.Millisecond)                  // for their "drop everything" to have run
	e.Must(200, e.Do("GET", file, nil, DeployHdr(tok))) // tokens, project and file lookup cached
	e.Must(200, e.Do("GET", file, nil, DeployHdr(own)))
	cut(fresh)
	e.Must(202, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d", p), nil, PAT(e.Admin)))
	e.Must(404, e.Do("GET", file, nil, DeployHdr(tok)))
	e.Must(401, e.Do("GET", file, nil, DeployHdr(own)))
}

// TestDeleteUser: DELETE /users/:id (admins) removes a user with their
// personal projects, memberships and tokens at once; a last Owner of a
// group is refused with GitLab's 409 unless hard_delete, which takes
// those groups too, and never a group another active Owner holds, on it
// or above it.
func TestDeleteUser(t *testing.T) {
	e := NewEnv(t)
	aliceID, alice := e.User("alice")
	bobID, bob := e.User("bob")
	mkGroup := func(who, path string, parent int64) int64 {
		body := map[string]any{"name": path, "path": path}
		if parent > 0 {
			body["parent_id"] = parent
		}
		return int64(e.Must(201, e.Do("POST", "/api/v4/groups", body, PAT(who))).Map(t)["id"].(float64))
	}
	solo := mkGroup(alice, "solo", 0)          // alice its only Owner
	shared := mkGroup(bob, "shared", 0)        // bob's
	e.Member("groups", shared, aliceID, 50)    // a second Owner of bob's
	inShared := mkGroup(alice, "mine", shared) // and alice's, below it
	soloProject := e.Project("lib", solo, "private")
	keptProject := e.Project("app", shared, "private")
	e.Member("projects", keptProject, aliceID, 40)
	personal := int64(e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": "tool"}, PAT(alice))).Map(t)["id"].(float64))
	fileOf := func(p int64) string { return fmt.Sprintf("/api/v4/projects/%d/packages/generic/x/1.0/x.bin", p) }
	for _, p := range []int64{soloProject, keptProject, personal} {
		e.Must(201, e.Do("PUT", fileOf(p), "x", PAT(alice)))
	}
	// A deploy token she made belongs to its project, and outlives her.
	made := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", keptProject),
		map[string]any{"name": "ci", "scopes": []string{"read_package_registry"}}, PAT(alice))).Map(t)["token"].(string)
	url := fmt.Sprintf("/api/v4/users/%d", aliceID)

	e.Must(401, e.Do("DELETE", url, nil, nil))
	e.Must(403, e.Do("DELETE", url, nil, PAT(bob)))
	ErrBody(t, e.Must(404, e.Do("DELETE", "/api/v4/users/999999", nil, PAT(e.Admin))), "message", "404 User Not Found")
	e.Must(400, e.Do("DELETE", url+"?hard_delete=perhaps", nil, PAT(e.Admin)))
	ErrBody(t, e.Must(409, e.Do("DELETE", url, nil, PAT(e.Admin))), "message", "User cannot be removed while is the sole-owner of a group")
	e.Must(200, e.Do("GET", "/api/v4/user", nil, PAT(alice))) // refused: nothing went

	e.Must(204, e.Do("DELETE", url+"?hard_delete=true", nil, PAT(e.Admin)))
	e.Must(401, e.Do("GET", "/api/v4/user", nil, PAT(alice)))
	e.Must(404, e.Do("GET", url, nil, PAT(e.Admin)))
	e.Must(404, e.Do("DELETE", url, nil, PAT(e.Admin)))
	for _, c := range []struct {
		path   string
		status int
	}{
		{fmt.Sprintf("/api/v4/groups/%d", solo), 404},
		{fileOf(soloProject), 404},
		{fileOf(personal), 404},
		{fmt.Sprintf("/api/v4/groups/%d", shared), 200},
		{fmt.Sprintf("/api/v4/groups/%d", inShared), 200}, // bob owns it from above
		{fileOf(keptProject), 200},
	} {
		e.Must(c.status, e.Do("GET", c.path, nil, PAT(e.Admin)))
	}
	e.Must(200, e.Do("GET", fileOf(keptProject), nil, DeployHdr(made)))
	var left int
	if err := e.Store.DB().Get(&left, `SELECT (SELECT count(*) FROM group_members WHERE user_id = $1) + (SELECT count(*) FROM project_members WHERE user_id = $1)
		+ (SELECT count(*) FROM namespaces WHERE owner_id = $1)`, aliceID); err != nil || left != 0 {
		t.Errorf("%d memberships or namespaces of hers left (%v)", left, err)
	}
	got := auditNames(e, "_destroyed")
	want := []string{"project_destroyed solo/lib by root", "project_destroyed alice/tool by root", "group_destroyed solo by root", "user_destroyed alice by root"}
	if !slices.Equal(got, want) {
		t.Errorf("audit events %q, want %q", got, want)
	}
	e.User("alice") // the name is free again

	// A blocked Owner counts, as when an Owner leaves a group
	// (changeMember): carol goes, the group stays with bob.
	carolID, carol := e.User("carol")
	co := mkGroup(carol, "co", 0)
	e.Member("groups", co, bobID, 50)
	e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/block", bobID), nil, PAT(e.Admin)))
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/users/%d", carolID), nil, PAT(e.Admin)))
	e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/unblock", bobID), nil, PAT(e.Admin)))
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d", co), nil, PAT(bob)))
	e.Must(401, e.Do("GET", "/api/v4/user", nil, PAT(carol)))
}

// TestDeleteUserRace: a user deleted while they create a project in
// their own namespace and an admin adds them to a project: the deletion
// always goes through, and the others either come first (and go with
// it) or fail cleanly.
func TestDeleteUserRace(t *testing.T) {
	e := NewEnv(t)
	g := e.Group("acme", 0, "private")
	p := e.Project("app", g, "private")
	for i := range 8 {
		id, pat := e.User(fmt.Sprintf("u%d", i))
		statuses := make([]int, 3)
		var wg sync.WaitGroup
		for j, req := range []func() *Resp{
			func() *Resp { return e.Do("DELETE", fmt.Sprintf("/api/v4/users/%d", id), nil, PAT(e.Admin)) },
			func() *Resp { return e.Do("POST", "/api/v4/projects", map[string]any{"path": "mine"}, PAT(pat)) },
			func() *Resp {
				return e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/members", p), map[string]any{"user_id": id, "access_level": 30}, PAT(e.Admin))
			},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[j] = req().Status
			}()
		}
		wg.Wait()
		if statuses[0] != 204 {
			t.Fatalf("round %d: delete %d (others %v)", i, statuses[0], statuses[1:])
		}
		if s := statuses[1]; s != 201 && s != 401 && s != 404 {
			t.Errorf("round %d: project creation answered %d", i, s)
		}
		if s := statuses[2]; s != 201 && s != 404 {
			t.Errorf("round %d: membership answered %d", i, s)
		}
	}
}

// TestDeleteUserOwnerRace: of a group's two Owners, one is deleted while
// the other leaves the group, over and over at the same moment: one of
// the two may succeed, never both, and the group always keeps an Owner.
func TestDeleteUserOwnerRace(t *testing.T) {
	e := NewEnv(t)
	for i := range 10 {
		aID, a := e.User(fmt.Sprintf("a%d", i))
		bID, b := e.User(fmt.Sprintf("b%d", i))
		g := int64(e.Must(201, e.Do("POST", "/api/v4/groups", map[string]any{"name": fmt.Sprint("g", i), "path": fmt.Sprint("g", i)}, PAT(a))).Map(t)["id"].(float64))
		e.Member("groups", g, bID, 50)
		var wg sync.WaitGroup
		var deleted, left int
		wg.Add(2)
		go func() {
			defer wg.Done()
			deleted = e.Do("DELETE", fmt.Sprintf("/api/v4/users/%d", aID), nil, PAT(e.Admin)).Status
		}()
		go func() {
			defer wg.Done()
			left = e.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d/members/%d", g, bID), nil, PAT(b)).Status
		}()
		wg.Wait()
		var owners int
		if err := e.Store.DB().Get(&owners, `SELECT count(*) FROM group_members WHERE namespace_id = $1 AND access_level = 50`, g); err != nil {
			t.Fatal(err)
		}
		if owners == 0 || (deleted == 204 && left == 204) {
			t.Fatalf("round %d: user deletion %d, leaving %d: %d Owners left", i, deleted, left, owners)
		}
	}
}

// TestDeleteManyTokensOnTwoNodes: a group deleted with more deploy tokens
// than a deletion names one by one: the other node, which had every one
// of them cached, drops them all on the one notification that says so.
func TestDeleteManyTokensOnTwoNodes(t *testing.T) {
	// Sixty refused tokens from one address would meet the limit on
	// failed authentications (429) before the check below is done.
	a := NewEnv(t, func(c *gateway.Config) { c.AuthFailPerMinute = 0 })
	b := a.SecondNode()
	g := a.Group("many", 0, "private")
	p := a.Project("lib", g, "private")
	file := fmt.Sprintf("/api/v4/projects/%d/packages/generic/lib/1.0/l.bin", p)
	a.Must(201, a.Do("PUT", file, "lib", PAT(a.Admin)))
	var toks []string
	for range 60 { // past the 50 named one by one
		tok, _, _ := a.DeployToken("projects", p, "read_package_registry")
		b.Must(200, b.Do("GET", file, nil, DeployHdr(tok)))
		toks = append(toks, tok)
	}
	a.Must(202, a.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d", g), nil, PAT(a.Admin)))
	eventually(t, 2*time.Second, "node b still takes the deleted tokens", func() bool {
		for _, tok := range toks {
			if b.Do("GET", file, nil, DeployHdr(tok)).Status != 401 {
				return false
			}
		}
		return true
	})
}

// TestDeleteEditRace: a group deleted while a project and a subgroup in
// it change visibility: the two take their row locks in opposite orders,
// and when Postgres breaks the deadlock the loser runs again; nobody is
// answered 500.
func TestDeleteEditRace(t *testing.T) {
	e := NewEnv(t)
	for i := range 15 {
		g := e.Group(fmt.Sprintf("g%d", i), 0, "public")
		sub := e.Group("sub", g, "public")
		p := e.Project("p", g, "public")
		statuses := make([]int, 3)
		var wg sync.WaitGroup
		for j, req := range []func() *Resp{
			func() *Resp { return e.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d", g), nil, PAT(e.Admin)) },
			func() *Resp {
				return e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d", p), map[string]any{"visibility": "internal"}, PAT(e.Admin))
			},
			func() *Resp {
				return e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d", sub), map[string]any{"visibility": "internal"}, PAT(e.Admin))
			},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[j] = req().Status
			}()
		}
		wg.Wait()
		if statuses[0] != 202 || (statuses[1] != 200 && statuses[1] != 404) || (statuses[2] != 200 && statuses[2] != 404) {
			t.Fatalf("round %d: delete %d, project edit %d, subgroup edit %d", i, statuses[0], statuses[1], statuses[2])
		}
	}
}

// TestDeleteUserOwnerAddedRace: a group's only Owner deleted with
// hard_delete while a second Owner is added: either the addition comes
// first and the group stays with its new Owner, or the group goes and
// the addition finds it gone; never an Owner added to a group that is
// then deleted for having none.
func TestDeleteUserOwnerAddedRace(t *testing.T) {
	e := NewEnv(t)
	bID, _ := e.User("b")
	for i := range 10 {
		aID, a := e.User(fmt.Sprintf("a%d", i))
		g := int64(e.Must(201, e.Do("POST", "/api/v4/groups", map[string]any{"name": fmt.Sprint("g", i), "path": fmt.Sprint("g", i)}, PAT(a))).Map(t)["id"].(float64))
		var wg sync.WaitGroup
		var deleted, added int
		wg.Add(2)
		go func() {
			defer wg.Done()
			deleted = e.Do("DELETE", fmt.Sprintf("/api/v4/users/%d?hard_delete=true", aID), nil, PAT(e.Admin)).Status
		}()
		go func() {
			defer wg.Done()
			added = e.Do("POST", fmt.Sprintf("/api/v4/groups/%d/members", g), map[string]any{"user_id": bID, "access_level": 50}, PAT(e.Admin)).Status
		}()
		wg.Wait()
		exists := e.Do("GET", fmt.Sprintf("/api/v4/groups/%d", g), nil, PAT(e.Admin)).Status == 200
		if deleted != 204 || (added == 201) != exists || (added != 201 && added != 404) {
			t.Fatalf("round %d: deletion %d, addition %d, group still there: %v", i, deleted, added, exists)
		}
	}
}
