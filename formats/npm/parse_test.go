package npm

import (
	"github.com/pkgate/pkgate/formats"
	"strings"
	"testing"

	"github.com/pkgate/pkgate/internal/errs"
)

func errText(err error) string {
	if e, ok := err.(*errs.Error); ok {
		return e.Msg
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseName(t *testing.T) {
	long := strings.Repeat("a", 250)
	tests := []struct {
		in          string
		scope, base string
		err         string
	}{
		{in: "hello", base: "hello"},
		{in: "@acme/hello", scope: "acme", base: "hello"},
		{in: "@acme/Hello.World_x+y-z", scope: "acme", base: "Hello.World_x+y-z"},
		{in: "@a/b", scope: "a", base: "b"},
		{in: "@a.b-c_d/x", scope: "a.b-c_d", base: "x"},
		{in: "@_/x", scope: "_", base: "x"},
		{in: "@" + long[:200] + "/" + long[:53], scope: long[:200], base: long[:53]}, // 255 bytes
		{in: "", err: "package_name is missing"},
		{in: "@acme", err: "package_name is invalid"},
		{in: "@acme/", err: "package_name is invalid"},
		{in: "@/hello", err: "package_name is invalid"},
		{in: "@acme/hel/lo", err: "package_name is invalid"},
		{in: "hel/lo", err: "package_name is invalid"},
		{in: "@-acme/hello", err: "package_name is invalid"},
		{in: "@acme./hello", err: "package_name is invalid"},
		{in: "@acme.git/hello", err: "package_name is invalid"},
		{in: "@acme.atom/hello", err: "package_name is invalid"},
		{in: "@ac me/hello", err: "package_name is invalid"},
		{in: "hello world", err: "package_name is invalid"},
		{in: "héllo", err: "package_name is invalid"},
		{in: "@acme/..", err: "package_name should be a valid file path"},
		{in: "..", err: "package_name should be a valid file path"},
		{in: ".", err: "package_name should be a valid file path"},
		{in: "@acme/hel\nlo", err: "package_name should be a valid file path"},
		{in: "hel\x00lo", err: "package_name should be a valid file path"},
		{in: `hel\lo`, err: "package_name should be a valid file path"},
		{in: "@" + long + "/" + long, err: "package_name is invalid"},
		{in: "a..b", base: "a..b"},
		{in: "-", err: "package_name is invalid"},
		{in: "@acme/-", scope: "acme", base: "-"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, err := ParseName(tc.in)
			if tc.err != "" {
				if err == nil || errText(err) != tc.err {
					t.Fatalf("ParseName(%q) = %+v, %v; want error %q", tc.in, n, err, tc.err)
				}
				if errs.KindOf(err) != errs.Invalid {
					t.Fatalf("kind %v", errs.KindOf(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseName(%q): %v", tc.in, err)
			}
			if n.Scope != tc.scope || n.Base != tc.base {
				t.Fatalf("ParseName(%q) = %+v", tc.in, n)
			}
			if n.String() != tc.in {
				t.Fatalf("String() = %q", n.String())
			}
		})
	}
}

func TestTarballName(t *testing.T) {
	n, _ := ParseName("@acme/hello")
	if got := n.TarballName("1.0.0"); got != "@acme/hello-1.0.0.tgz" {
		t.Fatal(got)
	}
	n, _ = ParseName("plain")
	if got := n.TarballName("1.0.0-rc.1"); got != "plain-1.0.0-rc.1.tgz" {
		t.Fatal(got)
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want Route
		err  string
		kind errs.Kind
	}{
		{in: "/@acme%2fhello", want: Route{Kind: RoutePackument, Name: Name{"acme", "hello"}}},
		{in: "/@acme%2Fhello", want: Route{Kind: RoutePackument, Name: Name{"acme", "hello"}}},
		{in: "/@acme/hello", want: Route{Kind: RoutePackument, Name: Name{"acme", "hello"}}},
		{in: "/@acme/hello/", want: Route{Kind: RoutePackument, Name: Name{"acme", "hello"}}},
		{in: "/hello", want: Route{Kind: RoutePackument, Name: Name{"", "hello"}}},
		{in: "/%40acme%2fhello", want: Route{Kind: RoutePackument, Name: Name{"acme", "hello"}}},
		{in: "/@acme/hello/-/@acme/hello-1.0.0.tgz", want: Route{Kind: RouteTarball, Name: Name{"acme", "hello"}, File: "@acme/hello-1.0.0.tgz"}},
		{in: "/@acme%2fhello/-/@acme%2fhello-1.0.0.tgz", want: Route{Kind: RouteTarball, Name: Name{"acme", "hello"}, File: "@acme/hello-1.0.0.tgz"}},
		{in: "/@acme/hello/-/hello-1.0.0.tgz", want: Route{Kind: RouteTarball, Name: Name{"acme", "hello"}, File: "hello-1.0.0.tgz"}},
		{in: "/hello/-/hello-1.0.0.tgz", want: Route{Kind: RouteTarball, Name: Name{"", "hello"}, File: "hello-1.0.0.tgz"}},
		{in: "/@acme%2fhello/-rev/3-abc", want: Route{Kind: RouteRev, Name: Name{"acme", "hello"}, Rev: "3-abc"}},
		{in: "/@acme/hello/-rev/undefined", want: Route{Kind: RouteRev, Name: Name{"acme", "hello"}, Rev: "undefined"}},
		{in: "/@acme/hello/-/@acme/hello-1.0.0.tgz/-rev/2-x", want: Route{Kind: RouteTarballRev, Name: Name{"acme", "hello"}, File: "@acme/hello-1.0.0.tgz", Rev: "2-x"}},
		{in: "/-/package/@acme%2fhello/dist-tags", want: Route{Kind: RouteDistTags, Name: Name{"acme", "hello"}}},
		{in: "/-/package/@acme/hello/dist-tags", want: Route{Kind: RouteDistTags, Name: Name{"acme", "hello"}}},
		{in: "/-/package/@acme%2fhello/dist-tags/beta", want: Route{Kind: RouteDistTag, Name: Name{"acme", "hello"}, Tag: "beta"}},
		{in: "/-/package/hello/dist-tags/next-2.x", want: Route{Kind: RouteDistTag, Name: Name{"", "hello"}, Tag: "next-2.x"}},
		{in: "/-/npm/v1/security/advisories/bulk", want: Route{Kind: RouteAudit}},
		{in: "/-/npm/v1/security/audits/quick", want: Route{Kind: RouteAudit}},
		{in: "/-/whoami", want: Route{Kind: RouteWhoami}},
		{in: "/-/ping", want: Route{Kind: RoutePing}},
		// Not npm endpoints GitLab has: 404.
		{in: "/", err: "404 Not Found", kind: errs.NotFound},
		{in: "", err: "404 Not Found", kind: errs.NotFound},
		{in: "/-/v1/search", err: "404 Not Found", kind: errs.NotFound},
		{in: "/-/user/org.couchdb.user:bob", err: "404 Not Found", kind: errs.NotFound},
		{in: "/@acme/hello/1.0.0", err: "404 Not Found", kind: errs.NotFound},
		{in: "/@acme/hello/-/a/b/c.tgz", err: "404 Not Found", kind: errs.NotFound},
		// npm 11 unpublish's doubled tarball path.
		{in: "/api/v4/projects/1/packages/npm/@acme/hello/-/@acme/hello-1.0.0.tgz/-rev/1-x", err: "404 Not Found", kind: errs.NotFound},
		{in: "/-/package/@acme%2fhello", err: "404 Not Found", kind: errs.NotFound},
		{in: "/-/package/@acme%2fhello/dist-tags/a/b", err: "404 Not Found", kind: errs.NotFound},
		// Bad input: 400.
		{in: "/-/package//dist-tags", err: `"Package Name" not given`, kind: errs.Invalid},
		{in: "/@acme%2f..", err: "package_name should be a valid file path", kind: errs.Invalid},
		{in: "/@acme/%2e%2e", err: "package_name should be a valid file path", kind: errs.Invalid},
		{in: "/hel%0d%0alo", err: "package_name should be a valid file path", kind: errs.Invalid},
		{in: "/%zz", err: "package_name should be a valid file path", kind: errs.Invalid},
		{in: "/@acme%2fhe%20llo", err: "package_name is invalid", kind: errs.Invalid},
		{in: "/@acme/hello/-/..", err: "file_name should be a valid file path", kind: errs.Invalid},
		{in: "/@acme/hello/-/x%00.tgz", err: "file_name should be a valid file path", kind: errs.Invalid},
		{in: "/-/package/@acme%2fhello/dist-tags/1.0.0", err: "tag is invalid: a tag must not be a valid SemVer version", kind: errs.Invalid},
		{in: "/-/package/@acme%2fhello/dist-tags/a%2fb", err: "tag is invalid", kind: errs.Invalid},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := ParsePath(tc.in)
			if tc.err != "" {
				if err == nil || errText(err) != tc.err || errs.KindOf(err) != tc.kind {
					t.Fatalf("ParsePath(%q) = %+v, %v (kind %v); want %q kind %v", tc.in, r, err, errs.KindOf(err), tc.err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tc.in, err)
			}
			if r != tc.want {
				t.Fatalf("ParsePath(%q) = %+v, want %+v", tc.in, r, tc.want)
			}
		})
	}
}

func TestSemver(t *testing.T) {
	valid := []string{"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92",
		"1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "1.0.0-rc.1+build.1", "99999999999999999999.0.0"}
	invalid := []string{"", "1", "1.2", "v1.2.3", "01.2.3", "1.02.3", "1.2.03", "1.2.3-01", "1.2.3-", "1.2.3+", "1.2.3-a..b",
		"1.2.3 ", " 1.2.3", "1.2.3.4", "a.b.c", "1.2.3-ü", strings.Repeat("1", 300) + ".0.0"}
	for _, v := range valid {
		if !ValidVersion(v) {
			t.Errorf("ValidVersion(%q) = false", v)
		}
	}
	for _, v := range invalid {
		if ValidVersion(v) {
			t.Errorf("ValidVersion(%q) = true", v)
		}
	}
	// semver.org's precedence example, plus numeric-size cases.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
		"1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0", "10.0.0", "99999999999999999999.0.0"}
	for i := 0; i+1 < len(order); i++ {
		a, _ := ParseSemver(order[i])
		b, _ := ParseSemver(order[i+1])
		if a.Compare(b) >= 0 || b.Compare(a) <= 0 {
			t.Errorf("%s should sort before %s", order[i], order[i+1])
		}
	}
	a, _ := ParseSemver("1.0.0+a")
	b, _ := ParseSemver("1.0.0+b")
	if a.Compare(b) != 0 {
		t.Error("build metadata must not affect precedence")
	}
	for in, ok := range map[string]bool{"v1.0.0": true, "=1.0.0": true, " 1.0.0 ": true, "1.0": false, "vv": false} {
		if _, got := ParseLooseSemver(in); got != ok {
			t.Errorf("ParseLooseSemver(%q) = %v", in, got)
		}
	}
}

func TestImplicitLatest(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"1.0.0"}, "1.0.0"},
		{[]string{"1.0.0", "1.10.0", "1.9.0"}, "1.10.0"},
		{[]string{"1.0.0", "2.0.0-beta.1"}, "1.0.0"},
		{[]string{"2.0.0-beta.1", "2.0.0-beta.2", "2.0.0-alpha"}, "2.0.0-beta.2"},
		{[]string{"not-semver", "0.1.0"}, "0.1.0"},
	}
	for _, tc := range tests {
		if got := ImplicitLatest(tc.in); got != tc.want {
			t.Errorf("ImplicitLatest(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidateTag(t *testing.T) {
	for _, ok := range []string{"latest", "beta", "next-2.x", "v1-lts", "release_1", "canary.3"} {
		if err := ValidateTag(ok); err != nil {
			t.Errorf("ValidateTag(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "1.0.0", "v1.2.3", "a b", "a/b", "a%b", "a?b", "a#b", "ü", strings.Repeat("x", 256), "a\nb", "..", "."} {
		if err := ValidateTag(bad); err == nil {
			t.Errorf("ValidateTag(%q) accepted", bad)
		}
	}
}

func TestParseIntegrity(t *testing.T) {
	// sha512 and sha1 of "abc".
	const s512 = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
	const b512 = "3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="
	const s1 = "a9993e364706816aba3e25717850c26c9cd0d89d"
	const b1 = "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
	tests := []struct {
		in      string
		sha512  []string
		sha1    []string
		wantErr bool
	}{
		{in: ""},
		{in: "sha512-" + b512, sha512: []string{s512}},
		{in: "sha512-" + b512 + "?opt=1", sha512: []string{s512}},
		{in: " sha512-" + b512 + "  sha1-" + b1 + " ", sha512: []string{s512}, sha1: []string{s1}},
		{in: "sha256-ungrokkable sha384-x md5-y nodash", sha512: nil},
		{in: "sha512-notbase64!!", wantErr: true},
		{in: "sha512-" + b1, wantErr: true}, // wrong length
		{in: "sha1-" + b512, wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParseIntegrity(tc.in)
		if tc.wantErr {
			if err == nil || errs.KindOf(err) != errs.Invalid {
				t.Errorf("ParseIntegrity(%q) = %v, %v; want 400", tc.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseIntegrity(%q): %v", tc.in, err)
			continue
		}
		if strings.Join(got.SHA512, ",") != strings.Join(tc.sha512, ",") || strings.Join(got.SHA1, ",") != strings.Join(tc.sha1, ",") {
			t.Errorf("ParseIntegrity(%q) = %+v", tc.in, got)
		}
	}
	if SRI(s512) != "sha512-"+b512 {
		t.Errorf("SRI = %q", SRI(s512))
	}
	if SRI("zz") != "" {
		t.Error("SRI of a bad hex digest should be empty")
	}
}

func TestAcceptHeaders(t *testing.T) {
	abbr := map[string]bool{
		"application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*": true,
		"application/vnd.npm.install-v1+json":                                      true,
		"APPLICATION/VND.NPM.INSTALL-V1+JSON":                                      true,
		"application/json":                                                         false,
		"":                                                                         false,
		"application/vnd.npm.install-v1+json;q=0, application/json": false,
	}
	for h, want := range abbr {
		if WantsAbbreviated(h) != want {
			t.Errorf("WantsAbbreviated(%q) != %v", h, want)
		}
	}
	gz := map[string]bool{
		"gzip":                   true,
		"gzip, deflate, br":      true,
		"br;q=1.0, gzip;q=0.8":   true,
		"x-gzip":                 true,
		"*":                      true,
		"gzip;q=0":               false,
		"*;q=0":                  false,
		"identity":               false,
		"":                       false,
		"*, gzip;q=0":            false,
		"deflate, *;q=0.1":       true,
		"gzip;q=0.000, identity": false,
	}
	for h, want := range gz {
		if formats.AcceptsGzip(h) != want {
			t.Errorf("AcceptsGzip(%q) != %v", h, want)
		}
	}
	const tag = `W/"abc"`
	inm := map[string]bool{`W/"abc"`: true, `"abc"`: true, `"x", W/"abc"`: true, `*`: true, `"abcd"`: false, ``: false}
	for h, want := range inm {
		if formats.ETagMatch(h, tag) != want {
			t.Errorf("ETagMatch(%q) != %v", h, want)
		}
	}
}
