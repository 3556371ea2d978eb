package maven

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"hash"
	"io"
	"sort"
	"time"
)

// Plugin is one entry of a plugin-group maven-metadata.xml (what
// `mvn prefix:goal` resolves through).
type Plugin struct {
	Name       string `xml:"name" json:"name,omitempty"`
	Prefix     string `xml:"prefix" json:"prefix"`
	ArtifactID string `xml:"artifactId" json:"artifactId"`
}

// Version is one version of an artifact as the database knows it.
type Version struct {
	Version   string
	CreatedAt time.Time
}

// ArtifactMetadata is everything an artifact-level maven-metadata.xml says.
type ArtifactMetadata struct {
	GroupID    string
	ArtifactID string
	// Versions in creation order (first deploy first), as GitLab's
	// metadata sync writes them and as Maven appends them.
	Versions    []string
	LastUpdated time.Time
	Plugins     []Plugin
}

// SnapshotMetadata is everything a SNAPSHOT version-level
// maven-metadata.xml says.
type SnapshotMetadata struct {
	GroupID    string
	ArtifactID string
	Version    string // 1.1.0-SNAPSHOT
	Latest     SnapshotFile
	// Entries holds the newest build of every classifier/extension pair.
	Entries []SnapshotFile
}

type xmlMetadata struct {
	XMLName      xml.Name       `xml:"metadata"`
	ModelVersion string         `xml:"modelVersion,attr,omitempty"`
	GroupID      string         `xml:"groupId,omitempty"`
	ArtifactID   string         `xml:"artifactId,omitempty"`
	Version      string         `xml:"version,omitempty"`
	Versioning   *xmlVersioning `xml:"versioning,omitempty"`
	Plugins      *xmlPlugins    `xml:"plugins,omitempty"`
}

// xmlVersioning keeps Maven's element order (repository-metadata model:
// latest, release, snapshot, versions, lastUpdated, snapshotVersions).
type xmlVersioning struct {
	Latest           string               `xml:"latest,omitempty"`
	Release          string               `xml:"release,omitempty"`
	Snapshot         *xmlSnapshot         `xml:"snapshot,omitempty"`
	Versions         *xmlVersions         `xml:"versions,omitempty"`
	LastUpdated      string               `xml:"lastUpdated,omitempty"`
	SnapshotVersions *xmlSnapshotVersions `xml:"snapshotVersions,omitempty"`
}

type xmlVersions struct {
	Version []string `xml:"version"`
}

type xmlSnapshot struct {
	Timestamp   string `xml:"timestamp"`
	BuildNumber int    `xml:"buildNumber"`
}

type xmlSnapshotVersions struct {
	SnapshotVersion []xmlSnapshotVersion `xml:"snapshotVersion"`
}

type xmlSnapshotVersion struct {
	Classifier string `xml:"classifier,omitempty"`
	Extension  string `xml:"extension"`
	Value      string `xml:"value"`
	Updated    string `xml:"updated"`
}

type xmlPlugins struct {
	Plugin []Plugin `xml:"plugin"`
}

// lastUpdatedFormat is Maven's yyyyMMddHHmmss (UTC).
const lastUpdatedFormat = "20060102150405"

// Render writes the artifact-level document: <latest> is the newest
// version, <release> the newest non-SNAPSHOT one (omitted when there is
// none), exactly GitLab's rule when it rewrites metadata.
func (m ArtifactMetadata) Render() []byte {
	doc := xmlMetadata{GroupID: m.GroupID, ArtifactID: m.ArtifactID}
	if len(m.Versions) > 0 {
		v := &xmlVersioning{Versions: &xmlVersions{Version: m.Versions}, LastUpdated: m.LastUpdated.UTC().Format(lastUpdatedFormat)}
		v.Latest = m.Versions[len(m.Versions)-1]
		for i := len(m.Versions) - 1; i >= 0; i-- {
			if !IsSnapshot(m.Versions[i]) {
				v.Release = m.Versions[i]
				break
			}
		}
		doc.Versioning = v
	}
	if len(m.Plugins) > 0 {
		doc.Plugins = &xmlPlugins{Plugin: m.Plugins}
	}
	return marshal(doc)
}

// Render writes the SNAPSHOT version-level document.
func (m SnapshotMetadata) Render() []byte {
	v := &xmlVersioning{
		Snapshot:    &xmlSnapshot{Timestamp: m.Latest.Timestamp, BuildNumber: m.Latest.BuildNumber},
		LastUpdated: stampToUpdated(m.Latest.Timestamp),
	}
	sv := &xmlSnapshotVersions{}
	for _, e := range m.Entries {
		sv.SnapshotVersion = append(sv.SnapshotVersion, xmlSnapshotVersion{
			Classifier: e.Classifier, Extension: e.Extension, Value: e.Value(m.Version), Updated: stampToUpdated(e.Timestamp),
		})
	}
	v.SnapshotVersions = sv
	return marshal(xmlMetadata{ModelVersion: "1.1.0", GroupID: m.GroupID, ArtifactID: m.ArtifactID, Version: m.Version, Versioning: v})
}

func stampToUpdated(ts string) string {
	if len(ts) == 15 {
		return ts[:8] + ts[9:]
	}
	return ts
}

func marshal(doc xmlMetadata) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		// Only plain strings and ints go in: encoding cannot fail.
		panic(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// BuildSnapshot derives the version-level document from the file names of
// a SNAPSHOT version. ok is false when no timestamped artifact is among
// them (nothing to describe).
func BuildSnapshot(groupID, artifactID, version string, fileNames []string) (SnapshotMetadata, bool) {
	m := SnapshotMetadata{GroupID: groupID, ArtifactID: artifactID, Version: version}
	newest := map[[2]string]SnapshotFile{}
	found := false
	for _, n := range fileNames {
		f, ok := ParseSnapshotFile(artifactID, version, n)
		if !ok {
			continue
		}
		key := [2]string{f.Classifier, f.Extension}
		if cur, seen := newest[key]; !seen || newer(f, cur) {
			newest[key] = f
		}
		if !found || newer(f, m.Latest) {
			m.Latest = f
		}
		found = true
	}
	if !found {
		return m, false
	}
	for _, f := range newest {
		m.Entries = append(m.Entries, f)
	}
	sort.Slice(m.Entries, func(i, j int) bool {
		a, b := m.Entries[i], m.Entries[j]
		if a.Classifier != b.Classifier {
			return a.Classifier < b.Classifier
		}
		return a.Extension < b.Extension
	})
	return m, true
}

// newer orders builds by build number, then timestamp.
func newer(a, b SnapshotFile) bool {
	if a.BuildNumber != b.BuildNumber {
		return a.BuildNumber > b.BuildNumber
	}
	return a.Timestamp > b.Timestamp
}

// Lookup returns the newest timestamped file name for a classifier and
// extension (how a non-unique SNAPSHOT name is mapped to a stored file).
func (m SnapshotMetadata) Lookup(classifier, ext string) (string, bool) {
	for _, e := range m.Entries {
		if e.Classifier == classifier && e.Extension == ext {
			name := m.ArtifactID + "-" + e.Value(m.Version)
			if classifier != "" {
				name += "-" + classifier
			}
			return name + "." + ext, true
		}
	}
	return "", false
}

// maxPlugins bounds what one uploaded document may add.
const maxPlugins = 10000

// ParsePlugins streams an uploaded maven-metadata.xml and returns its
// <plugins> entries, holding nothing but those entries in memory. A
// document that is not well-formed XML yields an error (the upload is still
// stored, as GitLab stores anything).
func ParsePlugins(r io.Reader) ([]Plugin, error) {
	dec := xml.NewDecoder(r)
	var stack []string
	var out []Plugin
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 2 && stack[0] == "metadata" && stack[1] == "plugins" && t.Name.Local == "plugin" {
				var p Plugin
				if err := dec.DecodeElement(&p, &t); err != nil {
					return nil, err
				}
				if p.Prefix != "" && p.ArtifactID != "" && len(out) < maxPlugins {
					out = append(out, p)
				}
				continue
			}
			stack = append(stack, t.Name.Local)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
}

// MergePlugins adds the plugins of b to a, keyed by artifactId (a newer
// upload updates a plugin's name and prefix). Maven only ever adds plugins,
// so merging instead of replacing keeps every concurrent deploy's entry.
func MergePlugins(a, b []Plugin) []Plugin {
	out := append([]Plugin(nil), a...)
	idx := map[string]int{}
	for i, p := range out {
		idx[p.ArtifactID] = i
	}
	for _, p := range b {
		if i, ok := idx[p.ArtifactID]; ok {
			out[i] = p
			continue
		}
		if len(out) >= maxPlugins {
			break
		}
		idx[p.ArtifactID] = len(out)
		out = append(out, p)
	}
	return out
}

// ErrUnknownChecksum is returned by Checksum for an unsupported algorithm.
var ErrUnknownChecksum = errors.New("maven: unknown checksum algorithm")

// Checksum returns the lowercase hex digest of data.
func Checksum(alg string, data []byte) (string, error) {
	var h hash.Hash
	switch alg {
	case "md5":
		h = md5.New()
	case "sha1":
		h = sha1.New()
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return "", ErrUnknownChecksum
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ParseChecksumBody extracts the hex digest from a checksum file body:
// the first whitespace-separated token ("<hex>" or sha1sum's
// "<hex>  file"), lower-cased. Maven and Gradle send bare lowercase hex.
func ParseChecksumBody(body []byte, alg string) (string, bool) {
	fields := bytes.Fields(body)
	if len(fields) == 0 {
		return "", false
	}
	want := map[string]int{"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}[alg]
	tok := bytes.ToLower(fields[0])
	if len(tok) != want {
		return "", false
	}
	if _, err := hex.Decode(make([]byte, len(tok)/2), tok); err != nil {
		return "", false
	}
	return string(tok), true
}
