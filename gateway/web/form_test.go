package web

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/storage/meta"
)

var now = time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)

func TestTokenFormValidate(t *testing.T) {
	long := strings.Repeat("a", 256)
	tests := []struct {
		name  string
		form  TokenForm
		errs  map[string]string // field -> message substring
		check func(t *testing.T, in TokenInput)
	}{
		{name: "minimal", form: TokenForm{Name: "ci", Scopes: []string{"read_package_registry"}},
			check: func(t *testing.T, in TokenInput) {
				if in.Name != "ci" || in.Username != nil || in.ExpiresAt != nil || !slices.Equal(in.Scopes, []string{"read_package_registry"}) {
					t.Fatalf("got %+v", in)
				}
			}},
		{name: "full, scopes reordered and deduplicated",
			form: TokenForm{Name: "  ci-publisher ", ExpiresAt: "2026-03-11", Username: " ci-bot+1.x_y ",
				Scopes: []string{"write_package_registry", "read_package_registry", "write_package_registry"}},
			check: func(t *testing.T, in TokenInput) {
				if in.Name != "ci-publisher" {
					t.Fatalf("name %q", in.Name)
				}
				if in.Username == nil || *in.Username != "ci-bot+1.x_y" {
					t.Fatalf("username %v", in.Username)
				}
				if !in.ExpiresAt.Equal(time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)) {
					t.Fatalf("expires %v", in.ExpiresAt)
				}
				if !slices.Equal(in.Scopes, []string{"read_package_registry", "write_package_registry"}) {
					t.Fatalf("scopes %v", in.Scopes)
				}
			}},
		{name: "datetime expiry normalised to UTC", form: TokenForm{Name: "x", ExpiresAt: "2030-03-15T08:00:00+02:00", Scopes: []string{"read_repository"}},
			check: func(t *testing.T, in TokenInput) {
				if !in.ExpiresAt.Equal(time.Date(2030, 3, 15, 6, 0, 0, 0, time.UTC)) {
					t.Fatalf("expires %v", in.ExpiresAt)
				}
			}},
		{name: "blank name", form: TokenForm{Name: "   ", Scopes: []string{"read_registry"}}, errs: map[string]string{"name": "Enter a name"}},
		{name: "name too long", form: TokenForm{Name: long, Scopes: []string{"read_registry"}}, errs: map[string]string{"name": "too long"}},
		{name: "name 255 runes ok", form: TokenForm{Name: strings.Repeat("é", 255), Scopes: []string{"read_registry"}}},
		{name: "control character in name", form: TokenForm{Name: "a\x00b", Scopes: []string{"read_registry"}}, errs: map[string]string{"name": "not allowed"}},
		{name: "no scope", form: TokenForm{Name: "x"}, errs: map[string]string{"scopes": "Select at least one scope"}},
		{name: "unknown scope", form: TokenForm{Name: "x", Scopes: []string{"api", "read_registry"}}, errs: map[string]string{"scopes": "Unknown scope: api"}},
		{name: "expiry today is already past (00:00 UTC)", form: TokenForm{Name: "x", ExpiresAt: "2026-03-10", Scopes: []string{"read_registry"}},
			errs: map[string]string{"expires_at": "must be in the future"}},
		{name: "expiry in the past", form: TokenForm{Name: "x", ExpiresAt: "2020-01-01", Scopes: []string{"read_registry"}},
			errs: map[string]string{"expires_at": "must be in the future"}},
		{name: "expiry garbage", form: TokenForm{Name: "x", ExpiresAt: "next tuesday", Scopes: []string{"read_registry"}},
			errs: map[string]string{"expires_at": "YYYY-MM-DD"}},
		{name: "expiry impossible date", form: TokenForm{Name: "x", ExpiresAt: "2027-02-30", Scopes: []string{"read_registry"}},
			errs: map[string]string{"expires_at": "YYYY-MM-DD"}},
		{name: "bad username", form: TokenForm{Name: "x", Username: "ci bot", Scopes: []string{"read_registry"}},
			errs: map[string]string{"username": "can contain only"}},
		{name: "username too long", form: TokenForm{Name: "x", Username: long, Scopes: []string{"read_registry"}},
			errs: map[string]string{"username": "too long"}},
		{name: "everything wrong at once", form: TokenForm{ExpiresAt: "2000-01-01", Username: "a/b"},
			errs: map[string]string{"name": "Enter a name", "expires_at": "future", "username": "only", "scopes": "at least one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, errs := tt.form.Validate(now)
			if len(errs) != len(tt.errs) {
				t.Fatalf("errors %v, want %v", errs, tt.errs)
			}
			for field, want := range tt.errs {
				if got := errs.For(field); !strings.Contains(got, want) {
					t.Errorf("%s: %q, want it to contain %q", field, got, want)
				}
			}
			if tt.errs == nil && tt.check != nil {
				tt.check(t, in)
			}
		})
	}
}

func TestFormErrorsFollowFieldOrder(t *testing.T) {
	_, errs := TokenForm{Username: "!", ExpiresAt: "x"}.Validate(now)
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	if want := []string{"name", "expires_at", "username", "scopes"}; !slices.Equal(fields, want) {
		t.Fatalf("order %v, want %v", fields, want)
	}
}

func TestMinExpiryDate(t *testing.T) {
	if got := minExpiryDate(now); got != "2026-03-11" {
		t.Fatalf("got %s", got)
	}
	// Late in the day in a zone east of UTC is still the UTC date's tomorrow.
	tz := time.FixedZone("UTC+9", 9*3600)
	if got := minExpiryDate(time.Date(2026, 3, 11, 7, 0, 0, 0, tz)); got != "2026-03-11" {
		t.Fatalf("got %s", got)
	}
	// The first date the picker offers passes validation.
	if _, errs := (TokenForm{Name: "x", ExpiresAt: minExpiryDate(now), Scopes: []string{"read_registry"}}).Validate(now); errs != nil {
		t.Fatalf("min date refused: %v", errs)
	}
}

func TestScopeInfosCoverEveryScopeInOrder(t *testing.T) {
	var names []string
	for _, s := range scopeInfos {
		names = append(names, s.Name)
		if s.Description == "" {
			t.Errorf("%s has no description", s.Name)
		}
		if want := s.Name == auth.ScopeReadPackages || s.Name == auth.ScopeWritePackages; s.Effective != want {
			t.Errorf("%s effective=%v", s.Name, s.Effective)
		}
	}
	if !slices.Equal(names, auth.DeployScopes) {
		t.Fatalf("scopes %v, want %v", names, auth.DeployScopes)
	}
}

func TestPermsFor(t *testing.T) {
	tests := []struct {
		kind         holderKind
		level        int
		write        bool
		list, manage bool
		why          string
	}{
		{kindProject, meta.Guest, true, false, false, "Only maintainers and owners"},
		{kindProject, meta.Developer, true, false, false, "Your role: Developer"},
		{kindProject, meta.Maintainer, true, true, true, ""},
		{kindProject, meta.Owner, true, true, true, ""},
		{kindProject, meta.Maintainer, false, true, false, "read-only token"},
		{kindGroup, meta.Developer, true, false, false, "only owners can manage"},
		{kindGroup, meta.Maintainer, true, true, false, "Only owners of this group"},
		{kindGroup, meta.Owner, true, true, true, ""},
		{kindGroup, meta.Owner, false, true, false, "read-only token"},
		{kindGroup, 0, true, false, false, "Your role: No role"},
	}
	for _, tt := range tests {
		p := permsFor(tt.kind, tt.level, tt.write)
		if p.List != tt.list || p.Manage != tt.manage || !strings.Contains(p.Why, tt.why) || (tt.why == "" && p.Why != "") {
			t.Errorf("%s level %d write %v: %+v", tt.kind, tt.level, tt.write, p)
		}
	}
}

func TestSafeNext(t *testing.T) {
	tests := map[string]string{
		"":                                "/-/ui/",
		"/-/ui/projects/5/settings":       "/-/ui/projects/5/settings",
		"/-/ui/projects/5?page=2#x":       "/-/ui/projects/5?page=2#x",
		"//evil.example/-/ui/":            "/-/ui/",
		"https://evil.example/-/ui/":      "/-/ui/",
		"/-/ui/\\evil":                    "/-/ui/",
		"/api/v4/projects":                "/-/ui/",
		"/-/ui/sign_in?next=x":            "/-/ui/",
		"/-/ui/sign_out":                  "/-/ui/",
		"/-/uix":                          "/-/ui/",
		"/-/ui/projects/1\r\nSet-Cookie:": "/-/ui/",
		"/-/ui/../..//evil.com":           "/-/ui/",
		"/-/ui/../api/v4/user":            "/-/ui/",
		"/-/ui/projects/../groups/2":      "/-/ui/projects/../groups/2",
	}
	for in, want := range tests {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCookieFlags(t *testing.T) {
	c := newCookie(sessionCookie, "v", 60, true, http.SameSiteLaxMode)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/-/ui" {
		t.Fatalf("cookie %+v", c)
	}
	s := c.String()
	for _, want := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/-/ui"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %s", s, want)
		}
	}
	if c := newCookie(sessionCookie, "v", 60, false, http.SameSiteStrictMode); c.Secure || !c.HttpOnly {
		t.Fatalf("cookie %+v", c)
	}
}

func TestRegisterSecureFromExternalURL(t *testing.T) {
	for url, secure := range map[string]bool{"https://pkg.example.test": true, "http://127.0.0.1:8080": false} {
		u := newUI(Deps{ExternalURL: url})
		if u.secure != secure {
			t.Errorf("%s: secure=%v", url, u.secure)
		}
	}
}

func TestCSRFToken(t *testing.T) {
	a, b := csrfFor("pkgws-one"), csrfFor("pkgws-two")
	if a == b || a == "" || strings.Contains(a, "pkgws") {
		t.Fatalf("tokens %q %q", a, b)
	}
	if !validMAC(a, csrfFor("pkgws-one")) || validMAC("", a) || validMAC(b, a) {
		t.Fatal("validMAC")
	}
}

func TestRenderAllTemplates(t *testing.T) {
	r, err := newRenderer()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"sign_in", "dashboard", "packages", "settings", "group", "revoke", "message"} {
		if r.pages[p] == nil {
			t.Errorf("no page %s", p)
		}
	}
	for _, f := range []string{"app.css", "app.js", "favicon.svg"} {
		if _, ok := r.static[f]; !ok {
			t.Errorf("no static %s", f)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 150 << 20: "150 MiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
