package npm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pkgate/pkgate/formats"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
)

// Content types of the two packument forms.
const (
	ContentTypeFull        = "application/json"
	ContentTypeAbbreviated = "application/vnd.npm.install-v1+json"
)

// abbreviatedKeys are the version fields of npm's abbreviated ("corgi")
// packument: what an installer needs to resolve and fetch, and no more.
var abbreviatedKeys = []string{
	"_hasShrinkwrap", "bin", "bundleDependencies", "bundledDependencies", "cpu", "dependencies", "deprecated",
	"devDependencies", "directories", "dist", "engines", "hasInstallScript", "libc", "name", "optionalDependencies",
	"os", "peerDependencies", "peerDependenciesMeta", "version",
}

// PackumentInput is what a packument is built from.
type PackumentInput struct {
	Name        Name
	Versions    []meta.NPMVersion // oldest first; a later row wins a duplicate version
	Tags        []meta.NPMTag     // oldest change first
	ExternalURL string            // no trailing slash
	Abbreviated bool
}

// Rev is the packument's "_rev": it changes whenever the set of visible
// versions changes, so an unpublish built from a stale packument can be
// refused (409) instead of deleting a version the client never saw.
func Rev(versions []meta.NPMVersion) string {
	ids := make([]int64, len(versions))
	for i, v := range versions {
		ids[i] = v.PackageID
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write(strconv.AppendInt(nil, id, 10))
		h.Write([]byte{','})
	}
	return fmt.Sprintf("%d-%s", len(ids), hex.EncodeToString(h.Sum(nil)[:16]))
}

// DistTags maps tags to versions: stored tags whose version is visible,
// plus an implicit "latest" (ImplicitLatest) when none is stored.
func DistTags(versions []meta.NPMVersion, tags []meta.NPMTag) map[string]string {
	have := make(map[string]bool, len(versions))
	list := make([]string, 0, len(versions))
	for _, v := range versions {
		if !have[v.Version] {
			have[v.Version] = true
			list = append(list, v.Version)
		}
	}
	out := map[string]string{}
	for _, t := range tags {
		if have[t.Version] {
			out[t.Tag] = t.Version
		}
	}
	if _, ok := out["latest"]; !ok {
		if l := ImplicitLatest(list); l != "" {
			out["latest"] = l
		}
	}
	return out
}

// TarballURL is the absolute project-level download URL, as GitLab builds
// it (numeric project id, unencoded scope) whichever prefix served the
// packument.
func TarballURL(externalURL string, projectID int64, name Name, version string) string {
	var b strings.Builder
	b.WriteString(externalURL)
	b.WriteString("/api/v4/projects/")
	b.WriteString(strconv.FormatInt(projectID, 10))
	b.WriteString("/packages/npm/")
	writeName(&b, name)
	b.WriteString("/-/")
	writeName(&b, name)
	b.WriteString("-")
	b.WriteString(url.PathEscape(version))
	b.WriteString(".tgz")
	return b.String()
}

func writeName(b *strings.Builder, n Name) {
	if n.Scope != "" {
		b.WriteString("@")
		b.WriteString(url.PathEscape(n.Scope))
		b.WriteString("/")
	}
	b.WriteString(url.PathEscape(n.Base))
}

// RenderPackument builds the full or abbreviated packument. Its cost is
// linear in the number of versions (BenchmarkRenderPackument shows it):
// each stored manifest is decoded once and written once, keys sorted so
// that equal data gives equal bytes (and equal ETags) on every node.
func RenderPackument(in PackumentInput) ([]byte, error) {
	var b bytes.Buffer
	if err := WritePackument(&b, in); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WritePackument is RenderPackument into a caller's buffer (the handler
// reuses pooled buffers: a 200-version packument is a few hundred KiB).
func WritePackument(b *bytes.Buffer, in PackumentInput) error {
	byVersion := make(map[string]*meta.NPMVersion, len(in.Versions))
	var order []string
	for i := range in.Versions {
		v := &in.Versions[i]
		if _, ok := byVersion[v.Version]; !ok {
			order = append(order, v.Version)
		}
		byVersion[v.Version] = v
	}
	slices.Sort(order)
	var created, modified time.Time
	for _, v := range in.Versions {
		if created.IsZero() || v.CreatedAt.Before(created) {
			created = v.CreatedAt
		}
		if v.UpdatedAt.After(modified) {
			modified = v.UpdatedAt
		}
	}
	for _, t := range in.Tags {
		if t.UpdatedAt.After(modified) {
			modified = t.UpdatedAt
		}
	}
	name := in.Name.String()
	// Size the buffer from the stored manifests, so it does not grow again
	// mid-render: the full document repeats each manifest with the dist
	// fields and timestamps around it, the abbreviated one about half of it
	// (measured on 1.1 KiB manifests: 1.4 and 0.7 KiB per version).
	need := 512
	for _, v := range order {
		if in.Abbreviated {
			need += 192 + len(byVersion[v].Metadata)*5/8
		} else {
			need += 384 + len(byVersion[v].Metadata)
		}
	}
	b.Grow(need)
	b.WriteByte('{')
	if !in.Abbreviated {
		b.WriteString(`"_id":`)
		writeString(b, name)
		b.WriteString(`,"_rev":`)
		writeString(b, Rev(in.Versions))
		b.WriteByte(',')
	}
	b.WriteString(`"name":`)
	writeString(b, name)
	if in.Abbreviated {
		b.WriteString(`,"modified":`)
		writeString(b, httpx.TS(modified))
	}
	b.WriteString(`,"dist-tags":`)
	tags, _ := json.Marshal(DistTags(in.Versions, in.Tags))
	b.Write(tags)
	b.WriteString(`,"versions":{`)
	for i, ver := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, ver)
		b.WriteByte(':')
		if err := writeVersion(b, in, byVersion[ver]); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	if !in.Abbreviated {
		b.WriteString(`,"time":{"created":`)
		writeString(b, httpx.TS(created))
		b.WriteString(`,"modified":`)
		writeString(b, httpx.TS(modified))
		for _, ver := range order {
			b.WriteByte(',')
			writeString(b, ver)
			b.WriteByte(':')
			writeString(b, httpx.TS(byVersion[ver].CreatedAt))
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return nil
}

// writeVersion writes one version object: name, version and our dist
// first, then the stored manifest's other top-level members (all of them,
// or the abbreviated subset). The manifest comes from Postgres jsonb output,
// so it is valid JSON; members are copied as byte ranges found by a small
// scanner instead of being decoded and re-encoded, which keeps a 200-version
// packument cheap to build.
func writeVersion(b *bytes.Buffer, in PackumentInput, v *meta.NPMVersion) error {
	b.WriteString(`{"name":`)
	writeString(b, in.Name.String())
	b.WriteString(`,"version":`)
	writeString(b, v.Version)
	b.WriteString(`,"dist":{`)
	if v.SHA512 != nil {
		if sri := SRI(*v.SHA512); sri != "" {
			b.WriteString(`"integrity":`)
			writeString(b, sri)
			b.WriteByte(',')
		}
	}
	b.WriteString(`"shasum":`)
	writeString(b, v.SHA1)
	b.WriteString(`,"tarball":`)
	writeString(b, TarballURL(in.ExternalURL, v.ProjectID, in.Name, v.Version))
	b.WriteByte('}')
	md := []byte(v.Metadata)
	if len(bytes.TrimSpace(md)) == 0 {
		md = []byte("{}")
	}
	err := eachMember(md, func(key, val []byte) {
		k := string(key)
		if ownKeys[k] || (in.Abbreviated && !abbreviatedSet[k]) {
			return
		}
		b.WriteByte(',')
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
	})
	if err != nil {
		return fmt.Errorf("npm: stored manifest of %s@%s: %w", in.Name, v.Version, err)
	}
	b.WriteByte('}')
	return nil
}

// ownKeys are written by writeVersion itself (quoted, as the scanner
// reports keys).
var ownKeys = map[string]bool{`"name"`: true, `"version"`: true, `"dist"`: true}

var abbreviatedSet = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range abbreviatedKeys {
		m[`"`+k+`"`] = true
	}
	return m
}()

var errScan = errors.New("not a JSON object")

// eachMember calls fn with the raw (quoted) key and raw value of every
// top-level member of a JSON object. It tracks only strings and nesting,
// which is enough to find value boundaries in valid JSON, and reports an
// error for input it cannot split.
func eachMember(b []byte, fn func(key, val []byte)) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errScan
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return errScan
		}
		ke, ok := skipString(b, i)
		if !ok {
			return errScan
		}
		key := b[i:ke]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return errScan
		}
		vs := skipSpace(b, i+1)
		ve, ok := skipValue(b, vs)
		if !ok {
			return errScan
		}
		fn(key, b[vs:ve])
		i = skipSpace(b, ve)
		if i >= len(b) {
			return errScan
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return nil
		default:
			return errScan
		}
	}
	return errScan
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, ok := skipString(b, j)
				if !ok {
					return 0, false
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	return j, j > i
}

func writeString(b *bytes.Buffer, s string) {
	safe := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			safe = false
			break
		}
	}
	if safe {
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// WantsAbbreviated reports whether an Accept header asks for the
// abbreviated packument (npm install does; npm view and publish don't).
func WantsAbbreviated(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), ContentTypeAbbreviated) {
			return !formats.QZero(params)
		}
	}
	return false
}
