package tests

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/storage/meta"
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

	t.Run("expired group membership shows nothing", func(t *testing.T) {
		xID, x := e.User("expired")
		e.Member("groups", g, xID, 30)
		expire(t, e, "groups", g, xID)
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
		e.Member("projects", p2, yID, 30)
		expire(t, e, "projects", p2, yID)
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

// expire moves a membership's expiry three days into the past, the way
// time does to one added with a date then in the future: the API itself
// refuses a past date.
func expire(t *testing.T, e *Env, kind string, id, user int64) {
	t.Helper()
	table, key := "group_members", "namespace_id"
	if kind == "projects" {
		table, key = "project_members", "project_id"
	}
	res, err := e.Store.DB().Exec(`UPDATE `+table+` SET expires_at = current_date - 3 WHERE `+key+` = $1 AND user_id = $2`, id, user)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("expire %s %d user %d: %d rows", kind, id, user, n)
	}
}

// wantStatus is Env.Must for a subtest: it fails t, not the test that
// made the Env.
func wantStatus(t *testing.T, r *Resp, status int) bool {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d: %s", r.Status, status, r.Body)
		return false
	}
	return true
}

// A membership cannot be given an expiry before today (UTC), on add or on
// update, for groups and projects alike: GitLab's Member model validates
// expires_at with FutureDateValidator and the API renders the failure as
// 400 {"message":{"expires_at":["cannot be a date in the past"]}}
// (gitlabhq app/models/member.rb, app/validators/future_date_validator.rb,
// lib/api/helpers/members_helpers.rb). Today itself is accepted.
func TestMemberExpiresInThePast(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	g := e.Group("dated", 0, "private")
	p := e.Project("app", g, "private")
	day := func(n int) string { return time.Now().UTC().AddDate(0, 0, n).Format("2006-01-02") }
	const pastMsg = "map[expires_at:[cannot be a date in the past]]"
	users := 0
	newUser := func() int64 {
		users++
		id, _ := e.User(fmt.Sprintf("dated%d", users))
		return id
	}
	for _, src := range []struct {
		kind string
		id   int64
	}{{"groups", g}, {"projects", p}} {
		members := fmt.Sprintf("/api/v4/%s/%d/members", src.kind, src.id)
		for _, c := range []struct {
			name string
			days int
			ok   bool
		}{
			{"yesterday", -1, false},
			{"a year ago", -365, false},
			{"today", 0, true},
			{"tomorrow", 1, true},
		} {
			t.Run(src.kind+"/add/"+c.name, func(t *testing.T) {
				uid := newUser()
				r := e.Do("POST", members, map[string]any{"user_id": uid, "access_level": 30, "expires_at": day(c.days)}, admin)
				if c.ok {
					if wantStatus(t, r, 201) && r.Map(t)["expires_at"] != day(c.days) {
						t.Errorf("expires_at: %s", r.Body)
					}
					return
				}
				if wantStatus(t, r, 400) {
					if m := r.Map(t)["message"]; fmt.Sprint(m) != pastMsg {
						t.Errorf("message: %s", r.Body)
					}
				}
				wantStatus(t, e.Do("GET", fmt.Sprintf("%s/%d", members, uid), nil, admin), 404)
			})
			t.Run(src.kind+"/update/"+c.name, func(t *testing.T) {
				uid := newUser()
				e.Member(src.kind, src.id, uid, 30)
				member := fmt.Sprintf("%s/%d", members, uid)
				r := e.Do("PUT", member, map[string]any{"access_level": 20, "expires_at": day(c.days)}, admin)
				if c.ok {
					if wantStatus(t, r, 200) && r.Map(t)["expires_at"] != day(c.days) {
						t.Errorf("expires_at: %s", r.Body)
					}
					return
				}
				if wantStatus(t, r, 400) {
					if m := r.Map(t)["message"]; fmt.Sprint(m) != pastMsg {
						t.Errorf("message: %s", r.Body)
					}
				}
				if m := e.Must(200, e.Do("GET", member, nil, admin)).Map(t); m["access_level"] != float64(30) || m["expires_at"] != nil {
					t.Errorf("a refused update changed the member: %v", m)
				}
			})
		}
		t.Run(src.kind+"/an existing member is a conflict first", func(t *testing.T) {
			uid := newUser()
			e.Member(src.kind, src.id, uid, 30)
			r := e.Do("POST", members, map[string]any{"user_id": uid, "access_level": 30, "expires_at": day(-1)}, admin)
			if wantStatus(t, r, 409) {
				ErrBody(t, r, "message", "Member already exists")
			}
		})
		// An expired membership is gone once GitLab's daily job has run
		// (see TestMemberListsHide): an update, with a new expiry or
		// without, finds no member, and changes nothing.
		t.Run(src.kind+"/an expired member", func(t *testing.T) {
			uid := newUser()
			e.Member(src.kind, src.id, uid, 30)
			expire(t, e, src.kind, src.id, uid)
			member := fmt.Sprintf("%s/%d", members, uid)
			for _, body := range []map[string]any{{"access_level": 40}, {"access_level": 40, "expires_at": day(7)}, {"access_level": 40, "expires_at": ""}} {
				if r := e.Do("PUT", member, body, admin); wantStatus(t, r, 404) {
					ErrBody(t, r, "message", "404 Not found")
				}
			}
			wantStatus(t, e.Do("GET", member, nil, admin), 404)
		})
	}
}

// A group always keeps an Owner: GitLab's GroupMemberPolicy prevents
// update_group_member and destroy_group_member on the last one, admins
// included, and the API answers 403 {"message":"403 Forbidden"} (gitlabhq
// app/policies/group_member_policy.rb, app/models/members/group_member.rb
// last_owner_of_the_group?, app/models/group.rb
// member_owners_excluding_project_bots). A subgroup's Owners include
// those of its ancestors, the same user's among them. Projects have no
// such rule.
func TestMemberLastOwner(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	adminID := int64(e.Must(200, e.Do("GET", "/api/v4/user", nil, admin)).Map(t)["id"].(float64))
	member := func(kind string, id, user int64) string {
		return fmt.Sprintf("/api/v4/%s/%d/members/%d", kind, id, user)
	}
	// soleOwner makes a group (under parent, 0 for none) whose one direct
	// Owner is a new user instead of the admin who created it.
	soleOwner := func(path string, parent int64) (int64, int64, string) {
		t.Helper()
		g := e.Group(path, parent, "private")
		oID, o := e.User(path + "-owner")
		e.Member("groups", g, oID, 50)
		e.Must(204, e.Do("DELETE", member("groups", g, adminID), nil, admin))
		return g, oID, o
	}
	forbidden := func(t *testing.T, r *Resp) {
		t.Helper()
		if wantStatus(t, r, 403) {
			ErrBody(t, r, "message", "403 Forbidden")
		}
	}
	stillOwner := func(t *testing.T, g, user int64) {
		t.Helper()
		r := e.Do("GET", member("groups", g, user), nil, admin)
		if wantStatus(t, r, 200) && r.Map(t)["access_level"] != float64(50) {
			t.Errorf("owner changed: %s", r.Body)
		}
	}

	g, oID, o := soleOwner("solo", 0)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	for _, c := range []struct {
		name, method string
		body         map[string]any
		who          H
	}{
		{"the owner leaves", "DELETE", nil, PAT(o)},
		{"the owner steps down", "PUT", map[string]any{"access_level": 40}, PAT(o)},
		{"an admin removes the owner", "DELETE", nil, admin},
		{"an admin demotes the owner", "PUT", map[string]any{"access_level": 10}, admin},
		{"an update that keeps Owner", "PUT", map[string]any{"access_level": 50, "expires_at": tomorrow}, admin},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != nil {
				body = c.body
			}
			forbidden(t, e.Do(c.method, member("groups", g, oID), body, c.who))
			stillOwner(t, g, oID)
		})
	}
	t.Run("other members stay free to go", func(t *testing.T) {
		dID, _ := e.User("solo-dev")
		e.Member("groups", g, dID, 30)
		wantStatus(t, e.Do("PUT", member("groups", g, dID), map[string]any{"access_level": 40}, PAT(o)), 200)
		wantStatus(t, e.Do("DELETE", member("groups", g, dID), nil, PAT(o)), 204)
	})
	t.Run("a second Owner frees the first", func(t *testing.T) {
		g, oID, o := soleOwner("pair", 0)
		pID, pTok := e.User("pair-second")
		e.Member("groups", g, pID, 50)
		wantStatus(t, e.Do("PUT", member("groups", g, oID), map[string]any{"access_level": 40}, PAT(pTok)), 200)
		forbidden(t, e.Do("DELETE", member("groups", g, pID), nil, PAT(pTok)))
		wantStatus(t, e.Do("PUT", member("groups", g, oID), map[string]any{"access_level": 50}, PAT(pTok)), 200)
		wantStatus(t, e.Do("DELETE", member("groups", g, pID), nil, PAT(o)), 204)
		forbidden(t, e.Do("DELETE", member("groups", g, oID), nil, PAT(o)))
	})
	t.Run("an ancestor's Owner counts for a subgroup", func(t *testing.T) {
		root, _, o := soleOwner("tree", 0)
		sub, sID, _ := soleOwner("branch", root)
		wantStatus(t, e.Do("DELETE", member("groups", sub, sID), nil, PAT(o)), 204)
	})
	t.Run("the same user's Owner membership above counts", func(t *testing.T) {
		root, rID, r := soleOwner("oak", 0)
		sub := e.Group("twig", root, "private")
		e.Member("groups", sub, rID, 50)
		e.Must(204, e.Do("DELETE", member("groups", sub, adminID), nil, admin))
		wantStatus(t, e.Do("DELETE", member("groups", sub, rID), nil, PAT(r)), 204)
		forbidden(t, e.Do("DELETE", member("groups", root, rID), nil, PAT(r)))
	})
	t.Run("a project's last Owner may go", func(t *testing.T) {
		p := e.Project("solo-app", g, "private")
		pID, pTok := e.User("app-owner")
		e.Member("projects", p, pID, 50)
		wantStatus(t, e.Do("PUT", member("projects", p, pID), map[string]any{"access_level": 40}, admin), 200)
		wantStatus(t, e.Do("PUT", member("projects", p, pID), map[string]any{"access_level": 50}, admin), 200)
		wantStatus(t, e.Do("DELETE", member("projects", p, pID), nil, PAT(pTok)), 204)
	})
}

// An expired Owner counts for the last-owner rule where GitLab would
// still have it: GitLab's last_owner_of_the_group? counts every Owner
// row, expired or not (gitlabhq app/models/members/group_member.rb,
// app/models/group.rb member_owners_excluding_project_bots), and its
// RemoveExpiredMembersWorker, ten minutes after memberships expire,
// deletes each expired one except a group's last Owner
// (app/workers/remove_expired_members_worker.rb,
// app/services/members/destroy_service.rb
// process_destroy_of_group_owner_member). So an expired Owner beside one
// in force is gone in GitLab and does not count here either, while an
// expired Owner with none in force beside or above them stays and counts,
// for their group and for its subgroups.
func TestMemberExpiredOwners(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	adminID := int64(e.Must(200, e.Do("GET", "/api/v4/user", nil, admin)).Map(t)["id"].(float64))
	member := func(id, user int64) string { return fmt.Sprintf("/api/v4/groups/%d/members/%d", id, user) }
	// owned makes a group (under parent, 0 for none) whose Owners are new
	// users, the admin who made it removed; those named in expired have
	// an expiry three days past.
	n := 0
	owned := func(parent int64, names []string, expired ...string) (int64, map[string]int64, map[string]string) {
		t.Helper()
		n++
		g := e.Group(fmt.Sprintf("g%d", n), parent, "private")
		ids, toks := map[string]int64{}, map[string]string{}
		for _, name := range names {
			ids[name], toks[name] = e.User(fmt.Sprintf("%s%d", name, n))
			e.Member("groups", g, ids[name], 50)
		}
		e.Must(204, e.Do("DELETE", member(g, adminID), nil, admin))
		for _, name := range expired {
			expire(t, e, "groups", g, ids[name])
		}
		return g, ids, toks
	}
	type step struct {
		method string
		group  int
		user   string
		self   bool
		status int
	}
	for _, c := range []struct {
		name string
		// Each level is a group under the one before: its Owners, and
		// which of them have expired.
		levels [][2][]string
		steps  []step
	}{
		{"an expired Owner beside one in force does not count", [][2][]string{{{"live", "gone"}, {"gone"}}},
			[]step{{"DELETE", 0, "live", true, 403}, {"PUT", 0, "live", false, 403}, {"DELETE", 0, "gone", false, 404}, {"PUT", 0, "gone", false, 404}, {"DELETE", 0, "live", false, 403}}},
		// An expired Owner no longer sees the group: 404 to them.
		{"an expired last Owner stays", [][2][]string{{{"gone"}, {"gone"}}},
			[]step{{"DELETE", 0, "gone", false, 403}, {"PUT", 0, "gone", false, 403}, {"DELETE", 0, "gone", true, 404}}},
		{"an expired last Owner above counts for a subgroup", [][2][]string{{{"gone"}, {"gone"}}, {{"sub"}, nil}},
			[]step{{"DELETE", 1, "sub", true, 204}, {"DELETE", 0, "gone", false, 403}}},
		{"an expired last Owner above counts for a subgroup's admin removal", [][2][]string{{{"gone"}, {"gone"}}, {{"sub", "sub2"}, nil}},
			[]step{{"DELETE", 1, "sub", false, 204}, {"DELETE", 1, "sub2", false, 204}}},
		{"an expired Owner above does not count beside one in force", [][2][]string{{{"live", "gone"}, {"gone"}}, {{"sub"}, nil}},
			[]step{{"DELETE", 0, "live", false, 403}, {"DELETE", 1, "sub", false, 204}}},
		// Several expired Owners with none in force: GitLab keeps one of
		// them; here each counts for the others until one is left.
		{"expired Owners with none in force", [][2][]string{{{"old", "older"}, {"old", "older"}}},
			[]step{{"DELETE", 0, "old", false, 204}, {"DELETE", 0, "older", false, 403}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var groups []int64
			var ids []map[string]int64
			var toks []map[string]string
			parent := int64(0)
			for _, l := range c.levels {
				g, i, tk := owned(parent, l[0], l[1]...)
				groups, ids, toks = append(groups, g), append(ids, i), append(toks, tk)
				parent = g
			}
			for _, s := range c.steps {
				who := admin
				if s.self {
					who = PAT(toks[s.group][s.user])
				}
				var body any
				if s.method == "PUT" {
					body = map[string]any{"access_level": 50}
				}
				r := e.Do(s.method, member(groups[s.group], ids[s.group][s.user]), body, who)
				if !wantStatus(t, r, s.status) {
					t.Logf("step %s level %d %s", s.method, s.group, s.user)
				}
			}
		})
	}
	// Removing a group's Owner removes their memberships below it too; an
	// expired last Owner above lets it, for the group and its subgroup.
	t.Run("an expired last Owner above frees a removal with its subgroups", func(t *testing.T) {
		top, _, _ := owned(0, []string{"gone"}, "gone")
		uID, _ := e.User("cascade")
		mid := e.Group("mid", top, "private")
		low := e.Group("low", mid, "private")
		e.Member("groups", mid, uID, 50)
		e.Member("groups", low, uID, 50)
		e.Must(204, e.Do("DELETE", member(low, adminID), nil, admin))
		e.Must(204, e.Do("DELETE", member(mid, adminID), nil, admin))
		wantStatus(t, e.Do("DELETE", member(mid, uID), nil, admin), 204)
		for _, g := range []int64{mid, low} {
			wantStatus(t, e.Do("GET", member(g, uID), nil, admin), 404)
		}
	})
}

// sessionTimeZone sets the TimeZone of the gateway's Postgres sessions
// (lib/pq passes a DSN setting it does not know as a run-time parameter).
func sessionTimeZone(tz string) EnvOption {
	return func(c *gateway.Config) {
		if strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://") {
			u, err := url.Parse(c.DatabaseURL)
			if err != nil {
				panic(err)
			}
			q := u.Query()
			q.Set("timezone", tz)
			u.RawQuery = q.Encode()
			c.DatabaseURL = u.String()
			return
		}
		c.DatabaseURL += " timezone='" + tz + "'"
	}
}

// A membership ends at the start of its expiry date, UTC, as GitLab's
// Member.not_expired (`expires_at > Date.current`) and Expirable
// (`expires_at <= Time.current`) have it (gitlabhq app/models/member.rb,
// app/models/concerns/expirable.rb): one expiring today grants nothing
// today, one expiring tomorrow still does. The day is UTC's whatever the
// TimeZone of the database sessions: at any hour one of UTC-12 and UTC+14
// has another date than UTC.
func TestMemberExpiryDay(t *testing.T) {
	day := func(n int) string { return time.Now().UTC().AddDate(0, 0, n).Format("2006-01-02") }
	for _, zone := range []struct{ name, tz string }{{"UTC", "UTC"}, {"UTC-12", "Etc/GMT+12"}, {"UTC+14", "Etc/GMT-14"}} {
		tz := zone.tz
		t.Run(zone.name, func(t *testing.T) {
			e := NewEnv(t, sessionTimeZone(tz))
			var got string
			if err := e.Store.DB().Get(&got, `SHOW TimeZone`); err != nil || got != tz {
				t.Fatalf("session TimeZone %q (%v), want %q", got, err, tz)
			}
			admin := PAT(e.Admin)
			g := e.Group("dated", 0, "private")
			p := e.Project("app", g, "private")
			n := 0
			for _, kind := range []string{"groups", "projects"} {
				for _, c := range []struct {
					name    string
					days    int
					inForce bool
				}{{"expires today", 0, false}, {"expires tomorrow", 1, true}} {
					t.Run(kind+"/"+c.name, func(t *testing.T) {
						n++
						uid, tok := e.User(fmt.Sprintf("dated%d", n))
						src := p
						if kind == "groups" {
							src = g
						}
						r := e.Do("POST", fmt.Sprintf("/api/v4/%s/%d/members", kind, src), map[string]any{"user_id": uid, "access_level": 30, "expires_at": day(c.days)}, admin)
						if !wantStatus(t, r, 201) {
							return
						}
						if exp := r.Map(t)["expires_at"]; exp != day(c.days) {
							t.Errorf("expires_at %v, want %s", exp, day(c.days))
						}
						want := 404
						if c.inForce {
							want = 200
						}
						wantStatus(t, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", p), nil, PAT(tok)), want)
						if kind == "groups" {
							wantStatus(t, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d", g), nil, PAT(tok)), want)
						}
						var list []map[string]any
						e.Must(200, e.Do("GET", "/api/v4/projects", nil, PAT(tok))).JSON(t, &list)
						if (len(list) == 1) != c.inForce {
							t.Errorf("projects listed: %v", list)
						}
					})
				}
			}
		})
	}
}

// orderFixture is what the tests of the order of member checks share: a
// private group and project, a public group and project, a user who is a
// Developer member of all four, and a Developer of the private group.
type orderFixture struct {
	admin           H
	dev             string // the private group's Developer's token
	g, p, pub, pubP int64
	memberID        int64
}

func newOrderFixture(e *Env) orderFixture {
	f := orderFixture{admin: PAT(e.Admin)}
	f.g = e.Group("closed", 0, "private")
	f.p = e.Project("app", f.g, "private")
	f.pub = e.Group("open", 0, "public")
	f.pubP = e.Project("lib", f.pub, "public")
	f.memberID, _ = e.User("member")
	for _, src := range []struct {
		kind string
		id   int64
	}{{"groups", f.g}, {"projects", f.p}, {"groups", f.pub}, {"projects", f.pubP}} {
		e.Member(src.kind, src.id, f.memberID, 30)
	}
	devID, dev := e.User("dev")
	e.Member("groups", f.g, devID, 30)
	f.dev = dev
	return f
}

// PUT and DELETE .../members/:user_id find the group or project first,
// then the member, and only then ask whether the caller may change it, as
// GitLab's API does (gitlabhq lib/api/members.rb: find_source, then
// find_by!, then authorize! or Members::DestroyService): a caller who sees
// the group or project learns that a user is no member (404 Not found, the
// record-lookup miss of spec 0.1) before being refused (403); one who
// cannot see it gets the group's or project's 404 whatever the user, and
// so learns nothing. Parameter errors come before all of it.
func TestMemberLookupOrder(t *testing.T) {
	e := NewEnv(t)
	f := newOrderFixture(e)
	admin, g, p, pub, pubP, memberID, dev := f.admin, f.g, f.p, f.pub, f.pubP, f.memberID, f.dev
	_, outsider := e.User("outsider")
	const nobody = 999999

	for _, c := range []struct {
		name     string
		kind     string
		id       int64
		user     int64
		who      H
		status   int
		key, msg string
	}{
		{"hidden group, a member", "groups", g, memberID, PAT(outsider), 404, "message", "404 Group Not Found"},
		{"hidden group, no member", "groups", g, nobody, PAT(outsider), 404, "message", "404 Group Not Found"},
		{"hidden project, a member", "projects", p, memberID, PAT(outsider), 404, "message", "404 Project Not Found"},
		{"hidden project, no member", "projects", p, nobody, PAT(outsider), 404, "message", "404 Project Not Found"},
		{"seen group, no member", "groups", g, nobody, PAT(dev), 404, "message", "404 Not found"},
		{"seen group, a member", "groups", g, memberID, PAT(dev), 403, "message", "403 Forbidden"},
		{"seen project, no member", "projects", p, nobody, PAT(dev), 404, "message", "404 Not found"},
		{"seen project, a member", "projects", p, memberID, PAT(dev), 403, "message", "403 Forbidden"},
		{"public group, no member", "groups", pub, nobody, PAT(outsider), 404, "message", "404 Not found"},
		{"public group, a member", "groups", pub, memberID, PAT(outsider), 403, "message", "403 Forbidden"},
		{"public project, no member", "projects", pubP, nobody, PAT(outsider), 404, "message", "404 Not found"},
		{"public project, a member", "projects", pubP, memberID, PAT(outsider), 403, "message", "403 Forbidden"},
		{"admin, no member", "projects", p, nobody, admin, 404, "message", "404 Not found"},
	} {
		for _, method := range []string{"PUT", "DELETE"} {
			t.Run(method+"/"+c.name, func(t *testing.T) {
				var body any
				if method == "PUT" {
					body = map[string]any{"access_level": 20}
				}
				r := e.Do(method, fmt.Sprintf("/api/v4/%s/%d/members/%d", c.kind, c.id, c.user), body, c.who)
				if wantStatus(t, r, c.status) {
					ErrBody(t, r, c.key, c.msg)
				}
			})
		}
	}
	t.Run("GET, no member", func(t *testing.T) {
		r := e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/members/%d", g, nobody), nil, PAT(dev))
		if wantStatus(t, r, 404) {
			ErrBody(t, r, "message", "404 Not found")
		}
	})
	// Grape's checks of the parameters come first of all.
	t.Run("PUT without access_level", func(t *testing.T) {
		r := e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d/members/%d", g, nobody), map[string]any{}, PAT(outsider))
		if wantStatus(t, r, 400) {
			ErrBody(t, r, "error", "access_level is missing")
		}
	})
	t.Run("PUT with a user_id that is no integer", func(t *testing.T) {
		r := e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d/members/abc", g), map[string]any{"access_level": 20}, PAT(outsider))
		if wantStatus(t, r, 400) {
			ErrBody(t, r, "error", "user_id is invalid")
		}
	})
	// The model validates the level only once the caller may change it.
	t.Run("PUT with no such level, by a Developer", func(t *testing.T) {
		r := e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d/members/%d", g, memberID), map[string]any{"access_level": 35}, PAT(dev))
		if wantStatus(t, r, 403) {
			ErrBody(t, r, "message", "403 Forbidden")
		}
	})
	// Nothing above changed anything.
	for _, src := range []struct {
		kind string
		id   int64
	}{{"groups", g}, {"projects", p}, {"groups", pub}, {"projects", pubP}} {
		m := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/%s/%d/members/%d", src.kind, src.id, memberID), nil, admin)).Map(t)
		if m["access_level"] != float64(30) {
			t.Errorf("%s %d: member changed: %v", src.kind, src.id, m)
		}
	}
}

// POST .../members looks the user up and checks for an existing
// membership before it asks whether the caller may add members, as
// GitLab's API does (gitlabhq lib/api/members.rb post ":id/members",
// lib/api/helpers/members_helpers.rb add_single_member and
// check_existing_membership, app/services/members/create_service.rb): a
// caller who sees the group or project learns that a user does not exist
// (404 User Not Found) or is already a member (409 Member already exists)
// before being refused (403), and the model validates the level and the
// expiry only after that (400, both fields at once). One who cannot see
// the group or project gets its 404 whatever the user. Grape's parameter
// checks come first of all.
func TestMemberAddOrder(t *testing.T) {
	e := NewEnv(t)
	f := newOrderFixture(e)
	admin, g, p, pub, pubP, memberID, dev := f.admin, f.g, f.p, f.pub, f.pubP, f.memberID, f.dev
	maintID, maint := e.User("maint")
	e.Member("projects", p, maintID, 40)
	_, outsider := e.User("outsider")
	newID, _ := e.User("newcomer")
	const nobody = 999999
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")

	for _, c := range []struct {
		name     string
		kind     string
		id       int64
		body     map[string]any
		who      H
		status   int
		key, msg string
	}{
		{"hidden group, no user", "groups", g, map[string]any{"user_id": nobody, "access_level": 30}, PAT(outsider), 404, "message", "404 Group Not Found"},
		{"hidden group, a member", "groups", g, map[string]any{"user_id": memberID, "access_level": 30}, PAT(outsider), 404, "message", "404 Group Not Found"},
		{"hidden group, no such username", "groups", g, map[string]any{"username": "ghost", "access_level": 30}, PAT(outsider), 404, "message", "404 Group Not Found"},
		{"hidden project, no user", "projects", p, map[string]any{"user_id": nobody, "access_level": 30}, PAT(outsider), 404, "message", "404 Project Not Found"},
		{"hidden project, a member", "projects", p, map[string]any{"user_id": memberID, "access_level": 30}, PAT(outsider), 404, "message", "404 Project Not Found"},
		{"seen group, no user", "groups", g, map[string]any{"user_id": nobody, "access_level": 30}, PAT(dev), 404, "message", "404 User Not Found"},
		{"seen group, no such username", "groups", g, map[string]any{"username": "ghost", "access_level": 30}, PAT(dev), 404, "message", "404 User Not Found"},
		{"seen group, a member", "groups", g, map[string]any{"user_id": memberID, "access_level": 30}, PAT(dev), 409, "message", "Member already exists"},
		{"seen group, a member by username", "groups", g, map[string]any{"username": "member", "access_level": 30}, PAT(dev), 409, "message", "Member already exists"},
		{"seen group, a newcomer", "groups", g, map[string]any{"user_id": newID, "access_level": 30}, PAT(dev), 403, "message", "403 Forbidden"},
		{"seen project, no user", "projects", p, map[string]any{"user_id": nobody, "access_level": 30}, PAT(dev), 404, "message", "404 User Not Found"},
		{"seen project, a member", "projects", p, map[string]any{"user_id": memberID, "access_level": 30}, PAT(dev), 409, "message", "Member already exists"},
		{"seen project, a newcomer", "projects", p, map[string]any{"user_id": newID, "access_level": 30}, PAT(dev), 403, "message", "403 Forbidden"},
		{"public group, no user", "groups", pub, map[string]any{"user_id": nobody, "access_level": 30}, PAT(outsider), 404, "message", "404 User Not Found"},
		{"public group, a member", "groups", pub, map[string]any{"user_id": memberID, "access_level": 30}, PAT(outsider), 409, "message", "Member already exists"},
		{"public group, a newcomer", "groups", pub, map[string]any{"user_id": newID, "access_level": 30}, PAT(outsider), 403, "message", "403 Forbidden"},
		{"public project, no user", "projects", pubP, map[string]any{"user_id": nobody, "access_level": 30}, PAT(outsider), 404, "message", "404 User Not Found"},
		{"public project, a member", "projects", pubP, map[string]any{"user_id": memberID, "access_level": 30}, PAT(outsider), 409, "message", "Member already exists"},
		{"public project, a newcomer", "projects", pubP, map[string]any{"user_id": newID, "access_level": 30}, PAT(outsider), 403, "message", "403 Forbidden"},
		// A Maintainer may not give Owner: refused after the lookups.
		{"Owner by a Maintainer, no user", "projects", p, map[string]any{"user_id": nobody, "access_level": 50}, PAT(maint), 404, "message", "404 User Not Found"},
		{"Owner by a Maintainer, a member", "projects", p, map[string]any{"user_id": memberID, "access_level": 50}, PAT(maint), 409, "message", "Member already exists"},
		{"Owner by a Maintainer, a newcomer", "projects", p, map[string]any{"user_id": newID, "access_level": 50}, PAT(maint), 403, "message", "403 Forbidden"},
		// The model's validations come last: after the membership check,
		// and after the caller's rights.
		{"no such level, a member", "projects", p, map[string]any{"user_id": memberID, "access_level": 35}, PAT(dev), 409, "message", "Member already exists"},
		{"no such level, a member, by an admin", "groups", g, map[string]any{"user_id": memberID, "access_level": 35}, admin, 409, "message", "Member already exists"},
		{"no such level, no user", "groups", g, map[string]any{"user_id": nobody, "access_level": 35}, admin, 404, "message", "404 User Not Found"},
		{"no such level, by a Developer", "projects", p, map[string]any{"user_id": newID, "access_level": 35}, PAT(dev), 403, "message", "403 Forbidden"},
		{"past expiry, a member", "projects", p, map[string]any{"user_id": memberID, "access_level": 30, "expires_at": yesterday}, PAT(maint), 409, "message", "Member already exists"},
		{"past expiry, by a Developer", "groups", g, map[string]any{"user_id": newID, "access_level": 30, "expires_at": yesterday}, PAT(dev), 403, "message", "403 Forbidden"},
		// Grape's parameter checks come first of all.
		{"hidden group, access_level no integer", "groups", g, map[string]any{"user_id": nobody, "access_level": "lots"}, PAT(outsider), 400, "error", "access_level is invalid"},
		{"hidden group, expires_at no date", "groups", g, map[string]any{"user_id": nobody, "access_level": 30, "expires_at": "soon"}, PAT(outsider), 400, "error", "expires_at is invalid"},
		{"hidden group, access_level missing", "groups", g, map[string]any{"user_id": nobody}, PAT(outsider), 400, "error", "access_level is missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do("POST", fmt.Sprintf("/api/v4/%s/%d/members", c.kind, c.id), c.body, c.who)
			if wantStatus(t, r, c.status) {
				ErrBody(t, r, c.key, c.msg)
			}
		})
	}
	t.Run("a level that is none and an expiry in the past, both reported", func(t *testing.T) {
		r := e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/members", p), map[string]any{"user_id": newID, "access_level": 35, "expires_at": yesterday}, PAT(maint))
		if wantStatus(t, r, 400) {
			if m := r.Map(t)["message"]; fmt.Sprint(m) != "map[access_level:[is not included in the list] expires_at:[cannot be a date in the past]]" {
				t.Errorf("message: %v", m)
			}
		}
	})
	// Nothing above changed anything.
	for _, src := range []struct {
		kind string
		id   int64
	}{{"groups", g}, {"projects", p}, {"groups", pub}, {"projects", pubP}} {
		m := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/%s/%d/members/%d", src.kind, src.id, memberID), nil, admin)).Map(t)
		if m["access_level"] != float64(30) || m["expires_at"] != nil {
			t.Errorf("%s %d: member changed: %v", src.kind, src.id, m)
		}
		e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/%s/%d/members/%d", src.kind, src.id, newID), nil, admin))
	}
}

// Any member may leave, whatever their level: GitLab's GroupMemberPolicy
// and ProjectMemberPolicy enable destroy_*_member on one's own membership
// (gitlabhq app/policies/group_member_policy.rb,
// app/policies/project_member_policy.rb). The group's last Owner still
// cannot (TestMemberLastOwner). Leaving is DELETE only: a member still may
// not change their own level.
func TestMemberLeaves(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	n := 0
	for _, c := range []struct {
		name   string
		kind   string
		level  int
		setup  func(t *testing.T, g, p, uid int64) // after the membership is added
		status int
	}{
		{"a group Guest", "groups", 10, nil, 204},
		{"a group Reporter", "groups", 20, nil, 204},
		{"a group Developer", "groups", 30, nil, 204},
		{"a group Maintainer", "groups", 40, nil, 204},
		{"a group Owner beside another", "groups", 50, nil, 204},
		{"a project Guest", "projects", 10, nil, 204},
		{"a project Reporter", "projects", 20, nil, 204},
		{"a project Developer", "projects", 30, nil, 204},
		{"a project Maintainer", "projects", 40, nil, 204},
		{"a project Owner", "projects", 50, nil, 204},
		// An expired membership is gone (see TestMemberListsHide): there
		// is nothing left to leave.
		{"a group Owner whose membership expired", "groups", 50, func(t *testing.T, g, p, uid int64) {
			e.Member("projects", p, uid, 20) // so the group stays visible
			expire(t, e, "groups", g, uid)
		}, 404},
		{"a project Owner whose membership expired", "projects", 50, func(t *testing.T, g, p, uid int64) {
			e.Member("groups", g, uid, 30)
			expire(t, e, "projects", p, uid)
		}, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			n++
			g := e.Group(fmt.Sprintf("leave%d", n), 0, "private")
			p := e.Project("app", g, "private")
			uid, tok := e.User(fmt.Sprintf("leaver%d", n))
			src := g
			if c.kind == "projects" {
				src = p
			}
			e.Member(c.kind, src, uid, c.level)
			if c.setup != nil {
				c.setup(t, g, p, uid)
			}
			self := fmt.Sprintf("/api/v4/%s/%d/members/%d", c.kind, src, uid)
			if c.level < 50 {
				wantStatus(t, e.Do("PUT", self, map[string]any{"access_level": c.level + 10}, PAT(tok)), 403)
			}
			r := e.Do("DELETE", self, nil, PAT(tok))
			if !wantStatus(t, r, c.status) {
				return
			}
			if c.status == 404 {
				ErrBody(t, r, "message", "404 Not found")
				return
			}
			wantStatus(t, e.Do("GET", self, nil, admin), 404)
		})
	}
}

// An update that sends expires_at empty or null takes the expiry away, as
// GitLab's does (Grape reads "" for a DateTime as nil, and
// Members::UpdateService assigns what was sent: gitlabhq
// lib/api/members.rb, app/services/members/update_service.rb); one that
// does not send it keeps it.
func TestMemberUpdateClearsExpiry(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	g := e.Group("dated", 0, "private")
	p := e.Project("app", g, "private")
	week := time.Now().UTC().AddDate(0, 0, 7).Format("2006-01-02")
	form := H{"PRIVATE-TOKEN": e.Admin, "Content-Type": "application/x-www-form-urlencoded"}
	n := 0
	for _, src := range []struct {
		kind string
		id   int64
	}{{"groups", g}, {"projects", p}} {
		for _, c := range []struct {
			name string
			body any
			h    H
			want any
		}{
			{"JSON empty string", map[string]any{"access_level": 30, "expires_at": ""}, admin, nil},
			{"JSON null", map[string]any{"access_level": 30, "expires_at": nil}, admin, nil},
			{"form empty value", "access_level=30&expires_at=", form, nil},
			{"query empty value", nil, admin, nil},
			{"not sent", map[string]any{"access_level": 20}, admin, week},
		} {
			t.Run(src.kind+"/"+c.name, func(t *testing.T) {
				n++
				uid, _ := e.User(fmt.Sprintf("dated%d", n))
				members := fmt.Sprintf("/api/v4/%s/%d/members", src.kind, src.id)
				e.Must(201, e.Do("POST", members, map[string]any{"user_id": uid, "access_level": 30, "expires_at": week}, admin))
				member := fmt.Sprintf("%s/%d", members, uid)
				path := member
				if c.body == nil {
					path += "?access_level=30&expires_at="
				}
				r := e.Do("PUT", path, c.body, c.h)
				if !wantStatus(t, r, 200) {
					return
				}
				if got := r.Map(t)["expires_at"]; got != c.want {
					t.Errorf("expires_at %v, want %v", got, c.want)
				}
				if got := e.Must(200, e.Do("GET", member, nil, admin)).Map(t)["expires_at"]; got != c.want {
					t.Errorf("stored expires_at %v, want %v", got, c.want)
				}
			})
		}
	}
}

// Removing a group member also removes that user's memberships of the
// group's subgroups and of the projects in its tree, not those above it or
// elsewhere, unless skip_subresources is true, as GitLab's
// Members::DestroyService does (gitlabhq
// app/services/members/destroy_service.rb delete_subresources,
// lib/api/members.rb). A subgroup the removal would leave without any
// Owner makes the whole removal 403 (GroupMemberPolicy refuses to destroy a
// last Owner's membership), and then nothing is removed.
func TestMemberRemovalCascades(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	adminID := int64(e.Must(200, e.Do("GET", "/api/v4/user", nil, admin)).Map(t)["id"].(float64))
	type place struct {
		kind string
		id   int64
	}
	// The tree: top > grp > sub1 > sub2, project pg in grp and ps2 in
	// sub2, and elsewhere project po. Its one Owner is a user on top; the
	// member u is on everything.
	type tree struct {
		top, grp, sub1, sub2, pg, ps2, po place
		ownerID, uid                      int64
		u                                 string
	}
	n := 0
	build := func(t *testing.T) tree {
		n++
		var tr tree
		tr.top = place{"groups", e.Group(fmt.Sprintf("top%d", n), 0, "private")}
		tr.grp = place{"groups", e.Group("grp", tr.top.id, "private")}
		tr.sub1 = place{"groups", e.Group("sub1", tr.grp.id, "private")}
		tr.sub2 = place{"groups", e.Group("sub2", tr.sub1.id, "private")}
		tr.pg = place{"projects", e.Project("pg", tr.grp.id, "private")}
		tr.ps2 = place{"projects", e.Project("ps2", tr.sub2.id, "private")}
		tr.po = place{"projects", e.Project("po", e.Group(fmt.Sprintf("else%d", n), 0, "private"), "private")}
		tr.ownerID, _ = e.User(fmt.Sprintf("owner%d", n))
		e.Member("groups", tr.top.id, tr.ownerID, 50)
		for _, g := range []place{tr.sub2, tr.sub1, tr.grp, tr.top} {
			e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d/members/%d?skip_subresources=true", g.id, adminID), nil, admin))
		}
		tr.uid, tr.u = e.User(fmt.Sprintf("u%d", n))
		for i, pl := range []place{tr.top, tr.grp, tr.sub1, tr.sub2, tr.pg, tr.ps2, tr.po} {
			e.Member(pl.kind, pl.id, tr.uid, 10+10*(i%4))
		}
		return tr
	}
	all := func(tr tree) []place { return []place{tr.top, tr.grp, tr.sub1, tr.sub2, tr.pg, tr.ps2, tr.po} }
	below := func(tr tree) []place { return []place{tr.grp, tr.sub1, tr.sub2, tr.pg, tr.ps2} }
	only := func(tr tree) []place { return []place{tr.grp} }
	none := func(tree) []place { return nil }
	// soleSub1Owner makes u an Owner of sub1 and removes the tree's Owner
	// from the database (the API never leaves a group without an Owner;
	// a root without one is what makes a subgroup's Owner its last), so
	// that u is the only Owner sub1 has.
	soleSub1Owner := func(t *testing.T, tr tree) {
		e.Must(200, e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d/members/%d", tr.sub1.id, tr.uid), map[string]any{"access_level": 50}, admin))
		if _, err := e.Store.DB().Exec(`DELETE FROM group_members WHERE namespace_id = $1 AND user_id = $2`, tr.top.id, tr.ownerID); err != nil {
			t.Fatal(err)
		}
	}
	// expiredAbove makes u an Owner of sub1 and the tree's one Owner's
	// membership expired: GitLab's cleanup keeps that last Owner, who
	// counts for sub1 (TestMemberExpiredOwners).
	expiredAbove := func(t *testing.T, tr tree) {
		e.Must(200, e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d/members/%d", tr.sub1.id, tr.uid), map[string]any{"access_level": 50}, admin))
		expire(t, e, "groups", tr.top.id, tr.ownerID)
	}
	for _, c := range []struct {
		name   string
		setup  func(t *testing.T, tr tree)
		target func(tr tree) place
		query  string
		body   any
		self   bool // u removes themself
		status int
		gone   func(tr tree) []place
	}{
		{"a group member", nil, nil, "", nil, false, 204, below},
		{"skip_subresources=false", nil, nil, "?skip_subresources=false", nil, false, 204, below},
		{"skip_subresources=true", nil, nil, "?skip_subresources=true", nil, false, 204, only},
		{"skip_subresources in the body", nil, nil, "", map[string]any{"skip_subresources": true}, false, 204, only},
		{"the member leaves", nil, nil, "", nil, true, 204, below},
		{"a subgroup whose Owner is above", func(t *testing.T, tr tree) {
			e.Must(200, e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d/members/%d", tr.sub1.id, tr.uid), map[string]any{"access_level": 50}, admin))
		}, nil, "", nil, false, 204, below},
		{"a subgroup left without an Owner", soleSub1Owner, nil, "", nil, false, 403, none},
		{"a subgroup left without an Owner, the member leaves", soleSub1Owner, nil, "", nil, true, 403, none},
		{"a subgroup left without an Owner, skip_subresources", soleSub1Owner, nil, "?skip_subresources=true", nil, false, 204, only},
		{"a subgroup whose Owner above has expired", expiredAbove, nil, "", nil, false, 204, below},
		{"a subgroup whose Owner above has expired, the member leaves", expiredAbove, nil, "", nil, true, 204, below},
		{"skip_subresources not a boolean", nil, nil, "?skip_subresources=maybe", nil, false, 400, none},
		{"a project member", nil, func(tr tree) place { return tr.pg }, "", nil, false, 204, func(tr tree) []place { return []place{tr.pg} }},
		{"a subgroup member", nil, func(tr tree) place { return tr.sub1 }, "", nil, false, 204, func(tr tree) []place { return []place{tr.sub1, tr.sub2, tr.ps2} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := build(t)
			if c.setup != nil {
				c.setup(t, tr)
			}
			target := tr.grp
			if c.target != nil {
				target = c.target(tr)
			}
			who := admin
			if c.self {
				who = PAT(tr.u)
			}
			r := e.Do("DELETE", fmt.Sprintf("/api/v4/%s/%d/members/%d%s", target.kind, target.id, tr.uid, c.query), c.body, who)
			if !wantStatus(t, r, c.status) {
				return
			}
			switch c.status {
			case 403:
				ErrBody(t, r, "message", "403 Forbidden")
			case 400:
				ErrBody(t, r, "error", "skip_subresources is invalid")
			}
			gone := map[place]bool{}
			for _, pl := range c.gone(tr) {
				gone[pl] = true
			}
			for _, pl := range all(tr) {
				want := 200
				if gone[pl] {
					want = 404
				}
				if got := e.Do("GET", fmt.Sprintf("/api/v4/%s/%d/members/%d", pl.kind, pl.id, tr.uid), nil, admin).Status; got != want {
					t.Errorf("%s %d: membership status %d, want %d", pl.kind, pl.id, got, want)
				}
			}
		})
	}
}

// The holder of a personal namespace is a member, Owner, of every project
// in it in GitLab (gitlabhq app/services/projects/create_service.rb,
// app/models/member.rb), so adding them is 409 Member already exists
// (lib/api/helpers/members_helpers.rb check_existing_membership), even
// with an expiry in the past, and ProjectMemberPolicy prevents anyone,
// admins and the holder included, from updating or removing that
// membership: 403 (app/policies/project_member_policy.rb). Here the
// ownership lives on the namespace, with no membership row, and the API
// shows it as a membership (TestMemberHolderListed).
func TestMemberPersonalNamespaceHolder(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	hID, h := e.User("holder")
	mine := e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": "mine"}, PAT(h))).Map(t)
	ns := mine["namespace"].(map[string]any)
	if ns["kind"] != "user" {
		t.Fatalf("namespace: %v", ns)
	}
	// A project an admin made in the holder's namespace is theirs as well.
	byAdmin := e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": "given", "namespace_id": ns["id"]}, admin)).Map(t)
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	for _, proj := range []map[string]any{mine, byAdmin} {
		members := fmt.Sprintf("/api/v4/projects/%v/members", proj["id"])
		holder := fmt.Sprintf("%s/%d", members, hID)
		for _, c := range []struct {
			name, method, path string
			body               any
			who                H
			status             int
			msg                string
		}{
			{"an admin adds the holder", "POST", members, map[string]any{"user_id": hID, "access_level": 30}, admin, 409, "Member already exists"},
			{"an admin adds the holder by username", "POST", members, map[string]any{"username": "holder", "access_level": 50}, admin, 409, "Member already exists"},
			{"an admin adds the holder with a past expiry", "POST", members, map[string]any{"user_id": hID, "access_level": 30, "expires_at": yesterday}, admin, 409, "Member already exists"},
			{"the holder adds themself", "POST", members, map[string]any{"user_id": hID, "access_level": 50}, PAT(h), 409, "Member already exists"},
			{"an admin updates the holder", "PUT", holder, map[string]any{"access_level": 30}, admin, 403, "403 Forbidden"},
			{"the holder updates themself", "PUT", holder, map[string]any{"access_level": 50}, PAT(h), 403, "403 Forbidden"},
			{"an admin removes the holder", "DELETE", holder, nil, admin, 403, "403 Forbidden"},
			{"the holder leaves", "DELETE", holder, nil, PAT(h), 403, "403 Forbidden"},
		} {
			t.Run(fmt.Sprintf("%v/%s", proj["path"], c.name), func(t *testing.T) {
				r := e.Do(c.method, c.path, c.body, c.who)
				if wantStatus(t, r, c.status) {
					ErrBody(t, r, "message", c.msg)
				}
			})
		}
		// The holder still owns the project and manages its members.
		xID, x := e.User(fmt.Sprintf("guest-%v", proj["path"]))
		e.Must(201, e.Do("POST", members, map[string]any{"user_id": xID, "access_level": 30}, PAT(h)))
		e.Must(200, e.Do("PUT", fmt.Sprintf("%s/%d", members, xID), map[string]any{"access_level": 20}, PAT(h)))
		e.Must(204, e.Do("DELETE", fmt.Sprintf("%s/%d", members, xID), nil, PAT(h)))
		e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%v", proj["id"]), nil, PAT(x)))
		// The holder is the one member left (TestMemberHolderListed).
		var got []map[string]any
		e.Must(200, e.Do("GET", members, nil, admin)).JSON(t, &got)
		if len(got) != 1 || got[0]["id"] != float64(hID) {
			t.Errorf("members of %v: %v", proj["path"], got)
		}
	}
}

// GitLab lists and shows the holder of a personal namespace as an Owner
// member of every project in it, the membership it made with the project
// (gitlabhq app/services/projects/create_service.rb add_owner), so GET
// .../members and .../members/:user_id do too: in the pages and their
// counts, and through the query and user_ids filters of retrieve_members
// (lib/api/helpers/members_helpers.rb; User.search in
// app/models/user.rb). A membership row the holder was given before the
// gateway refused one does not list them twice or change what is shown.
func TestMemberHolderListed(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	hID, h := e.User("holder")
	mine := e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": "mine"}, PAT(h))).Map(t)
	ns := mine["namespace"].(map[string]any)
	given := e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": "given", "namespace_id": ns["id"]}, admin)).Map(t)
	aID, _ := e.User("alpha")
	bID, b := e.User("beta")
	g := e.Group("team", 0, "private")
	gp := e.Project("shared", g, "private")
	for _, proj := range []map[string]any{mine, given} {
		id := int64(proj["id"].(float64))
		e.Member("projects", id, aID, 30)
		e.Member("projects", id, bID, 20)
	}
	e.Member("projects", gp, hID, 30)
	// given keeps a row made for the holder before the gateway refused
	// one; the migration that deletes such rows has already run here.
	if _, err := e.Store.DB().Exec(`INSERT INTO project_members (project_id, user_id, access_level, expires_at) VALUES ($1, $2, 30, current_date + 3)`, given["id"], hID); err != nil {
		t.Fatal(err)
	}

	type listCase struct {
		name   string
		query  string
		who    H
		want   []int64
		status int
	}
	for _, proj := range []map[string]any{mine, given} {
		members := fmt.Sprintf("/api/v4/projects/%v/members", proj["id"])
		for _, c := range []listCase{
			{"all, by an admin", "", admin, []int64{hID, aID, bID}, 200},
			{"all, by the holder", "", PAT(h), []int64{hID, aID, bID}, 200},
			{"all, by a Reporter", "", PAT(b), []int64{hID, aID, bID}, 200},
			{"query the holder's username", "?query=holder", admin, []int64{hID}, 200},
			{"query with @", "?query=@HOLD", admin, []int64{hID}, 200},
			{"query a part of a name", "?query=lph", admin, []int64{aID}, 200},
			{"query every term", "?query=al+pha", admin, []int64{aID}, 200},
			{"query two names", "?query=alpha+beta", admin, nil, 200},
			{"query nobody", "?query=zeta", admin, nil, 200},
			{"query @ alone", "?query=@", admin, nil, 200},
			{"blank query", "?query=+", admin, []int64{hID, aID, bID}, 200},
			{"user_ids the holder", fmt.Sprintf("?user_ids=%d", hID), admin, []int64{hID}, 200},
			{"user_ids the others", fmt.Sprintf("?user_ids=%d,%d", aID, bID), admin, []int64{aID, bID}, 200},
			{"user_ids repeated", fmt.Sprintf("?user_ids[]=%d&user_ids[]=%d", hID, bID), admin, []int64{hID, bID}, 200},
			{"user_ids and query", fmt.Sprintf("?user_ids=%d,%d&query=beta", hID, bID), admin, []int64{bID}, 200},
			{"user_ids no integers", "?user_ids=1,x", admin, nil, 400},
			{"query with a NUL", "?query=a%00b", admin, nil, 400},
			{"query not UTF-8", "?query=%ff", admin, nil, 400},
		} {
			t.Run(fmt.Sprintf("%v/%s", proj["path"], c.name), func(t *testing.T) {
				r := e.Do("GET", members+c.query, nil, c.who)
				if !wantStatus(t, r, c.status) {
					return
				}
				if c.status != 200 {
					ErrBody(t, r, "error", strings.SplitN(strings.TrimPrefix(c.query, "?"), "=", 2)[0]+" is invalid")
					return
				}
				var got []map[string]any
				r.JSON(t, &got)
				var ids []int64
				for _, m := range got {
					ids = append(ids, int64(m["id"].(float64)))
					if m["id"] == float64(hID) && (m["access_level"] != float64(50) || m["expires_at"] != nil || m["created_at"] != proj["created_at"] || m["username"] != "holder") {
						t.Errorf("holder: %v (project %v)", m, proj)
					}
				}
				if fmt.Sprint(ids) != fmt.Sprint(c.want) && !(len(ids) == 0 && len(c.want) == 0) {
					t.Errorf("members %v, want %v", ids, c.want)
				}
				if total := r.Header.Get("X-Total"); total != fmt.Sprint(len(c.want)) {
					t.Errorf("X-Total %s, want %d", total, len(c.want))
				}
			})
		}
		t.Run(fmt.Sprintf("%v/pages", proj["path"]), func(t *testing.T) {
			var ids []int64
			for page := 1; page <= 3; page++ {
				r := e.Must(200, e.Do("GET", fmt.Sprintf("%s?per_page=1&page=%d", members, page), nil, admin))
				if r.Header.Get("X-Total") != "3" || r.Header.Get("X-Total-Pages") != "3" {
					t.Errorf("page %d headers: %v", page, r.Header)
				}
				var got []map[string]any
				r.JSON(t, &got)
				for _, m := range got {
					ids = append(ids, int64(m["id"].(float64)))
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint([]int64{hID, aID, bID}) {
				t.Errorf("pages hold %v", ids)
			}
		})
		t.Run(fmt.Sprintf("%v/the holder shown", proj["path"]), func(t *testing.T) {
			for _, who := range []H{admin, PAT(h), PAT(b)} {
				m := e.Must(200, e.Do("GET", fmt.Sprintf("%s/%d", members, hID), nil, who)).Map(t)
				if m["id"] != float64(hID) || m["access_level"] != float64(50) || m["expires_at"] != nil || m["created_at"] != proj["created_at"] {
					t.Errorf("holder: %v", m)
				}
			}
		})
	}
	// With a query, User.search's order: exact username, exact name, then
	// by name.
	t.Run("query order", func(t *testing.T) {
		zID, _ := e.User("zed-ann")
		annID, _ := e.User("ann")
		bob := e.Must(201, e.Do("POST", "/api/v4/users", map[string]any{"email": "bob@example.com", "username": "bob",
			"name": "Ann", "password": "s3cret-Passw0rd"}, admin)).Map(t)
		bobID := int64(bob["id"].(float64))
		for _, u := range []int64{zID, annID, bobID} {
			e.Member("groups", g, u, 30)
		}
		var got []map[string]any
		e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/members?query=ANN", g), nil, admin)).JSON(t, &got)
		var ids []int64
		for _, m := range got {
			ids = append(ids, int64(m["id"].(float64)))
		}
		if fmt.Sprint(ids) != fmt.Sprint([]int64{annID, bobID, zID}) {
			t.Errorf("members %v, want ann, bob (named Ann), zed-ann: %v", ids, []int64{annID, bobID, zID})
		}
	})
	// A project in a group has no holder: the user is what their row says.
	t.Run("a group's project", func(t *testing.T) {
		var got []map[string]any
		e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/members", gp), nil, admin)).JSON(t, &got)
		if len(got) != 1 || got[0]["id"] != float64(hID) || got[0]["access_level"] != float64(30) {
			t.Errorf("members: %v", got)
		}
	})
}

// GitLab lists members in the order their memberships were made: its
// lists have no order of their own, so the API's offset pagination orders
// them by membership id (gitlabhq lib/api/helpers/members_helpers.rb
// retrieve_members, lib/gitlab/pagination/offset_pagination.rb
// add_default_order). The creator of a group is its first member, and the
// holder of a personal namespace, made a member with each project there,
// comes first on it. Each page continues that order.
func TestMemberListOrder(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	rootID := int64(e.Must(200, e.Do("GET", "/api/v4/user", nil, admin)).Map(t)["id"].(float64))
	earlyID, _ := e.User("early") // the lower user id, made a member last
	lateID, _ := e.User("late")
	hID, h := e.User("holder")
	g := e.Group("team", 0, "private")
	gp := e.Project("app", g, "private")
	mine := int64(e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": "mine"}, PAT(h))).Map(t)["id"].(float64))
	for _, src := range []struct {
		kind string
		id   int64
	}{{"groups", g}, {"projects", gp}, {"projects", mine}} {
		e.Member(src.kind, src.id, lateID, 30)
		e.Member(src.kind, src.id, earlyID, 20)
	}
	for _, c := range []struct {
		name, path string
		want       []int64
	}{
		{"a group, its creator first", fmt.Sprintf("/api/v4/groups/%d/members", g), []int64{rootID, lateID, earlyID}},
		{"a group's project", fmt.Sprintf("/api/v4/projects/%d/members", gp), []int64{lateID, earlyID}},
		{"a personal project, its holder first", fmt.Sprintf("/api/v4/projects/%d/members", mine), []int64{hID, lateID, earlyID}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ids []int64
			for page := 1; page <= len(c.want); page++ {
				var got []map[string]any
				e.Must(200, e.Do("GET", fmt.Sprintf("%s?per_page=1&page=%d", c.path, page), nil, admin)).JSON(t, &got)
				for _, m := range got {
					ids = append(ids, int64(m["id"].(float64)))
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(c.want) {
				t.Errorf("pages hold %v, want %v", ids, c.want)
			}
			var all []map[string]any
			e.Must(200, e.Do("GET", c.path, nil, admin)).JSON(t, &all)
			ids = ids[:0]
			for _, m := range all {
				ids = append(ids, int64(m["id"].(float64)))
			}
			if fmt.Sprint(ids) != fmt.Sprint(c.want) {
				t.Errorf("members %v, want %v", ids, c.want)
			}
		})
	}
}

// GET .../members/all and .../members/all/:user_id list the members of a
// group or project with those who are members through a group above it,
// one row a user (gitlabhq lib/api/members.rb,
// lib/api/helpers/members_helpers.rb find_all_members): for a group,
// GroupMembersFinder's rows of the group and its ancestors, of which
// Member.distinct_on_user_with_max_access_level keeps each user's highest
// level, on a tie the group's own row, then the one expiring last (none
// first), then the oldest (app/finders/group_members_finder.rb,
// app/models/member.rb); for a project, MembersFinder's: the project's
// own row where there is one, with the highest level the user holds on
// the project, else the group's (app/finders/members_finder.rb). Expired
// memberships count for nothing, as for access, nor do Minimal Access
// rows (non_minimal_access). Lists are in the order the chosen
// memberships were made, filtered by query, user_ids and (GitLab EE)
// state, paginated; a caller who cannot see the group or project gets
// its 404.
func TestMemberListAll(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	rootID := int64(e.Must(200, e.Do("GET", "/api/v4/user", nil, admin)).Map(t)["id"].(float64))
	top := e.Group("top", 0, "private")
	sub := e.Group("sub", top, "private")
	deep := e.Group("deep", sub, "private")
	proj := e.Project("app", sub, "private")
	ids := map[string]int64{"root": rootID}
	tokens := map[string]string{}
	for _, u := range []string{"alice", "bob", "carol", "dave", "xena", "yuri", "expired", "minimal", "fred", "holder", "outsider"} {
		ids[u], tokens[u] = e.User(u)
	}
	mine := int64(e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": "mine"}, PAT(tokens["holder"]))).Map(t)["id"].(float64))
	day := func(days int) string { return time.Now().UTC().AddDate(0, 0, days).Format("2006-01-02") }
	type grant struct {
		kind  string
		id    int64
		user  string
		level int
		exp   string // "" none, "past" expired
	}
	// In this order: the order the lists follow.
	for _, g := range []grant{
		{"groups", top, "alice", 30, ""},
		{"groups", top, "bob", 40, ""},
		{"groups", top, "xena", 30, day(10)},
		{"groups", top, "yuri", 30, day(10)},
		{"groups", top, "expired", 50, "past"},
		{"groups", top, "minimal", 5, ""},
		{"groups", sub, "alice", 40, ""},
		{"groups", sub, "bob", 30, ""},
		{"groups", sub, "carol", 20, day(30)},
		{"groups", sub, "xena", 30, ""},
		{"groups", sub, "yuri", 30, day(5)},
		{"groups", sub, "dave", 10, ""},
		{"projects", proj, "carol", 30, ""},
		{"projects", proj, "bob", 20, ""},
		{"projects", proj, "fred", 10, "past"},
		{"projects", mine, "alice", 30, ""},
		{"projects", mine, "expired", 20, "past"},
	} {
		body := map[string]any{"user_id": ids[g.user], "access_level": g.level}
		if g.exp != "" && g.exp != "past" {
			body["expires_at"] = g.exp
		}
		e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/%s/%d/members", g.kind, g.id), body, admin))
		if g.exp == "past" {
			expire(t, e, g.kind, g.id, ids[g.user])
		}
	}
	groupAll := func(id int64) string { return fmt.Sprintf("/api/v4/groups/%d/members/all", id) }
	projectAll := func(id int64) string { return fmt.Sprintf("/api/v4/projects/%d/members/all", id) }
	inGroup := func(id int64) string { return fmt.Sprintf("/api/v4/groups/%d/members", id) }
	inProject := func(id int64) string { return fmt.Sprintf("/api/v4/projects/%d/members", id) }

	// row is a user's expected row: their level and the direct
	// membership (GET of its list + user id) whose created_at and
	// expires_at it shows.
	type row struct {
		user  string
		level int
		from  string
	}
	topRows := []row{{"root", 50, inGroup(top)}, {"alice", 30, inGroup(top)}, {"bob", 40, inGroup(top)},
		{"xena", 30, inGroup(top)}, {"yuri", 30, inGroup(top)}}
	// root is Owner of each group made; the group's own row wins the tie.
	subRows := []row{{"root", 50, inGroup(sub)}, {"bob", 40, inGroup(top)}, {"alice", 40, inGroup(sub)},
		{"carol", 20, inGroup(sub)}, {"xena", 30, inGroup(sub)}, {"yuri", 30, inGroup(sub)}, {"dave", 10, inGroup(sub)}}
	// Below both: xena's row without expiry wins, yuri's that expires last.
	deepRows := []row{{"root", 50, inGroup(deep)}, {"bob", 40, inGroup(top)}, {"yuri", 30, inGroup(top)},
		{"alice", 40, inGroup(sub)}, {"carol", 20, inGroup(sub)}, {"xena", 30, inGroup(sub)}, {"dave", 10, inGroup(sub)}}
	// The project's own rows, at the highest level held on it.
	projRows := []row{{"root", 50, inGroup(sub)}, {"alice", 40, inGroup(sub)}, {"xena", 30, inGroup(sub)},
		{"yuri", 30, inGroup(sub)}, {"dave", 10, inGroup(sub)}, {"carol", 30, inProject(proj)}, {"bob", 40, inProject(proj)}}
	mineRows := []row{{"holder", 50, inProject(mine)}, {"alice", 30, inProject(mine)}}

	// get is e.Must(200, ...) for a subtest: it stops t, not the test
	// that made the Env.
	get := func(t *testing.T, path string, who H) *Resp {
		t.Helper()
		r := e.Do("GET", path, nil, who)
		if r.Status != 200 {
			t.Fatalf("GET %s: status %d: %s", path, r.Status, r.Body)
		}
		return r
	}
	// check compares a list with the rows it should hold.
	check := func(t *testing.T, got []map[string]any, want []row) {
		t.Helper()
		var gotNames, wantNames []string
		byID := map[float64]string{}
		for n, id := range ids {
			byID[float64(id)] = n
		}
		for _, m := range got {
			gotNames = append(gotNames, byID[m["id"].(float64)])
		}
		for _, w := range want {
			wantNames = append(wantNames, w.user)
		}
		if fmt.Sprint(gotNames) != fmt.Sprint(wantNames) {
			t.Fatalf("members %v, want %v", gotNames, wantNames)
		}
		for i, w := range want {
			m := got[i]
			direct := get(t, fmt.Sprintf("%s/%d", w.from, ids[w.user]), admin).Map(t)
			if m["access_level"] != float64(w.level) || m["created_at"] != direct["created_at"] || m["expires_at"] != direct["expires_at"] ||
				m["username"] != w.user {
				t.Errorf("%s: %v, want level %d and the membership %v", w.user, m, w.level, direct)
			}
		}
	}
	pick := func(rows []row, users ...string) []row {
		var out []row
		for _, r := range rows {
			for _, u := range users {
				if r.user == u {
					out = append(out, r)
				}
			}
		}
		return out
	}
	for _, c := range []struct {
		name, path string
		who        H
		want       []row
	}{
		{"a top-level group", groupAll(top), admin, topRows},
		{"a subgroup", groupAll(sub), admin, subRows},
		{"a subgroup's subgroup", groupAll(deep), admin, deepRows},
		{"a group's project", projectAll(proj), admin, projRows},
		{"a personal project", projectAll(mine), admin, mineRows},
		{"by a Guest", groupAll(sub), PAT(tokens["dave"]), subRows},
		{"by a Guest of a subgroup, the group above", groupAll(top), PAT(tokens["dave"]), topRows},
		{"by a project member", projectAll(proj), PAT(tokens["carol"]), projRows},
		{"by path", "/api/v4/projects/top%2Fsub%2Fapp/members/all", admin, projRows},
		{"user_ids", groupAll(sub) + fmt.Sprintf("?user_ids=%d,%d", ids["carol"], ids["bob"]), admin, pick(subRows, "bob", "carol")},
		{"user_ids, in the project's order", projectAll(proj) + fmt.Sprintf("?user_ids=%d,%d", ids["bob"], ids["carol"]), admin, pick(projRows, "bob", "carol")},
		{"user_ids of no member", groupAll(sub) + fmt.Sprintf("?user_ids=%d,%d", ids["expired"], ids["fred"]), admin, nil},
		{"query", groupAll(deep) + "?query=car", admin, pick(deepRows, "carol")},
		{"query and user_ids", projectAll(proj) + fmt.Sprintf("?query=a&user_ids=%d,%d,%d", ids["bob"], ids["carol"], ids["dave"]), admin, []row{{"carol", 30, inProject(proj)}, {"dave", 10, inGroup(sub)}}}, // User.search's order: by name
		{"query of an expired member", groupAll(top) + "?query=expired", admin, nil},
		{"state active", groupAll(sub) + "?state=active", admin, subRows},
		{"state awaiting", groupAll(sub) + "?state=awaiting", admin, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := get(t, c.path, c.who)
			var got []map[string]any
			r.JSON(t, &got)
			check(t, got, c.want)
			if r.Header.Get("X-Total") != fmt.Sprint(len(c.want)) {
				t.Errorf("X-Total %q, want %d", r.Header.Get("X-Total"), len(c.want))
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var got []map[string]any
		for page := 1; page <= 4; page++ {
			r := get(t, fmt.Sprintf("%s?per_page=2&page=%d", projectAll(proj), page), admin)
			if r.Header.Get("X-Total") != "7" || r.Header.Get("X-Total-Pages") != "4" || r.Header.Get("X-Page") != fmt.Sprint(page) {
				t.Errorf("page %d headers: %v", page, r.Header)
			}
			if page < 4 && !strings.Contains(r.Header.Get("Link"), `rel="next"`) {
				t.Errorf("page %d Link: %q", page, r.Header.Get("Link"))
			}
			var part []map[string]any
			r.JSON(t, &part)
			got = append(got, part...)
		}
		check(t, got, projRows)
	})
	for _, c := range []struct {
		name, path string
		who        H
		want       row
	}{
		{"a member through the group above", fmt.Sprintf("%s/%d", groupAll(sub), ids["bob"]), admin, row{"bob", 40, inGroup(top)}},
		{"a member of the group itself", fmt.Sprintf("%s/%d", groupAll(sub), ids["alice"]), admin, row{"alice", 40, inGroup(sub)}},
		{"the expiry that lasts", fmt.Sprintf("%s/%d", groupAll(deep), ids["yuri"]), admin, row{"yuri", 30, inGroup(top)}},
		{"a project member, at the group's level", fmt.Sprintf("%s/%d", projectAll(proj), ids["bob"]), admin, row{"bob", 40, inProject(proj)}},
		{"a project member, at the project's level", fmt.Sprintf("%s/%d", projectAll(proj), ids["carol"]), PAT(tokens["dave"]), row{"carol", 30, inProject(proj)}},
		{"a project member through the group", fmt.Sprintf("%s/%d", projectAll(proj), ids["root"]), admin, row{"root", 50, inGroup(sub)}},
		{"the holder", fmt.Sprintf("%s/%d", projectAll(mine), ids["holder"]), admin, row{"holder", 50, inProject(mine)}},
	} {
		t.Run("get/"+c.name, func(t *testing.T) {
			m := get(t, c.path, c.who).Map(t)
			check(t, []map[string]any{m}, []row{c.want})
		})
	}
	for _, c := range []struct {
		name, method, path string
		who                H
		status             int
		key, msg           string
	}{
		{"get an expired member", "GET", fmt.Sprintf("%s/%d", groupAll(top), ids["expired"]), admin, 404, "message", "404 Not found"},
		{"get an expired project member", "GET", fmt.Sprintf("%s/%d", projectAll(proj), ids["fred"]), admin, 404, "message", "404 Not found"},
		{"get a Minimal Access member", "GET", fmt.Sprintf("%s/%d", groupAll(sub), ids["minimal"]), admin, 404, "message", "404 Not found"},
		{"get someone else", "GET", fmt.Sprintf("%s/%d", groupAll(sub), ids["outsider"]), admin, 404, "message", "404 Not found"},
		{"get a member below, not above", "GET", fmt.Sprintf("%s/%d", groupAll(top), ids["dave"]), admin, 404, "message", "404 Not found"},
		{"get no user id", "GET", groupAll(sub) + "/abc", admin, 400, "error", "user_id is invalid"},
		{"user_ids no integers", "GET", groupAll(sub) + "?user_ids=1,x", admin, 400, "error", "user_ids is invalid"},
		{"state of no value", "GET", groupAll(sub) + "?state=blocked", admin, 400, "error", "state does not have a valid value"},
		{"state empty", "GET", projectAll(proj) + "?state=", admin, 400, "error", "state does not have a valid value"},
		{"state a list", "GET", groupAll(sub) + "?state[]=active", admin, 400, "error", "state is invalid"},
		{"an outsider lists a group", "GET", groupAll(sub), PAT(tokens["outsider"]), 404, "message", "404 Group Not Found"},
		{"an outsider lists a project", "GET", projectAll(proj), PAT(tokens["outsider"]), 404, "message", "404 Project Not Found"},
		{"an outsider gets a member", "GET", fmt.Sprintf("%s/%d", projectAll(proj), ids["bob"]), PAT(tokens["outsider"]), 404, "message", "404 Project Not Found"},
		{"an expired member lists", "GET", groupAll(top), PAT(tokens["expired"]), 404, "message", "404 Group Not Found"},
		{"a missing group", "GET", groupAll(999999), admin, 404, "message", "404 Group Not Found"},
		{"PUT is no route of its own", "PUT", inGroup(sub) + "/all", admin, 400, "error", "user_id is invalid"},
		{"DELETE is no route of its own", "DELETE", inProject(proj) + "/all", admin, 400, "error", "user_id is invalid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.method == "PUT" {
				body = map[string]any{"access_level": 30}
			}
			r := e.Do(c.method, c.path, body, c.who)
			if wantStatus(t, r, c.status) {
				ErrBody(t, r, c.key, c.msg)
			}
		})
	}
	// GET .../members still lists the direct members only (fred's has
	// expired: see TestMemberListsHide).
	t.Run("direct members", func(t *testing.T) {
		var got []map[string]any
		get(t, inProject(proj), admin).JSON(t, &got)
		check(t, got, []row{{"carol", 30, inProject(proj)}, {"bob", 20, inProject(proj)}})
	})
}

// The member lists and lookups show what GitLab shows, which is not every
// row (see meta.listed): a top-level group's direct members hold Minimal
// Access, as in a GitLab EE that allows it (all_group_members,
// ee/lib/ee/api/helpers/members_helpers.rb source_members), the
// .../members/all lists do not (non_minimal_access), and an expired membership is gone once
// RemoveExpiredMembersWorker has run at 00:10, but for a group's last
// Owner, whom Members::DestroyService keeps
// (app/workers/remove_expired_members_worker.rb,
// app/services/members/destroy_service.rb). A membership so left out is
// 404 to GET, PUT and DELETE .../members/:user_id and absent from
// .../members/all too; POST still answers with the member it made.
func TestMemberListsHide(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	adminID := int64(e.Must(200, e.Do("GET", "/api/v4/user", nil, admin)).Map(t)["id"].(float64))
	g := e.Group("shown", 0, "private")
	p := e.Project("app", g, "private")
	// lone's one Owner has expired, the admin who made it removed; sub is
	// below it.
	lone := e.Group("lone", 0, "private")
	loneSub := e.Group("lonesub", lone, "private")
	loneProj := e.Project("loneapp", lone, "private")
	n := 0
	for _, c := range []struct {
		name    string
		kind    string
		id      int64
		level   int
		expired bool
		listed  bool
		// alls are the .../members/all lists, beside the source's own,
		// that should hold the member as its direct list does.
		alls []string
	}{
		{"a group Developer", "groups", g, 30, false, true, []string{fmt.Sprintf("projects/%d", p)}},
		{"an expired group Developer", "groups", g, 30, true, false, []string{fmt.Sprintf("projects/%d", p)}},
		{"a top-level group's member at Minimal Access", "groups", g, 5, false, true, []string{fmt.Sprintf("projects/%d", p)}},
		{"an expired group Owner beside one in force", "groups", g, 50, true, false, []string{fmt.Sprintf("projects/%d", p)}},
		{"an expired last Owner", "groups", lone, 50, true, true, []string{fmt.Sprintf("groups/%d", loneSub), fmt.Sprintf("projects/%d", loneProj)}},
		{"a project Developer", "projects", p, 30, false, true, nil},
		{"an expired project Developer", "projects", p, 30, true, false, nil},
		{"an expired project Maintainer", "projects", p, 40, true, false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			n++
			uid, _ := e.User(fmt.Sprintf("hidden%d", n))
			members := fmt.Sprintf("/api/v4/%s/%d/members", c.kind, c.id)
			r := e.Do("POST", members, map[string]any{"user_id": uid, "access_level": c.level}, admin)
			if !wantStatus(t, r, 201) {
				return
			}
			if m := r.Map(t); m["id"] != float64(uid) || m["access_level"] != float64(c.level) {
				t.Errorf("POST answered %v", m)
			}
			if c.id == lone && c.level == 50 {
				wantStatus(t, e.Do("DELETE", fmt.Sprintf("%s/%d", members, adminID), nil, admin), 204)
			}
			if c.expired {
				expire(t, e, c.kind, c.id, uid)
			}
			// The .../members/all lists never hold Minimal Access.
			inAll := c.listed && c.level != 5
			for _, path := range []string{fmt.Sprintf("%s/%d", members, uid), fmt.Sprintf("%s/all/%d", members, uid)} {
				want := 404
				if c.listed && (inAll || !strings.Contains(path, "/all/")) {
					want = 200
				}
				if r := e.Do("GET", path, nil, admin); wantStatus(t, r, want) && want == 200 {
					if m := r.Map(t); m["access_level"] != float64(c.level) || (m["expires_at"] != nil) != c.expired {
						t.Errorf("GET %s: %v", path, m)
					}
				}
			}
			lists := []string{members, members + "/all"}
			for _, a := range c.alls {
				lists = append(lists, "/api/v4/"+a+"/members/all")
			}
			for _, path := range lists {
				var got []map[string]any
				e.Must(200, e.Do("GET", path+fmt.Sprintf("?user_ids=%d", uid), nil, admin)).JSON(t, &got)
				want := c.listed
				if path != members {
					want = inAll
				}
				if (len(got) == 1) != want {
					t.Errorf("GET %s lists %v, want listed %v", path, got, want)
				}
			}
			if !c.listed {
				// Nor do PUT and DELETE find it.
				one := fmt.Sprintf("%s/%d", members, uid)
				if r := e.Do("PUT", one, map[string]any{"access_level": 40}, admin); wantStatus(t, r, 404) {
					ErrBody(t, r, "message", "404 Not found")
				}
				if r := e.Do("DELETE", one, nil, admin); wantStatus(t, r, 404) {
					ErrBody(t, r, "message", "404 Not found")
				}
			}
			// A POST for a member the lists show conflicts; one for a row
			// they leave out makes the member anew, as in GitLab, whose
			// daily job has deleted an expired row by then.
			r = e.Do("POST", members, map[string]any{"user_id": uid, "access_level": 30}, admin)
			if c.listed {
				if wantStatus(t, r, 409) {
					ErrBody(t, r, "message", "Member already exists")
				}
				// The store refuses it too, for the POST that raced past
				// the handler's lookup: a member shown is never replaced.
				src := meta.MemberSource{Group: c.kind == "groups", ID: c.id}
				if _, err := e.Store.AddMember(context.Background(), src, uid, 30, nil); !errs.Is(err, errs.Conflict) {
					t.Errorf("AddMember over a listed member: %v, want Conflict", err)
				}
				return
			}
			if wantStatus(t, r, 201) {
				if m := r.Map(t); m["access_level"] != float64(30) || m["expires_at"] != nil {
					t.Errorf("POST over a row left out answered %v", m)
				}
			}
			if r := e.Do("GET", fmt.Sprintf("%s/%d", members, uid), nil, admin); wantStatus(t, r, 200) {
				if m := r.Map(t); m["access_level"] != float64(30) || m["expires_at"] != nil {
					t.Errorf("the member made anew: %v", m)
				}
			}
		})
	}
}

// The members API wants a signed-in caller whatever the group or project:
// GitLab's API::Members runs `before { authenticate! }`, so an anonymous
// request is 401 on a public group or project too, before its parameters
// are read; Grape then checks the parameters (user_id an integer: 400)
// before the handler looks the group or project up (404 to whoever cannot
// see it) (gitlabhq lib/api/members.rb).
func TestMemberListsWantSignIn(t *testing.T) {
	e := NewEnv(t)
	open := e.Group("open", 0, "public")
	shown := e.Project("shown", open, "public")
	hidden := e.Group("hidden", 0, "private")
	secret := e.Project("secret", hidden, "private")
	uID, u := e.User("someone")
	type request struct {
		name, path string
		who        H
		status     int
		key, msg   string
	}
	var cases []request
	add := func(name, path string, who H, status int, key, msg string) {
		cases = append(cases, request{name, path, who, status, key, msg})
	}
	for _, src := range []struct {
		name, open, hidden string
	}{
		{"group", fmt.Sprintf("/api/v4/groups/%d", open), fmt.Sprintf("/api/v4/groups/%d", hidden)},
		{"project", fmt.Sprintf("/api/v4/projects/%d", shown), fmt.Sprintf("/api/v4/projects/%d", secret)},
	} {
		notFound := "404 Group Not Found"
		if src.name == "project" {
			notFound = "404 Project Not Found"
		}
		for _, route := range []string{"/members", "/members/all"} {
			for _, sub := range []string{"", fmt.Sprintf("/%d", uID), "?user_ids=x"} {
				add(fmt.Sprintf("anonymous, public %s, %s%s", src.name, route, sub), src.open+route+sub, nil, 401, "message", "401 Unauthorized")
				add(fmt.Sprintf("anonymous, private %s, %s%s", src.name, route, sub), src.hidden+route+sub, nil, 401, "message", "401 Unauthorized")
			}
			add(fmt.Sprintf("signed in, public %s, %s", src.name, route), src.open+route, PAT(u), 200, "", "")
			add(fmt.Sprintf("no user id, private %s, %s", src.name, route), src.hidden+route+"/abc", PAT(u), 400, "error", "user_id is invalid")
			add(fmt.Sprintf("a user id, private %s, %s", src.name, route), src.hidden+route+fmt.Sprintf("/%d", uID), PAT(u), 404, "message", notFound)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do("GET", c.path, nil, c.who)
			if wantStatus(t, r, c.status) && c.key != "" {
				ErrBody(t, r, c.key, c.msg)
			}
		})
	}
}

// Minimal Access gives a user nothing to see: GitLab builds project
// authorizations from memberships at Guest and up, and a top-level
// group's Minimal Access member gets 404 from the group, its subgroups
// and its private projects, packages included (see meta.grants). The
// level is for top-level groups only: a subgroup refuses it with both of
// EE GroupMember's errors, a project with the plain one (gitlabhq
// ee/app/models/ee/group_member.rb access_level_inclusion).
func TestMinimalAccess(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	top := e.Group("min", 0, "private")
	sub := e.Group("minsub", top, "private")
	p := e.Project("app", top, "private")
	sp := e.Project("subapp", sub, "private")
	file := func(p int64) string { return fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.0/tool.txt", p) }
	for _, id := range []int64{p, sp} {
		e.Must(201, e.Do("PUT", file(id), "bytes", admin))
	}
	uid, tok := e.User("minimal")
	e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/groups/%d/members", top), map[string]any{"user_id": uid, "access_level": 5}, admin))
	reads := []string{
		fmt.Sprintf("/api/v4/groups/%d", top), fmt.Sprintf("/api/v4/groups/%d", sub),
		fmt.Sprintf("/api/v4/projects/%d", p), fmt.Sprintf("/api/v4/projects/%d", sp),
		file(p), file(sp), fmt.Sprintf("/api/v4/projects/%d/packages", p), fmt.Sprintf("/api/v4/groups/%d/packages", top),
	}
	t.Run("sees nothing", func(t *testing.T) {
		for _, path := range reads {
			wantStatus(t, e.Do("GET", path, nil, PAT(tok)), 404)
		}
		for _, list := range []string{"/api/v4/groups", "/api/v4/projects?membership=true", "/api/v4/projects"} {
			var got []map[string]any
			e.Must(200, e.Do("GET", list, nil, PAT(tok))).JSON(t, &got)
			if len(got) != 0 {
				t.Errorf("GET %s lists %d entries for a Minimal Access member", list, len(got))
			}
		}
	})
	t.Run("top-level groups only", func(t *testing.T) {
		other, _ := e.User("elsewhere")
		for _, c := range []struct {
			kind string
			id   int64
			want []any
		}{
			{"groups", sub, []any{"is not included in the list", "supported on top level groups only"}},
			{"projects", p, []any{"is not included in the list"}},
		} {
			members := fmt.Sprintf("/api/v4/%s/%d/members", c.kind, c.id)
			r := e.Do("POST", members, map[string]any{"user_id": other, "access_level": 5}, admin)
			if wantStatus(t, r, 400) {
				if got := r.Map(t)["message"].(map[string]any)["access_level"]; fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Errorf("POST %s at 5: access_level errors %v, want %v", members, got, c.want)
				}
			}
			e.Must(201, e.Do("POST", members, map[string]any{"user_id": other, "access_level": 10}, admin))
			r = e.Do("PUT", fmt.Sprintf("%s/%d", members, other), map[string]any{"access_level": 5}, admin)
			if wantStatus(t, r, 400) {
				if got := r.Map(t)["message"].(map[string]any)["access_level"]; fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Errorf("PUT %s at 5: access_level errors %v, want %v", members, got, c.want)
				}
			}
			e.Must(200, e.Do("GET", fmt.Sprintf("%s/%d", members, other), nil, admin))
		}
	})
	// Raised to Guest, the same membership reaches everything below.
	t.Run("Guest sees it all", func(t *testing.T) {
		e.Must(200, e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d/members/%d", top, uid), map[string]any{"access_level": 10}, admin))
		for _, path := range reads[:4] {
			wantStatus(t, e.Do("GET", path, nil, PAT(tok)), 200)
		}
	})
}
