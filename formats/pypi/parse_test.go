package pypi

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"acme-hello", "acme-hello"},
		{"Foo_Bar", "foo-bar"},
		{"My__Pkg.Name", "my-pkg-name"},
		{"acme.hello", "acme-hello"},
		{"Acme_Hello", "acme-hello"},
		{"a-_.-b", "a-b"},
		{"ZOPE.INTERFACE", "zope-interface"},
		{"x", "x"},
		{"", ""},
		{"--", "-"},
		{"Ünïcode_X", "Ünïcode-x"}, // only ASCII is folded (valid names are ASCII)
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"acme-hello", true},
		{"Acme_Hello.2", true},
		{"a", true},
		{"9", true},
		{"", false},
		{"-a", false},
		{"a-", false},
		{"a.", false},
		{"_a", false},
		{"a b", false},
		{"a/b", false},
		{"@acme/hello", false},
		{"a+b", false},
		{"ä", false},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), false},
	} {
		if got := ValidName(tc.in); got != tc.want {
			t.Errorf("ValidName(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestCanonicalVersion: expected values are packaging 23.0's
// canonicalize_version on the same inputs.
func TestCanonicalVersion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1.0.0", "1"},
		{"1.0", "1"},
		{"v1.0", "1"},
		{"V1.0", "1"},
		{"1.0-RC.1", "1rc1"},
		{"1.0rc1", "1rc1"},
		{"1.0-1", "1.post1"},
		{"1.0.post1", "1.post1"},
		{"1!2.0", "1!2"},
		{"0!1.0", "1"},
		{"1.0.dev0", "1.dev0"},
		{"1.0DEV", "1.dev0"},
		{"1.0+Local.01", "1+local.1"},
		{"1.0+abc-def_1", "1+abc.def.1"},
		{"01.002.0", "1.2"},
		{"1.0a", "1a0"},
		{"1.0-alpha-2", "1a2"},
		{"1.0.preview3", "1rc3"},
		{"1.0c1", "1rc1"},
		{"1.0-r2", "1.post2"},
		{"1.0rev", "1.post0"},
		{"0", "0"},
		{"0.0", "0"},
		{"1.0.0a1.post2.dev3+x.1", "1a1.post2.dev3+x.1"},
		{"1.0_post_1", "1.post1"},
		{"0.1.0", "0.1"},
		{"99999999999999999999999.0", "99999999999999999999999"},
	} {
		got, ok := CanonicalVersion(tc.in)
		if !ok || got != tc.want {
			t.Errorf("CanonicalVersion(%q) = %q, %v, want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"", "v", "1.", ".1", "1..0", "a1", "1.0-", "1.0+", "1.0+a..b", "1.0 ", " 1.0", "1.0/2", "1.0-a-b", "1,0", "1.0💥", "1.0\x00", strings.Repeat("1", 256)} {
		if v, ok := CanonicalVersion(bad); ok || ValidVersion(bad) {
			t.Errorf("version %q accepted (%q)", bad, v)
		}
	}
}

func TestValidPathParam(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"acme-hello", true},
		{"acme_hello-0.1.0.tar.gz", true},
		{"a..b", true},
		{"", true},
		{".", false},
		{"..", false},
		{"../x", false},
		{"a/b", false},
		{`a\b`, false},
		{"a\r\nb", false},
		{"a\x00", false},
		{"a\x7f", false},
	} {
		if got := ValidPathParam(tc.in); got != tc.want {
			t.Errorf("ValidPathParam(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseFileName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want File
	}{
		{"acme_hello-0.1.0-py3-none-any.whl", File{Name: "acme_hello", Version: "0.1.0", Kind: KindWheel, Ext: ".whl", PyTag: "py3", ABITag: "none", PlatformTag: "any"}},
		{"numpy-1.26.0-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", File{Name: "numpy", Version: "1.26.0", Kind: KindWheel, Ext: ".whl", BuildTag: "1",
			PyTag: "cp311", ABITag: "cp311", PlatformTag: "manylinux_2_17_x86_64.manylinux2014_x86_64"}},
		{"Acme.Hello-1.0rc1-py2.py3-none-any.WHL", File{Name: "Acme.Hello", Version: "1.0rc1", Kind: KindWheel, Ext: ".WHL", PyTag: "py2.py3", ABITag: "none", PlatformTag: "any"}},
		{"acme-hello-0.1.0.tar.gz", File{Name: "acme-hello", Version: "0.1.0", Kind: KindSdist, Ext: ".tar.gz"}},
		{"acme_hello-0.1.0.tar.gz", File{Name: "acme_hello", Version: "0.1.0", Kind: KindSdist, Ext: ".tar.gz"}},
		{"py-3to2-1.0.zip", File{Name: "py-3to2", Version: "1.0", Kind: KindSdist, Ext: ".zip"}},
		{"foo-1.0-1.0.tar.bz2", File{Name: "foo-1.0", Version: "1.0", Kind: KindSdist, Ext: ".tar.bz2"}},
		{"foo-1.0.post1.tgz", File{Name: "foo", Version: "1.0.post1", Kind: KindSdist, Ext: ".tgz"}},
		{"foo-1.0.tar.xz", File{Name: "foo", Version: "1.0", Kind: KindSdist, Ext: ".tar.xz"}},
	} {
		got, err := ParseFileName(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseFileName(%q) = %+v, %v\n want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", ".", "..", "../acme-1.0.tar.gz", "a/acme-1.0.tar.gz", `a\acme-1.0.tar.gz`, "acme-1.0.tar.gz\x00",
		"acme 1.0.tar.gz", "acme-1.0.exe", "acme-1.0.egg", "acme-1.0", "acme.tar.gz", "acme-.tar.gz", "-1.0.tar.gz",
		"acme-hello-0.1.0-py3-none-any.whl", // '-' inside a wheel's name field
		"acme-0.1.0-none-any.whl", "acme-0.1.0-x-y-z-w-v.whl", "acme-0.1.0-b1-py3-none-any.whl", "acme-notaversion-py3-none-any.whl",
		"acme-0.1.0-py3-none-a+y.whl", "acme-1.0\".tar.gz", "acme-1.0<b>.tar.gz", "acme-1.0%2F.tar.gz", "acme-1.0?.tar.gz",
		strings.Repeat("a", 250) + "-1.0.tar.gz",
	} {
		if f, err := ParseFileName(bad); err == nil {
			t.Errorf("ParseFileName(%q) accepted: %+v", bad, f)
		}
	}
}

func TestMatchFileName(t *testing.T) {
	for _, tc := range []struct {
		file, name, version string
		ok                  bool
	}{
		{"acme_hello-0.1.0-py3-none-any.whl", "acme-hello", "0.1.0", true},
		{"acme_hello-0.1.0-py3-none-any.whl", "Acme.Hello", "0.1", true},
		{"acme_hello-0.1.0-py3-none-any.whl", "acme-hello", "0.1.1", false},
		{"acme_hello-0.1.0-py3-none-any.whl", "acme-other", "0.1.0", false},
		{"acme_hello-1.0rc1-py3-none-any.whl", "acme-hello", "1.0-RC1", true},
		{"acme-hello-0.1.0.tar.gz", "acme-hello", "0.1.0", true},
		{"acme_hello-0.1.0.tar.gz", "acme-hello", "0.1.0", true},
		{"acme-hello-0.1.0.tar.gz", "acme", "hello-0.1.0", false},
		{"acme-hello-0.1.0.tar.gz", "acme-hello", "0.2.0", false},
		// ambiguous split: the first valid split (a / 1-1) is not the declared one
		{"a-1-1.tar.gz", "a-1", "1", true},
		{"a-1-1.tar.gz", "a", "1-1", true},
		{"a-1-1.tar.gz", "a", "1.post1", true},
		{"a-1-1.tar.gz", "a-1", "2", false},
		{"acme-1.0.exe", "acme", "1.0", false},
		{"acme-1.0.tar.gz", "acme", "not a version", false},
	} {
		_, err := MatchFileName(tc.file, tc.name, tc.version)
		if (err == nil) != tc.ok {
			t.Errorf("MatchFileName(%q, %q, %q) = %v, want ok=%v", tc.file, tc.name, tc.version, err, tc.ok)
		}
	}
}

func TestNegotiate(t *testing.T) {
	const pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
	for _, tc := range []struct {
		accept string
		want   Flavour
	}{
		{"", HTML},
		{pip, JSON},
		{"text/html", HTML},
		{"*/*", HTML},
		{"application/json", HTML},
		{"application/vnd.pypi.simple.v1+json", JSON},
		{"application/vnd.pypi.simple.latest+json", JSON},
		{"APPLICATION/VND.PYPI.SIMPLE.V1+JSON", JSON},
		{"application/vnd.pypi.simple.v1+json, text/html", HTML}, // tie: GitLab's HTML
		{"application/vnd.pypi.simple.v1+json;q=0.5, text/html;q=0.4", JSON},
		{"application/vnd.pypi.simple.v1+json;q=0, */*", HTML},
		{"application/vnd.pypi.simple.v1+json;q=0.9, */*;q=0.1", JSON},
		{"application/vnd.pypi.simple.v1+json;q=0.9, text/*", HTML},
		{"application/vnd.pypi.simple.v1+html", HTMLv1},
		{"application/vnd.pypi.simple.v1+html, text/html;q=0.5", HTMLv1},
		{"application/vnd.pypi.simple.v1+json;q=abc", HTML},
		{"application/vnd.pypi.simple.v1+json;q=2", HTML},
		{"garbage,,;;, /, a/", HTML},
		{"text/html;q=0", HTML}, // nothing acceptable: HTML anyway, never JSON
	} {
		if got := Negotiate(tc.accept); got != tc.want {
			t.Errorf("Negotiate(%q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
}

func TestRenderHTMLEscapes(t *testing.T) {
	doc := string(renderHTML(`a<b>&"c'`, []Link{{Href: "http://h/f/x.whl", Text: "x<.whl", SHA256: "ab", RequiresPython: `>=3.7,<4'"&`}, {Href: "http://h/y", Text: "y"}}))
	for _, want := range []string{
		"<title>Links for a&lt;b&gt;&amp;&#34;c&#39;</title>",
		`<a href="http://h/f/x.whl#sha256=ab" data-requires-python="&gt;=3.7,&lt;4&#39;&#34;&amp;">x&lt;.whl</a>`,
		`<a href="http://h/y" data-requires-python="">y</a>`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("document lacks %s:\n%s", want, doc)
		}
	}
}

// FuzzParseFileName: parsing never panics, and whatever parses is
// consistent: its parts are valid, it matches its own name and version,
// and a wheel's parts rebuild the file name.
func FuzzParseFileName(f *testing.F) {
	for _, s := range []string{"acme_hello-0.1.0-py3-none-any.whl", "acme-hello-0.1.0.tar.gz", "a-1-1.tar.gz", "x-1.0-1-py3-none-any.whl", "../a-1.zip", "a-1.0+l.1.tgz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, fn string) {
		p, err := ParseFileName(fn)
		if err != nil {
			return
		}
		if !ValidFileName(fn) || !ValidVersion(p.Version) {
			t.Fatalf("%q parsed with invalid parts: %+v", fn, p)
		}
		if _, err := MatchFileName(fn, p.Name, p.Version); err != nil {
			t.Fatalf("%q does not match its own parse %+v: %v", fn, p, err)
		}
		if p.Kind == KindWheel {
			parts := []string{p.Name, p.Version}
			if p.BuildTag != "" {
				parts = append(parts, p.BuildTag)
			}
			parts = append(parts, p.PyTag, p.ABITag, p.PlatformTag)
			if got := strings.Join(parts, "-") + p.Ext; got != fn {
				t.Fatalf("wheel %q rebuilds as %q", fn, got)
			}
		} else if got := p.Name + "-" + p.Version + p.Ext; got != fn || !ValidName(p.Name) {
			t.Fatalf("sdist %q rebuilds as %q", fn, got)
		}
	})
}

// FuzzNormalize: normalisation is idempotent, case- and
// separator-insensitive, and leaves no separator runs, '_' or '.'.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Foo_Bar", "My__Pkg.Name", "a-_.-b", "", "--", "ÄÖ_x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n := Normalize(name)
		if Normalize(n) != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", name, n, Normalize(n))
		}
		if strings.ContainsAny(n, "_.ABCDEFGHIJKLMNOPQRSTUVWXYZ") || strings.Contains(n, "--") {
			t.Fatalf("%q -> %q keeps upper case or separators", name, n)
		}
		if utf8.ValidString(name) != utf8.ValidString(n) {
			t.Fatalf("%q -> %q changed UTF-8 validity", name, n)
		}
		swapped := strings.Map(func(r rune) rune {
			switch {
			case r == '_':
				return '.'
			case r == '.':
				return '-'
			case r == '-':
				return '_'
			case 'a' <= r && r <= 'z':
				return r - 'a' + 'A'
			}
			return r
		}, name)
		if utf8.ValidString(name) && Normalize(swapped) != n {
			t.Fatalf("%q and %q normalise differently: %q, %q", name, swapped, n, Normalize(swapped))
		}
		if ValidName(name) && !ValidName(strings.ReplaceAll(n, "-", "_")) {
			t.Fatalf("valid name %q normalises to invalid %q", name, n)
		}
	})
}
