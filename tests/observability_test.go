package tests

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/tests/harness"
)

func TestMetricsEndpoint(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/m/1.0/f.bin", s.ProjectID)
	e.Must(201, e.Do("PUT", url, strings.Repeat("z", 5000), DeployHdr(s.WriteToken)))
	e.Must(200, e.Do("GET", url, nil, DeployHdr(s.ReadToken)))
	e.Must(401, e.Do("GET", url, nil, DeployHdr("gldt-wrong")))
	r := e.Must(200, e.Do("GET", "/-/metrics", nil, nil))
	body := string(r.Body)
	for _, want := range []string{
		`pkgate_http_requests_total{format="generic",method="PUT",route="/api/v4/projects/:id/packages/generic/*path",status="201"} 1`,
		`pkgate_http_requests_total{format="generic",method="GET",route="/api/v4/projects/:id/packages/generic/*path",status="200"} 1`,
		`pkgate_http_bytes_in_total{format="generic"} 5000`,
		`pkgate_auth_failures_total{credentials="true",format="generic"} 1`,
		`pkgate_blob_store_duration_seconds_count{driver="s3",op="commit"}`,
		`pkgate_blob_store_duration_seconds_count{driver="s3",op="open"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, s.WriteToken) || strings.Contains(body, "gldt-wrong") {
		t.Error("a token appears in the metrics")
	}
}

func TestAuthFailureRateLimit(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.AuthFailPerMinute = 6; c.AuthFailBurst = 5 })
	s := e.NewScenario()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f", s.ProjectID)
	e.Must(201, e.Do("PUT", url, "x", DeployHdr(s.WriteToken)))
	// Anonymous challenges (pip, Maven) do not count, nor refusals to a
	// good token (GitLab answers 401 to a user naming another's tokens).
	uid, pat := e.User("someone")
	for i := 0; i < 10; i++ {
		e.Must(401, e.Do("GET", url, nil, nil))
		e.Must(401, e.Do("GET", fmt.Sprintf("/api/v4/personal_access_tokens?user_id=%d", uid+1000), nil, PAT(pat)))
	}
	for i := 0; i < 5; i++ {
		e.Must(401, e.Do("GET", url, nil, Bearer("wrong-token")))
	}
	r := e.Do("GET", url, nil, Bearer("wrong-token"))
	e.Must(429, r)
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 || n > 60 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	ErrBody(t, r, "message", "")
	// While blocked, the same address is refused even with a good token;
	// the budget refills with time (one attempt per 10 s here).
	e.Must(429, e.Do("GET", url, nil, DeployHdr(s.ReadToken)))
}

// TestAuthFailureLimitOff: 0 in either setting turns the limit off, as the
// README's configuration table says. A burst of 0 with a rate used to give
// every address that failed once a budget that could never refill, so its
// good tokens were refused with 429 for the life of the process.
func TestAuthFailureLimitOff(t *testing.T) {
	for _, c := range []struct{ perMinute, burst int }{{0, 30}, {30, 0}} {
		t.Run(fmt.Sprintf("per_minute=%d,burst=%d", c.perMinute, c.burst), func(t *testing.T) {
			e := NewEnv(t, func(cfg *gateway.Config) { cfg.AuthFailPerMinute, cfg.AuthFailBurst = c.perMinute, c.burst })
			s := e.NewScenario()
			url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f", s.ProjectID)
			e.Must(201, e.Do("PUT", url, "x", DeployHdr(s.WriteToken)))
			for i := 0; i < 40; i++ {
				e.Must(401, e.Do("GET", url, nil, Bearer("wrong-token")))
			}
			e.Must(200, e.Do("GET", url, nil, DeployHdr(s.ReadToken)))
		})
	}
}

func TestAuditLog(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	_, _, tid := e.DeployToken("projects", s.ProjectID, "read_package_registry")
	e.Must(200, e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens/%d/revoke", s.ProjectID, tid), nil, PAT(e.Admin)))
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens/%d", s.ProjectID, tid), nil, PAT(e.Admin)))
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/audited/1.0/f.bin", s.ProjectID)
	e.Must(201, e.Do("PUT", url, "x", Basic("ci", s.WriteToken)))
	var pkgs []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages", s.ProjectID), nil, PAT(e.Admin))).JSON(t, &pkgs)
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/packages/%v", s.ProjectID, pkgs[0]["id"]), nil, PAT(e.Admin)))

	var events []map[string]any
	e.Must(200, e.Do("GET", "/api/v4/audit_events?per_page=100", nil, PAT(e.Admin))).JSON(t, &events)
	count := map[string]int{}
	for _, ev := range events {
		count[ev["action"].(string)]++
	}
	// Scenario: 2 token creates; here: 1 more create, revoke, delete, publish, package delete.
	want := map[string]int{"deploy_token.create": 3, "deploy_token.revoke": 1, "deploy_token.delete": 1, "package.publish": 1, "package.delete": 1}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("%s: %d events, want %d (all: %v)", k, count[k], v, count)
		}
	}
	for _, ev := range events {
		if ev["action"] == "package.publish" {
			d, _ := ev["details"].(map[string]any)
			if ev["author_type"] != "deploy_token" || ev["ip_address"] != "127.0.0.1" || ev["entity_path"] != "acme/sub/app" ||
				!strings.Contains(fmt.Sprint(d["path"]), "audited") {
				t.Errorf("publish event: %v", ev)
			}
		}
		if strings.Contains(fmt.Sprint(ev), "gldt-") {
			t.Errorf("a secret in an audit event: %v", ev)
		}
	}
	var filtered []map[string]any
	e.Must(200, e.Do("GET", "/api/v4/audit_events?action=deploy_token", nil, PAT(e.Admin))).JSON(t, &filtered)
	if len(filtered) != 5 {
		t.Errorf("action filter: %d", len(filtered))
	}
	_, dev := e.User("dev")
	e.Must(403, e.Do("GET", "/api/v4/audit_events", nil, PAT(dev)))
	e.Must(401, e.Do("GET", "/api/v4/audit_events", nil, nil))
}

// auditList reads an audit list as who, failing on any other status.
func auditList(e *Env, path, who string) []map[string]any {
	e.t.Helper()
	var events []map[string]any
	e.Must(200, e.Do("GET", path, nil, PAT(who))).JSON(e.t, &events)
	return events
}

// TestAuditEventEntities: every event names its entity as GitLab's audit
// events do (entity_type as a class name, entity_path the full path of the
// project or group, or the username) and carries GitLab's details
// (target_*, custom_message, author_name, ip_address, entity_path) and
// event_name, whatever wrote it: the deploy-token, user and token APIs,
// the package formats (at project and group level) and the packages API.
// Deploy tokens used to leave entity_path empty, personal access tokens
// too, package events held the request's path instead, and an API delete
// or an npm dist-tag change above project level had no entity at all.
func TestAuditEventEntities(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	pid, sub := float64(s.ProjectID), float64(s.SubID)
	secrets := []string{s.WriteToken, s.ReadToken, e.Admin}
	// Group deploy token on acme/sub: created, revoked, deleted.
	gtok, _, gtid := e.DeployToken("groups", s.SubID, "read_package_registry")
	e.Must(200, e.Do("POST", fmt.Sprintf("/api/v4/groups/%d/deploy_tokens/%d/revoke", s.SubID, gtid), nil, PAT(e.Admin)))
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d/deploy_tokens/%d", s.SubID, gtid), nil, PAT(e.Admin)))
	// A user, a token for them (by the admin), then its revocation.
	uid, utok := e.User("dora")
	m := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", uid),
		map[string]any{"name": "ci", "scopes": []string{"read_api"}}, PAT(e.Admin))).Map(t)
	patID, patSecret := m["id"].(float64), m["token"].(string)
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/personal_access_tokens/%v", patID), nil, PAT(e.Admin)))
	secrets = append(secrets, gtok, utok, patSecret)
	// A generic publish by deploy token, and its deletion by the API.
	e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/audited/1.0/f.bin", s.ProjectID), "x", Basic("ci", s.WriteToken)))
	var pkgs []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages?package_name=audited", s.ProjectID), nil, PAT(e.Admin))).JSON(t, &pkgs)
	genericID := pkgs[0]["id"].(float64)
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/packages/%v", s.ProjectID, genericID), nil, PAT(e.Admin)))
	// npm: a publish, a dist-tag set through the group (whose route names
	// no project), and an advisory request, which changes nothing.
	e.Must(200, e.npmPublish(s.ProjectID, s.WriteToken, "@acme/hello", "1.0.0"))
	wtok, _, _ := e.DeployToken("groups", s.GroupID, "read_package_registry", "write_package_registry")
	secrets = append(secrets, wtok)
	e.Must(204, e.Do("PUT", fmt.Sprintf("/api/v4/groups/%d/-/packages/npm/-/package/@acme%%2fhello/dist-tags/stable", s.GroupID), `"1.0.0"`, Bearer(wtok)))
	e.Must(200, e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/packages/npm/-/npm/v1/security/advisories/bulk", s.ProjectID), `{}`,
		H{"Authorization": "Bearer " + s.ReadToken, "Content-Type": "application/json"}))
	// Maven: a file and its checksums, which store nothing.
	jar := fmt.Sprintf("/api/v4/projects/%d/packages/maven/com/acme/lib/1.0/lib-1.0.jar", s.ProjectID)
	sha1sum := sha1.Sum([]byte("jar"))
	e.Must(200, e.Do("PUT", jar, "jar", DeployHdr(s.WriteToken)))
	e.Must(204, e.Do("PUT", jar+".sha1", hex.EncodeToString(sha1sum[:]), DeployHdr(s.WriteToken)))
	e.Must(200, e.Do("PUT", jar+".md5", "whatever", DeployHdr(s.WriteToken)))

	r := e.Must(200, e.Do("GET", "/api/v4/audit_events?per_page=100", nil, PAT(e.Admin)))
	for _, secret := range secrets {
		if strings.Contains(string(r.Body), secret) {
			t.Errorf("secret %s... in the audit events", secret[:8])
		}
	}
	var events []map[string]any
	r.JSON(t, &events)
	for _, c := range []struct {
		name                      string
		match                     func(ev, d map[string]any) bool
		entityType                string
		entityID                  float64
		entityPath, eventName     string
		targetType, targetDetails string
		message                   string // prefix
		authorName                string
		authorID                  float64 // 0: any user's
	}{
		{"project deploy token created", func(ev, d map[string]any) bool {
			return ev["action"] == "deploy_token.create" && ev["entity_type"] != "Group"
		},
			"Project", pid, "acme/sub/app", "deploy_token_created", "DeployToken", "t",
			"Created project deploy token with name: t with token_id: ", "root", 0},
		{"group deploy token created", func(ev, d map[string]any) bool {
			return ev["action"] == "deploy_token.create" && d["target_id"] == float64(gtid)
		},
			"Group", sub, "acme/sub", "group_deploy_token_created", "DeployToken", "t",
			fmt.Sprintf("Created group deploy token with name: t with token_id: %d with scopes: [:read_package_registry].", gtid), "root", 0},
		{"group deploy token revoked", func(ev, d map[string]any) bool { return ev["action"] == "deploy_token.revoke" },
			"Group", sub, "acme/sub", "group_deploy_token_revoked", "DeployToken", "t", "Revoked group deploy token with name: t", "root", 0},
		{"group deploy token deleted", func(ev, d map[string]any) bool { return ev["action"] == "deploy_token.delete" },
			"Group", sub, "acme/sub", "group_deploy_token_destroyed", "DeployToken", "t", "Destroyed group deploy token with name: t", "root", 0},
		{"user created", func(ev, d map[string]any) bool { return ev["action"] == "user.create" },
			"User", float64(uid), "dora", "user_created", "User", "dora", "User dora created", "root", 0},
		{"personal access token created", func(ev, d map[string]any) bool {
			return ev["action"] == "personal_access_token.create" && d["token_id"] == patID
		}, "User", float64(uid), "dora", "personal_access_token_created", "User", "dora",
			fmt.Sprintf("Created personal access token with id %v", patID), "root", 0},
		{"personal access token revoked", func(ev, d map[string]any) bool { return ev["action"] == "personal_access_token.revoke" },
			"User", float64(uid), "dora", "personal_access_token_revoked", "User", "dora",
			fmt.Sprintf("Revoked personal access token with id %v", patID), "root", 0},
		{"generic publish", func(ev, d map[string]any) bool { return ev["action"] == "package.publish" && d["format"] == "generic" },
			"Project", pid, "acme/sub/app", "package_registry_package_published", "Packages::Package",
			fmt.Sprintf("/api/v4/projects/%d/packages/generic/audited/1.0/f.bin", s.ProjectID), "Generic package published", s.WriteUser, -2},
		{"package deleted through the API", func(ev, d map[string]any) bool { return ev["action"] == "package.delete" },
			"Project", pid, "acme/sub/app", "package_registry_package_deleted", "Packages::Package", "acme/sub/app/audited-1.0",
			"Package deleted", "root", 0},
		{"maven file", func(ev, d map[string]any) bool { return d["format"] == "maven" },
			"Project", pid, "acme/sub/app", "package_registry_package_published", "Packages::Package",
			fmt.Sprintf("/api/v4/projects/%d/packages/maven/com/acme/lib/1.0/lib-1.0.jar", s.ProjectID), "Maven package published", s.WriteUser, -2},
		{"npm dist-tag set at group level", func(ev, d map[string]any) bool {
			return ev["action"] == "package.publish" && d["format"] == "npm" && strings.Contains(fmt.Sprint(d["path"]), "dist-tags")
		}, "Project", pid, "acme/sub/app", "package_registry_package_published", "Packages::Package",
			fmt.Sprintf("/api/v4/groups/%d/-/packages/npm/-/package/@acme%%2fhello/dist-tags/stable", s.GroupID), "Npm package published", "", -2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var found []map[string]any
			for _, ev := range events {
				d, _ := ev["details"].(map[string]any)
				if c.match(ev, d) {
					found = append(found, ev)
				}
			}
			if len(found) == 0 {
				t.Fatalf("no such event among %v", events)
			}
			for _, ev := range found {
				d, _ := ev["details"].(map[string]any)
				got := []any{ev["entity_type"], ev["entity_id"], ev["entity_path"], d["entity_path"], ev["event_name"], d["event_name"],
					d["target_type"], d["target_details"]}
				want := []any{c.entityType, c.entityID, c.entityPath, c.entityPath, c.eventName, c.eventName, c.targetType, c.targetDetails}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("entity, event and target %v, want %v: %v", got, want, ev)
				}
				if msg, _ := d["custom_message"].(string); !strings.HasPrefix(msg, c.message) {
					t.Errorf("custom_message %q, want %q...", msg, c.message)
				}
				if d["author_name"] != ev["author_name"] || d["ip_address"] != "127.0.0.1" || (c.authorName != "" && ev["author_name"] != c.authorName) {
					t.Errorf("author and address: %v", ev)
				}
				if c.authorID != 0 && ev["author_id"] != c.authorID {
					t.Errorf("author_id %v, want %v", ev["author_id"], c.authorID)
				}
			}
		})
	}
	// Requests on package routes that change nothing are no publish:
	// npm's advisory request, Maven's checksums.
	formats := map[string]int{}
	for _, ev := range events {
		if d, _ := ev["details"].(map[string]any); d["format"] != nil {
			formats[fmt.Sprint(d["format"])]++
		}
	}
	if formats["npm"] != 2 || formats["maven"] != 1 {
		t.Errorf("events by format %v, want npm 2 (publish, dist-tag), maven 1 (the jar)", formats)
	}
}

// TestAuditEventFilters: the admin list takes GitLab's filters:
// entity_type (GitLab's class names, refused otherwise) with entity_id,
// and created_after and created_before, both inclusive and to the
// fraction of a second; it pages as every list does. entity_type and
// entity_id used to be ignored, created_before excluded its own instant
// and created_after dropped the fraction.
func TestAuditEventFilters(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario() // a group, a subgroup, a project and two project token creations
	e.DeployToken("groups", s.SubID, "read_package_registry")
	uid, _ := e.User("dora") // user.create, personal_access_token.create
	// Two events at known instants, apart by half a second.
	db := e.Store.DB()
	var ids []int64
	if err := db.Select(&ids, `SELECT id FROM audit_events WHERE action = 'deploy_token.create' ORDER BY id LIMIT 2`); err != nil || len(ids) != 2 {
		t.Fatalf("project token events %v: %v", ids, err)
	}
	db.MustExec(`UPDATE audit_events SET created_at = '2030-01-01T00:00:00Z' WHERE id = $1`, ids[0])
	db.MustExec(`UPDATE audit_events SET created_at = '2030-01-01T00:00:00.5Z' WHERE id = $1`, ids[1])
	for _, c := range []struct {
		query  string
		status int
		want   int    // events
		err    string // with status 400
	}{
		{"entity_type=Project&entity_id=" + fmt.Sprint(s.ProjectID), 200, 3, ""},
		{"entity_type=Group&entity_id=" + fmt.Sprint(s.SubID), 200, 2, ""},
		{"entity_type=Group&entity_id=" + fmt.Sprint(s.GroupID), 200, 1, ""},
		{"entity_type=User&entity_id=" + fmt.Sprint(uid), 200, 2, ""},
		{"entity_type=User", 200, 2, ""},
		{"entity_type=Project&entity_id=0", 200, 3, ""},
		{"entity_type=Gitlab::Audit::InstanceScope", 200, 0, ""},
		{"entity_type=project", 400, 0, "entity_type does not have a valid value"},
		{"entity_id=1", 400, 0, "entity_type is missing"},
		{"entity_type=Project&entity_id=x", 400, 0, "entity_id is invalid"},
		{"created_after=soon", 400, 0, "created_after is invalid"},
		{"created_before=2029-12-31T23:59:59Z", 200, 6, ""},
		{"created_after=2030-01-01T00:00:00.500Z", 200, 1, ""},
		{"created_after=2030-01-01T00:00:00Z&created_before=2030-01-01T00:00:00Z", 200, 1, ""},
		{"created_after=2030-01-01&created_before=2030-01-01T00:00:00.5Z", 200, 2, ""},
		{"created_after=2030-01-01&entity_type=Project&entity_id=" + fmt.Sprint(s.ProjectID), 200, 2, ""},
	} {
		t.Run(c.query, func(t *testing.T) {
			r := e.Do("GET", "/api/v4/audit_events?per_page=100&"+c.query, nil, PAT(e.Admin))
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.status != 200 {
				ErrBody(t, r, "error", c.err)
				return
			}
			var events []map[string]any
			r.JSON(t, &events)
			if len(events) != c.want {
				t.Errorf("%d events, want %d: %v", len(events), c.want, events)
			}
		})
	}
	// Pages of one entity's events, newest first: the two moved to 2030,
	// then the project's creation.
	r := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/audit_events?entity_type=Project&entity_id=%d&per_page=1&page=2", s.ProjectID), nil, PAT(e.Admin)))
	var page []map[string]any
	r.JSON(t, &page)
	if len(page) != 1 || page[0]["id"] != float64(ids[0]) || r.Header.Get("X-Total") != "3" || r.Header.Get("X-Total-Pages") != "3" {
		t.Errorf("page 2: %v, X-Total %s, X-Total-Pages %s", page, r.Header.Get("X-Total"), r.Header.Get("X-Total-Pages"))
	}
}

// TestAuditEventRoutes: GitLab's group and project audit events API. A
// group's list holds the events whose entity is the group, a project's
// those of the project; Developers and up may read it, and below the role
// that manages it (a group's Owner, a project's Maintainer, inherited
// roles included) a member sees only the events they authored. One event
// is read by id at each level, only through the list it belongs to.
func TestAuditEventRoutes(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario() // root creates two project tokens
	users := map[string]string{"root": e.Admin}
	ids := map[string]int64{}
	for _, u := range []string{"maint", "dev", "rep", "gowner", "gmaint", "gdev", "outsider"} {
		ids[u], users[u] = e.User(u)
	}
	e.Member("projects", s.ProjectID, ids["maint"], 40)
	e.Member("projects", s.ProjectID, ids["dev"], 30)
	e.Member("projects", s.ProjectID, ids["rep"], 20)
	e.Member("groups", s.SubID, ids["gowner"], 50)
	e.Member("groups", s.SubID, ids["gmaint"], 40)
	e.Member("groups", s.SubID, ids["gdev"], 30)
	e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f", s.ProjectID), "x", PAT(users["dev"])))
	e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", s.ProjectID),
		map[string]any{"name": "m", "scopes": []string{"read_package_registry"}}, PAT(users["maint"])))
	for _, who := range []string{"gowner", "root"} {
		e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/groups/%d/deploy_tokens", s.SubID),
			map[string]any{"name": who, "scopes": []string{"read_package_registry"}}, PAT(users[who])))
	}
	// The project's events: root's creation of it and two deploy tokens
	// (NewScenario) and three memberships, dev's upload, maint's token;
	// the subgroup's: root's creation of it and three memberships, and a
	// token each by gowner and root; the top-level group's: its creation.
	event := map[string]float64{} // by author and entity type
	for _, ev := range auditList(e, "/api/v4/audit_events?per_page=100", e.Admin) {
		event[fmt.Sprint(ev["author_name"], " ", ev["entity_type"])] = ev["id"].(float64)
	}
	project := fmt.Sprintf("/api/v4/projects/%d/audit_events", s.ProjectID)
	group := fmt.Sprintf("/api/v4/groups/%d/audit_events", s.SubID)
	for _, c := range []struct {
		path, who string
		status    int
		authors   string // sorted author names of the events listed
	}{
		{project, "root", 200, "dev maint root root root root root root"},
		{project, "maint", 200, "dev maint root root root root root root"},
		{project, "gowner", 200, "dev maint root root root root root root"},
		{project, "gmaint", 200, "dev maint root root root root root root"},
		{project, "dev", 200, "dev"},
		{project, "gdev", 200, ""},
		{project, "rep", 403, ""},
		{project, "outsider", 404, ""},
		{"/api/v4/projects/acme%2Fsub%2Fapp/audit_events", "maint", 200, "dev maint root root root root root root"},
		{project + "?created_after=2100-01-01", "root", 200, ""},
		{project + "?created_before=nope", "root", 400, ""},
		{group, "root", 200, "gowner root root root root root"},
		{group, "gowner", 200, "gowner root root root root root"},
		{group, "gmaint", 200, ""},
		{group, "gdev", 200, ""},
		{group, "rep", 403, ""},
		{group, "outsider", 404, ""},
		{fmt.Sprintf("/api/v4/groups/%d/audit_events", s.GroupID), "root", 200, "root"},
		{fmt.Sprintf("%s/%v", project, event["dev Project"]), "dev", 200, "dev"},
		{fmt.Sprintf("%s/%v", project, event["maint Project"]), "dev", 404, ""},
		{fmt.Sprintf("%s/%v", project, event["maint Project"]), "maint", 200, "maint"},
		{fmt.Sprintf("%s/%v", project, event["gowner Group"]), "root", 404, ""},
		{fmt.Sprintf("%s/%v", group, event["gowner Group"]), "gowner", 200, "gowner"},
		{fmt.Sprintf("%s/%v", group, event["gowner Group"]), "gmaint", 404, ""},
		{fmt.Sprintf("/api/v4/audit_events/%v", event["gowner Group"]), "root", 200, "gowner"},
		{fmt.Sprintf("/api/v4/audit_events/%v", event["gowner Group"]), "gowner", 403, ""},
		{"/api/v4/audit_events/999999", "root", 404, ""},
		{"/api/v4/audit_events/x", "root", 400, ""},
	} {
		t.Run(c.who+" "+c.path, func(t *testing.T) {
			r := e.Do("GET", c.path, nil, PAT(users[c.who]))
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.status != 200 {
				return
			}
			var events []map[string]any
			if strings.HasPrefix(string(r.Body), "{") {
				events = []map[string]any{r.Map(t)}
			} else {
				r.JSON(t, &events)
			}
			var authors []string
			for _, ev := range events {
				authors = append(authors, ev["author_name"].(string))
			}
			slices.Sort(authors)
			if got := strings.Join(authors, " "); got != c.authors {
				t.Errorf("authors %q, want %q", got, c.authors)
			}
		})
	}
}

// TestSecretsNeverLogged uses secrets in every carrier (including the
// private_token query parameter) and then greps everything the gateway
// logged during this test for them.
func TestSecretsNeverLogged(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f", s.ProjectID)
	e.Must(201, e.Do("PUT", url, "x", DeployHdr(s.WriteToken)))
	e.Must(200, e.Do("GET", url, nil, Basic("u", s.ReadToken)))
	e.Must(200, e.Do("GET", url, nil, Bearer(s.ReadToken)))
	e.Must(200, e.Do("GET", url+"?private_token="+e.Admin, nil, nil))
	e.Must(401, e.Do("GET", url, nil, Bearer("gldt-notarealtokenXXXXX")))
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d?private_token=%s", s.ProjectID, e.Admin), nil, nil))
	e.Stop()
	logMu.Lock()
	logFile.Sync()
	data, err := os.ReadFile(logFile.Name())
	logMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), t.Name()) {
		t.Fatal("no log lines of this test were captured")
	}
	for _, secret := range []string{s.WriteToken, s.ReadToken, e.Admin, "gldt-notarealtokenXXXXX"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("secret %s...%s appears in the gateway log", secret[:5], secret[len(secret)-2:])
		}
	}
}

// TestForwardedForIsNotTrusted: without configured proxies a client cannot
// dodge the failed-auth limit (or forge the audit address) by sending
// X-Forwarded-For.
func TestForwardedForIsNotTrusted(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.AuthFailPerMinute = 6; c.AuthFailBurst = 2 })
	s := e.NewScenario()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f", s.ProjectID)
	for i := 0; i < 2; i++ {
		e.Must(401, e.Do("GET", url, nil, H{"Authorization": "Bearer wrong", "X-Forwarded-For": fmt.Sprintf("10.0.0.%d", i)}))
	}
	e.Must(429, e.Do("GET", url, nil, H{"Authorization": "Bearer wrong", "X-Forwarded-For": "10.0.0.99"}))
}

// TestBootstrapAudited: `gateway admin bootstrap` creates an admin and an
// api token outside any request; both are in the audit log as the API's
// user and token creations are (the token's with the admin's username as
// entity path, which it used to lack), by the command that made them.
func TestBootstrapAudited(t *testing.T) {
	e := NewEnv(t)
	bin := buildGateway(t)
	boot := func() string {
		cmd := exec.Command(bin, "admin", "bootstrap", "--username", "ops")
		cmd.Env = append(os.Environ(), harness.GatewayEnv(e.Cfg.DatabaseURL, s3svc, e.Bucket)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bootstrap: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	boot()
	tok := boot() // the admin exists now: only a token
	e.Must(200, e.Do("GET", "/api/v4/user", nil, PAT(tok)))
	var events []map[string]any
	e.Must(200, e.Do("GET", "/api/v4/audit_events?per_page=100", nil, PAT(e.Admin))).JSON(t, &events)
	count := map[string]int{}
	for _, ev := range events {
		if ev["author_type"] != "system" || ev["author_name"] != "gateway admin bootstrap" {
			continue
		}
		count[ev["action"].(string)]++
		if strings.Contains(fmt.Sprint(ev), tok) {
			t.Errorf("a secret in an audit event: %v", ev)
		}
		// Both are about the admin: GitLab's entity path is the username.
		d, _ := ev["details"].(map[string]any)
		if ev["entity_type"] != "User" || ev["entity_path"] != "ops" || d["entity_path"] != "ops" || d["target_details"] == nil || d["custom_message"] == nil {
			t.Errorf("%s event: %v", ev["action"], ev)
		}
	}
	if count["user.create"] != 1 || count["personal_access_token.create"] != 2 {
		t.Errorf("bootstrap events %v, want 1 user.create and 2 personal_access_token.create (all: %v)", count, events)
	}
}

// A log of more than httpx.CountLimit events is paged as GitLab pages a
// list that large, without counting all of it for every page: no X-Total,
// X-Total-Pages or rel="last", and a next page while events follow. A
// filtered list under the limit keeps its totals.
func TestAuditEventsCountLimit(t *testing.T) {
	e := NewEnv(t)
	const many = httpx.CountLimit + 50
	if _, err := e.Store.DB().Exec(`INSERT INTO audit_events (actor_type, action, target_type, target_id)
		SELECT 'user', 'package.publish', 'project', 424242 FROM generate_series(1, $1)`, many); err != nil {
		t.Fatal(err)
	}
	// The count reads no more rows than the headers need.
	if _, total, err := e.Store.ListAudit(context.Background(), meta.AuditFilter{}, 100, 0, httpx.CountCap(100, 0)); err != nil || total != httpx.CountLimit+1 {
		t.Fatalf("counted %d events (%v), want the cap, %d", total, err, httpx.CountLimit+1)
	}
	for _, tc := range []struct {
		query    string
		min, max int // events on the page
		next     string
		total    string // "": none
	}{
		{"per_page=100", 100, 100, "2", ""},
		{"per_page=100&page=100", 100, 100, "101", ""},
		// The 50 events past 10,000, and the few the setup logged.
		{"per_page=100&page=101", 50, 99, "", ""},
		{"entity_type=Group&entity_id=99999&per_page=20", 0, 0, "", "0"},
	} {
		r := e.Must(200, e.Do("GET", "/api/v4/audit_events?"+tc.query, nil, PAT(e.Admin)))
		var events []map[string]any
		r.JSON(t, &events)
		_, hasTotal := r.Header["X-Total"]
		_, hasPages := r.Header["X-Total-Pages"]
		if hasTotal != (tc.total != "") || hasPages != hasTotal || r.Header.Get("X-Total") != tc.total ||
			strings.Contains(r.Header.Get("Link"), `rel="last"`) != hasTotal {
			t.Errorf("%s: X-Total %q (present %v), X-Total-Pages present %v, Link %s", tc.query, r.Header.Get("X-Total"), hasTotal, hasPages, r.Header.Get("Link"))
		}
		if len(events) < tc.min || len(events) > tc.max {
			t.Errorf("%s: %d events, want %d to %d", tc.query, len(events), tc.min, tc.max)
		}
		if r.Header.Get("X-Next-Page") != tc.next {
			t.Errorf("%s: X-Next-Page %q, want %q", tc.query, r.Header.Get("X-Next-Page"), tc.next)
		}
	}
}

// Membership changes are audited on their group or project, as GitLab EE
// audits them (member_created, member_updated, member_destroyed, with
// AuditEventService#for_member's details): who gave whom which level,
// changed it from what to what, or took it away. A change refused
// leaves no event.
func TestAuditMembers(t *testing.T) {
	e := NewEnv(t)
	admin := PAT(e.Admin)
	g := e.Group("team", 0, "private")
	p := e.Project("app", g, "private")
	uid, _ := e.User("mia")
	week := time.Now().UTC().AddDate(0, 0, 7).Format("2006-01-02")
	for _, src := range []struct {
		kind, entityType, path string
		id                     int64
	}{{"groups", "Group", "team", g}, {"projects", "Project", "team/app", p}} {
		members := fmt.Sprintf("/api/v4/%s/%d/members", src.kind, src.id)
		e.Must(201, e.Do("POST", members, map[string]any{"user_id": uid, "access_level": 30}, admin))
		e.Must(400, e.Do("PUT", fmt.Sprintf("%s/%d", members, uid), map[string]any{"access_level": 31}, admin))
		e.Must(200, e.Do("PUT", fmt.Sprintf("%s/%d", members, uid), map[string]any{"access_level": 40, "expires_at": week}, admin))
		e.Must(204, e.Do("DELETE", fmt.Sprintf("%s/%d", members, uid), nil, admin))

		var events []map[string]any
		e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/%s/%d/audit_events", src.kind, src.id), nil, admin)).JSON(t, &events)
		var got []string
		for _, ev := range events {
			d, _ := ev["details"].(map[string]any)
			if !strings.HasPrefix(fmt.Sprint(ev["event_name"]), "member_") {
				continue
			}
			if ev["entity_type"] != src.entityType || ev["entity_path"] != src.path || d["target_type"] != "User" ||
				d["target_id"] != float64(uid) || d["target_details"] != "mia" || ev["author_name"] != "root" {
				t.Errorf("%s: entity, target or author: %v", src.kind, ev)
			}
			if _, ok := d["custom_message"]; ok {
				t.Errorf("%s: a custom_message GitLab does not set: %v", src.kind, d)
			}
			switch ev["event_name"] {
			case "member_created":
				got = append(got, fmt.Sprint("add ", d["add"], " as ", d["as"]))
			case "member_updated":
				got = append(got, fmt.Sprint("change ", d["change"], " from ", d["from"], " to ", d["to"], " expiry ", d["expiry_from"], " to ", d["expiry_to"]))
			case "member_destroyed":
				got = append(got, fmt.Sprint("remove ", d["remove"]))
			}
		}
		// Newest first.
		want := []string{"remove user_access", "change access_level from Developer to Maintainer expiry <nil> to " + week,
			"add user_access as Developer"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s member events %q, want %q", src.kind, got, want)
		}
	}

	// Removing a group member takes their memberships below it with it,
	// and GitLab audits each on its own group or project; with
	// skip_subresources only the one removed.
	sub := e.Group("sub", g, "private")
	lib := e.Project("lib", sub, "private")
	kai, _ := e.User("kai")
	ada, _ := e.User("ada")
	for _, u := range []int64{kai, ada} {
		for _, m := range []string{fmt.Sprintf("groups/%d", g), fmt.Sprintf("groups/%d", sub), fmt.Sprintf("projects/%d", p), fmt.Sprintf("projects/%d", lib)} {
			e.Must(201, e.Do("POST", "/api/v4/"+m+"/members", map[string]any{"user_id": u, "access_level": 30}, admin))
		}
	}
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d/members/%d", g, kai), nil, admin))
	// A membership GitLab's daily job would have deleted for having
	// expired goes without an event of its own.
	eli, _ := e.User("eli")
	e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/groups/%d/members", g), map[string]any{"user_id": eli, "access_level": 30}, admin))
	e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/members", lib), map[string]any{"user_id": eli, "access_level": 30}, admin))
	e.Store.DB().MustExec(`UPDATE project_members SET expires_at = '2020-01-01' WHERE project_id = $1 AND user_id = $2`, lib, eli)
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d/members/%d", g, eli), nil, admin))
	var left int
	e.Store.DB().Get(&left, `SELECT count(*) FROM project_members WHERE user_id = $1`, eli)
	if left != 0 {
		t.Errorf("eli's expired project membership was not removed with the group's")
	}
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/groups/%d/members/%d?skip_subresources=true", g, ada), nil, admin))
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/members/%d", lib, ada), nil, admin))
	var events []map[string]any
	e.Must(200, e.Do("GET", "/api/v4/audit_events?per_page=100", nil, admin)).JSON(t, &events)
	removed := map[string][]string{}
	for _, ev := range events {
		d, _ := ev["details"].(map[string]any)
		if ev["event_name"] == "member_destroyed" && d["remove"] == "user_access" {
			who := fmt.Sprint(d["target_details"])
			removed[who] = append(removed[who], fmt.Sprint(ev["entity_type"], " ", ev["entity_path"]))
		}
	}
	// Newest first: the subgroups' after the group's, then the projects'.
	want := []string{"Project team/sub/lib", "Project team/app", "Group team/sub", "Group team"}
	if fmt.Sprint(removed["kai"]) != fmt.Sprint(want) {
		t.Errorf("removals audited for kai %q, want %q", removed["kai"], want)
	}
	if fmt.Sprint(removed["eli"]) != "[Group team]" {
		t.Errorf("removals audited for eli %q, want only the group's", removed["eli"])
	}
	if fmt.Sprint(removed["ada"]) != "[Group team]" {
		t.Errorf("removals audited for ada with skip_subresources %q, want only the group's", removed["ada"])
	}
}

// TestAuditCreation checks that making a group, a subgroup or a project
// is audited on it, as GitLab EE's create services do.
func TestAuditCreation(t *testing.T) {
	e := NewEnv(t)
	g := e.Group("corp", 0, "private")
	sub := e.Group("tools", g, "private")
	p := e.Project("cli", sub, "private")
	for _, tc := range []struct {
		list, name, entityType, path, add string
		id                                int64
	}{
		{fmt.Sprintf("/api/v4/groups/%d/audit_events", g), "group_created", "Group", "corp", "group", g},
		{fmt.Sprintf("/api/v4/groups/%d/audit_events", sub), "group_created", "Group", "corp/tools", "group", sub},
		{fmt.Sprintf("/api/v4/projects/%d/audit_events", p), "project_created", "Project", "corp/tools/cli", "project", p},
	} {
		var events []map[string]any
		e.Must(200, e.Do("GET", tc.list, nil, PAT(e.Admin))).JSON(t, &events)
		var found int
		for _, ev := range events {
			d, _ := ev["details"].(map[string]any)
			if ev["event_name"] != tc.name {
				continue
			}
			found++
			if ev["entity_type"] != tc.entityType || ev["entity_id"] != float64(tc.id) || ev["entity_path"] != tc.path ||
				d["add"] != tc.add || d["target_type"] != tc.entityType || d["target_id"] != float64(tc.id) ||
				d["target_details"] != tc.path || ev["author_name"] != "root" {
				t.Errorf("%s: %v", tc.list, ev)
			}
		}
		if found != 1 {
			t.Errorf("%s: %d %s events, want 1: %v", tc.list, found, tc.name, events)
		}
	}
}
