package auth

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

func TestExtract(t *testing.T) {
	basic := func(u, p string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header.Get("Authorization")
	}
	cases := []struct {
		name    string
		url     string
		headers map[string]string
		want    Credentials
	}{
		{"none", "/", nil, Credentials{}},
		{"deploy header any case", "/", map[string]string{"deploy-token": " gldt-x "}, Credentials{DeployToken: "gldt-x"}},
		{"private token header", "/", map[string]string{"PRIVATE-TOKEN": "glpat-x"}, Credentials{PrivateToken: "glpat-x"}},
		{"private token param", "/?private_token=glpat-q", nil, Credentials{PrivateToken: "glpat-q", PrivateFromQuery: true}},
		{"private token header over param", "/?private_token=glpat-q", map[string]string{"PRIVATE-TOKEN": "glpat-x"}, Credentials{PrivateToken: "glpat-x"}},
		{"job token", "/", map[string]string{"JOB-TOKEN": "j"}, Credentials{JobToken: "j"}},
		{"bearer", "/", map[string]string{"Authorization": "Bearer abc"}, Credentials{Bearer: "abc"}},
		{"bearer lower-case scheme", "/", map[string]string{"Authorization": "bearer abc"}, Credentials{Bearer: "abc"}},
		{"access_token param", "/?access_token=a", nil, Credentials{Bearer: "a"}},
		{"basic", "/", map[string]string{"Authorization": basic("__token__", "s:e:c")}, Credentials{HasBasic: true, BasicUser: "__token__", BasicPass: "s:e:c"}},
		{"basic empty user", "/", map[string]string{"Authorization": basic("", "p")}, Credentials{HasBasic: true, BasicPass: "p"}},
		{"basic garbage", "/", map[string]string{"Authorization": "Basic !!!"}, Credentials{}},
		{"basic no colon", "/", map[string]string{"Authorization": "Basic YWJj"}, Credentials{}},
		{"unknown scheme", "/", map[string]string{"Authorization": "Negotiate x"}, Credentials{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", c.url, nil)
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			if got := Extract(r); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// The secret tried as a deploy token, carrier by carrier: the query's
// private_token is a PAT carrier only.
func TestDeployCandidate(t *testing.T) {
	cases := []struct {
		name string
		c    Credentials
		want string
	}{
		{"none", Credentials{}, ""},
		{"header", Credentials{DeployToken: "d", Bearer: "b"}, "d"},
		{"bearer", Credentials{Bearer: "b", PrivateToken: "p"}, "b"},
		{"private token header", Credentials{PrivateToken: "p"}, "p"},
		{"private token param", Credentials{PrivateToken: "p", PrivateFromQuery: true}, ""},
		{"basic replaces all", Credentials{DeployToken: "d", HasBasic: true, BasicPass: "s"}, "s"},
	}
	for _, c := range cases {
		if got := c.c.deployCandidate(); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func FuzzExtract(f *testing.F) {
	for _, s := range []string{"Basic X19fOmFiYw==", "Bearer x", "basic", "Basic ", "Basic Og=="} {
		f.Add(s, "gldt-abc", "/?private_token=x")
	}
	f.Fuzz(func(t *testing.T, authz, deploy, target string) {
		r, err := http.NewRequest("GET", "http://h"+target, nil)
		if err != nil {
			return
		}
		r.Header.Set("Authorization", authz)
		r.Header.Set("Deploy-Token", deploy)
		c := Extract(r)
		if c.HasBasic && c.Bearer != "" && r.URL.Query().Get("access_token") == "" && r.URL.Query().Get("bearer_token") == "" {
			t.Fatalf("both Basic and Bearer from one Authorization header: %q", authz)
		}
	})
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	re := regexp.MustCompile(`^gldt-[A-Za-z0-9_-]{20}$`)
	for i := 0; i < 1000; i++ {
		s, d := NewSecret(DeployTokenPrefix)
		if !re.MatchString(s) || seen[s] || !SameDigest(d, Digest(s)) || SameDigest(d, Digest(s+"x")) {
			t.Fatalf("bad secret %q", s)
		}
		seen[s] = true
	}
}

func TestNormalizeScopes(t *testing.T) {
	cases := []struct {
		in   []string
		want []string
		ok   bool
	}{
		{[]string{"write_package_registry", "read_package_registry", "read_package_registry"}, []string{"read_package_registry", "write_package_registry"}, true},
		{[]string{"api"}, nil, false},
		{nil, nil, true},
		{[]string{"read_virtual_registry", "read_repository"}, []string{"read_repository", "read_virtual_registry"}, true},
	}
	for _, c := range cases {
		got, ok := NormalizeScopes(c.in, DeployScopes)
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v %v", c.in, got, ok)
		}
	}
}

func TestReach(t *testing.T) {
	id := func(v int64) *int64 { return &v }
	proj := &meta.Project{ID: 7, Namespace: meta.Namespace{Kind: "group", TraversalIDs: []int64{1, 2, 3}}}
	personal := &meta.Project{ID: 8, Namespace: meta.Namespace{Kind: "user", TraversalIDs: []int64{1}}}
	cases := []struct {
		name string
		tok  meta.DeployToken
		p    *meta.Project
		want bool
	}{
		{"own project", meta.DeployToken{ProjectID: id(7)}, proj, true},
		{"other project", meta.DeployToken{ProjectID: id(9)}, proj, false},
		{"top group", meta.DeployToken{GroupID: id(1)}, proj, true},
		{"direct group", meta.DeployToken{GroupID: id(3)}, proj, true},
		{"unrelated group", meta.DeployToken{GroupID: id(4)}, proj, false},
		{"personal namespace never", meta.DeployToken{GroupID: id(1)}, personal, false},
	}
	for _, c := range cases {
		if got := Reach(&c.tok, c.p); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	at := func(s string) *time.Time { v, _ := time.Parse(time.RFC3339, s); return &v }
	now, _ := time.Parse(time.RFC3339, "2026-05-10T12:00:00Z")
	cases := []struct {
		exp             *time.Time
		usable, expired bool
	}{
		{nil, true, false},
		{at("2026-05-11T00:00:00Z"), true, false},
		{at("2026-05-10T00:00:00Z"), false, false}, // GitLab's quirk: unusable yet not "expired" on the day
		{at("2026-05-09T23:59:59Z"), false, true},
	}
	for _, c := range cases {
		tok := meta.DeployToken{ExpiresAt: c.exp}
		if tok.Usable(now) != c.usable || tok.Expired(now) != c.expired {
			t.Errorf("%v: usable %v expired %v", c.exp, tok.Usable(now), tok.Expired(now))
		}
	}
	if (&meta.DeployToken{Revoked: true}).Usable(now) {
		t.Error("revoked token usable")
	}
}

func TestParseExpiry(t *testing.T) {
	cases := []struct {
		in   string
		want string // RFC3339 or "" for nil; "bad" for invalid
	}{
		{"", ""},
		{"2099-01-31", "2099-01-31T00:00:00Z"},
		{"2030-03-15T08:00:00+02:00", "2030-03-15T06:00:00Z"},
		{"2030-03-15T08:00:00.789Z", "2030-03-15T08:00:00Z"},
		{"2030-03-15 08:00:00", "2030-03-15T08:00:00Z"},
		{"2030-03-15 08:00:00+02:00", "2030-03-15T06:00:00Z"},        // Python str() of an aware datetime
		{"2030-03-15 08:00:00.123456+02:00", "2030-03-15T06:00:00Z"}, // ... with microseconds
		{"2030-03-15T08:00:00.123456", "2030-03-15T08:00:00Z"},       // Python isoformat(), naive
		{"2030-03-15 08:00:00 +0200", "2030-03-15T06:00:00Z"},        // Ruby Time#to_s
		{"2030-03-15 08:00:00 +0200 EET", "2030-03-15T06:00:00Z"},    // Go Time.String()
		{"20300315", "2030-03-15T00:00:00Z"},                         // ISO 8601 basic
		{"20300315T080000Z", "2030-03-15T08:00:00Z"},
		{"2030/03/15", "2030-03-15T00:00:00Z"},
		{"Fri, 15 Mar 2030 08:00:00 GMT", "2030-03-15T08:00:00Z"},
		{"2030-03-15T08:00:00+0200", "2030-03-15T06:00:00Z"},
		{"2030-03-15T24:00:00Z", "bad"},
		{"20301315", "bad"},
		{"tomorrow", "bad"},
		{"2030-13-01", "bad"},
	}
	for _, c := range cases {
		got, ok := ParseExpiry(c.in)
		switch {
		case c.want == "bad":
			if ok {
				t.Errorf("%q accepted", c.in)
			}
		case c.want == "":
			if !ok || got != nil {
				t.Errorf("%q: %v %v", c.in, got, ok)
			}
		default:
			if !ok || got == nil || got.Format(time.RFC3339) != c.want {
				t.Errorf("%q: %v %v", c.in, got, ok)
			}
		}
	}
}

func TestNumericID(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1", 1, true}, {"0042", 42, true}, {"+1", 0, false}, {"-1", 0, false}, {" 1", 0, false},
		{"0", 0, false}, {"", 0, false}, {"1a", 0, false}, {"99999999999999999999", 0, false},
	}
	for _, c := range cases {
		if n, ok := numericID(c.in); n != c.want || ok != c.ok {
			t.Errorf("numericID(%q) = %d, %v; want %d, %v", c.in, n, ok, c.want, c.ok)
		}
	}
}

// TestRotationPath is GitLab's access_token_rotation_request?: the
// requests on which a revoked token revokes its family.
func TestRotationPath(t *testing.T) {
	cases := []struct {
		path string
		want bool
	}{
		{"/api/v4/personal_access_tokens/12/rotate", true},
		{"/api/v4/personal_access_tokens/self/rotate", true},
		{"/api/v4/personal_access_tokens/self", false},
		{"/api/v4/personal_access_tokens/12", false},
		{"/api/v4/personal_access_tokens/abc/rotate", false},
		{"/api/v4/personal_access_tokens/12/rotate/x", false},
		{"/api/v4/user", false},
	}
	for _, c := range cases {
		if got := rotationPath.MatchString(c.path); got != c.want {
			t.Errorf("%s: %v, want %v", c.path, got, c.want)
		}
	}
}
