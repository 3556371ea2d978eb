package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Requests at the edges of what the API accepts: each row was a 500, a
// second percent-decoding, a credential read where the spec reads none,
// or a status the spec answers differently. Found by reading the specs
// against the handlers (2026-11-26).
func TestInputEdges(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	p := fmt.Sprintf("/api/v4/projects/%d", s.ProjectID)
	g := p + "/packages/generic"
	admin := PAT(e.Admin)
	e.Must(201, e.Do("PUT", g+"/pkg/1.0/f.bin", "data", admin))
	e.Must(201, e.Do("PUT", g+"/hid/1.0/f.bin?status=hidden", "x", admin))
	var hidden []map[string]any
	e.Must(200, e.Do("GET", p+"/packages?status=hidden", nil, admin)).JSON(t, &hidden)
	if len(hidden) != 1 {
		t.Fatalf("hidden packages: %v", hidden)
	}
	rs := []string{"read_package_registry"}
	_, stranger := e.User("stranger")
	devID, dev := e.User("dev")
	e.Member("projects", s.ProjectID, devID, 30)
	cases := []struct {
		name, method, path string
		body               any
		h                  H
		want               int
	}{
		// Credentials (spec 4.1): ?private_token= carries PATs only; the
		// OAuth parameters carry deploy tokens, as GitLab's
		// deploy_token_from_request reads them.
		{"deploy token as ?private_token", "GET", g + "/pkg/1.0/f.bin?private_token=" + s.ReadToken, nil, nil, 401},
		{"deploy token as ?access_token", "GET", g + "/pkg/1.0/f.bin?access_token=" + s.ReadToken, nil, nil, 200},
		{"deploy token as ?private_token, write", "PUT", g + "/pkg/1.0/q.bin?private_token=" + s.WriteToken, "x", nil, 401},

		// Parameters are decoded once: %25 is a literal percent sign.
		{"file name decoded twice", "PUT", g + "/pkg/1.0/a%2541", "d", admin, 400},
		{"package name decoded twice", "PUT", g + "/pkg%252B/1.0/f.bin", "d", admin, 400},
		{"project path decoded twice", "GET", "/api/v4/projects/acme%252Fsub%252Fapp", nil, admin, 404},

		// An id is all digits.
		{"signed project id", "GET", fmt.Sprintf("/api/v4/projects/+%d", s.ProjectID), nil, admin, 404},
		{"signed group id", "GET", fmt.Sprintf("/api/v4/groups/+%d", s.GroupID), nil, admin, 404},
		{"token id 0", "GET", p + "/deploy_tokens/0", nil, admin, 404},
		{"token id -1", "DELETE", p + "/deploy_tokens/-1", nil, admin, 404},
		{"token id not a number", "GET", p + "/deploy_tokens/x", nil, admin, 400},

		// No 500 from values Postgres cannot hold or compute with.
		{"page past any offset", "GET", p + "/deploy_tokens?page=922337203685477581", nil, admin, 200},
		{"NUL in a filter", "GET", p + "/packages?package_name=%00", nil, admin, 400},
		{"invalid UTF-8 in a filter", "GET", p + "/packages?package_name=%ff", nil, admin, 400},
		{"NUL in a username filter", "GET", "/api/v4/users?username=%00", nil, admin, 400},
		{"NUL group path", "GET", "/api/v4/groups/%00", nil, admin, 404},
		{"NUL project path", "GET", "/api/v4/projects/a%2F%00", nil, admin, 404},
		{"invalid UTF-8 project path, anonymous, package route", "GET", "/api/v4/projects/a%2F%ff/packages/generic/p/1/f", nil, nil, 401},
		{"invalid UTF-8 project path, maven", "GET", "/api/v4/projects/acme%2F%ff/packages/maven/com/acme/x/1.0/x-1.0.jar", nil, DeployHdr(s.ReadToken), 404},
		{"invalid UTF-8 group path, pypi", "GET", "/api/v4/groups/%ff/-/packages/pypi/simple/x/", nil, DeployHdr(s.ReadToken), 404},
		{"NUL in a token name", "POST", p + "/deploy_tokens", map[string]any{"name": "a\x00", "scopes": rs}, admin, 400},
		{"invalid UTF-8 in a form", "POST", p + "/deploy_tokens", "name=a%ffb&scopes=read_package_registry", H{"PRIVATE-TOKEN": e.Admin, "Content-Type": "application/x-www-form-urlencoded"}, 400},
		{"NUL in a group description", "POST", "/api/v4/groups", map[string]any{"name": "n", "path": "n", "description": "a\x00"}, admin, 400},

		// Types and lengths.
		{"name as a list", "POST", p + "/deploy_tokens", map[string]any{"name": []string{"x"}, "scopes": rs}, admin, 400},
		{"name as an object", "POST", p + "/deploy_tokens", map[string]any{"name": map[string]any{"a": 1}, "scopes": rs}, admin, 400},
		{"255 characters of two bytes each", "POST", p + "/deploy_tokens", map[string]any{"name": strings.Repeat("é", 200), "scopes": rs}, admin, 201},
		{"256 characters", "POST", p + "/deploy_tokens", map[string]any{"name": strings.Repeat("é", 256), "scopes": rs}, admin, 400},

		// The model's refusals come after the caller's rights, as in
		// GitLab: a stranger sees 404 and a Developer 403 first.
		{"stranger with a bad username", "POST", p + "/deploy_tokens", map[string]any{"name": "n", "scopes": rs, "username": "a b"}, PAT(stranger), 404},
		{"developer with no scopes", "POST", p + "/deploy_tokens", map[string]any{"name": "n", "scopes": []string{}}, PAT(dev), 403},
		{"admin with no scopes", "POST", p + "/deploy_tokens", map[string]any{"name": "n", "scopes": []string{}}, admin, 400},
		{"stranger with an unknown scope", "POST", p + "/deploy_tokens", map[string]any{"name": "n", "scopes": []string{"nope"}}, PAT(stranger), 400},

		// A hidden package is not found by DELETE either (spec 6.5).
		{"hidden package delete", "DELETE", fmt.Sprintf("%s/packages/%v", p, hidden[0]["id"]), nil, admin, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := e.Do(c.method, c.path, c.body, c.h); r.Status != c.want {
				t.Errorf("%s %s -> %d %s, want %d", c.method, c.path, r.Status, r.Body, c.want)
			}
		})
	}
	// The hidden package is still there.
	e.Must(200, e.Do("GET", p+"/packages?status=hidden", nil, admin)).JSON(t, &hidden)
	if len(hidden) != 1 {
		t.Fatalf("hidden package gone: %v", hidden)
	}
	// The file named a%41 (the request's a%2541) was not stored as "aA".
	e.Must(404, e.Do("GET", g+"/pkg/1.0/aA", nil, admin))
}

// Format routes at the same edges: Maven versions past the index's size,
// PyPI path parameters that are not UTF-8, npm manifests and deprecation
// messages holding NUL, and a dist-tag named "..".
func TestFormatInputEdges(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	w := DeployHdr(s.WriteToken)
	mvn := mvnProject(s.ProjectID)
	long := strings.Repeat("1a", 2000)
	ErrBody(t, e.Must(400, e.Do("PUT", mvn+"/com/acme/hello/"+long+"/hello.jar", "x", w)), "message",
		"400 Bad request - Validation failed: Version is too long (maximum is 255 characters)")
	e.Must(400, e.Do("PUT", mvn+"/com/acme/hello/"+long+"-SNAPSHOT/maven-metadata.xml", "<metadata/>", w))

	rd := Basic("__token__", s.ReadToken)
	gt, _, _ := e.DeployToken("groups", s.GroupID, "read_package_registry")
	pypi := fmt.Sprintf("/api/v4/projects/%d/packages/pypi", s.ProjectID)
	for _, c := range []struct {
		url string
		h   H
	}{
		{pypi + "/simple/%ff/", rd},
		{pypi + "/simple/acme%C3%28/", rd},
		{pypi + "/files/" + strings.Repeat("a", 64) + "/%ff.whl", rd},
		{fmt.Sprintf("/api/v4/groups/%d/-/packages/pypi/simple/%%ff/", s.GroupID), Basic("__token__", gt)},
	} {
		if r := e.Do("GET", c.url, nil, c.h); r.Status != 400 {
			t.Errorf("GET %s: %d %s, want 400", c.url, r.Status, r.Body)
		}
	}

	name := "@acme/hello"
	path := npmPkgPath(s.ProjectID, name)
	bw := H{"Authorization": "Bearer " + s.WriteToken, "Content-Type": "application/json"}
	e.Must(200, e.npmPublish(s.ProjectID, s.WriteToken, name, "1.0.0"))
	doc := npmPublishDoc(name, "1.0.1", npmTarball(t, name, "1.0.1", nil))
	doc["versions"].(map[string]any)["1.0.1"].(map[string]any)["description"] = "a\x00b"
	e.Must(400, e.Do("PUT", path, npmJSON(doc), bw))
	e.Must(400, e.Do("PUT", path, `{"versions":{"1.0.0":{"deprecated":"a\u0000b"}}}`,
		H{"Authorization": "Bearer " + s.WriteToken, "npm-command": "deprecate", "Content-Type": "application/json"}))
	ErrBody(t, e.Must(400, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/npm/-/package/@acme%%2fhello/dist-tags/%%2e%%2e", s.ProjectID), `"1.0.0"`, bw)),
		"error", "tag should be a valid file path")
	var pk map[string]any
	e.Must(200, e.Do("GET", path, nil, Bearer(s.ReadToken))).JSON(t, &pk)
	if vs := pk["versions"].(map[string]any); len(vs) != 1 {
		t.Errorf("versions after refused publishes: %v", vs)
	}
	if tags := pk["dist-tags"].(map[string]any); len(tags) != 1 {
		t.Errorf("dist-tags after a refused tag: %v", tags)
	}
}

// A name that only an unreadable project of a group holds: the group-level
// routes answer as the instance level does (spec 2.3), 401 to an anonymous
// caller, so npm asks for a token instead of reporting no such package.
func TestNPMGroupRefusal(t *testing.T) {
	e := NewEnv(t)
	pg := e.Group("pubg", 0, "public")
	pp := e.Project("priv", pg, "private")
	tok, _, _ := e.DeployToken("projects", pp, "read_package_registry", "write_package_registry")
	e.Must(200, e.npmPublish(pp, tok, "@pubg/secret", "1.0.0"))
	grp := fmt.Sprintf("/api/v4/groups/%d/-/packages/npm", pg)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/@pubg%2fsecret"},
		{http.MethodGet, "/-/package/@pubg%2fsecret/dist-tags"},
		{http.MethodPut, "/-/package/@pubg%2fsecret/dist-tags/x"},
		{http.MethodDelete, "/-/package/@pubg%2fsecret/dist-tags/latest"},
	} {
		r := e.Do(c.method, grp+c.path, `"1.0.0"`, nil)
		if r.Status != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("anonymous %s %s: %d %v, want 401 with a challenge", c.method, c.path, r.Status, r.Header)
		}
	}
	// A name held nowhere gets the same answer from an anonymous caller
	// (which names the private project holds is nobody's business), and
	// "not found" from a signed-in one; a reader reads.
	e.Must(401, e.Do("GET", grp+"/@pubg%2fnothing", nil, nil))
	e.Must(404, e.Do("GET", grp+"/@pubg%2fnothing", nil, PAT(e.Admin)))
	e.Must(200, e.Do("GET", grp+"/@pubg%2fsecret", nil, PAT(e.Admin)))
}
