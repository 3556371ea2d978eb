package tests

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/formats/maven"
	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/storage/blob"
)

// Plain-HTTP tests of the Maven repository: what mvn sends, plus every
// malformed, unauthorised or racing request a client could send.

func mvnProject(id int64) string { return fmt.Sprintf("/api/v4/projects/%d/packages/maven", id) }
func mvnGroup(id int64) string   { return fmt.Sprintf("/api/v4/groups/%d/-/packages/maven", id) }

const mvnInstance = "/api/v4/packages/maven"

// mavenSums returns the four checksums Maven repositories serve.
func mavenSums(b []byte) map[string]string {
	m5, s1, s256, s512 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b), sha512.Sum512(b)
	return map[string]string{
		"md5": hex.EncodeToString(m5[:]), "sha1": hex.EncodeToString(s1[:]),
		"sha256": hex.EncodeToString(s256[:]), "sha512": hex.EncodeToString(s512[:]),
	}
}

// mvnMeta is the part of maven-metadata.xml the tests look at.
type mvnMeta struct {
	GroupID    string `xml:"groupId"`
	ArtifactID string `xml:"artifactId"`
	Version    string `xml:"version"`
	Versioning struct {
		Latest   string   `xml:"latest"`
		Release  string   `xml:"release"`
		Versions []string `xml:"versions>version"`
		Snapshot struct {
			Timestamp   string `xml:"timestamp"`
			BuildNumber int    `xml:"buildNumber"`
		} `xml:"snapshot"`
		LastUpdated      string `xml:"lastUpdated"`
		SnapshotVersions []struct {
			Classifier string `xml:"classifier"`
			Extension  string `xml:"extension"`
			Value      string `xml:"value"`
		} `xml:"snapshotVersions>snapshotVersion"`
	} `xml:"versioning"`
	Plugins []maven.Plugin `xml:"plugins>plugin"`
}

func mavenParseMeta(t *testing.T, r *Resp) mvnMeta {
	t.Helper()
	var m mvnMeta
	if err := xml.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("metadata is not XML (%d): %v\n%s", r.Status, err, r.Body)
	}
	return m
}

// mvnDeploy PUTs a file with its .sha1 and .md5 the way mvn does and
// asserts GitLab's answers (200, 204, 200).
func mvnDeploy(t *testing.T, e *Env, base, path string, body []byte, h H) {
	t.Helper()
	e.Must(200, e.Do("PUT", base+"/"+path, body, h))
	s := mavenSums(body)
	e.Must(204, e.Do("PUT", base+"/"+path+".sha1", s["sha1"], h))
	e.Must(200, e.Do("PUT", base+"/"+path+".md5", s["md5"], h))
}

func TestMavenHTTPFilesAndChecksums(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	base := mvnProject(s.ProjectID)
	w := DeployHdr(s.WriteToken)
	r := Basic(s.ReadUser, s.ReadToken)
	jar := bytes.Repeat([]byte("jar-bytes-"), 5000)
	pom := []byte("<project><modelVersion>4.0.0</modelVersion></project>")
	mvnDeploy(t, e, base, "com/acme/hello/1.0.0/hello-1.0.0.pom", pom, w)
	mvnDeploy(t, e, base, "com/acme/hello/1.0.0/hello-1.0.0.jar", jar, w)
	want := mavenSums(jar)

	got := e.Must(200, e.Do("GET", base+"/com/acme/hello/1.0.0/hello-1.0.0.jar", nil, r))
	if !bytes.Equal(got.Body, jar) {
		t.Fatalf("jar body differs (%d bytes)", len(got.Body))
	}
	if got.Header.Get("X-Checksum-Sha1") != want["sha1"] || got.Header.Get("X-Checksum-Md5") != want["md5"] {
		t.Fatalf("checksum headers %v", got.Header)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Fatalf("content type %q", ct)
	}
	if got.Header.Get("Last-Modified") == "" || !strings.Contains(got.Header.Get("Content-Disposition"), "hello-1.0.0.jar") {
		t.Fatalf("download headers %v", got.Header)
	}
	for alg, sum := range want {
		c := e.Must(200, e.Do("GET", base+"/com/acme/hello/1.0.0/hello-1.0.0.jar."+alg, nil, r))
		if string(c.Body) != sum {
			t.Errorf("%s = %q, want %q", alg, c.Body, sum)
		}
		if !strings.HasPrefix(c.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s content type %q", alg, c.Header.Get("Content-Type"))
		}
	}
	// HEAD answers the same headers without a body.
	h := e.Must(200, e.Do("HEAD", base+"/com/acme/hello/1.0.0/hello-1.0.0.jar", nil, r))
	if len(h.Body) != 0 || h.Header.Get("Content-Length") != fmt.Sprint(len(jar)) || h.Header.Get("X-Checksum-Sha1") != want["sha1"] {
		t.Fatalf("HEAD: %d bytes, headers %v", len(h.Body), h.Header)
	}
	e.Must(200, e.Do("HEAD", base+"/com/acme/hello/1.0.0/hello-1.0.0.jar.sha1", nil, r))
	e.Must(404, e.Do("HEAD", base+"/com/acme/hello/1.0.0/nothing.jar", nil, r))
	// Range requests work on artifacts.
	rg := e.Do("GET", base+"/com/acme/hello/1.0.0/hello-1.0.0.jar", nil, H{"Authorization": r["Authorization"], "Range": "bytes=0-9"})
	if rg.Status != 206 || string(rg.Body) != "jar-bytes-" {
		t.Fatalf("range: %d %q", rg.Status, rg.Body)
	}

	// Checksum uploads: verified against the stored file.
	jarURL := base + "/com/acme/hello/1.0.0/hello-1.0.0.jar"
	e.Must(204, e.Do("PUT", jarURL+".sha1", strings.ToUpper(want["sha1"])+"\n", w))
	e.Must(204, e.Do("PUT", jarURL+".sha1", want["sha1"]+"  hello-1.0.0.jar\n", w))
	e.Must(204, e.Do("PUT", jarURL+".sha256", want["sha256"], w))
	e.Must(204, e.Do("PUT", jarURL+".sha512", want["sha512"], w))
	ErrBody(t, e.Must(409, e.Do("PUT", jarURL+".sha1", mavenSums([]byte("tampered"))["sha1"], w)), "message", "409 Conflict - checksum mismatch")
	// .md5 is accepted unchecked, as GitLab does (spec 3.3), even for a
	// file that was never uploaded.
	e.Must(200, e.Do("PUT", jarURL+".md5", mavenSums([]byte("tampered"))["md5"], w))
	e.Must(200, e.Do("PUT", base+"/com/acme/hello/1.0.0/absent-1.0.0.jar.md5", want["md5"], w))
	e.Must(409, e.Do("PUT", jarURL+".sha256", mavenSums([]byte("tampered"))["sha256"], w))
	// A body with no digest in it is a mismatch too (spec 3.3: GitLab
	// compares the bytes), and a missing file still 404 first.
	for _, junk := range []string{"not-a-checksum", "", want["sha1"][:39], want["md5"]} {
		ErrBody(t, e.Must(409, e.Do("PUT", jarURL+".sha1", junk, w)), "message", "409 Conflict - checksum mismatch")
	}
	e.Must(404, e.Do("PUT", base+"/com/acme/hello/1.0.0/missing.jar.sha1", "not-a-checksum", w))
	e.Must(413, e.Do("PUT", jarURL+".sha1", strings.Repeat("a", 2000), w))
	ErrBody(t, e.Must(404, e.Do("PUT", base+"/com/acme/hello/1.0.0/missing.jar.sha1", want["sha1"], w)), "message", "404 Package Not Found")
	// A checksum upload never becomes a file: the served checksum is still
	// the computed one.
	if c := e.Do("GET", jarURL+".sha1", nil, r); string(c.Body) != want["sha1"] {
		t.Fatalf("served sha1 %q", c.Body)
	}

	// Re-deploying a release (GitLab default: duplicates allowed) appends;
	// the newest is served, with its own checksums.
	jar2 := []byte("second build of the same release")
	mvnDeploy(t, e, base, "com/acme/hello/1.0.0/hello-1.0.0.jar", jar2, w)
	if g := e.Must(200, e.Do("GET", jarURL, nil, r)); !bytes.Equal(g.Body, jar2) || g.Header.Get("X-Checksum-Sha1") != mavenSums(jar2)["sha1"] {
		t.Fatalf("newest not served: %q", g.Body)
	}
	// The old checksum no longer matches the served file.
	e.Must(409, e.Do("PUT", jarURL+".sha1", want["sha1"], w))

	// Unknown artifacts.
	ErrBody(t, e.Must(404, e.Do("GET", base+"/com/acme/nope/1.0/nope-1.0.jar", nil, r)), "message", "404 Package Not Found")
	e.Must(404, e.Do("GET", base+"/com/acme/hello/maven-metadata.xml.sha1x", nil, r))
	e.Must(404, e.Do("GET", base+"/.meta/prefixes.txt", nil, r))

	// The package is listed by the packages API with GitLab's maven shape.
	lst := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages?package_type=maven", s.ProjectID), nil, PAT(e.Admin)))
	if !strings.Contains(string(lst.Body), `"com/acme/hello"`) || !strings.Contains(string(lst.Body), `"1.0.0"`) {
		t.Fatalf("packages API: %s", lst.Body)
	}
	mavenAssertNoOrphans(t, e)
}

func TestMavenHTTPMetadata(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	base := mvnProject(s.ProjectID)
	w := Basic(s.WriteUser, s.WriteToken)
	r := Basic(s.ReadUser, s.ReadToken)
	metaURL := base + "/com/acme/hello/maven-metadata.xml"

	// No version yet: 404, which is what tells Maven to start a new list.
	e.Must(404, e.Do("GET", metaURL, nil, r))
	e.Must(404, e.Do("GET", metaURL+".sha1", nil, r))

	mvnDeploy(t, e, base, "com/acme/hello/1.0.0/hello-1.0.0.pom", []byte("<project/>"), w)
	mvnDeploy(t, e, base, "com/acme/hello/1.0.0/hello-1.0.0.jar", []byte("jar 1"), w)
	// The client's artifact-level document lists only the new version: as
	// if it had read the list before a concurrent deploy added another.
	clientDoc := []byte(`<?xml version="1.0" encoding="UTF-8"?><metadata><groupId>com.acme</groupId><artifactId>hello</artifactId><versioning><latest>1.0.0</latest><release>1.0.0</release><versions><version>1.0.0</version></versions><lastUpdated>20260101000000</lastUpdated></versioning></metadata>`)
	mvnDeploy(t, e, base, "com/acme/hello/maven-metadata.xml", clientDoc, w)

	// A SNAPSHOT, two builds, the second without its sources jar.
	snap := "com/acme/hello/1.1.0-SNAPSHOT/"
	mvnDeploy(t, e, base, snap+"hello-1.1.0-20261125.151811-1.pom", []byte("<project/>"), w)
	mvnDeploy(t, e, base, snap+"hello-1.1.0-20261125.151811-1.jar", []byte("snapshot 1"), w)
	mvnDeploy(t, e, base, snap+"hello-1.1.0-20261125.151811-1-sources.jar", []byte("sources 1"), w)
	mvnDeploy(t, e, base, snap+"hello-1.1.0-20261126.101010-2.pom", []byte("<project/>"), w)
	mvnDeploy(t, e, base, snap+"hello-1.1.0-20261126.101010-2.jar", []byte("snapshot 2"), w)
	mvnDeploy(t, e, base, snap+"maven-metadata.xml", []byte(`<metadata modelVersion="1.1.0"><version>1.1.0-SNAPSHOT</version></metadata>`), w)
	// An old client-side list again (only 1.0.0): versions are never lost.
	mvnDeploy(t, e, base, "com/acme/hello/maven-metadata.xml", clientDoc, w)

	doc := e.Must(200, e.Do("GET", metaURL, nil, r))
	m := mavenParseMeta(t, doc)
	if m.GroupID != "com.acme" || m.ArtifactID != "hello" || strings.Join(m.Versioning.Versions, ",") != "1.0.0,1.1.0-SNAPSHOT" ||
		m.Versioning.Latest != "1.1.0-SNAPSHOT" || m.Versioning.Release != "1.0.0" || len(m.Versioning.LastUpdated) != 14 {
		t.Fatalf("artifact metadata:\n%s", doc.Body)
	}
	if doc.Header.Get("X-Checksum-Sha1") != mavenSums(doc.Body)["sha1"] {
		t.Fatalf("metadata checksum header %q", doc.Header.Get("X-Checksum-Sha1"))
	}
	for alg, sum := range mavenSums(doc.Body) {
		if c := e.Must(200, e.Do("GET", metaURL+"."+alg, nil, r)); string(c.Body) != sum {
			t.Fatalf("metadata %s %q, want %q", alg, c.Body, sum)
		}
	}
	if h := e.Must(200, e.Do("HEAD", metaURL, nil, r)); len(h.Body) != 0 || h.Header.Get("Content-Length") != fmt.Sprint(len(doc.Body)) {
		t.Fatalf("HEAD metadata: %v", h.Header)
	}
	// Deterministic: the same state gives the same bytes.
	if again := e.Do("GET", metaURL, nil, r); !bytes.Equal(again.Body, doc.Body) {
		t.Fatal("metadata not stable between requests")
	}

	sm := mavenParseMeta(t, e.Must(200, e.Do("GET", base+"/"+snap+"maven-metadata.xml", nil, r)))
	if sm.Version != "1.1.0-SNAPSHOT" || sm.Versioning.Snapshot.BuildNumber != 2 || sm.Versioning.Snapshot.Timestamp != "20261126.101010" {
		t.Fatalf("snapshot metadata %+v", sm)
	}
	values := map[string]string{}
	for _, v := range sm.Versioning.SnapshotVersions {
		values[v.Classifier+"."+v.Extension] = v.Value
	}
	if values[".jar"] != "1.1.0-20261126.101010-2" || values[".pom"] != "1.1.0-20261126.101010-2" || values["sources.jar"] != "1.1.0-20261125.151811-1" {
		t.Fatalf("snapshotVersions %v", values)
	}
	// A non-unique SNAPSHOT name maps to the newest timestamped build.
	if g := e.Must(200, e.Do("GET", base+"/"+snap+"hello-1.1.0-SNAPSHOT.jar", nil, r)); string(g.Body) != "snapshot 2" {
		t.Fatalf("non-unique snapshot: %q", g.Body)
	}
	if g := e.Must(200, e.Do("GET", base+"/"+snap+"hello-1.1.0-SNAPSHOT-sources.jar.sha1", nil, r)); string(g.Body) != mavenSums([]byte("sources 1"))["sha1"] {
		t.Fatalf("non-unique snapshot sha1: %q", g.Body)
	}
	e.Must(404, e.Do("GET", base+"/"+snap+"hello-1.1.0-SNAPSHOT-javadoc.jar", nil, r))

	// Plugin-group metadata: plugin entries merge across uploads.
	plug := func(prefix string) []byte {
		return []byte(`<metadata><plugins><plugin><name>` + prefix + `</name><prefix>` + prefix + `</prefix><artifactId>` + prefix + `-maven-plugin</artifactId></plugin></plugins></metadata>`)
	}
	mvnDeploy(t, e, base, "com/acme/maven-metadata.xml", plug("one"), w)
	mvnDeploy(t, e, base, "com/acme/maven-metadata.xml", plug("two"), w)
	pm := mavenParseMeta(t, e.Must(200, e.Do("GET", base+"/com/acme/maven-metadata.xml", nil, r)))
	if len(pm.Plugins) != 2 || pm.Plugins[0].Prefix != "one" || pm.Plugins[1].Prefix != "two" {
		t.Fatalf("plugins %+v", pm.Plugins)
	}
	// A document the gateway cannot interpret, where nothing else is
	// known, is served as uploaded (never a 404 for an existing file).
	odd := []byte("<metadata><something-else/></metadata>")
	mvnDeploy(t, e, base, "org/other/thing/maven-metadata.xml", odd, w)
	if g := e.Must(200, e.Do("GET", base+"/org/other/thing/maven-metadata.xml", nil, r)); !bytes.Equal(g.Body, odd) {
		t.Fatalf("stored metadata: %q", g.Body)
	}
	if g := e.Must(200, e.Do("GET", base+"/org/other/thing/maven-metadata.xml.md5", nil, r)); string(g.Body) != mavenSums(odd)["md5"] {
		t.Fatalf("stored metadata md5: %q", g.Body)
	}
	// Unknown SNAPSHOT version metadata.
	e.Must(404, e.Do("GET", base+"/com/acme/hello/9.9-SNAPSHOT/maven-metadata.xml", nil, r))

	// Concurrent deploys of different versions, each uploading a list that
	// holds only its own version: every version is listed afterwards.
	var wg sync.WaitGroup
	errc := make(chan string, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := fmt.Sprintf("3.%d.0", i)
			for _, p := range []string{"com/acme/hello/" + v + "/hello-" + v + ".jar", "com/acme/hello/maven-metadata.xml"} {
				body := []byte("jar " + v)
				if strings.HasSuffix(p, ".xml") {
					body = []byte("<metadata><versioning><versions><version>" + v + "</version></versions></versioning></metadata>")
				}
				if res := e.Do("PUT", base+"/"+p, body, w); res.Status != 200 {
					errc <- fmt.Sprintf("PUT %s: %d %s", p, res.Status, res.Body)
				}
				if res := e.Do("PUT", base+"/"+p+".sha1", mavenSums(body)["sha1"], w); res.Status != 204 {
					errc <- fmt.Sprintf("PUT %s.sha1: %d %s", p, res.Status, res.Body)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for msg := range errc {
		t.Error(msg)
	}
	m = mavenParseMeta(t, e.Must(200, e.Do("GET", metaURL, nil, r)))
	if len(m.Versioning.Versions) != 10 {
		t.Fatalf("versions after concurrent deploys: %v", m.Versioning.Versions)
	}
	mavenAssertNoOrphans(t, e)
}

func TestMavenHTTPBadInput(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.MaxMavenSize = 1024 })
	s := e.NewScenario()
	base := mvnProject(s.ProjectID)
	w := DeployHdr(s.WriteToken)

	bad := []struct {
		path, key, msg string
		status         int
	}{
		{"/com/acme/../hello/1.0/hello-1.0.jar", "error", "path should be a valid file path", 400},
		{"/com/acme/hello/1.0/../../../../etc/passwd", "error", "path should be a valid file path", 400},
		{"/com/acme/%2e%2e/1.0/hello-1.0.jar", "error", "path should be a valid file path", 400},
		{"/com/acme/%2E%2E/%2E%2E/hello-1.0.jar", "error", "path should be a valid file path", 400},
		{"/com%2F..%2Facme/hello/1.0/hello-1.0.jar", "error", "path should be a valid file path", 400},
		{"/com/acme/hello/1.0/hello%0d%0aX-Evil:%201.jar", "error", "path should be a valid file path", 400},
		{"/com/acme/hello/1.0/hello%00.jar", "error", "path should be a valid file path", 400},
		{"/com/ac%20me/hello/1.0/hello-1.0.jar", "message", "400 Bad request - Validation failed: Group id is invalid", 400},
		{"/com/acme/hel+lo/1.0/hello-1.0.jar", "message", "400 Bad request - Validation failed: Artifact id is invalid", 400},
		{"/com/acme/hello/1..0/hello-1.0.jar", "message", "400 Bad request - Validation failed: Version is invalid", 400},
		{"/com/acme/hello/1.0%3B/hello-1.0.jar", "message", "400 Bad request - Validation failed: Version is invalid", 400},
		{"/hello/1.0/hello-1.0.jar", "message", "400 Bad request - Validation failed: Group id is invalid", 400},
		{"/com/acme/hello/1.0/hello%241.0.jar", "error", "file_name is invalid", 400},
	}
	for _, b := range bad {
		for _, method := range []string{"PUT", "GET"} {
			res := e.Do(method, base+b.path, "x", w)
			if res.Status != b.status {
				t.Errorf("%s %s: %d, want %d (%s)", method, b.path, res.Status, b.status, res.Body)
				continue
			}
			ErrBody(t, res, b.key, b.msg)
		}
	}
	// Also at group and instance level.
	gt, _, _ := e.DeployToken("groups", s.GroupID, "read_package_registry")
	e.Must(400, e.Do("GET", mvnGroup(s.GroupID)+"/com/acme/../x/1.0/x-1.0.jar", nil, DeployHdr(gt)))
	e.Must(400, e.Do("GET", mvnInstance+"/com/acme/%2e%2e/x/1.0/x-1.0.jar", nil, DeployHdr(gt)))

	// Oversize: refused from Content-Length, and while streaming a body
	// without one; nothing is stored either way.
	big := bytes.Repeat([]byte("x"), 2048)
	ErrBody(t, e.Must(413, e.Do("PUT", base+"/com/acme/hello/1.0/hello-1.0.jar", big, w)), "message", "413 Request Entity Too Large - File is too large")
	e.Must(413, e.Do("PUT", base+"/com/acme/hello/1.0/hello-1.0.jar", io.MultiReader(bytes.NewReader(big)), w))
	e.Must(404, e.Do("GET", base+"/com/acme/hello/1.0/hello-1.0.jar", nil, w))
	e.Must(200, e.Do("PUT", base+"/com/acme/hello/1.0/hello-1.0.jar", big[:1024], w))

	// Checksum that does not match.
	e.Must(409, e.Do("PUT", base+"/com/acme/hello/1.0/hello-1.0.jar.sha1", mavenSums(big)["sha1"], w))
	e.Must(200, e.Do("PUT", base+"/com/acme/hello/1.0/hello-1.0.jar.md5", mavenSums(big)["md5"], w))
	e.Must(204, e.Do("PUT", base+"/com/acme/hello/1.0/hello-1.0.jar.sha1", mavenSums(big[:1024])["sha1"], w))
	mavenAssertNoOrphans(t, e)
}

func TestMavenHTTPAuth(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	base := mvnProject(s.ProjectID)
	jarPath := "/com/acme/hello/1.0/hello-1.0.jar"
	mvnDeploy(t, e, base, jarPath[1:], []byte("jar"), DeployHdr(s.WriteToken))

	realm := `Basic realm="GitLab Packages Registry"`
	challenge := func(r *Resp) {
		t.Helper()
		if r.Status != 401 || r.Header.Get("WWW-Authenticate") != realm {
			t.Fatalf("want 401 challenge, got %d %v %s", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
		}
	}
	// Anonymous: the challenge that makes Maven retry with credentials.
	challenge(e.Do("GET", base+jarPath, nil, nil))
	challenge(e.Do("HEAD", base+jarPath, nil, nil))
	challenge(e.Do("GET", base+"/com/acme/hello/maven-metadata.xml", nil, nil))
	challenge(e.Do("PUT", base+jarPath, "x", nil))
	challenge(e.Do("GET", mvnGroup(s.GroupID)+jarPath, nil, nil))
	challenge(e.Do("GET", mvnInstance+jarPath, nil, nil))
	// A wrong Basic password counts as anonymous; a wrong Private-Token is 401.
	challenge(e.Do("GET", base+jarPath, nil, Basic("x", "wrong")))
	e.Must(401, e.Do("GET", base+jarPath, nil, PAT("wrong")))

	// Every credential form mvn can send.
	for name, h := range map[string]H{
		"Deploy-Token":          DeployHdr(s.ReadToken),
		"Private-Token":         PAT(s.ReadToken),
		"Basic deploy username": Basic(s.ReadUser, s.ReadToken),
		"Basic any username":    Basic("anything", s.ReadToken),
	} {
		if r := e.Do("GET", base+jarPath, nil, h); r.Status != 200 || string(r.Body) != "jar" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	// Write needs write: a read token is 403, another project's token 404.
	ErrBody(t, e.Must(403, e.Do("PUT", base+jarPath, "x", DeployHdr(s.ReadToken))), "message", "403 Forbidden")
	e.Must(403, e.Do("PUT", base+jarPath+".sha1", mavenSums([]byte("jar"))["sha1"], Basic(s.ReadUser, s.ReadToken)))
	other := e.Project("other", s.GroupID, "private")
	ot, _, _ := e.DeployToken("projects", other, "read_package_registry", "write_package_registry")
	e.Must(404, e.Do("PUT", base+jarPath, "x", DeployHdr(ot)))
	e.Must(404, e.Do("GET", base+jarPath, nil, DeployHdr(ot)))
	// Uploads exist only at project level.
	e.Must(404, e.Do("PUT", mvnGroup(s.GroupID)+jarPath, "x", DeployHdr(s.WriteToken)))
	e.Must(404, e.Do("PUT", mvnInstance+jarPath, "x", DeployHdr(s.WriteToken)))

	// Group level: a group token reads the subgroup's project; a project
	// token cannot read the private group (GitLab: 404).
	gt, gu, _ := e.DeployToken("groups", s.GroupID, "read_package_registry")
	if r := e.Must(200, e.Do("GET", mvnGroup(s.GroupID)+jarPath, nil, Basic(gu, gt))); string(r.Body) != "jar" {
		t.Fatalf("group read: %q", r.Body)
	}
	e.Must(200, e.Do("GET", "/api/v4/groups/acme/-/packages/maven"+jarPath, nil, DeployHdr(gt)))
	// It also counts on the subgroup's endpoint below its group (spec
	// 1.2), and a subgroup's token counts there but not above it.
	e.Must(200, e.Do("GET", mvnGroup(s.SubID)+jarPath, nil, DeployHdr(gt)))
	st, _, _ := e.DeployToken("groups", s.SubID, "read_package_registry")
	e.Must(200, e.Do("GET", mvnGroup(s.SubID)+jarPath, nil, DeployHdr(st)))
	e.Must(404, e.Do("GET", mvnGroup(s.GroupID)+jarPath, nil, DeployHdr(st)))
	e.Must(404, e.Do("GET", mvnGroup(s.GroupID)+jarPath, nil, DeployHdr(s.ReadToken)))
	e.Must(404, e.Do("GET", mvnGroup(s.GroupID)+"/com/acme/hello/9.9/hello-9.9.jar", nil, DeployHdr(gt)))

	// Instance level: readable projects holding the path are searched;
	// nothing readable is 403 for the authenticated, 401 for anonymous.
	e.Must(200, e.Do("GET", mvnInstance+jarPath, nil, DeployHdr(s.ReadToken)))
	e.Must(200, e.Do("GET", mvnInstance+jarPath, nil, DeployHdr(gt)))
	e.Must(403, e.Do("GET", mvnInstance+jarPath, nil, DeployHdr(ot)))
	e.Must(403, e.Do("GET", mvnInstance+"/com/acme/nothing/1.0/nothing-1.0.jar", nil, DeployHdr(s.ReadToken)))
	challenge(e.Do("GET", mvnInstance+"/com/acme/nothing/1.0/nothing-1.0.jar", nil, nil))
	e.Must(404, e.Do("GET", mvnInstance+"/com/acme/hello/9.9/hello-9.9.jar", nil, DeployHdr(s.ReadToken)))

	// Public project in a public group: anonymous reads at every level.
	pg := e.Group("pub", 0, "public")
	pp := e.Project("lib", pg, "public")
	pw, _, _ := e.DeployToken("projects", pp, "write_package_registry")
	mvnDeploy(t, e, mvnProject(pp), "pub/lib/2.0/lib-2.0.jar", []byte("public jar"), DeployHdr(pw))
	for _, u := range []string{mvnProject(pp), mvnGroup(pg), mvnInstance} {
		if r := e.Do("GET", u+"/pub/lib/2.0/lib-2.0.jar", nil, nil); r.Status != 200 || string(r.Body) != "public jar" {
			t.Errorf("anonymous public read %s: %d", u, r.Status)
		}
	}
	// Wrong Basic password on a public project: anonymous read still works.
	e.Must(200, e.Do("GET", mvnProject(pp)+"/pub/lib/2.0/lib-2.0.jar", nil, Basic("x", "wrong")))
	// Public group with a private project: an anonymous miss gets the
	// challenge (the artifact may be in a project it cannot see).
	hidden := e.Project("hidden", pg, "private")
	hw, _, _ := e.DeployToken("projects", hidden, "write_package_registry")
	mvnDeploy(t, e, mvnProject(hidden), "pub/hidden/1.0/hidden-1.0.jar", []byte("secret"), DeployHdr(hw))
	challenge(e.Do("GET", mvnGroup(pg)+"/pub/hidden/1.0/hidden-1.0.jar", nil, nil))
	challenge(e.Do("GET", mvnInstance+"/pub/hidden/1.0/hidden-1.0.jar", nil, nil))
	e.Must(200, e.Do("GET", mvnInstance+"/pub/hidden/1.0/hidden-1.0.jar", nil, DeployHdr(hw)))
}

// TestMavenHTTPConcurrentRelease races PUTs of one release file: with
// GitLab's default every upload is kept and one consistent newest is
// served; with duplicates disallowed exactly one wins and the others get
// GitLab's 400. Never a 500.
func TestMavenHTTPConcurrentRelease(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	base := mvnProject(s.ProjectID)
	w := DeployHdr(s.WriteToken)
	const n = 8
	race := func(url string) []int {
		var wg sync.WaitGroup
		codes := make([]int, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = e.Do("PUT", url, fmt.Sprintf("build %d", i), w).Status
			}()
		}
		wg.Wait()
		return codes
	}
	url := base + "/com/acme/race/1.0/race-1.0.jar"
	for _, c := range race(url) {
		if c != 200 {
			t.Fatalf("allowed duplicates: status %d", c)
		}
	}
	got := e.Must(200, e.Do("GET", url, nil, w))
	for range 3 {
		if again := e.Do("GET", url, nil, w); !bytes.Equal(again.Body, got.Body) {
			t.Fatal("served file changes between GETs")
		}
	}
	e.Must(204, e.Do("PUT", url+".sha1", mavenSums(got.Body)["sha1"], w))

	// Duplicates disallowed (GitLab's namespace setting), mounted on the
	// same database and store.
	eng := gin.New()
	eng.UseRawPath, eng.UnescapePathValues = true, false
	strictDups, err := formats.NewDuplicates(false, `.*-rc\d*`)
	if err != nil {
		t.Fatal(err)
	}
	maven.RegisterWith(eng.Group("/api/v4"), e.Server.Deps(), maven.Options{Duplicates: strictDups})
	ts := httptest.NewServer(eng)
	defer ts.Close()
	strict := ts.URL + base
	codes := race(strict + "/com/acme/strict/1.0/strict-1.0.jar")
	ok := 0
	for _, c := range codes {
		switch c {
		case 200:
			ok++
		case 400:
		default:
			t.Fatalf("strict race: status %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("strict race: %d winners (%v)", ok, codes)
	}
	dup := e.Do("PUT", strict+"/com/acme/strict/1.0/strict-1.0.jar", "again", w)
	if dup.Status != 400 {
		t.Fatalf("duplicate release: %d", dup.Status)
	}
	ErrBody(t, dup, "message", "400 Bad request - Duplicate package is not allowed")
	// Another classifier and checksums of the stored file are fine.
	e.Must(200, e.Do("PUT", strict+"/com/acme/strict/1.0/strict-1.0-sources.jar", "src", w))
	// SNAPSHOTs, metadata and exception versions stay writable.
	for range 2 {
		e.Must(200, e.Do("PUT", strict+"/com/acme/strict/2.0-SNAPSHOT/strict-2.0-20260101.000000-1.jar", "s", w))
		e.Must(200, e.Do("PUT", strict+"/com/acme/strict/maven-metadata.xml", "<metadata/>", w))
		e.Must(200, e.Do("PUT", strict+"/com/acme/strict/3.0-rc1/strict-3.0-rc1.jar", "rc", w))
	}
	mavenAssertNoOrphans(t, e)
}

// mavenAssertNoOrphans checks that every stored object is referenced by a blob
// row and every blob row has its object.
func mavenAssertNoOrphans(t *testing.T, e *Env) {
	t.Helper()
	ctx := context.Background()
	var rows int
	if err := e.Store.DB().GetContext(ctx, &rows, `SELECT count(*) FROM blobs`); err != nil {
		t.Fatal(err)
	}
	objects := 0
	if err := e.Server.Blobs.List(ctx, "blobs/", func(blob.Info) error { objects++; return nil }); err != nil {
		t.Fatal(err)
	}
	if rows != objects {
		t.Fatalf("%d blob rows but %d objects", rows, objects)
	}
	var dangling int
	if err := e.Store.DB().GetContext(ctx, &dangling, `SELECT count(*) FROM package_files f LEFT JOIN blobs b ON b.sha256 = f.blob_sha256 WHERE b.sha256 IS NULL`); err != nil {
		t.Fatal(err)
	}
	if dangling != 0 {
		t.Fatalf("%d files without blob", dangling)
	}
}

// TestMavenHeadIsNoDownload: a HEAD on a Maven file (Gradle checks
// changing modules with them) does not set the package's
// last_downloaded_at, as GitLab's download_package_file! skips it on
// HEAD; a GET does.
func TestMavenHeadIsNoDownload(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	base := mvnProject(s.ProjectID)
	w := DeployHdr(s.WriteToken)
	r := Basic(s.ReadUser, s.ReadToken)
	mvnDeploy(t, e, base, "com/acme/headed/1.0.0/headed-1.0.0.jar", []byte("headed"), w)
	mvnDeploy(t, e, base, "com/acme/fetched/1.0.0/fetched-1.0.0.jar", []byte("fetched"), w)
	touched := func(name string) bool {
		var ok bool
		if err := e.Store.DB().Get(&ok, `SELECT last_downloaded_at IS NOT NULL FROM packages WHERE name = $1 AND version IS NOT NULL`, name); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	e.Must(200, e.Do("HEAD", base+"/com/acme/headed/1.0.0/headed-1.0.0.jar", nil, r))
	e.Must(200, e.Do("GET", base+"/com/acme/fetched/1.0.0/fetched-1.0.0.jar", nil, r))
	// The GET's touch is recorded in the background; once it is, give
	// a HEAD's the same time again before looking.
	eventually(t, 10*time.Second, "the GET recorded as a download", func() bool { return touched("com/acme/fetched") })
	time.Sleep(300 * time.Millisecond)
	if touched("com/acme/headed") {
		t.Fatal("a HEAD set last_downloaded_at")
	}
}
