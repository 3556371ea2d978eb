package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAPIHead: every GET route of the REST API answers HEAD as Grape, on
// which GitLab's REST API is built, does: the GET's status and headers
// (pagination, Link, Cache-Control, Content-Type and Content-Length of a
// success, X-Request-Id) and no body; 401 without
// credentials and 404 for what the caller cannot see, as GET, with the
// GET's Content-Type and Content-Length, as Rack answers HEAD for GitLab
// (httpx.Abort, as on the package routes). The metrics name the route
// template and count no body bytes for HEAD.
func TestAPIHead(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	aliceID, alice := e.User("alice") // a member of nothing
	bobID, bob := e.User("bob")
	e.Member("projects", s.ProjectID, bobID, 30)
	for i := 0; i < 3; i++ {
		e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p%d/1.0/f", s.ProjectID, i), "x", DeployHdr(s.WriteToken)))
	}
	proj := fmt.Sprintf("/api/v4/projects/%d", s.ProjectID)
	grp := fmt.Sprintf("/api/v4/groups/%d", s.GroupID)
	var pkgs []map[string]any
	e.Must(200, e.Do("GET", proj+"/packages", nil, PAT(e.Admin))).JSON(t, &pkgs)
	pkg := fmt.Sprintf("%s/packages/%v", proj, pkgs[0]["id"])
	_, _, tokenID := e.DeployToken("projects", s.ProjectID, "read_package_registry")
	self := e.Must(200, e.Do("GET", "/api/v4/personal_access_tokens/self", nil, PAT(bob))).Map(t)
	events := auditList(e, proj+"/audit_events", e.Admin)
	if len(events) == 0 {
		t.Fatal("no audit events on the project")
	}
	event := events[0]["id"]

	for _, c := range []struct {
		name, path string
		who        H
		status     int
		want       []string // headers that must be there, on both
	}{
		{"version", "/api/v4/version", PAT(alice), 200, nil},
		{"metadata", "/api/v4/metadata", PAT(alice), 200, nil},
		{"user", "/api/v4/user", PAT(alice), 200, nil},
		{"user, anonymous", "/api/v4/user", nil, 401, nil},
		{"users", "/api/v4/users?per_page=1", PAT(e.Admin), 200, []string{"X-Total", "X-Total-Pages", "Link"}},
		{"a user", fmt.Sprintf("/api/v4/users/%d", aliceID), PAT(alice), 200, nil},
		{"namespaces", "/api/v4/namespaces", PAT(bob), 200, []string{"X-Total", "Link"}},
		{"a namespace", "/api/v4/namespaces/acme", PAT(e.Admin), 200, nil},
		{"a namespace, outsider", "/api/v4/namespaces/acme", PAT(alice), 404, nil},
		{"groups", "/api/v4/groups?per_page=1", PAT(e.Admin), 200, []string{"X-Total", "X-Total-Pages", "X-Next-Page", "Link"}},
		{"a group", grp, PAT(e.Admin), 200, nil},
		{"a group, anonymous", grp, nil, 404, nil},
		{"subgroups", grp + "/subgroups", PAT(e.Admin), 200, []string{"X-Total"}},
		{"a group's projects", fmt.Sprintf("/api/v4/groups/%d/projects", s.SubID), PAT(e.Admin), 200, []string{"X-Total"}},
		{"projects", "/api/v4/projects", PAT(bob), 200, []string{"X-Page", "Link"}},
		{"a project", proj, PAT(bob), 200, nil},
		{"a project by path", "/api/v4/projects/acme%2Fsub%2Fapp", PAT(bob), 200, nil},
		{"a private project, anonymous", proj, nil, 404, nil},
		{"a private project, outsider", proj, PAT(alice), 404, nil},
		{"a missing project", "/api/v4/projects/999999999", PAT(e.Admin), 404, nil},
		{"members", proj + "/members", PAT(bob), 200, []string{"X-Total"}},
		{"members/all", proj + "/members/all", PAT(bob), 200, []string{"X-Total"}},
		{"a member", fmt.Sprintf("%s/members/%d", proj, bobID), PAT(bob), 200, nil},
		{"a member through all", fmt.Sprintf("%s/members/all/%d", proj, bobID), PAT(bob), 200, nil},
		{"group members", grp + "/members", PAT(e.Admin), 200, []string{"X-Total"}},
		{"packages, paged", proj + "/packages?per_page=2&sort=asc", PAT(bob), 200, []string{"X-Total", "X-Total-Pages", "X-Next-Page", "Link"}},
		{"packages, bad per_page", proj + "/packages?per_page=0", PAT(bob), 400, nil},
		{"packages, outsider", proj + "/packages", PAT(alice), 404, nil},
		{"group packages", grp + "/packages", PAT(e.Admin), 200, []string{"X-Total"}},
		{"a package", pkg, PAT(bob), 200, nil},
		{"package files", pkg + "/package_files", PAT(bob), 200, []string{"X-Total"}},
		{"deploy tokens, admin", "/api/v4/deploy_tokens", PAT(e.Admin), 200, []string{"X-Total"}},
		{"deploy tokens, not admin", "/api/v4/deploy_tokens", PAT(bob), 403, nil},
		{"project deploy tokens", proj + "/deploy_tokens", PAT(e.Admin), 200, []string{"X-Total"}},
		{"a deploy token", fmt.Sprintf("%s/deploy_tokens/%d", proj, tokenID), PAT(e.Admin), 200, nil},
		{"group deploy tokens", grp + "/deploy_tokens", PAT(e.Admin), 200, []string{"X-Total"}},
		{"personal access tokens", "/api/v4/personal_access_tokens", PAT(bob), 200, []string{"X-Total"}},
		{"personal access token self", "/api/v4/personal_access_tokens/self", PAT(bob), 200, nil},
		{"a personal access token", fmt.Sprintf("/api/v4/personal_access_tokens/%v", self["id"]), PAT(bob), 200, nil},
		{"audit events", "/api/v4/audit_events", PAT(e.Admin), 200, []string{"X-Total"}},
		{"an audit event", fmt.Sprintf("/api/v4/audit_events/%v", event), PAT(e.Admin), 200, nil},
		{"project audit events", proj + "/audit_events", PAT(e.Admin), 200, []string{"X-Total"}},
		{"a project audit event", fmt.Sprintf("%s/audit_events/%v", proj, event), PAT(e.Admin), 200, nil},
		{"group audit events", grp + "/audit_events", PAT(e.Admin), 200, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := H{"X-Request-Id": "head-" + nonWord.ReplaceAllString(c.name, "-")}
			for k, v := range c.who {
				h[k] = v
			}
			get := e.Do("GET", c.path, nil, h)
			head := e.Do("HEAD", c.path, nil, h)
			if get.Status != c.status {
				t.Fatalf("GET: status %d, want %d: %s", get.Status, c.status, get.Body)
			}
			if head.Status != c.status {
				t.Fatalf("HEAD: status %d, want %d (GET's)", head.Status, c.status)
			}
			if len(head.Body) != 0 {
				t.Errorf("HEAD has a body: %q", head.Body)
			}
			for _, k := range append([]string{"Cache-Control", "X-Request-Id"}, c.want...) {
				if get.Header.Get(k) == "" {
					t.Errorf("GET lacks %s: %v", k, get.Header)
				}
			}
			if got := head.Header.Get("X-Request-Id"); got != h["X-Request-Id"] {
				t.Errorf("HEAD X-Request-Id %q, want %q", got, h["X-Request-Id"])
			}
			// Every header the same but the date, errors' included: Rack
			// keeps the type and length of the body it drops.
			skip := map[string]bool{"Date": true}
			for k := range mergeKeys(get.Header, head.Header) {
				if skip[k] {
					continue
				}
				if g, hd := strings.Join(get.Header.Values(k), ", "), strings.Join(head.Header.Values(k), ", "); g != hd {
					t.Errorf("%s: GET %q, HEAD %q", k, g, hd)
				}
			}
		})
	}

	// What goes over the wire after HEAD's headers: nothing, and the
	// connection stays usable for the next request.
	t.Run("wire", func(t *testing.T) {
		u, _ := url.Parse(e.URL)
		conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		path := proj + "/packages?per_page=2"
		fmt.Fprintf(conn, "HEAD %s HTTP/1.1\r\nHost: %s\r\nPRIVATE-TOKEN: %s\r\n\r\n", path, u.Host, bob)
		fmt.Fprintf(conn, "GET /api/v4/version HTTP/1.1\r\nHost: %s\r\nPRIVATE-TOKEN: %s\r\nConnection: close\r\n\r\n", u.Host, bob)
		rd := bufio.NewReader(conn)
		headReq, _ := http.NewRequest("HEAD", e.URL+path, nil)
		res, err := http.ReadResponse(rd, headReq)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || res.Header.Get("X-Total") != "3" || res.Header.Get("Content-Length") == "" {
			t.Errorf("HEAD: %d %v", res.StatusCode, res.Header)
		}
		res.Body.Close()
		// Had HEAD sent its body, this would read it as the next answer.
		res, err = http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatalf("the answer after HEAD: %v", err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), `"version"`) {
			t.Errorf("the answer after HEAD: %d %s", res.StatusCode, body)
		}
		if rest, _ := io.ReadAll(rd); len(rest) != 0 {
			t.Errorf("bytes after the answers: %q", rest)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		bytesOut := regexp.MustCompile(`(?m)^pkgate_http_bytes_out_total\{format="api"\} (\S+)$`)
		metrics := func() string {
			r := e.Do("GET", "/-/metrics", nil, nil)
			if r.Status != 200 {
				t.Fatalf("metrics: %d", r.Status)
			}
			return string(r.Body)
		}
		sent := func() float64 {
			m := bytesOut.FindStringSubmatch(metrics())
			if m == nil {
				t.Fatal("no pkgate_http_bytes_out_total for the API")
			}
			n, _ := strconv.ParseFloat(m[1], 64)
			return n
		}
		before := sent()
		if r := e.Do("HEAD", proj, nil, PAT(bob)); r.Status != 200 {
			t.Fatalf("HEAD: %d", r.Status)
		}
		if after := sent(); after != before {
			t.Errorf("HEAD counted %v body bytes sent", after-before)
		}
		body := metrics()
		for _, want := range []string{
			`pkgate_http_requests_total{format="api",method="HEAD",route="/api/v4/projects/:id",status="200"}`,
			`pkgate_http_requests_total{format="api",method="HEAD",route="/api/v4/projects/:id",status="404"}`,
			`pkgate_http_requests_total{format="api",method="HEAD",route="/api/v4/user",status="401"}`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if strings.Contains(body, fmt.Sprintf(`route="/api/v4/projects/%d`, s.ProjectID)) {
			t.Error("a metrics route label is a raw path")
		}
	})
}

var nonWord = regexp.MustCompile(`\W+`)

func mergeKeys(hs ...http.Header) map[string]bool {
	keys := map[string]bool{}
	for _, h := range hs {
		for k := range h {
			keys[k] = true
		}
	}
	return keys
}

// refusedHeadLikeGet checks that a refused HEAD of path answers as its GET:
// the same status and every header but Date and X-Request-Id, the GET's
// JSON error sized by Content-Length, and no body.
func refusedHeadLikeGet(t *testing.T, e *Env, path string, h H, status int) {
	t.Helper()
	get := e.Must(status, e.Do("GET", path, nil, h))
	head := e.Must(status, e.Do("HEAD", path, nil, h))
	if len(head.Body) != 0 {
		t.Fatalf("HEAD body %q", head.Body)
	}
	if !strings.HasPrefix(get.Header.Get("Content-Type"), "application/json") || get.Header.Get("Content-Length") != fmt.Sprint(len(get.Body)) {
		t.Fatalf("GET Content-Type %q, Content-Length %q", get.Header.Get("Content-Type"), get.Header.Get("Content-Length"))
	}
	for k := range mergeKeys(get.Header, head.Header) {
		if k == "Date" || k == "X-Request-Id" {
			continue
		}
		if g, h := get.Header.Values(k), head.Header.Values(k); !slices.Equal(g, h) {
			t.Errorf("%s: GET %q, HEAD %q", k, g, h)
		}
	}
}
