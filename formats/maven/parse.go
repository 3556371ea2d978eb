// Package maven implements GitLab's Maven repository: mvn deploy (PUT of
// every file and its checksums) and resolution (GET/HEAD) at project, group
// and instance level.
//
// parse.go is pure: it turns a request path into a package identity and
// validates it, without HTTP or database access, so it can be table-tested
// and fuzzed.
package maven

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/pkgate/pkgate/internal/errs"
)

// MetadataFile is the name of Maven's repository metadata document.
const MetadataFile = "maven-metadata.xml"

// snapshotSuffix marks a SNAPSHOT version (GitLab's SNAPSHOT_TERM).
const snapshotSuffix = "-SNAPSHOT"

// maxNameLen bounds package names and file names (GitLab's column limit).
const maxNameLen = 255

// GitLab's validation regexes (spec 1.8). Ruby's \w is ASCII-only here.
var (
	coordRE   = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)  // groupId segment, artifactId
	versionRE = regexp.MustCompile(`^[A-Za-z0-9_+.-]+$`) // plus "no .." checked separately
	fileRE    = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)
)

// checksumExts are the sidecar files Maven, Gradle and sbt upload and ask
// for. They are never stored: a PUT is verified against the base file's
// digests, a GET is answered from them.
var checksumExts = []string{"md5", "sha1", "sha256", "sha512"}

// Path is a parsed Maven repository path.
type Path struct {
	// Name is the package name: "<groupId as path>/<artifactId>" for
	// versioned files, the whole directory for versionless ones
	// (artifact-level and plugin-group maven-metadata.xml).
	Name string
	// Version is empty for versionless paths.
	Version    string
	GroupID    string // dotted, e.g. com.acme
	ArtifactID string
	// FileName is the last segment as requested; Base is FileName without
	// a checksum suffix and Checksum that suffix ("", md5, sha1, sha256,
	// sha512).
	FileName string
	Base     string
	Checksum string
}

// Versionless reports whether the path names GitLab's versionless package
// (maven-metadata.xml outside a SNAPSHOT directory).
func (p Path) Versionless() bool { return p.Version == "" }

// IsMetadata reports whether the file (or the file a checksum is for) is
// maven-metadata.xml.
func (p Path) IsMetadata() bool { return p.Base == MetadataFile }

// Snapshot reports whether the version is a SNAPSHOT.
func (p Path) Snapshot() bool { return IsSnapshot(p.Version) }

// IsSnapshot reports whether a version is a SNAPSHOT version.
func IsSnapshot(v string) bool { return strings.HasSuffix(v, snapshotSuffix) }

// VersionPtr is the version for the packages table (nil when versionless).
func (p Path) VersionPtr() *string {
	if p.Version == "" {
		return nil
	}
	v := p.Version
	return &v
}

// ErrNotMavenPath is returned for paths too short to name a Maven file
// (e.g. Maven 3.9's .meta/prefixes.txt probe): nothing can exist there, so
// the answer is a plain 404.
var ErrNotMavenPath = &errs.Error{Op: "maven.ParsePath", Kind: errs.NotFound, Msg: "404 Not Found", Shape: errs.ShapeError}

func invalidPath(op string) error {
	return errs.Param(op, "path should be a valid file path")
}

func validation(op, what string) error {
	return errs.New(op, errs.Invalid, "400 Bad request - Validation failed: "+what+" is invalid")
}

// ParsePath parses the escaped catch-all path after /packages/maven (with
// or without its leading slash).
//
// It splits on literal slashes first and percent-decodes each segment
// exactly once, so an encoded slash or dot-dot can never act as a
// separator. Then, as GitLab does (spec 3.2): maven-metadata.xml (or one of
// its checksums) in a directory not ending in -SNAPSHOT belongs to the
// versionless package named by the whole directory; every other file
// belongs to the package "<directory minus last segment>" with the last
// segment as version. Traversal, control characters and encoded slashes are
// 400 "path should be a valid file path"; coordinates failing GitLab's
// regexes are 400 "Validation failed"; paths too short to be Maven paths are
// ErrNotMavenPath (404).
func ParsePath(escaped string) (Path, error) {
	const op = "maven.ParsePath"
	escaped = strings.TrimPrefix(escaped, "/")
	raw := strings.Split(escaped, "/")
	if len(raw) < 3 || raw[len(raw)-1] == "" {
		// A directory listing or a 1-2 segment probe: never a Maven file.
		for _, r := range raw {
			if s, err := url.PathUnescape(r); err != nil || badSegment(s) {
				return Path{}, invalidPath(op)
			}
		}
		return Path{}, ErrNotMavenPath
	}
	segs := make([]string, len(raw))
	for i, r := range raw {
		s, err := url.PathUnescape(r)
		if err != nil || s == "" || badSegment(s) {
			return Path{}, invalidPath(op)
		}
		segs[i] = s
	}
	p := Path{FileName: segs[len(segs)-1]}
	if len(p.FileName) > maxNameLen {
		return Path{}, errs.New(op, errs.Invalid, "400 Bad request - Validation failed: File name is too long (maximum is 255 characters)")
	}
	if !fileRE.MatchString(p.FileName) {
		return Path{}, errs.Param(op, "file_name is invalid")
	}
	p.Base, p.Checksum = splitChecksum(p.FileName)
	dirs := segs[:len(segs)-1]
	var coords []string
	if p.Base == MetadataFile && !strings.HasSuffix(dirs[len(dirs)-1], snapshotSuffix) {
		coords = dirs
	} else {
		if len(dirs) < 3 {
			// groupId/artifactId/version needs three directories.
			return Path{}, validation(op, "Group id")
		}
		p.Version = dirs[len(dirs)-1]
		if !versionRE.MatchString(p.Version) || strings.Contains(p.Version, "..") {
			return Path{}, validation(op, "Version")
		}
		if len(p.Version) > maxNameLen {
			// GitLab's package model caps the version at 255, and the
			// index on (project, name, version) holds no more than 2.7 KB.
			return Path{}, errs.New(op, errs.Invalid, "400 Bad request - Validation failed: Version is too long (maximum is 255 characters)")
		}
		coords = dirs[:len(dirs)-1]
	}
	for _, g := range coords[:len(coords)-1] {
		if !coordRE.MatchString(g) {
			return Path{}, validation(op, "Group id")
		}
	}
	p.ArtifactID = coords[len(coords)-1]
	if !coordRE.MatchString(p.ArtifactID) {
		return Path{}, validation(op, "Artifact id")
	}
	p.GroupID = strings.Join(coords[:len(coords)-1], ".")
	p.Name = strings.Join(coords, "/")
	if len(p.Name) > maxNameLen {
		return Path{}, errs.New(op, errs.Invalid, "400 Bad request - Validation failed: Name is too long (maximum is 255 characters)")
	}
	return p, nil
}

// badSegment rejects what may never be a path component: traversal,
// separators and control characters (%0d%0a and friends).
func badSegment(s string) bool {
	if s == "." || s == ".." {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' {
			return true
		}
	}
	return false
}

// splitChecksum splits "x.jar.sha1" into ("x.jar", "sha1"). A bare
// "sha1"-like name with nothing before the dot is an ordinary file.
func splitChecksum(name string) (base, sum string) {
	for _, ext := range checksumExts {
		if b, ok := strings.CutSuffix(name, "."+ext); ok && b != "" {
			return b, ext
		}
	}
	return name, ""
}

// SnapshotFile is a timestamped SNAPSHOT artifact file name, e.g.
// hello-1.1.0-20261125.151811-1-sources.jar.
type SnapshotFile struct {
	Timestamp   string // yyyyMMdd.HHmmss
	BuildNumber int
	Classifier  string
	Extension   string // everything after the first dot: jar, pom, jar.asc
}

// Value is the snapshotVersion value, e.g. 1.1.0-20261125.151811-1.
func (s SnapshotFile) Value(baseVersion string) string {
	return strings.TrimSuffix(baseVersion, snapshotSuffix) + "-" + s.Timestamp + "-" + strconv.Itoa(s.BuildNumber)
}

var snapshotStampRE = regexp.MustCompile(`^-([0-9]{8}\.[0-9]{6})-([0-9]{1,9})(?:-([A-Za-z0-9_+-][A-Za-z0-9_.+-]*?))?\.([A-Za-z0-9_+-][A-Za-z0-9._+-]*)$`)

// ParseSnapshotFile recognises "<artifactId>-<version minus -SNAPSHOT>-
// <timestamp>-<buildNumber>[-<classifier>].<extension>". Checksum files
// are not artifacts and do not match.
func ParseSnapshotFile(artifactID, version, fileName string) (SnapshotFile, bool) {
	if !IsSnapshot(version) {
		return SnapshotFile{}, false
	}
	if _, sum := splitChecksum(fileName); sum != "" {
		return SnapshotFile{}, false
	}
	rest, ok := strings.CutPrefix(fileName, artifactID+"-"+strings.TrimSuffix(version, snapshotSuffix))
	if !ok {
		return SnapshotFile{}, false
	}
	m := snapshotStampRE.FindStringSubmatch(rest)
	if m == nil {
		return SnapshotFile{}, false
	}
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return SnapshotFile{}, false
	}
	return SnapshotFile{Timestamp: m[1], BuildNumber: n, Classifier: m[3], Extension: m[4]}, true
}

// NonUniqueSnapshot recognises "<artifactId>-<version>[-<classifier>].<ext>"
// inside a SNAPSHOT directory (the name a client asks for when it has not
// read the version metadata), returning classifier and extension.
func NonUniqueSnapshot(artifactID, version, fileName string) (classifier, ext string, ok bool) {
	if !IsSnapshot(version) {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(fileName, artifactID+"-"+version)
	if !ok || rest == "" {
		return "", "", false
	}
	if rest[0] == '-' {
		c, e, found := strings.Cut(rest[1:], ".")
		if !found || c == "" || e == "" {
			return "", "", false
		}
		return c, e, true
	}
	if rest[0] == '.' && len(rest) > 1 {
		return "", rest[1:], true
	}
	return "", "", false
}
