package maven

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestArtifactMetadataRender(t *testing.T) {
	tests := []struct {
		name string
		m    ArtifactMetadata
		want string
	}{
		{
			name: "release and snapshot",
			m: ArtifactMetadata{GroupID: "com.acme", ArtifactID: "hello", Versions: []string{"1.0.0", "1.1.0-SNAPSHOT"},
				LastUpdated: time.Date(2026, 11, 25, 15, 18, 11, 0, time.UTC)},
			want: `<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>com.acme</groupId>
  <artifactId>hello</artifactId>
  <versioning>
    <latest>1.1.0-SNAPSHOT</latest>
    <release>1.0.0</release>
    <versions>
      <version>1.0.0</version>
      <version>1.1.0-SNAPSHOT</version>
    </versions>
    <lastUpdated>20261125151811</lastUpdated>
  </versioning>
</metadata>
`,
		},
		{
			name: "only snapshots: no release element",
			m: ArtifactMetadata{GroupID: "com.acme", ArtifactID: "hello", Versions: []string{"2.0-SNAPSHOT"},
				LastUpdated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))},
			want: `<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>com.acme</groupId>
  <artifactId>hello</artifactId>
  <versioning>
    <latest>2.0-SNAPSHOT</latest>
    <versions>
      <version>2.0-SNAPSHOT</version>
    </versions>
    <lastUpdated>20260102020405</lastUpdated>
  </versioning>
</metadata>
`,
		},
		{
			name: "plugin group",
			m:    ArtifactMetadata{GroupID: "com", ArtifactID: "acme", Plugins: []Plugin{{Name: "Hello Plugin", Prefix: "hello", ArtifactID: "hello-maven-plugin"}}},
			want: `<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>com</groupId>
  <artifactId>acme</artifactId>
  <plugins>
    <plugin>
      <name>Hello Plugin</name>
      <prefix>hello</prefix>
      <artifactId>hello-maven-plugin</artifactId>
    </plugin>
  </plugins>
</metadata>
`,
		},
		{
			name: "escaping",
			m:    ArtifactMetadata{GroupID: "g", ArtifactID: "a", Plugins: []Plugin{{Name: "<&>", Prefix: "p", ArtifactID: "a"}}},
			want: "&lt;&amp;&gt;",
		},
	}
	for _, tc := range tests {
		got := string(tc.m.Render())
		if tc.name == "escaping" {
			if !strings.Contains(got, tc.want) {
				t.Errorf("%s: %s lacks %s", tc.name, got, tc.want)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestBuildSnapshot(t *testing.T) {
	names := []string{
		"maven-metadata.xml",
		"hello-1.1.0-20261125.151811-1.jar",
		"hello-1.1.0-20261125.151811-1.pom",
		"hello-1.1.0-20261125.151811-1-sources.jar",
		"hello-1.1.0-20261126.090000-2.jar",
		"hello-1.1.0-20261126.090000-2.pom",
		"hello-1.1.0-20261126.090000-2.jar.sha1",
		"hello-1.0.0.jar",
	}
	m, ok := BuildSnapshot("com.acme", "hello", "1.1.0-SNAPSHOT", names)
	if !ok {
		t.Fatal("no snapshot found")
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>
<metadata modelVersion="1.1.0">
  <groupId>com.acme</groupId>
  <artifactId>hello</artifactId>
  <version>1.1.0-SNAPSHOT</version>
  <versioning>
    <snapshot>
      <timestamp>20261126.090000</timestamp>
      <buildNumber>2</buildNumber>
    </snapshot>
    <lastUpdated>20261126090000</lastUpdated>
    <snapshotVersions>
      <snapshotVersion>
        <extension>jar</extension>
        <value>1.1.0-20261126.090000-2</value>
        <updated>20261126090000</updated>
      </snapshotVersion>
      <snapshotVersion>
        <extension>pom</extension>
        <value>1.1.0-20261126.090000-2</value>
        <updated>20261126090000</updated>
      </snapshotVersion>
      <snapshotVersion>
        <classifier>sources</classifier>
        <extension>jar</extension>
        <value>1.1.0-20261125.151811-1</value>
        <updated>20261125151811</updated>
      </snapshotVersion>
    </snapshotVersions>
  </versioning>
</metadata>
`
	if got := string(m.Render()); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if n, ok := m.Lookup("", "jar"); !ok || n != "hello-1.1.0-20261126.090000-2.jar" {
		t.Errorf("Lookup jar = %q, %v", n, ok)
	}
	if n, ok := m.Lookup("sources", "jar"); !ok || n != "hello-1.1.0-20261125.151811-1-sources.jar" {
		t.Errorf("Lookup sources = %q, %v", n, ok)
	}
	if _, ok := m.Lookup("javadoc", "jar"); ok {
		t.Error("Lookup javadoc should fail")
	}
	// Build numbers compare numerically, not as text.
	m2, _ := BuildSnapshot("g", "a", "1-SNAPSHOT", []string{"a-1-20260101.000000-9.jar", "a-1-20260101.000001-10.jar"})
	if m2.Latest.BuildNumber != 10 {
		t.Errorf("latest build = %d, want 10", m2.Latest.BuildNumber)
	}
	if _, ok := BuildSnapshot("g", "a", "1-SNAPSHOT", []string{"maven-metadata.xml", "a-1-SNAPSHOT.jar"}); ok {
		t.Error("no timestamped file: nothing to build")
	}
}

func TestParsePlugins(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <plugins>
    <plugin><name>Hello</name><prefix>hello</prefix><artifactId>hello-maven-plugin</artifactId></plugin>
    <plugin><prefix>bye</prefix><artifactId>bye-maven-plugin</artifactId></plugin>
    <plugin><name>no prefix</name><artifactId>x</artifactId></plugin>
  </plugins>
  <versioning><versions><version>1</version></versions></versioning>
</metadata>`
	got, err := ParsePlugins(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []Plugin{{"Hello", "hello", "hello-maven-plugin"}, {"", "bye", "bye-maven-plugin"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// Plugins nested elsewhere do not count.
	if got, _ := ParsePlugins(strings.NewReader(`<metadata><x><plugins><plugin><prefix>p</prefix><artifactId>a</artifactId></plugin></plugins></x></metadata>`)); len(got) != 0 {
		t.Fatalf("nested plugins parsed: %+v", got)
	}
	if _, err := ParsePlugins(strings.NewReader(`<metadata><plugins>`)); err == nil {
		t.Fatal("truncated document should fail")
	}
	if _, err := ParsePlugins(strings.NewReader(`not xml at all <<<`)); err == nil {
		t.Fatal("garbage should fail")
	}
}

func TestMergePlugins(t *testing.T) {
	a := []Plugin{{"A", "a", "a-plugin"}, {"B", "b", "b-plugin"}}
	b := []Plugin{{"B2", "b", "b-plugin"}, {"C", "c", "c-plugin"}}
	got := MergePlugins(a, b)
	want := []Plugin{{"A", "a", "a-plugin"}, {"B2", "b", "b-plugin"}, {"C", "c", "c-plugin"}}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("got %+v", got)
	}
	if len(a) != 2 || a[1].Name != "B" {
		t.Fatal("MergePlugins modified its input")
	}
}

func TestChecksum(t *testing.T) {
	for alg, want := range map[string]string{
		"md5":    "900150983cd24fb0d6963f7d28e17f72",
		"sha1":   "a9993e364706816aba3e25717850c26c9cd0d89d",
		"sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"sha512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	} {
		got, err := Checksum(alg, []byte("abc"))
		if err != nil || got != want {
			t.Errorf("Checksum(%s) = %q, %v", alg, got, err)
		}
	}
	if _, err := Checksum("crc32", nil); err == nil {
		t.Error("unknown algorithm accepted")
	}
}

func TestParseChecksumBody(t *testing.T) {
	sha1 := "a9993e364706816aba3e25717850c26c9cd0d89d"
	tests := []struct {
		body, alg, want string
		ok              bool
	}{
		{sha1, "sha1", sha1, true},
		{sha1 + "\n", "sha1", sha1, true},
		{"  " + strings.ToUpper(sha1) + "  hello.jar\n", "sha1", sha1, true},
		{sha1, "md5", "", false},
		{"", "sha1", "", false},
		{strings.Repeat("z", 40), "sha1", "", false},
		{"900150983cd24fb0d6963f7d28e17f72", "md5", "900150983cd24fb0d6963f7d28e17f72", true},
	}
	for _, tc := range tests {
		got, ok := ParseChecksumBody([]byte(tc.body), tc.alg)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseChecksumBody(%q, %s) = %q, %v", tc.body, tc.alg, got, ok)
		}
	}
}

// TestFuzzCorpusCommitted keeps the seed corpus in the repository: CI runs
// it as ordinary test cases.
func TestFuzzCorpusCommitted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParsePath", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("seed corpus missing in testdata/fuzz/FuzzParsePath (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !strings.HasPrefix(string(b), "go test fuzz v1\n") {
			t.Errorf("%s is not a fuzz corpus file", f)
		}
	}
}

// FuzzParsePlugins: an uploaded maven-metadata.xml is read without a
// panic; what it yields is bounded, complete (prefix and artifactId), and
// comes back unchanged from the group document the gateway renders.
func FuzzParsePlugins(f *testing.F) {
	for _, s := range []string{
		`<metadata><plugins><plugin><name>Hello</name><prefix>hello</prefix><artifactId>hello-maven-plugin</artifactId></plugin></plugins></metadata>`,
		`<?xml version="1.0" encoding="UTF-8"?><metadata><groupId>g</groupId><plugins><plugin><prefix>a&amp;b</prefix><artifactId> x </artifactId></plugin><plugin><prefix>p</prefix></plugin></plugins></metadata>`,
		`<metadata><plugins><plugin><prefix>p</prefix><artifactId>a</artifactId><prefix>q</prefix></plugin></plugins></metadata>`,
		`<metadata><x><plugins><plugin><prefix>p</prefix><artifactId>a</artifactId></plugin></plugins></x></metadata>`,
		`<metadata><plugins>`,
		"<metadata><plugins><plugin><prefix>a\r\nb</prefix><artifactId>&#x9;c</artifactId></plugin></plugins></metadata>",
		`not xml <<<`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, err := ParsePlugins(strings.NewReader(doc))
		if err != nil {
			return
		}
		if len(got) > maxPlugins {
			t.Fatalf("%d plugins, at most %d", len(got), maxPlugins)
		}
		for _, p := range got {
			if p.Prefix == "" || p.ArtifactID == "" {
				t.Fatalf("incomplete plugin %+v from %q", p, doc)
			}
		}
		if len(got) == 0 {
			return
		}
		out := ArtifactMetadata{GroupID: "g", Plugins: got}.Render()
		again, err := ParsePlugins(strings.NewReader(string(out)))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("%q rendered as %s reads back as %+v (%v), want %+v", doc, out, again, err, got)
		}
	})
}
