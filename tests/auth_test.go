package tests

import (
	"fmt"
	"strings"
	"testing"
)

const challenge = `Basic realm="GitLab Packages Registry"`

// TestAuthMatrix walks the spec's status table (4.5) for generic downloads
// and uploads with every credential form.
func TestAuthMatrix(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	other := e.Group("other", 0, "private")
	otherProj := e.Project("elsewhere", other, "private")
	pub := e.Project("pub", e.Group("open", 0, "public"), "public")
	deep := e.Group("deeper", s.SubID, "private")
	deepProj := e.Project("deepapp", deep, "private")

	grpRead, _, _ := e.DeployToken("groups", s.GroupID, "read_package_registry")
	grpWrite, _, _ := e.DeployToken("groups", s.GroupID, "write_package_registry")
	noPkgScope, _, _ := e.DeployToken("projects", s.ProjectID, "read_repository")
	otherTok, _, _ := e.DeployToken("projects", otherProj, "read_package_registry", "write_package_registry")
	devID, dev := e.User("dev")
	guestID, guest := e.User("guest")
	_, stranger := e.User("stranger")
	e.Member("projects", s.ProjectID, devID, 30)
	e.Member("projects", s.ProjectID, guestID, 10)

	file := func(p int64) string { return fmt.Sprintf("/api/v4/projects/%d/packages/generic/pkg/1.0.0/f.bin", p) }
	// Seed one file in each project.
	for _, p := range []int64{s.ProjectID, pub, deepProj, otherProj} {
		e.Must(201, e.Do("PUT", file(p), "data", PAT(e.Admin)))
	}

	cases := []struct {
		name   string
		method string
		proj   int64
		h      H
		status int
	}{
		{"anon private get", "GET", s.ProjectID, nil, 401},
		{"anon private put", "PUT", s.ProjectID, nil, 401},
		{"anon missing project", "GET", 999999, nil, 401},
		{"anon public get", "GET", pub, nil, 200},
		{"anon public put", "PUT", pub, nil, 401},
		{"bad bearer on public", "GET", pub, Bearer("nope"), 401},
		{"bad private-token on public", "GET", pub, PAT("glpat-nope"), 401},
		{"bad basic on public is anonymous", "GET", pub, Basic("u", "nope"), 200},
		{"bad deploy header on private", "GET", s.ProjectID, DeployHdr("gldt-nope"), 401},
		{"job token", "GET", pub, H{"JOB-TOKEN": "x"}, 401},
		{"basic gitlab-ci-token", "GET", pub, Basic("gitlab-ci-token", "x"), 401},
		{"read token header", "GET", s.ProjectID, DeployHdr(s.ReadToken), 200},
		{"read token basic any user", "GET", s.ProjectID, Basic("__token__", s.ReadToken), 200},
		{"read token basic empty user", "GET", s.ProjectID, Basic("", s.ReadToken), 200},
		{"read token bearer", "GET", s.ProjectID, Bearer(s.ReadToken), 200},
		{"read token private-token (extension)", "GET", s.ProjectID, PAT(s.ReadToken), 200},
		{"read token put", "PUT", s.ProjectID, DeployHdr(s.ReadToken), 403},
		{"write token get (write implies read)", "GET", s.ProjectID, DeployHdr(s.WriteToken), 200},
		{"write token put", "PUT", s.ProjectID, DeployHdr(s.WriteToken), 201},
		{"no package scope", "GET", s.ProjectID, DeployHdr(noPkgScope), 404},
		{"other project's token", "GET", s.ProjectID, DeployHdr(otherTok), 404},
		{"other project's token put", "PUT", s.ProjectID, DeployHdr(otherTok), 404},
		{"token outside reach on public get", "GET", pub, DeployHdr(otherTok), 200},
		{"token outside reach on public put", "PUT", pub, DeployHdr(otherTok), 403},
		{"group token two levels down", "GET", deepProj, DeployHdr(grpRead), 200},
		{"group token other group", "GET", otherProj, DeployHdr(grpRead), 404},
		{"group write token put deep", "PUT", deepProj, DeployHdr(grpWrite), 201},
		{"group read token put", "PUT", deepProj, DeployHdr(grpRead), 403},
		{"developer put", "PUT", s.ProjectID, PAT(dev), 201},
		{"developer basic pat", "GET", s.ProjectID, Basic("dev", dev), 200},
		{"guest get", "GET", s.ProjectID, PAT(guest), 200},
		{"guest put", "PUT", s.ProjectID, PAT(guest), 403},
		{"stranger get", "GET", s.ProjectID, PAT(stranger), 404},
		{"admin get", "GET", otherProj, PAT(e.Admin), 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.method == "PUT" {
				body = "payload"
			}
			r := e.Do(c.method, file(c.proj), body, c.h)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			switch c.status {
			case 401:
				if c.h == nil || c.h["Deploy-Token"] != "" {
					if got := r.Header.Get("WWW-Authenticate"); got != challenge {
						t.Errorf("challenge %q", got)
					}
				}
				ErrBody(t, r, "message", "401 Unauthorized")
			case 403:
				ErrBody(t, r, "message", "403 Forbidden")
			case 404:
				ErrBody(t, r, "message", "404 Not Found")
			}
		})
	}
}

// TestAuthDeletedTokenStopsAtOnce: deleting a token through the API makes
// the secret fail on the very next request.
func TestAuthDeletedTokenStopsAtOnce(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	tok, _, id := e.DeployToken("projects", s.ProjectID, "read_package_registry", "write_package_registry")
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1/f", s.ProjectID)
	e.Must(201, e.Do("PUT", url, "x", DeployHdr(tok)))
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens/%d", s.ProjectID, id), nil, PAT(e.Admin)))
	e.Must(401, e.Do("PUT", url, "x", DeployHdr(tok)))
	e.Must(401, e.Do("GET", url, nil, DeployHdr(tok)))
}

// TestAuthPATScopesAndExpiry: read_api PATs read but cannot write; a
// revoked PAT answers the OAuth-style invalid_token error.
func TestAuthPATScopes(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	uid, _ := e.User("reader")
	e.Member("projects", s.ProjectID, uid, 40)
	m := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", uid),
		map[string]any{"name": "ro", "scopes": []string{"read_api"}}, PAT(e.Admin))).Map(t)
	ro := m["token"].(string)
	if m["active"] != true || m["expires_at"] != nil {
		t.Errorf("pat shape: %v", m)
	}
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d", s.ProjectID), nil, PAT(ro)))
	r := e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", s.ProjectID), map[string]any{"name": "x", "scopes": []string{"read_package_registry"}}, PAT(ro))
	e.Must(403, r)
	ErrBody(t, r, "error", "insufficient_scope")
	r = e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1/f", s.ProjectID), "x", PAT(ro))
	e.Must(403, r)
	ErrBody(t, r, "error", "insufficient_scope")
	// The scope is weighed before the project: a project the token's
	// user cannot see, or none at all, answers the same.
	hidden := e.Project("hidden", e.Group("elsewhere", 0, "private"), "private")
	for _, p := range []int64{hidden, 999999} {
		r = e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1/f", p), "x", PAT(ro))
		e.Must(403, r)
		ErrBody(t, r, "error", "insufficient_scope")
	}
	userOnly := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", uid),
		map[string]any{"name": "me", "scopes": []string{"read_user"}}, PAT(e.Admin))).Map(t)["token"].(string)
	// What GitLab opens to read_user (users.rb, version.rb, metadata.rb):
	// reading users and the version; nothing else, and no writes.
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v4/user", 200},
		{"GET", "/api/v4/users", 200},
		{"GET", fmt.Sprintf("/api/v4/users/%d", uid), 200},
		{"GET", "/api/v4/version", 200},
		{"GET", "/api/v4/metadata", 200},
		{"GET", "/api/v4/groups", 403},
		{"GET", "/api/v4/namespaces", 403},
		{"POST", "/api/v4/users", 403},
	} {
		e.Must(c.status, e.Do(c.method, c.path, nil, PAT(userOnly)))
	}
	for _, path := range []string{
		fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1/f", hidden),
		fmt.Sprintf("/api/v4/projects/%d/packages/maven/com/x/p/1/p-1.jar", s.ProjectID),
		fmt.Sprintf("/api/v4/projects/%d/packages/pypi/simple/p/", hidden),
		fmt.Sprintf("/api/v4/projects/%d/packages/npm/p", hidden),
	} {
		r = e.Do("GET", path, nil, PAT(userOnly))
		e.Must(403, r)
		ErrBody(t, r, "error", "insufficient_scope")
	}

	past := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", uid),
		map[string]any{"name": "old", "scopes": []string{"api"}, "expires_at": "2000-01-01"}, PAT(e.Admin))).Map(t)
	r = e.Do("GET", "/api/v4/user", nil, PAT(past["token"].(string)))
	e.Must(401, r)
	ErrBody(t, r, "error", "invalid_token")
	// On package routes too, as the Basic password, even where anonymous
	// would read; Maven and PyPI routes keep their Basic challenge on it.
	expired := past["token"].(string)
	pub := e.Project("pub", e.Group("open", 0, "public"), "public")
	e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1/f", pub), "x", PAT(e.Admin)))
	for _, c := range []struct {
		path string
		h    H
		want string // the challenge
	}{
		{fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1/f", pub), Basic("reader", expired), "Bearer"},
		{fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1/f", s.ProjectID), Basic("reader", expired), "Bearer"},
		{fmt.Sprintf("/api/v4/projects/%d/packages/npm/p", pub), Basic("reader", expired), "Bearer"},
		{fmt.Sprintf("/api/v4/projects/%d/packages/maven/com/x/p/1/p-1.jar", pub), Basic("reader", expired), challenge},
		{fmt.Sprintf("/api/v4/projects/%d/packages/maven/com/x/p/1/p-1.jar", s.ProjectID), PAT(expired), challenge},
		{fmt.Sprintf("/api/v4/groups/%d/-/packages/maven/com/x/p/1/p-1.jar", s.GroupID), PAT(expired), challenge},
		{"/api/v4/packages/maven/com/x/p/1/p-1.jar", PAT(expired), challenge},
		{fmt.Sprintf("/api/v4/projects/%d/packages/pypi/simple/p/", pub), Basic("reader", expired), challenge},
		{fmt.Sprintf("/api/v4/groups/%d/-/packages/pypi/simple/p/", s.GroupID), PAT(expired), challenge},
	} {
		r := e.Do("GET", c.path, nil, c.h)
		if got := r.Header.Get("WWW-Authenticate"); r.Status != 401 || !strings.HasPrefix(got, c.want) || !strings.Contains(string(r.Body), "invalid_token") {
			t.Errorf("%s with an expired PAT: %d %q %s, want 401 with a %s challenge and invalid_token", c.path, r.Status, got, r.Body, c.want)
		}
	}
	e.Must(400, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", uid),
		map[string]any{"name": "bad", "scopes": []string{"everything"}}, PAT(e.Admin)))
}

// TestAuthPackagesDisabled: a public project with packages turned off
// refuses every reader, anonymous or not, with 403 (spec 4.5 row 5): no
// credential would read them, so there is nothing to challenge for.
// Writing still asks an anonymous caller for a credential.
func TestAuthPackagesDisabled(t *testing.T) {
	e := NewEnv(t)
	open := e.Group("open", 0, "public")
	m := e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": "off", "namespace_id": open,
		"visibility": "public", "packages_enabled": false}, PAT(e.Admin))).Map(t)
	id := int64(m["id"].(float64))
	_, alice := e.User("alice")
	for _, c := range []struct {
		method, path string
		h            H
		want         int
	}{
		{"GET", "/packages/generic/p/1/f", nil, 403},
		{"HEAD", "/packages/generic/p/1/f", nil, 403},
		{"GET", "/packages/generic/p/1/f", PAT(alice), 403},
		{"PUT", "/packages/generic/p/1/f", nil, 401},
		{"GET", "/packages/maven/com/x/p/1/p-1.jar", nil, 403},
		{"GET", "/packages/pypi/simple/p/", nil, 403},
		{"GET", "/packages/npm/p", nil, 403},
	} {
		var body any
		if c.method == "PUT" {
			body = "x"
		}
		r := e.Do(c.method, fmt.Sprintf("/api/v4/projects/%d%s", id, c.path), body, c.h)
		if r.Status != c.want || (c.want == 401) != (r.Header.Get("WWW-Authenticate") == challenge) {
			t.Errorf("%s %s: %d %q %s, want %d", c.method, c.path, r.Status, r.Header.Get("WWW-Authenticate"), r.Body, c.want)
		}
	}

	// The group's package list leaves out what a project holds from the
	// moment its packages are turned off, for everyone.
	on := e.Project("on", open, "public")
	later := e.Project("later", open, "public")
	for _, p := range []int64{on, later} {
		e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p%d/1.0/f", p, p), "x", PAT(e.Admin)))
	}
	e.Must(200, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d", later), map[string]any{"packages_enabled": false}, PAT(e.Admin)))
	for _, who := range []H{nil, PAT(alice), PAT(e.Admin)} {
		var list []map[string]any
		e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/packages", open), nil, who)).JSON(t, &list)
		if len(list) != 1 || list[0]["name"] != fmt.Sprintf("p%d", on) {
			t.Errorf("group packages as %v: %v", who, list)
		}
	}
}
