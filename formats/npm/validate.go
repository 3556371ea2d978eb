package npm

import (
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"github.com/pkgate/pkgate/internal/errs"
)

// MaxManifestChars is GitLab's bound on a stored version manifest.
const MaxManifestChars = 20000

// strippedKeys are dropped from a stored manifest: GitLab's list (readme
// and friends are large and not needed to install), plus "dist" (rebuilt
// from our own digests on every read), "deprecated" (a fresh publish is not
// deprecated; npm deprecate sets it) and "_attachments".
var strippedKeys = []string{"readme", "readmeFilename", "licenseText", "contributors", "exports", "dist", "deprecated", "_attachments"}

// Publication is a publish request that passed every check that does not
// need the database or the stored bytes.
type Publication struct {
	Name     Name
	Version  string
	FileName string          // stored tarball name, "<name>-<version>.tgz"
	Manifest json.RawMessage // the version manifest as stored
	Tags     []string        // dist-tags to point at this version
	Expect   Integrity       // digests the client announced
}

// EarlyCheck runs, before a byte of the tarball is stored, the checks that
// the parsed prefix of the document allows; with npm's key order that is
// all of them. It returns the version when known.
func EarlyCheck(urlName Name, doc *PublishDoc, file string) (string, error) {
	if doc.HasName && doc.Name != urlName.String() {
		return "", nameMismatch(urlName, doc.Name)
	}
	if len(doc.Versions) != 1 {
		return "", nil
	}
	v := doc.Versions[0].Version
	if !ValidVersion(v) {
		return "", errs.New("npm.EarlyCheck", errs.Invalid, "Validation failed: Version is invalid")
	}
	if want := urlName.TarballName(v); file != want {
		return "", attachmentMismatch(file, want)
	}
	return v, nil
}

func nameMismatch(urlName Name, body string) error {
	return errs.New("npm.Validate", errs.Invalid, "400 Bad request - package name in the URL ("+urlName.String()+
		") does not match the name in the body ("+quote(body)+")")
}

func attachmentMismatch(got, want string) error {
	return errs.New("npm.Validate", errs.Invalid, "400 Bad request - attachment "+quote(got)+
		" does not match the package name and version (expected "+quote(want)+")")
}

// ValidatePublish checks a parsed publish document against the URL name
// and builds the manifest to store. GitLab takes the name from the body
// only; we also require it to equal the URL's, so a client can never
// publish under a name it did not address (and authorise for).
func ValidatePublish(urlName Name, doc *PublishDoc) (*Publication, error) {
	const op = "npm.ValidatePublish"
	// "versions" first: it is the one body parameter GitLab's route
	// declares, so Grape refuses its absence before anything else is
	// looked at (a body with neither key is "versions is missing").
	if !doc.HasVersions {
		return nil, errs.Param(op, "versions is missing")
	}
	if !doc.HasName {
		return nil, errs.Param(op, "name is missing")
	}
	if doc.Name != urlName.String() {
		return nil, nameMismatch(urlName, doc.Name)
	}
	switch len(doc.Versions) {
	case 0:
		return nil, errs.New(op, errs.Invalid, "Version is empty.")
	case 1:
	default:
		// GitLab silently takes the first key; refusing is clearer than
		// publishing one of several versions the client meant.
		return nil, errs.New(op, errs.Invalid, "400 Bad request - a publish must contain exactly one version")
	}
	vd := doc.Versions[0]
	if vd.Version == "" {
		return nil, errs.New(op, errs.Invalid, "Version is empty.")
	}
	if !ValidVersion(vd.Version) {
		return nil, errs.New(op, errs.Invalid, "Validation failed: Version is invalid")
	}
	pub := &Publication{Name: urlName, Version: vd.Version, FileName: urlName.TarballName(vd.Version)}
	if doc.Tarball == nil {
		return nil, errs.New(op, errs.Invalid, "400 Bad request - attachment "+quote(pub.FileName)+" is missing")
	}
	if doc.Tarball.FileName != pub.FileName {
		return nil, attachmentMismatch(doc.Tarball.FileName, pub.FileName)
	}
	if doc.Tarball.Length >= 0 && doc.Tarball.Length != doc.Tarball.Size {
		return nil, errs.New(op, errs.Invalid, "400 Bad request - attachment length does not match its data")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(vd.Manifest, &m); err != nil {
		return nil, errs.New(op, errs.Invalid, "400 Bad request - versions["+quote(vd.Version)+"] must be a JSON object")
	}
	if err := checkStringField(m, "name", pub.Name.String()); err != nil {
		return nil, err
	}
	if err := checkStringField(m, "version", pub.Version); err != nil {
		return nil, err
	}
	var err error
	if pub.Expect, err = announcedDigests(m["dist"]); err != nil {
		return nil, err
	}
	if pub.Manifest, err = storedManifest(m, pub); err != nil {
		return nil, err
	}
	for tag, v := range doc.DistTags {
		if v != pub.Version {
			continue // npm only ever sends {"<tag>": "<this version>"}
		}
		if err := ValidateTag(tag); err != nil {
			return nil, err
		}
		pub.Tags = append(pub.Tags, tag)
	}
	slices.Sort(pub.Tags)
	return pub, nil
}

func checkStringField(m map[string]json.RawMessage, key, want string) error {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s != want {
		return errs.New("npm.ValidatePublish", errs.Invalid, "400 Bad request - the manifest's "+key+" does not match "+quote(want))
	}
	return nil
}

// announcedDigests reads dist.integrity and dist.shasum.
func announcedDigests(raw json.RawMessage) (Integrity, error) {
	const op = "npm.ValidatePublish"
	if len(raw) == 0 || string(raw) == "null" {
		return Integrity{}, nil
	}
	var dist struct {
		Integrity *string `json:"integrity"`
		Shasum    *string `json:"shasum"`
	}
	if err := json.Unmarshal(raw, &dist); err != nil {
		return Integrity{}, errs.New(op, errs.Invalid, "400 Bad request - dist must hold string integrity and shasum")
	}
	var in Integrity
	if dist.Integrity != nil {
		var err error
		if in, err = ParseIntegrity(*dist.Integrity); err != nil {
			return Integrity{}, err
		}
	}
	if dist.Shasum != nil && *dist.Shasum != "" {
		s := strings.ToLower(*dist.Shasum)
		if b, err := hex.DecodeString(s); err != nil || len(b) != 20 {
			return Integrity{}, errs.New(op, errs.Invalid, "400 Bad request - dist.shasum is not a SHA-1 hex digest")
		}
		in.SHA1 = append(in.SHA1, s)
	}
	return in, nil
}

// storedManifest is the version manifest minus strippedKeys, with the
// identity fields set by us and hasInstallScript computed as npm's registry
// and GitLab do (install scripts make npm run node-gyp and friends, and
// the abbreviated packument must say so).
func storedManifest(m map[string]json.RawMessage, pub *Publication) (json.RawMessage, error) {
	for _, k := range strippedKeys {
		delete(m, k)
	}
	m["name"], _ = json.Marshal(pub.Name.String())
	m["version"], _ = json.Marshal(pub.Version)
	m["_id"], _ = json.Marshal(pub.Name.String() + "@" + pub.Version)
	var scripts map[string]json.RawMessage
	if json.Unmarshal(m["scripts"], &scripts) == nil {
		for _, s := range []string{"preinstall", "install", "postinstall"} {
			if _, ok := scripts[s]; ok {
				m["hasInstallScript"] = json.RawMessage("true")
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, errs.New("npm.ValidatePublish", errs.Invalid, "400 Bad request - the manifest is not valid JSON")
	}
	if len([]rune(string(out))) >= MaxManifestChars {
		return nil, errs.New("npm.ValidatePublish", errs.Invalid, "Validation failed: Package json structure is too large. Maximum size is 20000 characters")
	}
	return out, nil
}

// VerifyDigests compares the stored bytes' digests with what the client
// announced. GitLab records the client's shasum unchecked; we refuse a
// mismatch so that a corrupted upload can never be served under a digest
// npm would later reject (EINTEGRITY on every install).
func (p *Publication) VerifyDigests(sha1Hex, sha512Hex string) error {
	const op = "npm.VerifyDigests"
	if len(p.Expect.SHA512) > 0 && !slices.Contains(p.Expect.SHA512, sha512Hex) {
		return errs.New(op, errs.Invalid, "400 Bad request - the tarball's sha512 does not match dist.integrity")
	}
	for _, s := range p.Expect.SHA1 {
		if s != sha1Hex {
			return errs.New(op, errs.Invalid, "400 Bad request - the tarball's sha1 does not match dist.shasum")
		}
	}
	return nil
}

// Deprecation is one version's deprecation change: an empty Message
// removes the deprecation.
type Deprecation struct {
	Version string
	Message string
}

// ParseDeprecate reads the packument npm PUTs for `npm deprecate` and keeps
// the versions carrying a "deprecated" key, GitLab's rule (the empty string
// counts and means "undeprecate"). The deprecate PUT shares the publish
// route's declared parameters, so a body without a "versions" object gets
// Grape's answers first: "versions is missing" (absent or null) and
// "versions is invalid" (not an object).
func ParseDeprecate(body []byte) ([]Deprecation, error) {
	const op = "npm.ParseDeprecate"
	var top struct {
		Versions json.RawMessage `json:"versions"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, errs.New(op, errs.Invalid, "400 Bad request - malformed JSON: "+err.Error())
	}
	if len(top.Versions) == 0 || string(top.Versions) == "null" {
		return nil, errs.Param(op, "versions is missing")
	}
	if top.Versions[0] != '{' {
		return nil, errs.Param(op, "versions is invalid")
	}
	var versions map[string]struct {
		Deprecated *string `json:"deprecated"`
	}
	if err := json.Unmarshal(top.Versions, &versions); err != nil {
		return nil, errs.New(op, errs.Invalid, "400 Bad request - malformed JSON: "+err.Error())
	}
	var out []Deprecation
	for v, d := range versions {
		if d.Deprecated != nil {
			out = append(out, Deprecation{Version: v, Message: *d.Deprecated})
		}
	}
	if len(out) == 0 {
		return nil, errs.Param(op, `"package versions to deprecate" not given`)
	}
	slices.SortFunc(out, func(a, b Deprecation) int { return strings.Compare(a.Version, b.Version) })
	return out, nil
}

// ParseKeptVersions reads the packument npm PUTs to <name>/-rev/<rev> when
// unpublishing one version: the versions it still lists are kept. A body
// without "versions" is refused rather than read as "delete everything".
func ParseKeptVersions(body []byte) (map[string]bool, error) {
	const op = "npm.ParseKeptVersions"
	var doc struct {
		Versions *map[string]json.RawMessage `json:"versions"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errs.New(op, errs.Invalid, "400 Bad request - malformed JSON: "+err.Error())
	}
	if doc.Versions == nil {
		return nil, errs.Param(op, "versions is missing")
	}
	keep := map[string]bool{}
	for v := range *doc.Versions {
		keep[v] = true
	}
	return keep, nil
}

// ParseTagVersion reads the body of a dist-tag PUT: npm sends a JSON string
// ("1.0.0"); raw text (1.0.0) is accepted too, for curl users.
func ParseTagVersion(body []byte) (string, error) {
	const op = "npm.ParseTagVersion"
	s := strings.TrimSpace(string(body))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal([]byte(s), &s); err != nil {
			return "", errs.New(op, errs.Invalid, "400 Bad request - the body must be a JSON string holding a version")
		}
		s = strings.TrimSpace(s)
	}
	if s == "" {
		return "", errs.Param(op, `"Version" not given`)
	}
	if !ValidVersion(s) {
		return "", errs.New(op, errs.Invalid, "400 Bad request - "+quote(s)+" is not a valid version")
	}
	return s, nil
}
