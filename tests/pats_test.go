package tests

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
)

// newPAT creates a personal access token for a user as admin and returns
// its id and secret.
func (e *Env) newPAT(userID int64, name string, scopes []string, expires string) (int64, string) {
	e.t.Helper()
	body := map[string]any{"name": name, "scopes": scopes}
	if expires != "" {
		body["expires_at"] = expires
	}
	m := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", userID), body, PAT(e.Admin))).Map(e.t)
	return int64(m["id"].(float64)), m["token"].(string)
}

func patPath(id any) string { return fmt.Sprintf("/api/v4/personal_access_tokens/%v", id) }

// TestPersonalAccessTokensAccess walks who may list, read and revoke
// which token, with GitLab's status codes and bodies (gitlabhq
// spec/requests/api/personal_access_tokens_spec.rb): 401 rather than 404
// for non-admins, 400 for revoking someone else's token, self routes open
// to every scope.
func TestPersonalAccessTokensAccess(t *testing.T) {
	e := NewEnv(t)
	aliceID, alice := e.User("alice")
	bobID, bob := e.User("bob")
	aliceTok := e.Must(200, e.Do("GET", patPath("self"), nil, PAT(alice))).Map(t)["id"]
	bobTok := e.Must(200, e.Do("GET", patPath("self"), nil, PAT(bob))).Map(t)["id"]
	spareID, _ := e.newPAT(aliceID, "spare", []string{"api"}, "")
	_, aliceRO := e.newPAT(aliceID, "ro", []string{"read_api"}, "")
	_, aliceUser := e.newPAT(aliceID, "user-only", []string{"read_user"}, "")
	list := "/api/v4/personal_access_tokens"

	cases := []struct {
		name, method, path string
		h                  H
		status             int
		key, msg           string
	}{
		{"anonymous list", "GET", list, nil, 401, "message", "401 Unauthorized"},
		{"anonymous self", "GET", patPath("self"), nil, 401, "message", "401 Unauthorized"},
		{"anonymous self revoke", "DELETE", patPath("self"), nil, 401, "message", "401 Unauthorized"},
		{"unknown token", "GET", list, PAT("glpat-doesnotexist000000"), 401, "message", "401 Unauthorized"},
		{"own list", "GET", list, PAT(alice), 200, "", ""},
		{"own list by user_id", "GET", list + fmt.Sprintf("?user_id=%d", aliceID), PAT(alice), 200, "", ""},
		{"other user's list", "GET", list + fmt.Sprintf("?user_id=%d", bobID), PAT(alice), 401, "message", "401 Unauthorized"},
		{"non-integer user_id before validation", "GET", list + "?user_id=abc&state=bogus", PAT(alice), 401, "message", "401 Unauthorized"},
		{"empty user_id is no filter", "GET", list + "?user_id=", PAT(alice), 200, "", ""},
		{"admin missing user", "GET", list + "?user_id=999999", PAT(e.Admin), 404, "message", "404 Not Found"},
		{"admin empty user_id", "GET", list + "?user_id=", PAT(e.Admin), 404, "message", "404 Not Found"},
		{"admin bad user_id", "GET", list + "?user_id=abc", PAT(e.Admin), 400, "error", "user_id is invalid"},
		{"read_user token cannot list", "GET", list, PAT(aliceUser), 403, "error", "insufficient_scope"},
		{"own token", "GET", patPath(aliceTok), PAT(alice), 200, "", ""},
		{"own token read_api", "GET", patPath(aliceTok), PAT(aliceRO), 200, "", ""},
		{"own token read_user", "GET", patPath(aliceTok), PAT(aliceUser), 403, "error", "insufficient_scope"},
		{"self with read_user", "GET", patPath("self"), PAT(aliceUser), 200, "", ""},
		{"other user's token", "GET", patPath(bobTok), PAT(alice), 401, "message", "401 Unauthorized"},
		{"missing token", "GET", patPath(999999), PAT(alice), 401, "message", "401 Unauthorized"},
		{"admin other user's token", "GET", patPath(aliceTok), PAT(e.Admin), 200, "", ""},
		{"admin missing token", "GET", patPath(999999), PAT(e.Admin), 404, "message", "404 Not Found"},
		{"admin non-integer id", "GET", patPath("abc"), PAT(e.Admin), 404, "message", "404 Not Found"},
		{"revoke other user's token", "DELETE", patPath(bobTok), PAT(alice), 400, "message", "400 Bad request"},
		{"revoke missing token", "DELETE", patPath(999999), PAT(alice), 404, "message", "404 Not found"},
		{"revoke non-integer id", "DELETE", patPath("abc"), PAT(alice), 404, "message", "404 Not found"},
		{"revoke with read_api", "DELETE", patPath(spareID), PAT(aliceRO), 403, "error", "insufficient_scope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do(c.method, c.path, nil, c.h)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.key != "" {
				ErrBody(t, r, c.key, c.msg)
			}
			if strings.Contains(string(r.Body), `"token"`) {
				t.Errorf("a response other than creation shows a secret: %s", r.Body)
			}
		})
	}
	// Nothing refused above was revoked.
	e.Must(200, e.Do("GET", "/api/v4/user", nil, PAT(bob)))
	if m := e.Must(200, e.Do("GET", patPath(spareID), nil, PAT(alice))).Map(t); m["revoked"] != false {
		t.Errorf("spare token revoked: %v", m)
	}

	// A user lists their own tokens only, an admin everybody's.
	var mine, all []map[string]any
	e.Must(200, e.Do("GET", list+"?per_page=100", nil, PAT(alice))).JSON(t, &mine)
	for _, m := range mine {
		if m["user_id"] != float64(aliceID) {
			t.Errorf("alice sees a token of user %v", m["user_id"])
		}
	}
	if len(mine) != 4 {
		t.Errorf("alice lists %d tokens, want 4", len(mine))
	}
	e.Must(200, e.Do("GET", list+"?per_page=100", nil, PAT(e.Admin))).JSON(t, &all)
	if len(all) != 6 { // root's, alice's four, bob's
		t.Errorf("admin lists %d tokens, want 6", len(all))
	}
	// GET by id, self and the list carry GitLab's last_used_ips, a list
	// (TestPersonalAccessTokenLastUsedIPs checks what it holds).
	g := e.Must(200, e.Do("GET", patPath(aliceTok), nil, PAT(alice))).Map(t)
	for _, k := range []string{"id", "name", "revoked", "created_at", "description", "scopes", "user_id", "last_used_at", "active", "expires_at"} {
		if _, ok := g[k]; !ok {
			t.Errorf("missing key %s: %v", k, g)
		}
	}
	for name, m := range map[string]map[string]any{"by id": g, "self": e.Must(200, e.Do("GET", patPath("self"), nil, PAT(alice))).Map(t), "listed": mine[0]} {
		if _, ok := m["last_used_ips"].([]any); !ok {
			t.Errorf("%s: last_used_ips = %v", name, m["last_used_ips"])
		}
	}
}

// lastUsedIPs reads a token's last_used_ips as an admin sees it by id,
// waiting up to five seconds for it to become want: a use on a package
// route is recorded after its request has been answered.
func (e *Env) lastUsedIPs(t *testing.T, id int64, want ...string) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got []string
		m := e.Must(200, e.Do("GET", patPath(id), nil, PAT(e.Admin))).Map(t)
		ips, ok := m["last_used_ips"].([]any)
		if !ok {
			t.Fatalf("last_used_ips = %v", m["last_used_ips"])
		}
		for _, v := range ips {
			got = append(got, fmt.Sprint(v))
		}
		if slices.Equal(got, want) || time.Now().After(deadline) {
			if !slices.Equal(got, want) {
				t.Errorf("last_used_ips = %q, want %q", got, want)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ageLastUsedIPs moves a token's recorded addresses two minutes into the
// past, past GitLab's once-a-minute limit on adding one.
func (e *Env) ageLastUsedIPs(t *testing.T, id int64) {
	t.Helper()
	if _, err := e.Store.DB().Exec(`UPDATE personal_access_token_last_used_ips SET created_at = created_at - interval '2 minutes'
		WHERE personal_access_token_id = $1`, id); err != nil {
		t.Fatal(err)
	}
}

// TestPersonalAccessTokenLastUsedIPs: a token's use records the client's
// address as the gateway determines it (X-Forwarded-For only from a
// trusted proxy), also when the token is answered from the cache, and
// GitLab's list, token and self responses show the addresses, oldest
// first (gitlabhq app/services/personal_access_tokens/last_used_service.rb,
// lib/api/entities/personal_access_token_with_last_used_ips.rb).
func TestPersonalAccessTokenLastUsedIPs(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} })
	uid, _ := e.User("erin")
	id, tok := e.newPAT(uid, "ci", []string{"api"}, "")
	use := func(ip string) {
		t.Helper()
		e.Must(200, e.Do("GET", "/api/v4/user", nil, H{"PRIVATE-TOKEN": tok, "X-Forwarded-For": ip}))
	}
	e.lastUsedIPs(t, id) // unused: none

	use("203.0.113.7")
	e.lastUsedIPs(t, id, "203.0.113.7")
	// The token is cached now; a new address is still recorded once the
	// last one is a minute old, and a package route records it too.
	e.ageLastUsedIPs(t, id)
	s := e.NewScenario()
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f", s.ProjectID), nil,
		H{"PRIVATE-TOKEN": tok, "X-Forwarded-For": "2001:DB8::1"}))
	e.lastUsedIPs(t, id, "203.0.113.7", "2001:db8::1")

	want := []any{"203.0.113.7", "2001:db8::1"}
	self := e.Must(200, e.Do("GET", patPath("self"), nil, PAT(tok))).Map(t)
	if ips, _ := self["last_used_ips"].([]any); !slices.Equal(ips, want) {
		t.Errorf("self: last_used_ips = %v, want %v", self["last_used_ips"], want)
	}
	var listed []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/personal_access_tokens?user_id=%d", uid), nil, PAT(e.Admin))).JSON(t, &listed)
	for _, m := range listed {
		if ips, _ := m["last_used_ips"].([]any); m["id"] == float64(id) && !slices.Equal(ips, want) {
			t.Errorf("listed: last_used_ips = %v, want %v", m["last_used_ips"], want)
		}
	}
	if len(listed) != 2 {
		t.Errorf("listed %d tokens, want 2", len(listed))
	}

	// Without a trusted proxy, X-Forwarded-For is the client's own claim:
	// the address recorded is the connection's.
	u := NewEnv(t)
	uid, _ = u.User("frank")
	id, tok = u.newPAT(uid, "ci", []string{"api"}, "")
	u.Must(200, u.Do("GET", "/api/v4/user", nil, H{"PRIVATE-TOKEN": tok, "X-Forwarded-For": "203.0.113.7"}))
	u.lastUsedIPs(t, id, "127.0.0.1")

	// The API records a use before it answers, as GitLab's authentication
	// does: a token whose first request reads itself already shows that
	// request, with no wait.
	_, fresh := u.newPAT(uid, "fresh", []string{"api"}, "")
	m := u.Must(200, u.Do("GET", patPath("self"), nil, PAT(fresh))).Map(t)
	if ips, _ := m["last_used_ips"].([]any); m["last_used_at"] == nil || !slices.Equal(ips, []any{"127.0.0.1"}) {
		t.Errorf("self on first use: last_used_at %v, last_used_ips %v", m["last_used_at"], m["last_used_ips"])
	}
}

// TestPATTouchLastUsedIPs: meta.TouchPAT keeps GitLab's list: a new
// address at most once a minute, none twice, the five first seen most
// recently (gitlabhq app/services/personal_access_tokens/last_used_service.rb).
func TestPATTouchLastUsedIPs(t *testing.T) {
	e := NewEnv(t)
	ctx := context.Background()
	uid, _ := e.User("gina")
	id, _ := e.newPAT(uid, "ci", []string{"api"}, "")
	steps := []struct {
		name string
		ip   string
		age  bool // move the recorded addresses two minutes back first
		want []string
	}{
		{"first address", "192.0.2.1", false, []string{"192.0.2.1"}},
		{"second within the minute", "192.0.2.2", false, []string{"192.0.2.1"}},
		{"second after the minute", "192.0.2.2", true, []string{"192.0.2.1", "192.0.2.2"}},
		{"known address keeps its place", "192.0.2.1", true, []string{"192.0.2.1", "192.0.2.2"}},
		{"no address", "", true, []string{"192.0.2.1", "192.0.2.2"}},
		{"third", "192.0.2.3", false, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}},
		{"fourth", "2001:db8::4", true, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::4"}},
		{"fifth", "192.0.2.5", true, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::4", "192.0.2.5"}},
		{"sixth drops the oldest", "192.0.2.6", true, []string{"192.0.2.2", "192.0.2.3", "2001:db8::4", "192.0.2.5", "192.0.2.6"}},
		{"the dropped one comes back as new", "192.0.2.1", true, []string{"192.0.2.3", "2001:db8::4", "192.0.2.5", "192.0.2.6", "192.0.2.1"}},
	}
	for _, st := range steps {
		if st.age {
			e.ageLastUsedIPs(t, id)
		}
		if err := e.Store.TouchPAT(ctx, id, st.ip); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := e.Store.PATLastUsedIPs(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[id], st.want) {
			t.Errorf("%s: %q, want %q", st.name, got[id], st.want)
		}
	}
	var n int
	if err := e.Store.DB().QueryRow(`SELECT count(*) FROM personal_access_token_last_used_ips WHERE personal_access_token_id = $1`, id).Scan(&n); err != nil || n != 5 {
		t.Errorf("%d rows kept (%v), want 5", n, err)
	}
	p, err := e.Store.PATByID(ctx, id)
	if err != nil || p.LastUsedAt == nil {
		t.Errorf("last_used_at not set: %v %v", p, err)
	}
}

// TestPersonalAccessTokenRevoke: a revoked token fails on the very next
// request although it was cached, on this node and on another one, and
// every revocation is audited.
func TestPersonalAccessTokenRevoke(t *testing.T) {
	a := NewEnv(t)
	b := a.SecondNode()
	uid, main := a.User("carol")
	otherID, other := a.newPAT(uid, "other", []string{"api"}, "")
	_, selfish := a.newPAT(uid, "selfish", []string{"read_user"}, "")
	byAdminID, byAdmin := a.newPAT(uid, "by-admin", []string{"read_api"}, "")
	// Every token is cached on both nodes.
	for _, n := range []*Env{a, b} {
		for _, tok := range []string{main, other, byAdmin} {
			n.Must(200, n.Do("GET", "/api/v4/user", nil, PAT(tok)))
		}
		n.Must(200, n.Do("GET", patPath("self"), nil, PAT(selfish)))
	}
	revoked := func(n *Env, tok string) {
		t.Helper()
		r := n.Do("GET", patPath("self"), nil, PAT(tok))
		n.Must(401, r)
		ErrBody(t, r, "error", "invalid_token")
	}
	revokedSoon := func(n *Env, tok string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second) // far below the cache TTL
		for n.Do("GET", "/api/v4/user", nil, PAT(tok)).Status != 401 {
			if time.Now().After(deadline) {
				t.Fatal("revoked token still accepted by the other node")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// By id, by its owner.
	r := a.Must(204, a.Do("DELETE", patPath(otherID), nil, PAT(main)))
	if len(r.Body) != 0 {
		t.Errorf("204 with a body: %q", r.Body)
	}
	revoked(a, other)
	revokedSoon(b, other)
	m := a.Must(200, a.Do("GET", patPath(otherID), nil, PAT(main))).Map(t)
	if m["revoked"] != true || m["active"] != false {
		t.Errorf("after revocation: %v", m)
	}
	// By id, by an admin; again (already revoked) is still 204.
	a.Must(204, a.Do("DELETE", patPath(byAdminID), nil, PAT(a.Admin)))
	revoked(a, byAdmin)
	revokedSoon(b, byAdmin)
	a.Must(204, a.Do("DELETE", patPath(byAdminID), nil, PAT(a.Admin)))
	// Self, with a token of no API scope, through the other node.
	b.Must(204, b.Do("DELETE", patPath("self"), nil, PAT(selfish)))
	revoked(b, selfish)
	revokedSoon(a, selfish)
	// The user's remaining token is untouched.
	a.Must(200, a.Do("GET", "/api/v4/user", nil, PAT(main)))
	b.Must(200, b.Do("GET", "/api/v4/user", nil, PAT(main)))

	var events []map[string]any
	a.Must(200, a.Do("GET", "/api/v4/audit_events?action=personal_access_token.revoke", nil, PAT(a.Admin))).JSON(t, &events)
	if len(events) != 4 {
		t.Fatalf("%d revocation events, want 4: %v", len(events), events)
	}
	var authors []string
	for _, ev := range events {
		authors = append(authors, fmt.Sprint(ev["author_name"]))
		if ev["entity_type"] != "User" || ev["entity_id"] != float64(uid) || ev["entity_path"] != "carol" {
			t.Errorf("event target: %v", ev)
		}
		if d, _ := ev["details"].(map[string]any); d["token_id"] == nil || d["name"] == nil {
			t.Errorf("event details: %v", ev["details"])
		}
	}
	slices.Sort(authors)
	if want := []string{"carol", "carol", "root", "root"}; !slices.Equal(authors, want) {
		t.Errorf("authors %v, want %v", authors, want)
	}
}

// TestPersonalAccessTokensListFilters runs GitLab's list filters on a
// user's tokens whose dates are set in the database, with the boundaries of
// gitlabhq spec/requests/api/personal_access_tokens_spec.rb.
func TestPersonalAccessTokensListFilters(t *testing.T) {
	e := NewEnv(t)
	uid, _ := e.User("dave") // its token is named "t"
	id1, _ := e.newPAT(uid, "test_1", []string{"api"}, "")
	_, _ = e.newPAT(uid, "test_2", []string{"api"}, "2099-06-01")
	id3, _ := e.newPAT(uid, "deploy bot", []string{"read_api"}, "")
	_, _ = e.newPAT(uid, "old", []string{"api"}, "2022-01-01")
	_, _ = e.newPAT(uid, "ends today", []string{"api"}, time.Now().UTC().Format("2006-01-02"))
	db := e.Store.DB()
	if _, err := db.Exec(`UPDATE personal_access_tokens SET created_at = '2022-01-01T12:30:25Z', last_used_at = '2022-01-01T12:30:25Z' WHERE id = $1`, id1); err != nil {
		t.Fatal(err)
	}
	e.Must(204, e.Do("DELETE", patPath(id3), nil, PAT(e.Admin)))
	everyone := []string{"t", "test_1", "test_2", "deploy bot", "old", "ends today"}
	except := func(names ...string) []string {
		return slices.DeleteFunc(slices.Clone(everyone), func(n string) bool { return slices.Contains(names, n) })
	}
	base := fmt.Sprintf("/api/v4/personal_access_tokens?per_page=100&user_id=%d&", uid)

	cases := []struct {
		query string
		want  []string // in this order when ordered, else as a set
		order bool
	}{
		{"", everyone, true},
		{"revoked=true", []string{"deploy bot"}, false},
		{"revoked=false", except("deploy bot"), false},
		{"state=active", []string{"t", "test_1", "test_2"}, false},
		// "ends today" is inactive here; GitLab lists it in neither state.
		{"state=inactive", []string{"deploy bot", "old", "ends today"}, false},
		{"search=test", []string{"test_1", "test_2"}, false},
		{"search=TEST_1", []string{"test_1"}, false},
		{"search=" + url.QueryEscape("bot deploy"), []string{"deploy bot"}, false},
		{"search=" + url.QueryEscape(`"deploy bot"`), []string{"deploy bot"}, false},
		{"search=" + url.QueryEscape(`"bot deploy"`), nil, false},
		{"search=t", []string{"t"}, false}, // under 3 characters: the whole name
		{"search=te", nil, false},
		{"search=", everyone, false},
		{"search=asdf", nil, false},
		{"created_before=2022-01-02", []string{"test_1"}, false},
		{"created_before=2022-01-01", nil, false},
		{"created_before=2022-01-01T12:30:24", nil, false},
		{"created_before=2022-01-01T12:30:25", []string{"test_1"}, false},
		{"created_after=2022-01-01T12:30:25", everyone, false},
		{"created_after=2022-01-01T12:30:26", except("test_1"), false},
		{"created_after=2022-01-01&created_before=2022-01-03", []string{"test_1"}, false},
		{"last_used_before=2022-01-02", []string{"test_1"}, false},
		{"last_used_before=2022-01-01T12:30:24", nil, false},
		{"last_used_after=2022-01-01", []string{"test_1"}, false},
		{"last_used_after=2022-01-01T12:30:26", nil, false},
		{"expires_before=2022-01-02", []string{"old"}, false},
		{"expires_before=2022-01-01", nil, false},
		{"expires_after=2099-06-01", []string{"test_2"}, false},
		{"state=active&search=test&revoked=false", []string{"test_1", "test_2"}, false},
		{"sort=name_asc", []string{"deploy bot", "ends today", "old", "t", "test_1", "test_2"}, true},
		{"sort=name_desc", []string{"test_2", "test_1", "t", "old", "ends today", "deploy bot"}, true},
		{"sort=created_asc", []string{"test_1", "t", "test_2", "deploy bot", "old", "ends today"}, true},
		{"sort=unknown", everyone, true},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			var got []map[string]any
			e.Must(200, e.Do("GET", base+c.query, nil, PAT(e.Admin))).JSON(t, &got)
			names := []string{}
			for _, m := range got {
				names = append(names, m["name"].(string))
			}
			want := append([]string{}, c.want...)
			if !c.order {
				slices.Sort(names)
				slices.Sort(want)
			}
			if !slices.Equal(names, want) {
				t.Errorf("got %q, want %q", names, want)
			}
		})
	}

	bad := []struct{ query, msg string }{
		{"revoked=asdf", "revoked is invalid"},
		{"state=asdf", "state does not have a valid value"},
		{"created_before=asdf", "created_before is invalid"},
		{"created_after=asdf", "created_after is invalid"},
		{"last_used_before=asdf", "last_used_before is invalid"},
		{"last_used_after=asdf", "last_used_after is invalid"},
		{"expires_after=asdf", "expires_after is invalid"},
		{"revoked=asdf&state=asdf", "revoked is invalid, state does not have a valid value"},
	}
	for _, c := range bad {
		t.Run(c.query, func(t *testing.T) {
			r := e.Do("GET", base+c.query, nil, PAT(e.Admin))
			e.Must(400, r)
			ErrBody(t, r, "error", c.msg)
		})
	}

	// Pagination as everywhere else: X-* headers and Link URLs on the
	// external URL that keep the filters.
	r := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/personal_access_tokens?user_id=%d&state=active&per_page=2", uid), nil, PAT(e.Admin)))
	if r.Header.Get("X-Total") != "3" || r.Header.Get("X-Total-Pages") != "2" || r.Header.Get("X-Next-Page") != "2" {
		t.Errorf("pagination headers: %v", r.Header)
	}
	link := r.Header.Get("Link")
	if !strings.Contains(link, e.URL+"/api/v4/personal_access_tokens?") || !strings.Contains(link, `rel="next"`) ||
		!strings.Contains(link, "state=active") || !strings.Contains(link, fmt.Sprintf("user_id=%d", uid)) {
		t.Errorf("Link: %s", link)
	}
	var page2 []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/personal_access_tokens?user_id=%d&state=active&per_page=2&page=2", uid), nil, PAT(e.Admin))).JSON(t, &page2)
	if len(page2) != 1 || page2[0]["expires_at"] != "2099-06-01" {
		t.Errorf("page 2: %v", page2)
	}
}

// TestUserBlock: an admin blocks and unblocks a user (GitLab's POST
// /users/:id/block and /unblock); a blocked user's PATs are refused with
// 403 at once on every node, although they were cached, and work again
// once unblocked; both changes are audited.
func TestUserBlock(t *testing.T) {
	a := NewEnv(t)
	b := a.SecondNode()
	s := a.NewScenario()
	devID, dev := a.User("dev")
	a.Member("projects", s.ProjectID, devID, 30)
	_, other := a.User("other")
	file := fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f", s.ProjectID)
	a.Must(201, a.Do("PUT", file, "x", PAT(dev)))
	b.Must(200, b.Do("GET", file, nil, PAT(dev))) // cached on node b
	a.Must(200, a.Do("GET", "/api/v4/user", nil, PAT(dev)))

	block := fmt.Sprintf("/api/v4/users/%d/block", devID)
	a.Must(401, a.Do("POST", block, nil, nil))
	a.Must(403, a.Do("POST", block, nil, PAT(other)))
	a.Must(404, a.Do("POST", "/api/v4/users/999999/block", nil, PAT(a.Admin)))
	r := a.Must(403, a.Do("POST", "/api/v4/users/1/block", nil, PAT(a.Admin)))
	ErrBody(t, r, "message", "403 Forbidden - The API initiating user cannot be blocked by the API")
	if r := a.Must(201, a.Do("POST", block, nil, PAT(a.Admin))); string(r.Body) != "true" {
		t.Fatalf("block: %s", r.Body)
	}
	if r := a.Must(201, a.Do("POST", block, nil, PAT(a.Admin))); string(r.Body) != "null" {
		t.Fatalf("block of a blocked user: %s", r.Body)
	}
	if m := a.Must(200, a.Do("GET", fmt.Sprintf("/api/v4/users/%d", devID), nil, PAT(a.Admin))).Map(t); m["state"] != "blocked" {
		t.Fatalf("state %v", m["state"])
	}
	r = a.Must(403, a.Do("GET", "/api/v4/user", nil, PAT(dev)))
	ErrBody(t, r, "message", "403 Forbidden - Your account has been blocked.")
	a.Must(403, a.Do("GET", file, nil, PAT(dev)))
	deadline := time.Now().Add(5 * time.Second) // far below the 30 s token cache
	for b.Do("GET", file, nil, PAT(dev)).Status != 403 {
		if time.Now().After(deadline) {
			t.Fatal("node b still accepts the blocked user's token")
		}
		time.Sleep(20 * time.Millisecond)
	}

	unblock := fmt.Sprintf("/api/v4/users/%d/unblock", devID)
	a.Must(403, a.Do("POST", unblock, nil, PAT(other)))
	if r := a.Must(201, a.Do("POST", unblock, nil, PAT(a.Admin))); string(r.Body) != "true" {
		t.Fatalf("unblock: %s", r.Body)
	}
	a.Must(200, a.Do("GET", file, nil, PAT(dev)))
	for b.Do("GET", file, nil, PAT(dev)).Status != 200 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("node b still refuses the unblocked user's token")
		}
		time.Sleep(20 * time.Millisecond)
	}

	var got []string
	for _, ev := range auditList(a, fmt.Sprintf("/api/v4/audit_events?entity_type=User&entity_id=%d", devID), a.Admin) {
		d, _ := ev["details"].(map[string]any)
		got = append(got, fmt.Sprint(ev["event_name"], " ", d["custom_message"], " ", d["target_details"], " by ", ev["author_name"]))
	}
	want := "user_unblocked Unblocked user dev by root|user_blocked Blocked user dev by root|personal_access_token_created"
	if g := strings.Join(got, "|"); !strings.HasPrefix(g, want) {
		t.Errorf("audit events %s, want %s...", g, want)
	}
}

// TestPATRotation rotates tokens by id and "self" as GitLab does (see the
// Rotation notes in gateway/api_pats.go): who may rotate whose token and
// with which statuses, the old token refused at once on every node, the
// new one keeping name, description and scopes with a week's expiry by
// default, revoked and expired tokens, the maximum lifetime, token reuse
// detection and the audit event.
func TestPATRotation(t *testing.T) {
	a := NewEnv(t)
	b := a.SecondNode()
	aliceID, alice := a.User("alice")
	bobID, _ := a.User("bob")
	today := time.Now().UTC().Truncate(24 * time.Hour)
	day := func(days int) string { return today.AddDate(0, 0, days).Format("2006-01-02") }
	db := a.Store.DB()
	rotate := func(n *Env, id any, body map[string]any, h H) *Resp {
		t.Helper()
		var b any
		if body != nil {
			b = body
		}
		return n.Do("POST", patPath(id)+"/rotate", b, h)
	}
	refused := func(n *Env, tok string) {
		t.Helper()
		r := n.Do("GET", "/api/v4/user", nil, PAT(tok))
		n.Must(401, r)
		ErrBody(t, r, "error", "invalid_token")
	}
	refusedSoon := func(n *Env, tok string) {
		t.Helper()
		eventually(t, 5*time.Second, "the other node refusing a rotated token", func() bool {
			return n.Do("GET", "/api/v4/user", nil, PAT(tok)).Status == 401
		})
	}
	works := func(n *Env, tok string) {
		t.Helper()
		n.Must(200, n.Do("GET", "/api/v4/user", nil, PAT(tok)))
	}
	revoked := func(id int64) bool {
		t.Helper()
		var r bool
		if err := db.Get(&r, `SELECT revoked FROM personal_access_tokens WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return r
	}

	// By id, by its owner: 200 with the new token and its secret.
	ciID, ci := a.newPAT(aliceID, "ci", []string{"api", "read_user"}, day(30))
	if _, err := db.Exec(`UPDATE personal_access_tokens SET description = 'the CI token' WHERE id = $1`, ciID); err != nil {
		t.Fatal(err)
	}
	works(a, ci)
	works(b, ci) // cached on the other node
	m := a.Must(200, rotate(a, ciID, nil, PAT(alice))).Map(t)
	newID := int64(m["id"].(float64))
	newTok, _ := m["token"].(string)
	if newID == ciID || !strings.HasPrefix(newTok, "glpat-") || newTok == ci {
		t.Fatalf("rotation answered %v", m)
	}
	if m["name"] != "ci" || m["description"] != "the CI token" || fmt.Sprint(m["scopes"]) != "[api read_user]" ||
		m["user_id"] != float64(aliceID) || m["revoked"] != false || m["active"] != true || m["expires_at"] != day(7) {
		t.Errorf("new token: %v", m)
	}
	refused(a, ci)
	refusedSoon(b, ci)
	works(a, newTok)
	works(b, newTok)
	var prev int64
	if err := db.Get(&prev, `SELECT previous_personal_access_token_id FROM personal_access_tokens WHERE id = $1`, newID); err != nil || prev != ciID {
		t.Errorf("previous token %d (%v), want %d", prev, err, ciID)
	}
	if old := a.Must(200, a.Do("GET", patPath(ciID), nil, PAT(alice))).Map(t); old["revoked"] != true || old["active"] != false {
		t.Errorf("old token after rotation: %v", old)
	}

	// Rotating the rotated token again by id is GitLab's 400, and touches
	// neither it nor its successor; using it elsewhere only fails.
	r := rotate(a, ciID, nil, PAT(alice))
	a.Must(400, r)
	ErrBody(t, r, "message", "400 Bad request - Token already revoked")
	refused(a, ci)
	works(a, newTok)

	// expires_at: as given; past the maximum lifetime or unreadable, 400
	// and nothing changes.
	keepID, keep := a.newPAT(aliceID, "keep", []string{"read_api"}, "")
	r = rotate(a, keepID, map[string]any{"expires_at": day(366)}, PAT(alice))
	a.Must(400, r)
	ErrBody(t, r, "message", "400 Bad request - Expiration date must be before "+day(365))
	r = rotate(a, keepID, map[string]any{"expires_at": "soon"}, PAT(alice))
	a.Must(400, r)
	ErrBody(t, r, "error", "expires_at is invalid")
	works(a, keep)
	m = a.Must(200, rotate(a, keepID, map[string]any{"expires_at": day(365)}, PAT(alice))).Map(t)
	if m["expires_at"] != day(365) || fmt.Sprint(m["scopes"]) != "[read_api]" {
		t.Errorf("rotated with expires_at: %v", m)
	}
	refused(a, keep)
	works(a, m["token"].(string))

	// An expired token rotates (RotateService checks revocation only).
	oldID, _ := a.newPAT(aliceID, "expired", []string{"api"}, "2022-01-01")
	if m := a.Must(200, rotate(a, oldID, nil, PAT(alice))).Map(t); m["expires_at"] != day(7) || m["active"] != true {
		t.Errorf("rotated expired token: %v", m)
	}

	// Who may rotate which token.
	bobTokID, bobTok := a.newPAT(bobID, "bobs", []string{"api"}, "")
	_, aliceRO := a.newPAT(aliceID, "ro", []string{"read_api"}, "")
	spareID, spare := a.newPAT(aliceID, "spare", []string{"api"}, "")
	cases := []struct {
		name     string
		id       any
		h        H
		status   int
		key, msg string
	}{
		{"anonymous", spareID, nil, 401, "message", "401 Unauthorized"},
		{"other user's token", bobTokID, PAT(alice), 401, "message", "401 Unauthorized"},
		{"missing token", 999999, PAT(alice), 401, "message", "401 Unauthorized"},
		{"admin missing token", 999999, PAT(a.Admin), 404, "message", "404 Not Found"},
		{"read_api token", spareID, PAT(aliceRO), 403, "error", "insufficient_scope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rotate(a, c.id, nil, c.h)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			ErrBody(t, r, c.key, c.msg)
		})
	}
	works(a, bobTok)
	works(a, spare)
	// An admin rotates another user's token.
	m = a.Must(200, rotate(a, bobTokID, nil, PAT(a.Admin))).Map(t)
	if m["user_id"] != float64(bobID) || m["name"] != "bobs" {
		t.Errorf("admin rotation: %v", m)
	}
	refused(a, bobTok)
	works(a, m["token"].(string))

	// Self: api or self_rotate, and nothing else, on a token of its own.
	_, selfOnly := a.newPAT(aliceID, "self-only", []string{"read_api", "self_rotate"}, "")
	_, readOnly := a.newPAT(aliceID, "read-only", []string{"read_api"}, "")
	r = rotate(b, "self", nil, PAT(readOnly))
	b.Must(403, r)
	ErrBody(t, r, "error", "insufficient_scope")
	if sc := r.Map(t)["scope"]; sc != "api self_rotate" {
		t.Errorf("insufficient_scope names %v", sc)
	}
	works(a, readOnly)
	b.Must(401, rotate(b, "self", nil, DeployHdr(a.NewScenario().ReadToken)))
	m = b.Must(200, rotate(b, "self", map[string]any{"expires_at": day(10)}, PAT(selfOnly))).Map(t)
	selfNew := m["token"].(string)
	if m["name"] != "self-only" || m["expires_at"] != day(10) || fmt.Sprint(m["scopes"]) != "[read_api self_rotate]" {
		t.Errorf("self rotation: %v", m)
	}
	refused(b, selfOnly)
	refused(a, selfOnly)
	works(a, selfNew)
	works(b, selfNew) // cached on b
	m = a.Must(200, rotate(a, "self", nil, PAT(spare))).Map(t)
	if m["expires_at"] != day(7) {
		t.Errorf("self rotation with api: %v", m)
	}
	refused(a, spare)

	// Token reuse detection: the rotated token, presented to rotate
	// again, is refused and revokes its successor on every node.
	r = rotate(a, "self", nil, PAT(selfOnly))
	a.Must(401, r)
	ErrBody(t, r, "error", "invalid_token")
	refused(a, selfNew)
	refusedSoon(b, selfNew)
	// Presented to rotate by id, the same: the first rotated token
	// revokes the current one of its chain.
	r = rotate(a, newID, nil, PAT(ci))
	a.Must(401, r)
	ErrBody(t, r, "error", "invalid_token")
	refused(a, newTok)
	refusedSoon(b, newTok)
	if !revoked(newID) {
		t.Error("the successor of a reused token is not revoked")
	}
	works(a, alice) // alice's other tokens are untouched

	// Each rotation is one event on the owner, by whoever rotated, with
	// both ids and never a secret.
	var events []map[string]any
	a.Must(200, a.Do("GET", "/api/v4/audit_events?action=personal_access_token.rotate&per_page=100", nil, PAT(a.Admin))).JSON(t, &events)
	if len(events) != 6 {
		t.Fatalf("%d rotation events, want 6: %v", len(events), events)
	}
	var authors []string
	for _, ev := range events {
		authors = append(authors, fmt.Sprint(ev["author_name"]))
		d, _ := ev["details"].(map[string]any)
		if ev["event_name"] != "personal_access_token_rotated" || ev["entity_type"] != "User" || d["token_id"] == nil || d["new_token_id"] == nil ||
			!strings.HasPrefix(fmt.Sprint(d["custom_message"]), "Rotated personal access token with id ") {
			t.Errorf("event: %v", ev)
		}
		if strings.Contains(fmt.Sprint(ev), "glpat-") {
			t.Errorf("event shows a secret: %v", ev)
		}
	}
	slices.Sort(authors)
	if want := []string{"alice", "alice", "alice", "alice", "alice", "root"}; !slices.Equal(authors, want) {
		t.Errorf("authors %v, want %v", authors, want)
	}
}
