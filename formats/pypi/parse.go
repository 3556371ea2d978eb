// Package pypi implements GitLab's PyPI repository: twine uploads
// (multipart POST), the PEP 503 simple index in HTML and its PEP 691 JSON
// twin, and file downloads, at project and group level.
//
// This file is the pure part (no HTTP, no database): project-name
// normalisation, PEP 440 versions, distribution file names and the Accept
// negotiation of the simple index. Everything here is table-tested and
// fuzzed (parse_test.go, testdata/fuzz).
package pypi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxNameLength bounds project names and versions (GitLab's column limit).
const MaxNameLength = 255

var (
	// nameRE is PEP 508's project name: ASCII letters and digits, with
	// '.', '_' and '-' allowed inside. GitLab's generic package-name regex
	// is looser (it admits '/', '@' and '+'), but a name outside PEP 508
	// can never be requested by pip, so accepting it would only store an
	// uninstallable package. DECISION: enforce PEP 508.
	nameRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)

	// versionRE is PEP 440's public+local version as packaging's
	// VERSION_PATTERN (the regex GitLab also validates with), whole string,
	// case-insensitive, without surrounding whitespace.
	versionRE = regexp.MustCompile(`^(?i)v?` +
		`(?:(?P<epoch>[0-9]+)!)?` +
		`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
		`(?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?` +
		`(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?` +
		`(?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?` +
		`(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`)

	sepRunRE    = regexp.MustCompile(`[-_.]+`)
	sha256RE    = regexp.MustCompile(`^(?i)[0-9a-f]{64}$`)
	md5RE       = regexp.MustCompile(`^(?i)[0-9a-f]{32}$`)
	wheelNameRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9._]*[a-z0-9])?$`)
	wheelTagRE  = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
	buildTagRE  = regexp.MustCompile(`^[0-9][A-Za-z0-9_.]*$`)
)

// Normalize is PEP 503's name normalisation: lower-case, and every run of
// '-', '_' and '.' becomes one '-' (My__Pkg.Name -> my-pkg-name). Only
// ASCII is lower-cased: valid names are ASCII, and the database applies
// the same rule (storage/meta/pypi.go) to stored names, which are.
func Normalize(name string) string {
	b := []byte(sepRunRE.ReplaceAllString(name, "-"))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// ValidName reports whether name is a PEP 508 project name.
func ValidName(name string) bool {
	return len(name) <= MaxNameLength && nameRE.MatchString(name)
}

// ValidVersion reports whether v is a PEP 440 version.
func ValidVersion(v string) bool {
	return len(v) <= MaxNameLength && versionRE.MatchString(v)
}

// ValidSHA256 reports whether s is a hex SHA-256 digest (either case).
func ValidSHA256(s string) bool { return sha256RE.MatchString(s) }

// ValidMD5 reports whether s is a hex MD5 digest (either case).
func ValidMD5(s string) bool { return md5RE.MatchString(s) }

// CanonicalVersion is packaging's canonicalize_version: the form under
// which two spellings of one PEP 440 version compare equal (1.0.0 and 1.0,
// 1.0-RC.1 and 1.0rc1, 1.0-1 and 1.0.post1). It returns false for an
// invalid version. The gateway uses it to match a file name's version with
// the form's version and to file a wheel and an sdist under one release.
func CanonicalVersion(v string) (string, bool) {
	if len(v) > MaxNameLength {
		return "", false
	}
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return "", false
	}
	g := func(name string) string { return strings.ToLower(m[versionRE.SubexpIndex(name)]) }
	var b strings.Builder
	if e := g("epoch"); e != "" && num(e) != "0" {
		b.WriteString(num(e) + "!")
	}
	rel := strings.Split(g("release"), ".")
	for i := range rel {
		rel[i] = num(rel[i])
	}
	for len(rel) > 1 && rel[len(rel)-1] == "0" {
		rel = rel[:len(rel)-1]
	}
	b.WriteString(strings.Join(rel, "."))
	if g("pre") != "" {
		l := map[string]string{"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "rc": "rc", "pre": "rc", "preview": "rc"}[g("pre_l")]
		b.WriteString(l + num(g("pre_n")))
	}
	if g("post") != "" {
		n := g("post_n1")
		if n == "" {
			n = g("post_n2")
		}
		b.WriteString(".post" + num(n))
	}
	if g("dev") != "" {
		b.WriteString(".dev" + num(g("dev_n")))
	}
	if l := g("local"); l != "" {
		segs := sepRunRE.Split(l, -1)
		for i, s := range segs {
			if isDigits(s) {
				segs[i] = num(s)
			}
		}
		b.WriteString("+" + strings.Join(segs, "."))
	}
	return b.String(), true
}

// num strips leading zeros from a digit string ("" counts as 0). Digit
// strings can be arbitrarily long, so no integer conversion.
func num(s string) string {
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Kind of distribution file.
const (
	KindWheel = "bdist_wheel"
	KindSdist = "sdist"
)

// sdistExts are the source archive extensions twine uploads and pip
// installs (PEP 625 only allows .tar.gz for new sdists; older tools wrote
// the others). DECISION: eggs and Windows installers are refused: pip
// cannot install them, so they would only clutter the index.
var sdistExts = []string{".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz"}

// File is a parsed distribution file name.
type File struct {
	Name     string // the name as spelled in the file name
	Version  string
	Kind     string // KindWheel or KindSdist
	Ext      string // ".whl", ".tar.gz", ...
	BuildTag string // wheels only, optional
	// PyTag, ABITag and PlatformTag are a wheel's compatibility tags.
	PyTag, ABITag, PlatformTag string
}

// FileNameError explains why a file name was refused.
type FileNameError struct{ Reason string }

func (e *FileNameError) Error() string { return e.Reason }

func badFile(format string, a ...any) error {
	return &FileNameError{Reason: fmt.Sprintf(format, a...)}
}

// ValidFileName reports whether a file name is safe to store and to put in
// a URL path segment: printable ASCII without separators or quotes, not a
// dot name, at most 255 bytes.
func ValidFileName(fn string) bool {
	if fn == "" || fn == "." || fn == ".." || len(fn) > MaxNameLength {
		return false
	}
	for i := 0; i < len(fn); i++ {
		c := fn[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`/\"'<>&%?#`, c) >= 0 {
			return false
		}
	}
	return true
}

// ValidPathParam is GitLab's "valid file path" rule for a path parameter
// (spec 1.8): no traversal, no separator (an encoded %2F arrives decoded),
// no control characters, and (as in Rails, which refuses a request whose
// parameters are not UTF-8) valid UTF-8.
func ValidPathParam(s string) bool {
	if s == "." || s == ".." || strings.ContainsAny(s, `/\`) || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// ParseFileName parses a wheel (PEP 427: name-version[-build]-py-abi-plat.whl)
// or sdist (name-version.tar.gz and friends) file name. An sdist's name may
// itself contain '-', so the split is the first '-' after which the rest
// is a valid version; MatchFileName resolves that ambiguity against the
// name and version the uploader declared.
func ParseFileName(fn string) (File, error) {
	f, stem, err := splitExt(fn)
	if err != nil {
		return File{}, err
	}
	if f.Kind == KindWheel {
		return parseWheel(f, stem)
	}
	for i := 0; i < len(stem); i++ {
		if stem[i] != '-' {
			continue
		}
		if ValidName(stem[:i]) && ValidVersion(stem[i+1:]) {
			f.Name, f.Version = stem[:i], stem[i+1:]
			return f, nil
		}
	}
	return File{}, badFile("file name %s is not of the form name-version%s", fn, f.Ext)
}

// MatchFileName parses fn and checks that it belongs to the project name
// and version declared in the upload form, comparing normalised names and
// canonical versions (twine sends the metadata spelling, the file name has
// the escaped one: acme-hello 1.0.0rc1 -> acme_hello-1.0.0rc1-py3-none-any.whl).
func MatchFileName(fn, name, version string) (File, error) {
	cv, ok := CanonicalVersion(version)
	if !ok {
		return File{}, badFile("version %s is invalid", version)
	}
	norm := Normalize(name)
	mismatch := badFile("file name %s does not match name %s and version %s", fn, name, version)
	f, stem, err := splitExt(fn)
	if err != nil {
		return File{}, err
	}
	if f.Kind == KindWheel {
		w, err := parseWheel(f, stem)
		if err != nil {
			return File{}, err
		}
		if wv, _ := CanonicalVersion(w.Version); Normalize(w.Name) != norm || wv != cv {
			return File{}, mismatch
		}
		return w, nil
	}
	for i := 0; i < len(stem); i++ {
		if stem[i] != '-' || !ValidName(stem[:i]) || Normalize(stem[:i]) != norm {
			continue
		}
		if sv, ok := CanonicalVersion(stem[i+1:]); ok && sv == cv {
			f.Name, f.Version = stem[:i], stem[i+1:]
			return f, nil
		}
	}
	if _, err := ParseFileName(fn); err != nil {
		return File{}, err
	}
	return File{}, mismatch
}

func splitExt(fn string) (File, string, error) {
	if !ValidFileName(fn) {
		return File{}, "", badFile("file name %s is invalid", fn)
	}
	lower := strings.ToLower(fn)
	if strings.HasSuffix(lower, ".whl") {
		return File{Kind: KindWheel, Ext: fn[len(fn)-4:]}, fn[:len(fn)-4], nil
	}
	for _, ext := range sdistExts {
		if strings.HasSuffix(lower, ext) {
			return File{Kind: KindSdist, Ext: fn[len(fn)-len(ext):]}, fn[:len(fn)-len(ext)], nil
		}
	}
	return File{}, "", badFile("file name %s is neither a wheel (.whl) nor an sdist (.tar.gz, .zip, .tar.bz2, .tar.xz, .tgz)", fn)
}

func parseWheel(f File, stem string) (File, error) {
	parts := strings.Split(stem, "-")
	bad := badFile("wheel file name %s is not of the form name-version[-build]-python-abi-platform.whl", stem+f.Ext)
	switch len(parts) {
	case 5:
	case 6:
		if !buildTagRE.MatchString(parts[2]) {
			return File{}, bad
		}
		f.BuildTag = parts[2]
	default:
		return File{}, bad
	}
	n := len(parts)
	f.Name, f.Version = parts[0], parts[1]
	f.PyTag, f.ABITag, f.PlatformTag = parts[n-3], parts[n-2], parts[n-1]
	if len(f.Name) > MaxNameLength || !wheelNameRE.MatchString(f.Name) || !ValidVersion(f.Version) {
		return File{}, bad
	}
	for _, t := range parts[n-3:] {
		if !wheelTagRE.MatchString(t) {
			return File{}, bad
		}
	}
	return f, nil
}

// Index document flavours offered by the simple index.
type Flavour int

const (
	// HTML is PEP 503 HTML served as text/html (GitLab's only answer).
	HTML Flavour = iota
	// HTMLv1 is the same HTML under PEP 691's application/vnd.pypi.simple.v1+html.
	HTMLv1
	// JSON is PEP 691's application/vnd.pypi.simple.v1+json.
	JSON
)

// ContentType of a flavour.
func (f Flavour) ContentType() string {
	switch f {
	case JSON:
		return "application/vnd.pypi.simple.v1+json"
	case HTMLv1:
		return "application/vnd.pypi.simple.v1+html"
	}
	return "text/html; charset=utf-8"
}

// Negotiate picks the simple-index flavour for an Accept header (PEP 691
// content negotiation). JSON is chosen only when the header names a PEP 691
// JSON type explicitly and ranks it strictly above every HTML type: pip's
// default Accept gets JSON, while browsers, curl, wildcards, no header and
// ties get GitLab's HTML. Unparseable parts are ignored, so a broken
// header degrades to HTML instead of an error.
func Negotiate(accept string) Flavour {
	if strings.TrimSpace(accept) == "" {
		return HTML
	}
	type rng struct {
		typ, sub string
		q        float64
	}
	var ranges []rng
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		slash := strings.IndexByte(mt, '/')
		if slash <= 0 || slash == len(mt)-1 {
			continue
		}
		q := 1.0
		for _, p := range fields[1:] {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 || f != f {
					f = 0
				}
				q = f
			}
		}
		ranges = append(ranges, rng{mt[:slash], mt[slash+1:], q})
	}
	// quality of one offered type: the most specific matching range wins
	// (RFC 9110 12.5.1); wildcards only count when allowWild.
	quality := func(typ, sub string, allowWild bool) float64 {
		best, spec := 0.0, -1
		for _, r := range ranges {
			s := -1
			switch {
			case r.typ == typ && r.sub == sub:
				s = 2
			case allowWild && r.typ == typ && r.sub == "*":
				s = 1
			case allowWild && r.typ == "*" && r.sub == "*":
				s = 0
			}
			if s > spec || (s == spec && s >= 0 && r.q > best) {
				best, spec = r.q, s
			}
		}
		return best
	}
	qJSON := max(quality("application", "vnd.pypi.simple.v1+json", false),
		quality("application", "vnd.pypi.simple.latest+json", false))
	qV1 := max(quality("application", "vnd.pypi.simple.v1+html", false),
		quality("application", "vnd.pypi.simple.latest+html", false))
	qText := quality("text", "html", true)
	switch {
	case qJSON > 0 && qJSON > qV1 && qJSON > qText:
		return JSON
	case qV1 > 0 && qV1 > qText:
		return HTMLv1
	}
	return HTML
}
