package tests

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTokensCreateDefaultsAndShapes(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	base := fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", s.ProjectID)

	m := e.Must(201, e.Do("POST", base, map[string]any{"name": "ci", "scopes": []string{"write_package_registry", "read_package_registry", "read_package_registry"}}, PAT(e.Admin))).Map(t)
	id := int64(m["id"].(float64))
	if m["username"] != fmt.Sprintf("gitlab+deploy-token-%d", id) {
		t.Errorf("default username = %v", m["username"])
	}
	if m["expires_at"] != nil || m["revoked"] != false || m["expired"] != false {
		t.Errorf("defaults wrong: %v", m)
	}
	if !regexp.MustCompile(`^gldt-[A-Za-z0-9_-]{20}$`).MatchString(m["token"].(string)) {
		t.Errorf("token shape: %v", m["token"])
	}
	if got := fmt.Sprint(m["scopes"]); got != "[read_package_registry write_package_registry]" {
		t.Errorf("scopes = %s", got)
	}
	// The secret is never shown again.
	g := e.Must(200, e.Do("GET", fmt.Sprintf("%s/%d", base, id), nil, PAT(e.Admin))).Map(t)
	if _, ok := g["token"]; ok {
		t.Error("GET by id shows the token")
	}
	for _, k := range []string{"id", "name", "username", "expires_at", "scopes", "revoked", "expired"} {
		if _, ok := g[k]; !ok {
			t.Errorf("missing key %s", k)
		}
	}

	// Date-only expiry is midnight UTC; datetimes normalise to UTC; "" means none.
	cases := []struct{ in, want any }{
		{"2099-01-31", "2099-01-31T00:00:00.000Z"},
		{"2030-03-15T08:00:00+02:00", "2030-03-15T06:00:00.000Z"},
		{"", nil},
		{nil, nil},
	}
	for _, c := range cases {
		m := e.Must(201, e.Do("POST", base, map[string]any{"name": "x", "scopes": []string{"read_package_registry"}, "expires_at": c.in, "username": ""}, PAT(e.Admin))).Map(t)
		if m["expires_at"] != c.want {
			t.Errorf("expires_at %v -> %v, want %v", c.in, m["expires_at"], c.want)
		}
		if !strings.HasPrefix(m["username"].(string), "gitlab+deploy-token-") {
			t.Errorf("empty username should default: %v", m["username"])
		}
	}
	// Custom username, comma-separated scopes in a form body.
	r := e.Do("POST", base, "name=form&scopes=read_package_registry,write_package_registry&username=ci-bot.1", H{"PRIVATE-TOKEN": e.Admin, "Content-Type": "application/x-www-form-urlencoded"})
	m = e.Must(201, r).Map(t)
	if m["username"] != "ci-bot.1" || fmt.Sprint(m["scopes"]) != "[read_package_registry write_package_registry]" {
		t.Errorf("form create: %v", m)
	}
}

func TestTokensValidation(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	base := fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", s.ProjectID)
	cases := []struct {
		name string
		body map[string]any
		key  string
		msg  string
	}{
		{"missing both", map[string]any{}, "error", "name is missing, scopes is missing"},
		{"missing scopes", map[string]any{"name": "a"}, "error", "scopes is missing"},
		{"unknown scope", map[string]any{"name": "a", "scopes": []string{"api"}}, "error", "scopes does not have a valid value"},
		{"bad date", map[string]any{"name": "a", "scopes": []string{"read_package_registry"}, "expires_at": "tomorrow"}, "error", "expires_at is invalid"},
		{"empty scopes", map[string]any{"name": "a", "scopes": []string{}}, "message", "Scopes can't be blank"},
		{"bad username", map[string]any{"name": "a", "scopes": []string{"read_package_registry"}, "username": "a b"}, "message", "Username can contain only letters, digits, '_', '-', '+', and '.'"},
		{"long name", map[string]any{"name": strings.Repeat("n", 256), "scopes": []string{"read_package_registry"}}, "message", "Name is too long (maximum is 255 characters)"},
		{"two model errors", map[string]any{"name": strings.Repeat("n", 256), "scopes": []string{}}, "message", "Name is too long (maximum is 255 characters) and Scopes can't be blank"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do("POST", base, c.body, PAT(e.Admin))
			if r.Status != 400 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			ErrBody(t, r, c.key, c.msg)
		})
	}
	r := e.Do("GET", base+"/abc", nil, PAT(e.Admin))
	e.Must(400, r)
	ErrBody(t, r, "error", "token_id is invalid")
	r = e.Do("GET", base+"/999999", nil, PAT(e.Admin))
	e.Must(404, r)
	ErrBody(t, r, "message", "404 Not found")
}

func TestTokensRolesAndVisibility(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	devID, dev := e.User("dev")
	maintID, maint := e.User("maint")
	_, stranger := e.User("stranger")
	gmID, gmaint := e.User("gmaint")
	e.Member("projects", s.ProjectID, devID, 30)
	e.Member("projects", s.ProjectID, maintID, 40)
	e.Member("groups", s.GroupID, gmID, 40)

	pbase := fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", s.ProjectID)
	gbase := fmt.Sprintf("/api/v4/groups/%d/deploy_tokens", s.GroupID)
	body := map[string]any{"name": "x", "scopes": []string{"read_package_registry"}}

	// Developer: 403 on the project; non-member of a private project: 404.
	r := e.Do("POST", pbase, body, PAT(dev))
	e.Must(403, r)
	ErrBody(t, r, "message", "403 Forbidden")
	r = e.Do("GET", pbase, nil, PAT(stranger))
	e.Must(404, r)
	ErrBody(t, r, "message", "404 Project Not Found")
	// Anonymous on a private project: 404, no challenge on the API.
	r = e.Do("GET", pbase, nil, nil)
	e.Must(404, r)
	// Unknown PAT: 401.
	r = e.Do("GET", pbase, nil, PAT("glpat-doesnotexist000000"))
	e.Must(401, r)
	ErrBody(t, r, "message", "401 Unauthorized")
	// Deploy tokens are not credentials on this API: Deploy-Token is ignored (anonymous → 404).
	e.Must(404, e.Do("GET", pbase, nil, DeployHdr(s.WriteToken)))

	// Maintainer: full control of project tokens.
	m := e.Must(201, e.Do("POST", pbase, body, PAT(maint))).Map(t)
	tid := int64(m["id"].(float64))
	e.Must(200, e.Do("GET", pbase, nil, PAT(maint)))
	// An inherited group maintainer is a project maintainer too.
	e.Must(200, e.Do("GET", pbase, nil, PAT(gmaint)))

	// Group: maintainer lists but cannot create (Owner only).
	e.Must(200, e.Do("GET", gbase, nil, PAT(gmaint)))
	e.Must(403, e.Do("POST", gbase, body, PAT(gmaint)))
	e.Must(201, e.Do("POST", gbase, body, PAT(e.Admin)))
	r = e.Do("GET", "/api/v4/groups/999999/deploy_tokens", nil, PAT(e.Admin))
	e.Must(404, r)
	ErrBody(t, r, "message", "404 Group Not Found")

	// Admin list: 401 anonymous, 403 non-admin, 200 admin with both kinds.
	e.Must(401, e.Do("GET", "/api/v4/deploy_tokens", nil, nil))
	e.Must(403, e.Do("GET", "/api/v4/deploy_tokens", nil, PAT(maint)))
	var all []map[string]any
	e.Must(200, e.Do("GET", "/api/v4/deploy_tokens", nil, PAT(e.Admin))).JSON(t, &all)
	if len(all) != 4 {
		t.Errorf("admin list has %d tokens, want 4", len(all))
	}

	// Delete: 204, then 404 and the secret stops working at once.
	e.Must(204, e.Do("DELETE", fmt.Sprintf("%s/%d", pbase, tid), nil, PAT(maint)))
	e.Must(404, e.Do("GET", fmt.Sprintf("%s/%d", pbase, tid), nil, PAT(maint)))
}

func TestTokensActiveFilterRevokeExpiry(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	pbase := fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", s.ProjectID)
	today := time.Now().UTC().Format("2006-01-02")
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	// Expiring today: unusable, excluded by active=true, but expired=false (GitLab's quirk).
	td := e.Must(201, e.Do("POST", pbase, map[string]any{"name": "today", "scopes": []string{"read_package_registry"}, "expires_at": today}, PAT(e.Admin))).Map(t)
	if td["expired"] != false {
		t.Errorf("expiring today reports expired=%v", td["expired"])
	}
	yd := e.Must(201, e.Do("POST", pbase, map[string]any{"name": "past", "scopes": []string{"read_package_registry"}, "expires_at": yesterday}, PAT(e.Admin))).Map(t)
	if yd["expired"] != true {
		t.Errorf("expired yesterday reports expired=%v", yd["expired"])
	}
	rv := e.Must(201, e.Do("POST", pbase, map[string]any{"name": "rev", "scopes": []string{"read_package_registry"}}, PAT(e.Admin))).Map(t)
	e.Must(200, e.Do("POST", fmt.Sprintf("%s/%v/revoke", pbase, rv["id"]), nil, PAT(e.Admin)))

	var all, active []map[string]any
	e.Must(200, e.Do("GET", pbase, nil, PAT(e.Admin))).JSON(t, &all)
	e.Must(200, e.Do("GET", pbase+"?active=true", nil, PAT(e.Admin))).JSON(t, &active)
	if len(all) != 5 || len(active) != 2 {
		t.Fatalf("all=%d active=%d, want 5 and 2", len(all), len(active))
	}
	var falseList []map[string]any
	e.Must(200, e.Do("GET", pbase+"?active=False", nil, PAT(e.Admin))).JSON(t, &falseList)
	if len(falseList) != 5 {
		t.Errorf("active=false must list all tokens, got %d", len(falseList))
	}
	e.Must(400, e.Do("GET", pbase+"?active=maybe", nil, PAT(e.Admin)))

	// Unusable tokens authenticate as nobody: private project → 401 challenge.
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f.txt", s.ProjectID)
	for name, tok := range map[string]string{"today": td["token"].(string), "past": yd["token"].(string), "revoked": rv["token"].(string)} {
		r := e.Do("GET", url, nil, DeployHdr(tok))
		if r.Status != 401 || r.Header.Get("WWW-Authenticate") != `Basic realm="GitLab Packages Registry"` {
			t.Errorf("%s token: status %d, challenge %q", name, r.Status, r.Header.Get("WWW-Authenticate"))
		}
	}
}
