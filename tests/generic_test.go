package tests

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
)

func TestGenericNamesAndPaths(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	base := fmt.Sprintf("/api/v4/projects/%d/packages/generic/", s.ProjectID)
	cases := []struct {
		path   string
		status int
		key    string
	}{
		{"my-package%2f%2e%2e%2f/1.0.0/f.txt", 400, "error"},
		{"pkg/1.0.0/%2e%2e%2f.ssh%2fauthorized_keys", 400, "error"},
		{"pkg/..1.2.3/f.txt", 400, "error"},
		{"pkg/1.2.3-4%2f..%2f..%2f/f.txt", 400, "error"},
		{"pkg/%2e%2e%2f1.2.3/f.txt", 400, "error"},
		{"pkg/1.0/~myfile.tar.gz", 400, "error"},
		{"pkg/1.0/myfile.tar.gz~", 400, "error"},
		{"pkg/1.0/@myfile1.1.tar.gz", 400, "error"},
		{"pkg/1.0/myfile1.1.tar.gz@", 400, "error"},
		{"pkg/1.0/my%20file.txt", 400, "error"},
		{"pkg/1.0/my$file.txt", 400, "error"},
		{"pkg/1.0/..", 400, "error"},
		{"pkg/1.0/a/../f.txt", 400, "error"},
		{"..", 404, "error"},
		{"pkg/1.0", 404, "error"},
		{"pkg/1.0/my+file.tar.gz", 201, "message"},
		{"pkg/1.0/my~file.tar.gz", 201, "message"},
		{"pkg/1.0/myfile@1.1.tar.gz", 201, "message"},
		{"pkg/v1.2.4-build/f.txt", 201, "message"},
		{"pkg/1.2.bananas/f.txt", 201, "message"},
		{"pkg/1.3.350-20201230123456/f.txt", 201, "message"},
		{"pkg/0123456789abcdef0123456789abcdef01234567/f.txt", 201, "message"},
		{"pkg/1.0/dir/sub/f.txt", 201, "message"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := e.Do("PUT", base+c.path, "x", DeployHdr(s.WriteToken))
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			ErrBody(t, r, c.key, "")
		})
	}
	// Directory files need their directory to be found.
	e.Must(200, e.Do("GET", base+"pkg/1.0/dir/sub/f.txt", nil, DeployHdr(s.ReadToken)))
	e.Must(404, e.Do("GET", base+"pkg/1.0/f.txt", nil, DeployHdr(s.ReadToken)))
	// The path parameter is the same directory.
	e.Must(201, e.Do("PUT", base+"pkg/2.0/g.txt?path=x/y", "x", DeployHdr(s.WriteToken)))
	e.Must(200, e.Do("GET", base+"pkg/2.0/x/y/g.txt", nil, DeployHdr(s.ReadToken)))
	// GitLab reads ?path on downloads too: it names the directory, so the
	// root file of the same name is not what is served.
	e.Must(201, e.Do("PUT", base+"pkg/2.0/g.txt", "root", DeployHdr(s.WriteToken)))
	if r := e.Must(200, e.Do("GET", base+"pkg/2.0/g.txt?path=x/y", nil, DeployHdr(s.ReadToken))); string(r.Body) != "x" {
		t.Errorf("GET ?path=x/y served %q, want the file under x/y", r.Body)
	}
	e.Must(404, e.Do("GET", base+"pkg/2.0/g.txt?path=x", nil, DeployHdr(s.ReadToken)))
	e.Must(200, e.Do("HEAD", base+"pkg/2.0/g.txt?path=x/y", nil, DeployHdr(s.ReadToken)))
	// An absolute path fails GitLab's file_path validation.
	r := e.Do("PUT", base+"pkg/2.0/g.txt?path=/x/y", "x", DeployHdr(s.WriteToken))
	e.Must(400, r)
	ErrBody(t, r, "error", "path should be a valid file path")
	// Unknown status/select values.
	r = e.Do("PUT", base+"pkg/1.0/f.txt?status=processing", "x", DeployHdr(s.WriteToken))
	e.Must(400, r)
	ErrBody(t, r, "error", "status does not have a valid value")
	r = e.Do("PUT", base+"pkg/1.0/f.txt?select=everything", "x", DeployHdr(s.WriteToken))
	e.Must(400, r)
	ErrBody(t, r, "error", "select does not have a valid value")
}

// TestGenericCheckOrder: GitLab's order of checks (spec 6.3) decides
// which of several faults a request hears of. A path of fewer than three
// segments matches no route; a download's parameters are checked before
// the project is looked up; an upload asks for a credential first, then
// checks its parameters, then the project and the role.
func TestGenericCheckOrder(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	_, alice := e.User("alice") // sees nothing of the private project
	repID, reporter := e.User("rep")
	e.Member("projects", s.ProjectID, repID, 20)
	base := fmt.Sprintf("/api/v4/projects/%d/packages/generic/", s.ProjectID)
	const bad = "pkg/1.0/my%20file.txt"
	for _, c := range []struct {
		method, path string
		h            H
		status       int
		key, msg     string // the error body's
	}{
		{"GET", "pkg/1.0", nil, 404, "error", "404 Not Found"},
		{"PUT", "pkg/1.0", nil, 404, "error", "404 Not Found"},
		{"GET", "pkg/1.0", PAT(alice), 404, "error", "404 Not Found"},
		{"HEAD", "pkg", nil, 404, "", ""},
		{"GET", bad, nil, 400, "error", "file_name is invalid"},
		{"GET", bad, PAT(alice), 400, "error", "file_name is invalid"},
		{"PUT", bad, nil, 401, "message", "401 Unauthorized"},
		{"PUT", bad, Bearer("glpat-nothing"), 401, "message", "401 Unauthorized"},
		{"PUT", bad, PAT(alice), 400, "error", "file_name is invalid"},
		{"PUT", bad, PAT(reporter), 400, "error", "file_name is invalid"},
		{"PUT", bad, DeployHdr(s.ReadToken), 400, "error", "file_name is invalid"},
		{"PUT", "pkg/1.0/f.txt?status=processing", PAT(alice), 400, "error", "status does not have a valid value"},
		{"PUT", "pkg/1.0/f.txt?select=all", PAT(reporter), 400, "error", "select does not have a valid value"},
		{"PUT", "pkg/1.0/f.txt?status=processing", nil, 401, "message", "401 Unauthorized"},
		{"PUT", "pkg/1.0/f.txt", PAT(alice), 404, "message", "404 Not Found"},
		{"PUT", "pkg/1.0/f.txt", PAT(reporter), 403, "message", "403 Forbidden"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			var body any
			if c.method == "PUT" {
				body = "x"
			}
			r := e.Do(c.method, base+c.path, body, c.h)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.key != "" {
				ErrBody(t, r, c.key, c.msg)
			}
			if got := r.Header.Get("WWW-Authenticate"); (c.status == 401) != (got == challenge) {
				t.Errorf("challenge %q", got)
			}
		})
	}
}

func TestGenericDownloadHeadersRangesAndDuplicates(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.2.3/tool.bin", s.ProjectID)
	first := []byte("first version of the file")
	second := []byte("0123456789abcdefghijklmnopqrstuvwxyz")

	r := e.Must(200, e.Do("PUT", url+"?select=package_file", first, DeployHdr(s.WriteToken)))
	rec := r.Map(t)
	sum := sha256.Sum256(first)
	if rec["file_sha256"] != hex.EncodeToString(sum[:]) || rec["file_name"] != "tool.bin" || rec["size"] != float64(len(first)) {
		t.Fatalf("package_file record: %v", rec)
	}
	for _, k := range []string{"id", "package_id", "created_at", "updated_at"} {
		if rec[k] == nil {
			t.Errorf("record lacks %s", k)
		}
	}
	// A file of up to one part gets every digest with its upload (larger
	// ones from the backfill: TestGenericDigestBackfill).
	md5sum, sha1sum := md5.Sum(first), sha1.Sum(first)
	if rec["file_md5"] != hex.EncodeToString(md5sum[:]) || rec["file_sha1"] != hex.EncodeToString(sha1sum[:]) {
		t.Errorf("file_md5 %v, file_sha1 %v: want the digests of the bytes", rec["file_md5"], rec["file_sha1"])
	}
	// Duplicate file name: allowed, newest served.
	e.Must(201, e.Do("PUT", url, second, Basic(s.WriteUser, s.WriteToken)))
	got := e.Must(200, e.Do("GET", url, nil, DeployHdr(s.ReadToken)))
	if !bytes.Equal(got.Body, second) {
		t.Fatalf("newest not served: %q", got.Body)
	}
	sum2 := sha256.Sum256(second)
	h := got.Header
	want := map[string]string{
		"Content-Type":              "application/octet-stream",
		"Content-Disposition":       `attachment; filename="tool.bin"; filename*=UTF-8''tool.bin`,
		"Content-Transfer-Encoding": "binary",
		"X-Checksum-Sha256":         hex.EncodeToString(sum2[:]),
		"Accept-Ranges":             "bytes",
		"Content-Length":            fmt.Sprint(len(second)),
		// No shared cache may keep a file fetched with a token (the
		// Deploy-Token header is not Authorization, which caches skip).
		"Cache-Control": "max-age=0, private, must-revalidate",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if h.Get("Last-Modified") == "" {
		t.Error("no Last-Modified")
	}
	// Range → 206 with Content-Range; unsatisfiable → 416.
	rr := e.Do("GET", url, nil, H{"Deploy-Token": s.ReadToken, "Range": "bytes=10-19"})
	e.Must(206, rr)
	if string(rr.Body) != "abcdefghij" || rr.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(second)) {
		t.Errorf("range: %q %q", rr.Body, rr.Header.Get("Content-Range"))
	}
	rr = e.Do("GET", url, nil, H{"Deploy-Token": s.ReadToken, "Range": "bytes=30-"})
	if rr.Status != 206 || string(rr.Body) != "uvwxyz" {
		t.Errorf("open range: %d %q", rr.Status, rr.Body)
	}
	e.Must(416, e.Do("GET", url, nil, H{"Deploy-Token": s.ReadToken, "Range": "bytes=1000-2000"}))
	// Conditional GET.
	e.Must(304, e.Do("GET", url, nil, H{"Deploy-Token": s.ReadToken, "If-Modified-Since": h.Get("Last-Modified")}))
	// HEAD: same headers, no body.
	hd := e.Must(200, e.Do("HEAD", url, nil, DeployHdr(s.ReadToken)))
	if len(hd.Body) != 0 || hd.Header.Get("Content-Length") != fmt.Sprint(len(second)) {
		t.Errorf("HEAD: body %d bytes, length %q", len(hd.Body), hd.Header.Get("Content-Length"))
	}
	// Missing file and missing package: 404 JSON.
	nf := e.Do("GET", strings.Replace(url, "tool.bin", "nope.bin", 1), nil, DeployHdr(s.ReadToken))
	e.Must(404, nf)
	ErrBody(t, nf, "message", "404 Not found")
	e.Must(404, e.Do("GET", strings.Replace(url, "1.2.3", "9.9.9", 1), nil, DeployHdr(s.ReadToken)))
	// Zero-length file.
	zero := strings.Replace(url, "tool.bin", "empty.bin", 1)
	e.Must(201, e.Do("PUT", zero, []byte{}, DeployHdr(s.WriteToken)))
	z := e.Must(200, e.Do("GET", zero, nil, DeployHdr(s.ReadToken)))
	if len(z.Body) != 0 || z.Header.Get("Content-Length") != "0" {
		t.Errorf("empty file: %d bytes", len(z.Body))
	}
	// Two identical uploads share one blob row.
	var blobs int
	if err := e.Store.DB().Get(&blobs, "SELECT count(*) FROM blobs"); err != nil {
		t.Fatal(err)
	}
	e.Must(201, e.Do("PUT", strings.Replace(url, "tool.bin", "copy.bin", 1), second, DeployHdr(s.WriteToken)))
	var after int
	e.Store.DB().Get(&after, "SELECT count(*) FROM blobs")
	if after != blobs {
		t.Errorf("identical content made a new blob row: %d -> %d", blobs, after)
	}
	assertNoOrphanObjects(t, e)
}

func TestGenericStatusHidden(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/secret/1.0/a.txt?status=hidden", s.ProjectID)
	e.Must(201, e.Do("PUT", url, "hidden", DeployHdr(s.WriteToken)))
	// Downloadable, not listed.
	e.Must(200, e.Do("GET", strings.Split(url, "?")[0], nil, DeployHdr(s.ReadToken)))
	var list []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages", s.ProjectID), nil, PAT(e.Admin))).JSON(t, &list)
	if len(list) != 0 {
		t.Errorf("hidden package listed: %v", list)
	}
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages?status=hidden", s.ProjectID), nil, PAT(e.Admin))).JSON(t, &list)
	if len(list) != 1 {
		t.Errorf("status=hidden lists %d", len(list))
	}
	// A later upload with status=default updates the package.
	e.Must(201, e.Do("PUT", strings.Replace(url, "hidden", "default", 1), "x", DeployHdr(s.WriteToken)))
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages", s.ProjectID), nil, PAT(e.Admin))).JSON(t, &list)
	if len(list) != 1 || list[0]["status"] != "default" {
		t.Errorf("status update: %v", list)
	}
}

func TestGenericSizeLimit(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.MaxGenericSize = 1024 })
	s := e.NewScenario()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/big/1.0/big.bin", s.ProjectID)
	// Declared too large: refused before the body is read.
	r := e.Do("PUT", url, bytes.Repeat([]byte("x"), 2048), DeployHdr(s.WriteToken))
	e.Must(413, r)
	ErrBody(t, r, "message", "")
	// Chunked (no Content-Length): refused while streaming.
	r = e.Do("PUT", url, io.MultiReader(strings.NewReader(strings.Repeat("y", 4096))), DeployHdr(s.WriteToken))
	e.Must(413, r)
	e.Must(201, e.Do("PUT", url, bytes.Repeat([]byte("x"), 1024), DeployHdr(s.WriteToken)))
	var files int
	e.Store.DB().Get(&files, "SELECT count(*) FROM package_files")
	if files != 1 {
		t.Errorf("refused uploads left file rows: %d", files)
	}
	assertNoOrphanObjects(t, e)
}

// TestGenericConcurrentFirstUpload: many first uploads of one version
// converge on one package row and all succeed.
func TestGenericConcurrentFirstUpload(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	const n = 30
	statuses := race(t, n, func(i int) *http.Request {
		url := fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/race/1.0/f%d.bin", e.URL, s.ProjectID, i)
		return req("PUT", url, []byte(fmt.Sprintf("content %d", i%3)), DeployHdr(s.WriteToken))
	})
	for i, st := range statuses {
		if st != 201 {
			t.Errorf("upload %d: status %d", i, st)
		}
	}
	var pkgs, files, blobs int
	e.Store.DB().Get(&pkgs, "SELECT count(*) FROM packages")
	e.Store.DB().Get(&files, "SELECT count(*) FROM package_files")
	e.Store.DB().Get(&blobs, "SELECT count(*) FROM blobs")
	if pkgs != 1 || files != n || blobs != 3 {
		t.Errorf("packages=%d files=%d blobs=%d, want 1, %d, 3", pkgs, files, blobs, n)
	}
	assertNoOrphanObjects(t, e)
}

// TestDigestsFilledForSharedBlob: bytes whose blob row lacks sha1 and md5
// (a generic upload past one part, before the backfill reaches it; or a
// version that computed neither for generic files) get them when a format
// that needs them stores the same bytes, and are served with them.
func TestDigestsFilledForSharedBlob(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	data := []byte("the same bytes in two formats")
	e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/g/1.0/x.jar", s.ProjectID), data, DeployHdr(s.WriteToken)))
	if _, err := e.Store.DB().Exec("UPDATE blobs SET sha1 = '', md5 = ''"); err != nil {
		t.Fatal(err)
	}
	base := mvnProject(s.ProjectID) + "/com/acme/shared/1.0/shared-1.0.jar"
	e.Must(200, e.Do("PUT", base, data, DeployHdr(s.WriteToken)))
	sums := mavenSums(data)
	for _, alg := range []string{"sha1", "md5"} {
		got := e.Must(200, e.Do("GET", base+"."+alg, nil, DeployHdr(s.ReadToken)))
		if string(got.Body) != sums[alg] {
			t.Errorf("%s: %q, want %q", alg, got.Body, sums[alg])
		}
	}
	var blobs int
	e.Store.DB().Get(&blobs, "SELECT count(*) FROM blobs")
	if blobs != 1 {
		t.Errorf("%d blob rows for one content", blobs)
	}
}

// dupMessage is GitLab's answer to a refused duplicate, byte for byte.
const dupMessage = `{"message":"400 Bad request - Duplicate package is not allowed"}`

// TestGenericDuplicatesRefused: with GATEWAY_GENERIC_DUPLICATES_ALLOWED=false
// a second upload of a file name to a package version is refused (before
// its body is read), other names, directories and versions are not, the
// exception regex (anchored) lets matching names or versions through, and
// a package pending destruction does not count.
func TestGenericDuplicatesRefused(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) {
		c.GenericDuplicatesAllowed, c.GenericDuplicateExceptionRegex = false, `nightly|.*-dev`
	})
	s := e.NewScenario()
	base := fmt.Sprintf("/api/v4/projects/%d/packages/generic/", s.ProjectID)
	w := DeployHdr(s.WriteToken)
	refused := func(path, body string) {
		t.Helper()
		r := e.Do("PUT", base+path, body, w)
		if r.Status != 400 || string(r.Body) != dupMessage {
			t.Errorf("PUT %s: %d %s, want 400 %s", path, r.Status, r.Body, dupMessage)
		}
	}

	e.Must(201, e.Do("PUT", base+"tool/1.0/tool.bin", "first", w))
	refused("tool/1.0/tool.bin", "second")
	refused("tool/1.0/tool.bin?select=package_file", "third")

	// Refused from the headers alone: with Expect: 100-continue the body
	// is never sent (a long ExpectContinueTimeout so a slow run cannot
	// make the client send it anyway).
	var read atomic.Bool
	body := readFlag{r: strings.NewReader(strings.Repeat("x", 1<<20)), read: &read}
	rq, _ := http.NewRequest("PUT", e.URL+base+"tool/1.0/tool.bin", body)
	rq.ContentLength = 1 << 20
	rq.Header.Set("Deploy-Token", s.WriteToken)
	rq.Header.Set("Expect", "100-continue")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ExpectContinueTimeout = time.Minute
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || string(got) != dupMessage || read.Load() {
		t.Errorf("Expect: 100-continue duplicate: %d %s, body read %v", res.StatusCode, got, read.Load())
	}

	// Another file name, the same name in a directory, another version.
	e.Must(201, e.Do("PUT", base+"tool/1.0/other.bin", "x", w))
	e.Must(201, e.Do("PUT", base+"tool/1.0/a/tool.bin", "x", w))
	refused("tool/1.0/tool.bin?path=a", "y")
	e.Must(201, e.Do("PUT", base+"tool/2.0/tool.bin", "x", w))
	// Hidden packages hold their files too.
	e.Must(201, e.Do("PUT", base+"secret/1.0/s.bin?status=hidden", "x", w))
	refused("secret/1.0/s.bin", "y")

	// The exception regex matches a whole name or version.
	for range 2 {
		e.Must(201, e.Do("PUT", base+"nightly/1.0/n.bin", "n", w))
		e.Must(201, e.Do("PUT", base+"tool/3.0-dev/tool.bin", "d", w))
	}
	e.Must(201, e.Do("PUT", base+"nightly-build/1.0/n.bin", "n", w))
	refused("nightly-build/1.0/n.bin", "n")

	// The first upload is still the one served.
	if r := e.Must(200, e.Do("GET", base+"tool/1.0/tool.bin", nil, DeployHdr(s.ReadToken))); string(r.Body) != "first" {
		t.Errorf("served %q after refused duplicates", r.Body)
	}
	var rows int
	e.Store.DB().Get(&rows, `SELECT count(*) FROM package_files f JOIN packages p ON p.id = f.package_id
		WHERE p.name = 'tool' AND p.version = '1.0' AND f.file_name = 'tool.bin'`)
	if rows != 1 {
		t.Errorf("%d tool.bin rows after refused duplicates", rows)
	}

	// A package pending destruction is ignored: the upload makes a new one.
	if _, err := e.Store.DB().Exec(`UPDATE packages SET status = 'pending_destruction' WHERE name = 'tool' AND version = '1.0'`); err != nil {
		t.Fatal(err)
	}
	e.Must(201, e.Do("PUT", base+"tool/1.0/tool.bin", "after", w))
	var pkgs int
	e.Store.DB().Get(&pkgs, `SELECT count(*) FROM packages WHERE name = 'tool' AND version = '1.0'`)
	if pkgs != 2 {
		t.Errorf("%d tool 1.0 packages, want the one pending destruction and a new one", pkgs)
	}
	refused("tool/1.0/tool.bin", "again")
	assertNoOrphanObjects(t, e)
}

// TestGenericDuplicatesAllowedByDefault: by default each upload of a file
// name appends a row and the newest is served; an exception regex has no
// effect while duplicates are allowed (as in GitLab).
func TestGenericDuplicatesAllowedByDefault(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.GenericDuplicateExceptionRegex = "tool" })
	if !e.Cfg.GenericDuplicatesAllowed {
		t.Fatal("GATEWAY_GENERIC_DUPLICATES_ALLOWED defaults to false")
	}
	s := e.NewScenario()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.0/tool.bin", s.ProjectID)
	for _, body := range []string{"one", "two", "three"} {
		e.Must(201, e.Do("PUT", url, body, DeployHdr(s.WriteToken)))
	}
	var rows int
	e.Store.DB().Get(&rows, `SELECT count(*) FROM package_files WHERE file_name = 'tool.bin'`)
	if rows != 3 {
		t.Errorf("%d file rows, want 3", rows)
	}
	if r := e.Must(200, e.Do("GET", url, nil, DeployHdr(s.ReadToken))); string(r.Body) != "three" {
		t.Errorf("served %q, want the newest", r.Body)
	}
}

// readFlag is a request body that records whether it was read.
type readFlag struct {
	r    io.Reader
	read *atomic.Bool
}

func (b readFlag) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

// TestGenericMultiRangeDownloads: a request for several ranges gets a
// multipart/byteranges answer with each range's bytes, both for a file
// served from the small-blob cache and for one streamed from the store
// (whose ranges http.ServeContent reads in a goroutine of its own).
func TestGenericMultiRangeDownloads(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	for _, size := range []int{36, 2<<20 + 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i*7 + i/251)
			}
			url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/ranges/%d/f.bin", s.ProjectID, size)
			e.Must(201, e.Do("PUT", url, data, DeployHdr(s.WriteToken)))
			r := e.Do("GET", url, nil, H{"Deploy-Token": s.ReadToken, "Range": "bytes=0-4,10-14,-3"})
			e.Must(206, r)
			mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "multipart/byteranges" {
				t.Fatalf("Content-Type %q", r.Header.Get("Content-Type"))
			}
			want := []struct {
				rng  string
				body []byte
			}{
				{fmt.Sprintf("bytes 0-4/%d", size), data[0:5]},
				{fmt.Sprintf("bytes 10-14/%d", size), data[10:15]},
				{fmt.Sprintf("bytes %d-%d/%d", size-3, size-1, size), data[size-3:]},
			}
			mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
			for i, w := range want {
				p, err := mr.NextPart()
				if err != nil {
					t.Fatalf("part %d: %v", i, err)
				}
				b, _ := io.ReadAll(p)
				if p.Header.Get("Content-Range") != w.rng || !bytes.Equal(b, w.body) {
					t.Errorf("part %d: %q %x, want %q %x", i, p.Header.Get("Content-Range"), b, w.rng, w.body)
				}
			}
			if _, err := mr.NextPart(); err != io.EOF {
				t.Errorf("after the last range: %v", err)
			}
		})
	}
}
