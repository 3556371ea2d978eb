package maven

import (
	"errors"
	"strings"
	"testing"

	"github.com/pkgate/pkgate/internal/errs"
)

func TestParsePath(t *testing.T) {
	long := strings.Repeat("a", 256)
	tests := []struct {
		in   string
		want Path
		kind errs.Kind // expected error kind when msg != ""
		msg  string    // substring of the client-facing message; "" = success
	}{
		// Versioned files.
		{in: "/com/acme/hello/1.0.0/hello-1.0.0.jar", want: Path{Name: "com/acme/hello", Version: "1.0.0", GroupID: "com.acme", ArtifactID: "hello", FileName: "hello-1.0.0.jar", Base: "hello-1.0.0.jar"}},
		{in: "com/acme/hello/1.0.0/hello-1.0.0.pom", want: Path{Name: "com/acme/hello", Version: "1.0.0", GroupID: "com.acme", ArtifactID: "hello", FileName: "hello-1.0.0.pom", Base: "hello-1.0.0.pom"}},
		{in: "/com/acme/hello/1.0.0/hello-1.0.0.jar.sha1", want: Path{Name: "com/acme/hello", Version: "1.0.0", GroupID: "com.acme", ArtifactID: "hello", FileName: "hello-1.0.0.jar.sha1", Base: "hello-1.0.0.jar", Checksum: "sha1"}},
		{in: "/com/acme/hello/1.0.0/hello-1.0.0.jar.md5", want: Path{Name: "com/acme/hello", Version: "1.0.0", GroupID: "com.acme", ArtifactID: "hello", FileName: "hello-1.0.0.jar.md5", Base: "hello-1.0.0.jar", Checksum: "md5"}},
		{in: "/com/acme/hello/1.0.0/hello-1.0.0.jar.sha256", want: Path{Name: "com/acme/hello", Version: "1.0.0", GroupID: "com.acme", ArtifactID: "hello", FileName: "hello-1.0.0.jar.sha256", Base: "hello-1.0.0.jar", Checksum: "sha256"}},
		{in: "/com/acme/hello/1.0.0/hello-1.0.0-sources.jar.sha512", want: Path{Name: "com/acme/hello", Version: "1.0.0", GroupID: "com.acme", ArtifactID: "hello", FileName: "hello-1.0.0-sources.jar.sha512", Base: "hello-1.0.0-sources.jar", Checksum: "sha512"}},
		{in: "/com/acme/hello/1.0.0/hello-1.0.0.jar.asc", want: Path{Name: "com/acme/hello", Version: "1.0.0", GroupID: "com.acme", ArtifactID: "hello", FileName: "hello-1.0.0.jar.asc", Base: "hello-1.0.0.jar.asc"}},
		{in: "/org/example/deep/group/lib_x/2.0.0+build.7/lib_x-2.0.0+build.7.jar", want: Path{Name: "org/example/deep/group/lib_x", Version: "2.0.0+build.7", GroupID: "org.example.deep.group", ArtifactID: "lib_x", FileName: "lib_x-2.0.0+build.7.jar", Base: "lib_x-2.0.0+build.7.jar"}},
		{in: "/com/acme/hello/1.1.0-SNAPSHOT/hello-1.1.0-20261125.151811-1.jar", want: Path{Name: "com/acme/hello", Version: "1.1.0-SNAPSHOT", GroupID: "com.acme", ArtifactID: "hello", FileName: "hello-1.1.0-20261125.151811-1.jar", Base: "hello-1.1.0-20261125.151811-1.jar"}},
		// A dotted single segment is a valid (if unusual) groupId path.
		{in: "/com.acme/hello/1.0/hello-1.0.jar", want: Path{Name: "com.acme/hello", Version: "1.0", GroupID: "com.acme", ArtifactID: "hello", FileName: "hello-1.0.jar", Base: "hello-1.0.jar"}},
		// Percent-encoding is decoded once per segment.
		{in: "/com/acme/hello/1.0/hello%2D1.0.jar", want: Path{Name: "com/acme/hello", Version: "1.0", GroupID: "com.acme", ArtifactID: "hello", FileName: "hello-1.0.jar", Base: "hello-1.0.jar"}},
		// A file literally named ".sha1" is not a checksum of nothing.
		{in: "/com/acme/hello/1.0/.sha1", want: Path{Name: "com/acme/hello", Version: "1.0", GroupID: "com.acme", ArtifactID: "hello", FileName: ".sha1", Base: ".sha1"}},

		// Metadata: versionless outside SNAPSHOT directories (spec 3.2).
		{in: "/com/acme/hello/maven-metadata.xml", want: Path{Name: "com/acme/hello", GroupID: "com.acme", ArtifactID: "hello", FileName: "maven-metadata.xml", Base: "maven-metadata.xml"}},
		{in: "/com/acme/hello/maven-metadata.xml.sha1", want: Path{Name: "com/acme/hello", GroupID: "com.acme", ArtifactID: "hello", FileName: "maven-metadata.xml.sha1", Base: "maven-metadata.xml", Checksum: "sha1"}},
		{in: "/com/acme/maven-metadata.xml", want: Path{Name: "com/acme", GroupID: "com", ArtifactID: "acme", FileName: "maven-metadata.xml", Base: "maven-metadata.xml"}},
		{in: "/com/acme/hello/1.0.0/maven-metadata.xml", want: Path{Name: "com/acme/hello/1.0.0", GroupID: "com.acme.hello", ArtifactID: "1.0.0", FileName: "maven-metadata.xml", Base: "maven-metadata.xml"}},
		{in: "/com/acme/hello/1.1.0-SNAPSHOT/maven-metadata.xml", want: Path{Name: "com/acme/hello", Version: "1.1.0-SNAPSHOT", GroupID: "com.acme", ArtifactID: "hello", FileName: "maven-metadata.xml", Base: "maven-metadata.xml"}},
		{in: "/com/acme/hello/1.1.0-SNAPSHOT/maven-metadata.xml.md5", want: Path{Name: "com/acme/hello", Version: "1.1.0-SNAPSHOT", GroupID: "com.acme", ArtifactID: "hello", FileName: "maven-metadata.xml.md5", Base: "maven-metadata.xml", Checksum: "md5"}},

		// Traversal, separators, control characters: 400 valid file path.
		{in: "/com/acme/../hello/1.0/hello-1.0.jar", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/com/acme/hello/1.0/..", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/com/acme/hello/1.0/.", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/com/acme/%2e%2e/1.0/hello-1.0.jar", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/com/acme/hello/1.0/..%2f..%2fetc%2fpasswd", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/com%2Facme/hello/1.0/hello-1.0.jar", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/com/acme/hello/1.0/a%5Cb.jar", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/com/acme/hello/1.0/hello%00.jar", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/com/acme/hello/1.0/hello%0d%0a.jar", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/com//hello/1.0/hello-1.0.jar", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/com/acme/hello/1.0/hello%zz.jar", kind: errs.Invalid, msg: "path should be a valid file path"},
		{in: "/../x", kind: errs.Invalid, msg: "path should be a valid file path"},

		// Coordinates that do not parse: 400 validation failed.
		{in: "/com/ac%20me/hello/1.0/hello-1.0.jar", kind: errs.Invalid, msg: "Group id is invalid"},
		{in: "/@com/acme/hello/1.0/hello-1.0.jar", kind: errs.Invalid, msg: "Group id is invalid"},
		{in: "/com/acme/hel+lo/1.0/hello-1.0.jar", kind: errs.Invalid, msg: "Artifact id is invalid"},
		{in: "/com/acme/h%C3%A9llo/1.0/hello-1.0.jar", kind: errs.Invalid, msg: "Artifact id is invalid"},
		{in: "/com/acme/hello/1..0/hello-1.0.jar", kind: errs.Invalid, msg: "Version is invalid"},
		{in: "/com/acme/hello/1.0~rc/hello-1.0.jar", kind: errs.Invalid, msg: "Version is invalid"},
		{in: "/hello/1.0/hello-1.0.jar", kind: errs.Invalid, msg: "Group id is invalid"},
		{in: "/com/acme/hello/1.0/hello 1.0.jar", kind: errs.Invalid, msg: "file_name is invalid"},
		{in: "/com/acme/hello/1.0/hello%241.0.jar", kind: errs.Invalid, msg: "file_name is invalid"},
		{in: "/com/acme/hello/1.0/" + long, kind: errs.Invalid, msg: "File name is too long"},
		{in: "/com/" + long + "/hello/1.0/hello-1.0.jar", kind: errs.Invalid, msg: "Name is too long"},
		{in: "/com/maven-metadata.xml/x/1.0/x.jar", want: Path{Name: "com/maven-metadata.xml/x", Version: "1.0", GroupID: "com.maven-metadata.xml", ArtifactID: "x", FileName: "x.jar", Base: "x.jar"}},

		// Too short to be a Maven file: 404.
		{in: "/", kind: errs.NotFound, msg: "404"},
		{in: "", kind: errs.NotFound, msg: "404"},
		{in: "/a/b", kind: errs.NotFound, msg: "404"},
		{in: "/.meta/prefixes.txt", kind: errs.NotFound, msg: "404"},
		{in: "/com/acme/hello/", kind: errs.NotFound, msg: "404"},
		{in: "/maven-metadata.xml", kind: errs.NotFound, msg: "404"},
	}
	for _, tc := range tests {
		got, err := ParsePath(tc.in)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("ParsePath(%q): unexpected error %v", tc.in, err)
				continue
			}
			if got != tc.want {
				t.Errorf("ParsePath(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParsePath(%q) = %+v, want error %q", tc.in, got, tc.msg)
			continue
		}
		var e *errs.Error
		if !errors.As(err, &e) || e.Kind != tc.kind || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("ParsePath(%q): error %v (kind %v), want kind %v containing %q", tc.in, err, errs.KindOf(err), tc.kind, tc.msg)
		}
	}
}

func TestParsePathHelpers(t *testing.T) {
	p, err := ParsePath("/com/acme/hello/1.1.0-SNAPSHOT/hello-1.1.0-SNAPSHOT.jar")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Snapshot() || p.Versionless() || p.IsMetadata() || *p.VersionPtr() != "1.1.0-SNAPSHOT" {
		t.Fatalf("helpers wrong for %+v", p)
	}
	m, _ := ParsePath("/com/acme/hello/maven-metadata.xml.sha1")
	if !m.Versionless() || !m.IsMetadata() || m.VersionPtr() != nil || m.Snapshot() {
		t.Fatalf("helpers wrong for %+v", m)
	}
}

func TestParseSnapshotFile(t *testing.T) {
	tests := []struct {
		name string
		want SnapshotFile
		ok   bool
	}{
		{"hello-1.1.0-20261125.151811-1.jar", SnapshotFile{"20261125.151811", 1, "", "jar"}, true},
		{"hello-1.1.0-20261125.151811-12.pom", SnapshotFile{"20261125.151811", 12, "", "pom"}, true},
		{"hello-1.1.0-20261125.151811-3-sources.jar", SnapshotFile{"20261125.151811", 3, "sources", "jar"}, true},
		{"hello-1.1.0-20261125.151811-3-test-fixtures.jar", SnapshotFile{"20261125.151811", 3, "test-fixtures", "jar"}, true},
		{"hello-1.1.0-20261125.151811-3.jar.asc", SnapshotFile{"20261125.151811", 3, "", "jar.asc"}, true},
		{"hello-1.1.0-20261125.151811-3.tar.gz", SnapshotFile{"20261125.151811", 3, "", "tar.gz"}, true},
		{"hello-1.1.0-20261125.151811-3.jar.sha1", SnapshotFile{}, false},
		{"hello-1.1.0-SNAPSHOT.jar", SnapshotFile{}, false},
		{"maven-metadata.xml", SnapshotFile{}, false},
		{"other-1.1.0-20261125.151811-1.jar", SnapshotFile{}, false},
		{"hello-1.1.0-2026112.151811-1.jar", SnapshotFile{}, false},
		{"hello-1.1.0-20261125.151811-x.jar", SnapshotFile{}, false},
		{"hello-1.1.0-20261125.151811-1", SnapshotFile{}, false},
	}
	for _, tc := range tests {
		got, ok := ParseSnapshotFile("hello", "1.1.0-SNAPSHOT", tc.name)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseSnapshotFile(%q) = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := ParseSnapshotFile("hello", "1.1.0", "hello-1.1.0-20261125.151811-1.jar"); ok {
		t.Error("release versions have no timestamped files")
	}
	if v := (SnapshotFile{Timestamp: "20261125.151811", BuildNumber: 4}).Value("1.1.0-SNAPSHOT"); v != "1.1.0-20261125.151811-4" {
		t.Errorf("Value = %q", v)
	}
}

func TestNonUniqueSnapshot(t *testing.T) {
	tests := []struct {
		name, cl, ext string
		ok            bool
	}{
		{"hello-1.1.0-SNAPSHOT.jar", "", "jar", true},
		{"hello-1.1.0-SNAPSHOT-sources.jar", "sources", "jar", true},
		{"hello-1.1.0-SNAPSHOT.jar.asc", "", "jar.asc", true},
		{"hello-1.1.0-SNAPSHOT", "", "", false},
		{"hello-1.1.0-SNAPSHOT.", "", "", false},
		{"hello-1.1.0-SNAPSHOT-.jar", "", "", false},
		{"hello-1.1.0-SNAPSHOTx.jar", "", "", false},
		{"other-1.1.0-SNAPSHOT.jar", "", "", false},
	}
	for _, tc := range tests {
		cl, ext, ok := NonUniqueSnapshot("hello", "1.1.0-SNAPSHOT", tc.name)
		if ok != tc.ok || cl != tc.cl || ext != tc.ext {
			t.Errorf("NonUniqueSnapshot(%q) = %q, %q, %v", tc.name, cl, ext, ok)
		}
	}
	if _, _, ok := NonUniqueSnapshot("hello", "1.1.0", "hello-1.1.0.jar"); ok {
		t.Error("release version must not map")
	}
}

// FuzzParsePath checks that no input panics and that every accepted path
// is safe to use as storage identity: no traversal, no separators inside
// components, and re-parsing its canonical form gives the same result.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/com/acme/hello/1.0.0/hello-1.0.0.jar",
		"/com/acme/hello/maven-metadata.xml.sha1",
		"/com/acme/hello/1.1.0-SNAPSHOT/maven-metadata.xml",
		"/com/acme/../hello/1.0/x.jar",
		"/com%2Facme/hello/1.0/x.jar",
		"/com/acme/hello/1.0/hello%0d%0a.jar",
		"/a/b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePath(in)
		if err != nil {
			k := errs.KindOf(err)
			if k != errs.Invalid && k != errs.NotFound {
				t.Fatalf("ParsePath(%q): unexpected error kind %v", in, k)
			}
			return
		}
		if p.Name == "" || p.ArtifactID == "" || p.GroupID == "" || p.Base == "" || p.FileName == "" {
			t.Fatalf("ParsePath(%q): empty component in %+v", in, p)
		}
		for _, seg := range strings.Split(p.Name, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("ParsePath(%q): unsafe name %q", in, p.Name)
			}
		}
		for _, s := range []string{p.Version, p.FileName, p.ArtifactID, p.GroupID} {
			if strings.ContainsAny(s, "/\\\x00\r\n") {
				t.Fatalf("ParsePath(%q): separator or control char in %+v", in, p)
			}
		}
		if p.FileName == "." || p.FileName == ".." || strings.Contains(p.Version, "..") {
			t.Fatalf("ParsePath(%q): traversal in %+v", in, p)
		}
		if !strings.HasPrefix(p.FileName, p.Base) {
			t.Fatalf("ParsePath(%q): base %q not a prefix of %q", in, p.Base, p.FileName)
		}
		canon := "/" + p.Name
		if p.Version != "" {
			canon += "/" + p.Version
		}
		canon += "/" + p.FileName
		q, err := ParsePath(canon)
		if err != nil || q != p {
			t.Fatalf("ParsePath(%q) = %+v, but canonical %q gives %+v, %v", in, p, canon, q, err)
		}
	})
}
