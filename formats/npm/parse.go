// Package npm implements the npm protocol of GitLab's package registry:
// packuments (full and abbreviated), tarballs, publish, deprecate,
// dist-tags and, beyond GitLab, unpublish, whoami and ping.
//
// The files split by role: parse.go (names, request paths, versions, tags,
// integrity strings), body.go (the streaming publish-body parser),
// tarball.go (the package.json check inside a tarball) and validate.go are
// pure and table-tested; handlers.go, publish.go and render.go speak HTTP
// and talk to the registry core.
package npm

import (
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"

	"github.com/pkgate/pkgate/internal/errs"
)

// MaxNameLength bounds a full package name (scope included). GitLab stores
// names in a 255-character column; npm itself refuses new names over 214.
// We take GitLab's bound so that every name GitLab accepts is accepted here.
const MaxNameLength = 255

var (
	// GitLab's npm name rule (Packages::Npm naming regex): an optional scope
	// that is a valid namespace path, then the name proper.
	scopeRE = regexp.MustCompile(`^(?:[a-zA-Z0-9_.][a-zA-Z0-9_\-.]{0,254}[a-zA-Z0-9_\-]|[a-zA-Z0-9_])$`)
	baseRE  = regexp.MustCompile(`^[-+._a-zA-Z0-9]+$`)
	// SemVer 2.0.0, exactly as semver.org gives it (no leading "v").
	semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
		`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
)

// Name is a validated npm package name.
type Name struct {
	Scope string // without the "@"; empty for an unscoped name
	Base  string
}

// String is the name as npm spells it: "@scope/base" or "base".
func (n Name) String() string {
	if n.Scope == "" {
		return n.Base
	}
	return "@" + n.Scope + "/" + n.Base
}

// Scoped reports whether the name has a scope.
func (n Name) Scoped() bool { return n.Scope != "" }

// TarballName is the stored file name of a version's tarball. GitLab keeps
// the scope in it ("@acme/hello-1.0.0.tgz"), so tarball URLs carry the scope
// twice; we do the same so that URLs and lockfiles made against GitLab work.
func (n Name) TarballName(version string) string { return n.String() + "-" + version + ".tgz" }

// ParseName validates a decoded package name with GitLab's rules. A name
// that could act as a path traversal or carries control characters is
// GitLab's "should be a valid file path" error; anything else that fails
// the naming rule is "is invalid". Upper-case letters are accepted (GitLab
// does, although the npm CLI refuses them for new packages).
func ParseName(s string) (Name, error) {
	const op = "npm.ParseName"
	if s == "" {
		return Name{}, errs.Param(op, "package_name is missing")
	}
	if !validFilePath(s) {
		return Name{}, errs.Param(op, "package_name should be a valid file path")
	}
	if len(s) > MaxNameLength {
		return Name{}, errs.Param(op, "package_name is invalid")
	}
	var n Name
	rest := s
	if strings.HasPrefix(s, "@") {
		scope, base, ok := strings.Cut(s[1:], "/")
		if !ok || !scopeRE.MatchString(scope) || strings.HasSuffix(scope, ".git") || strings.HasSuffix(scope, ".atom") {
			return Name{}, errs.Param(op, "package_name is invalid")
		}
		n.Scope, rest = scope, base
	}
	// An unscoped "-" would address npm's "/-/" endpoints, not a package.
	if !baseRE.MatchString(rest) || rest == "." || rest == ".." || (n.Scope == "" && rest == "-") {
		return Name{}, errs.Param(op, "package_name is invalid")
	}
	n.Base = rest
	return n, nil
}

// validFilePath is GitLab's path-parameter check: no control characters, no
// backslashes, no "." or ".." component.
func validFilePath(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\' {
			return false
		}
	}
	for _, part := range strings.Split(s, "/") {
		if part == "." || part == ".." {
			return false
		}
	}
	return true
}

// ValidVersion reports whether v is a strict SemVer 2.0 version, GitLab's
// rule for npm versions.
func ValidVersion(v string) bool { return len(v) <= 255 && semverRE.MatchString(v) }

// Semver is a parsed SemVer 2.0 version.
type Semver struct {
	Major, Minor, Patch string // decimal digits, no leading zeros
	Pre                 []string
	Build               string
}

// ParseSemver parses a strict SemVer 2.0 version.
func ParseSemver(v string) (Semver, bool) {
	m := semverRE.FindStringSubmatch(v)
	if m == nil || len(v) > 255 {
		return Semver{}, false
	}
	s := Semver{Major: m[1], Minor: m[2], Patch: m[3], Build: m[5]}
	if m[4] != "" {
		s.Pre = strings.Split(m[4], ".")
	}
	return s, true
}

// ParseLooseSemver accepts what npm tolerates in a package.json: surrounding
// spaces and a leading "v" or "=".
func ParseLooseSemver(v string) (Semver, bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimLeft(v, "=v")
	return ParseSemver(strings.TrimSpace(v))
}

func cmpNum(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isNum(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Compare orders versions by SemVer precedence (build metadata ignored).
func (a Semver) Compare(b Semver) int {
	if c := cmpNum(a.Major, b.Major); c != 0 {
		return c
	}
	if c := cmpNum(a.Minor, b.Minor); c != 0 {
		return c
	}
	if c := cmpNum(a.Patch, b.Patch); c != 0 {
		return c
	}
	switch {
	case len(a.Pre) == 0 && len(b.Pre) == 0:
		return 0
	case len(a.Pre) == 0:
		return 1
	case len(b.Pre) == 0:
		return -1
	}
	for i := 0; i < len(a.Pre) && i < len(b.Pre); i++ {
		x, y := a.Pre[i], b.Pre[i]
		xn, yn := isNum(x), isNum(y)
		var c int
		switch {
		case xn && yn:
			c = cmpNum(x, y)
		case xn:
			c = -1
		case yn:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case len(a.Pre) < len(b.Pre):
		return -1
	case len(a.Pre) > len(b.Pre):
		return 1
	}
	return 0
}

// ImplicitLatest picks the version a packument calls "latest" when no
// "latest" tag is stored (never set, or its version was unpublished): the
// highest release by SemVer precedence, or the highest pre-release when
// there is no release. This is what `npm install <name>` would pick with
// a "*" range, so users get the same answer from the tag and from a range.
// GitLab uses a generic version sorter here (its ordering of pre-releases is
// unconfirmed); SemVer precedence is what an npm user expects.
func ImplicitLatest(versions []string) string {
	var best, bestPre string
	var bv, bp Semver
	for _, v := range versions {
		s, ok := ParseSemver(v)
		if !ok {
			continue
		}
		if len(s.Pre) == 0 {
			if best == "" || s.Compare(bv) > 0 {
				best, bv = v, s
			}
		} else if bestPre == "" || s.Compare(bp) > 0 {
			bestPre, bp = v, s
		}
	}
	if best != "" {
		return best
	}
	return bestPre
}

// ValidateTag checks a dist-tag name. A tag may not look like a version
// (npm itself refuses that: `npm install pkg@1.0.0` could then mean either)
// and may not carry characters that cannot travel in one URL segment.
func ValidateTag(tag string) error {
	const op = "npm.ValidateTag"
	if strings.TrimSpace(tag) == "" {
		return errs.Param(op, `"Tag" not given`)
	}
	if len(tag) > 255 {
		return errs.Param(op, "tag is invalid")
	}
	if !validFilePath(tag) {
		// Every path parameter passes GitLab's file-path rule (spec 1.8).
		return errs.Param(op, "tag should be a valid file path")
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`/\%?#"`, c) >= 0 {
			return errs.Param(op, "tag is invalid")
		}
	}
	if _, ok := ParseLooseSemver(tag); ok {
		return errs.Param(op, "tag is invalid: a tag must not be a valid SemVer version")
	}
	return nil
}

// Integrity holds the digests (lower-case hex) a client announced for a
// tarball through dist.integrity (Subresource Integrity) and dist.shasum.
type Integrity struct {
	SHA512 []string
	SHA1   []string
}

// ParseIntegrity reads an SRI string ("sha512-<base64> sha1-<base64>", with
// optional "?options" per entry). Algorithms other than sha512 and sha1 are
// ignored, as SRI allows; a sha512/sha1 entry that does not decode to a
// digest of the right length is an error rather than silently skipped, so a
// corrupted announcement can never pass as "nothing announced".
func ParseIntegrity(s string) (Integrity, error) {
	const op = "npm.ParseIntegrity"
	var in Integrity
	for _, tok := range strings.Fields(s) {
		tok, _, _ = strings.Cut(tok, "?")
		alg, b64, ok := strings.Cut(tok, "-")
		if !ok {
			continue
		}
		var size int
		switch alg {
		case "sha512":
			size = sha512.Size
		case "sha1":
			size = sha1.Size
		default:
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != size {
			return Integrity{}, errs.New(op, errs.Invalid, "400 Bad request - dist.integrity is not a valid "+alg+" integrity string")
		}
		if alg == "sha512" {
			in.SHA512 = append(in.SHA512, hex.EncodeToString(raw))
		} else {
			in.SHA1 = append(in.SHA1, hex.EncodeToString(raw))
		}
	}
	return in, nil
}

// SRI renders a hex sha512 digest as npm's integrity string.
func SRI(sha512Hex string) string {
	raw, err := hex.DecodeString(sha512Hex)
	if err != nil || len(raw) != sha512.Size {
		return ""
	}
	return "sha512-" + base64.StdEncoding.EncodeToString(raw)
}

// RouteKind says which npm endpoint a path addresses.
type RouteKind int

// The npm endpoints under a registry prefix.
const (
	RoutePackument  RouteKind = iota + 1 // <name>
	RouteTarball                         // <name>/-/<file>
	RouteTarballRev                      // <name>/-/<file>/-rev/<rev> (npm unpublish's tarball DELETE)
	RouteRev                             // <name>/-rev/<rev> (npm unpublish)
	RouteDistTags                        // -/package/<name>/dist-tags
	RouteDistTag                         // -/package/<name>/dist-tags/<tag>
	RouteAudit                           // -/npm/v1/security/{advisories/bulk,audits/quick}
	RouteWhoami                          // -/whoami
	RoutePing                            // -/ping
)

// Route is a parsed request path below a registry prefix.
type Route struct {
	Kind RouteKind
	Name Name
	File string // tarball file name, as sent (scope included or not)
	Tag  string
	Rev  string
}

// ErrRouteNotFound answers paths that name no npm endpoint, with the body
// of the gateway's unmatched routes.
var ErrRouteNotFound = &errs.Error{Op: "npm.ParsePath", Kind: errs.NotFound, Msg: "404 Not Found", Shape: errs.ShapeError}

// ParsePath parses the still percent-encoded path after a registry prefix
// (the router matches on the escaped path). It splits on literal slashes
// first and decodes each segment exactly once, so a scoped name arrives
// intact in all three spellings npm and other tools use: "@acme%2fhello",
// "@acme%2Fhello" and "@acme/hello". One trailing slash is tolerated.
func ParsePath(escaped string) (Route, error) {
	p := strings.TrimPrefix(escaped, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return Route{}, ErrRouteNotFound
	}
	raw := strings.Split(p, "/")
	if raw[0] == "-" {
		return parseDashRoute(raw[1:])
	}
	name, rest, err := takeName(raw)
	if err != nil {
		return Route{}, err
	}
	r := Route{Name: name}
	switch {
	case len(rest) == 0:
		r.Kind = RoutePackument
		return r, nil
	case rest[0] == "-rev" && len(rest) == 2:
		r.Kind = RouteRev
		r.Rev, err = decodeSeg(rest[1], "rev")
		return r, err
	case rest[0] == "-" && len(rest) >= 2:
		fileSegs := rest[1:]
		r.Kind = RouteTarball
		if n := len(fileSegs); n >= 3 && fileSegs[n-2] == "-rev" {
			r.Kind = RouteTarballRev
			if r.Rev, err = decodeSeg(fileSegs[n-1], "rev"); err != nil {
				return Route{}, err
			}
			fileSegs = fileSegs[:n-2]
		}
		if len(fileSegs) > 2 {
			return Route{}, ErrRouteNotFound
		}
		parts := make([]string, len(fileSegs))
		for i, s := range fileSegs {
			if parts[i], err = decodeSeg(s, "file_name"); err != nil {
				return Route{}, err
			}
		}
		r.File = strings.Join(parts, "/")
		if err := validateFileName(r.File); err != nil {
			return Route{}, err
		}
		return r, nil
	}
	return Route{}, ErrRouteNotFound
}

func parseDashRoute(segs []string) (Route, error) {
	switch {
	case len(segs) == 1 && segs[0] == "whoami":
		return Route{Kind: RouteWhoami}, nil
	case len(segs) == 1 && segs[0] == "ping":
		return Route{Kind: RoutePing}, nil
	case len(segs) == 5 && segs[0] == "npm" && segs[1] == "v1" && segs[2] == "security" &&
		((segs[3] == "advisories" && segs[4] == "bulk") || (segs[3] == "audits" && segs[4] == "quick")):
		return Route{Kind: RouteAudit}, nil
	case len(segs) >= 2 && segs[0] == "package":
		// -/package/<name>/dist-tags[/<tag>]
		if segs[1] == "" {
			return Route{}, errs.Param("npm.ParsePath", `"Package Name" not given`)
		}
		name, rest, err := takeName(segs[1:])
		if err != nil {
			return Route{}, err
		}
		if len(rest) == 0 || len(rest) > 2 || rest[0] != "dist-tags" {
			return Route{}, ErrRouteNotFound
		}
		r := Route{Kind: RouteDistTags, Name: name}
		if len(rest) == 2 {
			r.Kind = RouteDistTag
			if r.Tag, err = decodeSeg(rest[1], "tag"); err != nil {
				return Route{}, err
			}
			if err := ValidateTag(r.Tag); err != nil {
				return Route{}, err
			}
		}
		return r, nil
	}
	return Route{}, ErrRouteNotFound
}

// takeName consumes the package name at the start of raw segments: one
// segment ("hello", "@acme%2fhello") or two when the scope's slash was sent
// literally ("@acme", "hello").
func takeName(raw []string) (Name, []string, error) {
	first, err := decodeSeg(raw[0], "package_name")
	if err != nil {
		return Name{}, nil, err
	}
	n := 1
	if strings.HasPrefix(first, "@") && !strings.Contains(first, "/") && len(raw) > 1 {
		second, err := decodeSeg(raw[1], "package_name")
		if err != nil {
			return Name{}, nil, err
		}
		first += "/" + second
		n = 2
	}
	name, err := ParseName(first)
	if err != nil {
		return Name{}, nil, err
	}
	return name, raw[n:], nil
}

func decodeSeg(s, param string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", errs.Param("npm.ParsePath", param+" should be a valid file path")
	}
	return v, nil
}

func validateFileName(f string) error {
	const op = "npm.ParsePath"
	if f == "" || len(f) > 512 || !validFilePath(f) {
		return errs.Param(op, "file_name should be a valid file path")
	}
	return nil
}
