package tests

import (
	"fmt"
	"slices"
	"testing"
)

// TestVersionAndMetadata: GET /version and /metadata answer signed-in
// users with the GitLab version the gateway speaks, and 401 to anybody
// else, as GitLab does.
func TestVersionAndMetadata(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	_, user := e.User("alice")
	for _, path := range []string{"/api/v4/version", "/api/v4/metadata"} {
		t.Run(path, func(t *testing.T) {
			e.Must(401, e.Do("GET", path, nil, nil))
			e.Must(401, e.Do("GET", path, nil, DeployHdr(s.ReadToken)))
			m := e.Must(200, e.Do("GET", path, nil, PAT(user))).Map(t)
			if m["version"] != "17.8.0" || m["revision"] == "" || m["revision"] == nil {
				t.Errorf("answer %v", m)
			}
			if path == "/api/v4/metadata" {
				if kas, _ := m["kas"].(map[string]any); m["enterprise"] != false || kas == nil || kas["enabled"] != false {
					t.Errorf("metadata %v", m)
				}
			}
		})
	}
}

// TestNamespaces: GET /namespaces lists one's personal namespace and the
// groups one is a direct member of (all for an admin), with search and
// owned_only; GET /namespaces/:id finds a namespace by id or path for
// those who may see it, and says "404 Namespace Not Found" to the rest.
func TestNamespaces(t *testing.T) {
	e := NewEnv(t)
	g := e.Group("acme", 0, "private")
	sub := e.Group("tools", g, "private")
	open := e.Group("open", 0, "public")
	aliceID, alice := e.User("alice")
	_, bob := e.User("bob")
	carolID, carol := e.User("carol")
	e.Member("groups", g, carolID, 5) // Minimal Access grants nothing
	e.Member("groups", sub, aliceID, 30)
	e.Member("groups", open, aliceID, 50)
	var aliceNS, bobNS int64
	e.Store.DB().Get(&aliceNS, `SELECT id FROM namespaces WHERE kind = 'user' AND path = 'alice'`)
	e.Store.DB().Get(&bobNS, `SELECT id FROM namespaces WHERE kind = 'user' AND path = 'bob'`)

	paths := func(who, query string) []string {
		var ns []map[string]any
		e.Must(200, e.Do("GET", "/api/v4/namespaces"+query, nil, PAT(who))).JSON(t, &ns)
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprint(n["full_path"], ":", n["kind"]))
		}
		return out
	}
	for _, c := range []struct {
		name, who, query string
		want             []string
	}{
		{"member", alice, "", []string{"acme/tools:group", "open:group", "alice:user"}}, // by id: the groups came first
		{"owned only", alice, "?owned_only=true", []string{"open:group", "alice:user"}},
		{"search", alice, "?search=TOO", []string{"acme/tools:group"}},
		{"search is no pattern", alice, "?search=%25", nil},
		{"nobody's member", bob, "", []string{"bob:user"}},
		{"minimal access", carol, "", []string{"carol:user"}},
		{"admin", e.Admin, "?search=a", []string{"acme:group", "alice:user"}}, // name or path, not the full path
	} {
		t.Run(c.name, func(t *testing.T) {
			got := paths(c.who, c.query)
			if c.who == e.Admin {
				got = slices.DeleteFunc(got, func(s string) bool { return s != "alice:user" && s != "acme:group" && s != "acme/tools:group" })
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	e.Must(401, e.Do("GET", "/api/v4/namespaces", nil, nil))
	e.Must(400, e.Do("GET", "/api/v4/namespaces?owned_only=perhaps", nil, PAT(alice)))

	for _, c := range []struct {
		name, who, id string
		status        int
		path          string
	}{
		{"own group by id", alice, fmt.Sprint(sub), 200, "acme/tools"},
		{"own group by path", alice, "acme%2Ftools", 200, "acme/tools"},
		{"the parent of one's group", alice, "acme", 200, "acme"},
		{"own personal namespace", alice, fmt.Sprint(aliceNS), 200, "alice"},
		{"another's personal namespace", alice, fmt.Sprint(bobNS), 404, ""},
		{"another's by path", alice, "bob", 404, ""},
		{"a private group of others", bob, "acme", 404, ""},
		{"a public group", bob, fmt.Sprint(open), 200, "open"},
		{"an admin, anyone's", e.Admin, "bob", 200, "bob"},
		{"missing", alice, "999999999", 404, ""},
		{"not a path", alice, "a b", 404, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Must(c.status, e.Do("GET", "/api/v4/namespaces/"+c.id, nil, PAT(c.who)))
			if c.status == 404 {
				ErrBody(t, r, "message", "404 Namespace Not Found")
			} else if m := r.Map(t); m["full_path"] != c.path {
				t.Errorf("got %v", m)
			}
		})
	}
	e.Must(401, e.Do("GET", "/api/v4/namespaces/acme", nil, nil))
}
