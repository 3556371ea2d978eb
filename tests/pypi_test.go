package tests

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/pkgate/pkgate/gateway"
)

// pypiField is one form field of a hand-built twine upload.
type pypiField struct{ K, V string }

// pypiUpload is a hand-built twine request: fields before the file (as
// twine sends them), the file part, fields after it.
type pypiUpload struct {
	Before   []pypiField
	FileName string // "" : no content part
	Content  []byte
	After    []pypiField
	// NoFileName sends the content part without a filename parameter.
	NoFileName bool
}

func pypiSHA256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
func pypiMD5(b []byte) string    { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// pypiTwineFields are the fields twine 4.0.2 sends for a file, digests included.
func pypiTwineFields(name, version, fileName string, content []byte) []pypiField {
	filetype, pyversion := "sdist", "source"
	if strings.HasSuffix(fileName, ".whl") {
		filetype, pyversion = "bdist_wheel", "py3"
	}
	return []pypiField{
		{":action", "file_upload"}, {"protocol_version", "1"}, {"name", name}, {"version", version},
		{"filetype", filetype}, {"pyversion", pyversion}, {"metadata_version", "2.1"}, {"summary", "tiny"},
		{"description", "# readme"}, {"description_content_type", "text/markdown"}, {"requires_python", ">=3.7"},
		{"author", ""}, {"classifiers", "A :: B"}, {"classifiers", "C :: D"},
		{"md5_digest", pypiMD5(content)}, {"sha256_digest", pypiSHA256(content)}, {"blake2_256_digest", strings.Repeat("0", 64)},
	}
}

func (u pypiUpload) body() ([]byte, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range u.Before {
		w.WriteField(f.K, f.V)
	}
	if u.FileName != "" || u.NoFileName {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="content"`
		if !u.NoFileName {
			cd += fmt.Sprintf(`; filename="%s"`, u.FileName)
		}
		h.Set("Content-Disposition", cd)
		h.Set("Content-Type", "application/octet-stream")
		p, _ := w.CreatePart(h)
		p.Write(u.Content)
	}
	for _, f := range u.After {
		w.WriteField(f.K, f.V)
	}
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// pypiPost sends an upload to a project with Basic credentials, as twine does.
func pypiPost(e *Env, project int64, token string, u pypiUpload) *Resp {
	e.t.Helper()
	body, ct := u.body()
	h := Basic("__token__", token)
	h["Content-Type"] = ct
	return e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/packages/pypi", project), body, h)
}

// pypiGood is a valid twine-shaped upload of one file.
func pypiGood(name, version, fileName string, content []byte) pypiUpload {
	return pypiUpload{Before: pypiTwineFields(name, version, fileName, content), FileName: fileName, Content: content}
}

func pypiWithout(fs []pypiField, key string) []pypiField {
	var out []pypiField
	for _, f := range fs {
		if f.K != key {
			out = append(out, f)
		}
	}
	return out
}

func pypiWith(fs []pypiField, key, value string) []pypiField {
	return append(pypiWithout(fs, key), pypiField{key, value})
}

func pypiCount(t *testing.T, e *Env, q string) int {
	t.Helper()
	var n int
	if err := e.Store.DB().Get(&n, q); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPyPIUploadBadInput: every malformed upload gets a clear 4xx and
// leaves no row and no object behind.
func TestPyPIUploadBadInput(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	content := []byte("not really a wheel, the gateway does not look inside")
	const whl = "acme_hello-0.1.0-py3-none-any.whl"
	good := pypiTwineFields("acme-hello", "0.1.0", whl, content)

	for _, tc := range []struct {
		name   string
		up     pypiUpload
		status int
		key    string
		msg    string
	}{
		{"no content part", pypiUpload{Before: good}, 400, "error", "content is missing"},
		{"content without file name", pypiUpload{Before: good, NoFileName: true, Content: content}, 400, "error", "content is invalid"},
		{"name missing", pypiUpload{Before: pypiWithout(good, "name"), FileName: whl, Content: content}, 400, "error", "name is missing"},
		{"version missing", pypiUpload{Before: pypiWithout(good, "version"), FileName: whl, Content: content}, 400, "error", "version is missing"},
		{"bad name", pypiGood("acme/hello", "0.1.0", whl, content), 400, "message", "400 Bad request - Validation failed: Name is invalid"},
		{"name with a space", pypiGood("acme hello", "0.1.0", whl, content), 400, "message", "400 Bad request - Validation failed: Name is invalid"},
		{"bad version", pypiGood("acme-hello", "0.1.0-final-x", whl, content), 400, "message", "400 Bad request - Validation failed: Version is invalid"},
		{"overlong version", pypiGood("acme-hello", strings.Repeat("1", 300), whl, content), 400, "message", "400 Bad request - Validation failed: Version is invalid"},
		{"sha256 mismatch", pypiUpload{Before: pypiWith(good, "sha256_digest", pypiSHA256([]byte("other"))), FileName: whl, Content: content}, 400, "message", "400 Bad request - sha256 mismatch"},
		{"md5 mismatch", pypiUpload{Before: pypiWith(good, "md5_digest", pypiMD5([]byte("other"))), FileName: whl, Content: content}, 400, "message", "400 Bad request - md5 mismatch"},
		{"sha256 not hex", pypiUpload{Before: pypiWith(good, "sha256_digest", "xyz"), FileName: whl, Content: content}, 400, "error", "sha256_digest is invalid"},
		{"md5 not hex", pypiUpload{Before: pypiWith(good, "md5_digest", "xyz"), FileName: whl, Content: content}, 400, "error", "md5_digest is invalid"},
		{"file name of another version", pypiUpload{Before: good, FileName: "acme_hello-0.2.0-py3-none-any.whl", Content: content}, 400, "message",
			"400 Bad request - file name acme_hello-0.2.0-py3-none-any.whl does not match name acme-hello and version 0.1.0"},
		{"file name of another project", pypiUpload{Before: good, FileName: "other-0.1.0.tar.gz", Content: content}, 400, "message", ""},
		{"not a distribution", pypiUpload{Before: good, FileName: "acme_hello-0.1.0.exe", Content: content}, 400, "message", ""},
		{"path in file name", pypiUpload{Before: good, FileName: "../acme_hello-0.1.0.tar.gz", Content: content}, 400, "message", ""},
		{"other action", pypiUpload{Before: pypiWith(good, ":action", "remove_pkg"), FileName: whl, Content: content}, 400, "error", ":action does not have a valid value"},
		{"requires_python too long", pypiUpload{Before: pypiWith(good, "requires_python", ">="+strings.Repeat("3", 300)), FileName: whl, Content: content}, 400, "message", ""},
		{"empty file", pypiGood("acme-hello", "0.1.0", whl, nil), 400, "message", "400 Bad request - content is empty"},
		// Fields after the file: validated once the body is complete.
		{"name after the file, not matching", pypiUpload{Before: pypiWithout(good, "name"), FileName: whl, Content: content, After: []pypiField{{"name", "other"}}}, 400, "message", ""},
		{"sha256 after the file, wrong", pypiUpload{Before: pypiWithout(good, "sha256_digest"), FileName: whl, Content: content, After: []pypiField{{"sha256_digest", pypiSHA256(nil)}}}, 400, "message", "400 Bad request - sha256 mismatch"},
		{"version after the file, invalid", pypiUpload{Before: pypiWithout(good, "version"), FileName: whl, Content: content, After: []pypiField{{"version", "x.y"}}}, 400, "message", "400 Bad request - Validation failed: Version is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pypiPost(e, s.ProjectID, s.WriteToken, tc.up)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			ErrBody(t, r, tc.key, tc.msg)
		})
	}

	t.Run("two content parts", func(t *testing.T) {
		up := pypiGood("acme-hello", "0.1.0", whl, content)
		body, ct := up.body()
		// Splice a second file part before the closing boundary.
		boundary := ct[strings.Index(ct, "boundary=")+len("boundary="):]
		extra := fmt.Sprintf("\r\n--%s\r\nContent-Disposition: form-data; name=\"content\"; filename=\"%s\"\r\n\r\nmore", boundary, whl)
		end := bytes.LastIndex(body, []byte("\r\n--"+boundary+"--"))
		body = append(append(append([]byte{}, body[:end]...), extra...), body[end:]...)
		h := Basic("__token__", s.WriteToken)
		h["Content-Type"] = ct
		r := e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/packages/pypi", s.ProjectID), body, h)
		e.Must(400, r)
		ErrBody(t, r, "error", "content is given more than once")
	})
	t.Run("form fields over 8 MiB", func(t *testing.T) {
		up := pypiGood("acme-hello", "0.1.0", whl, content)
		up.Before = pypiWith(up.Before, "description", strings.Repeat("d", 8<<20+100<<10))
		r := pypiPost(e, s.ProjectID, s.WriteToken, up)
		e.Must(413, r)
		ErrBody(t, r, "message", "413 Request Entity Too Large - form fields are too large")
	})
	t.Run("not multipart", func(t *testing.T) {
		r := e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/packages/pypi", s.ProjectID), `{"name":"x"}`,
			H{"Authorization": Basic("__token__", s.WriteToken)["Authorization"], "Content-Type": "application/json"})
		e.Must(400, r)
		ErrBody(t, r, "message", "400 Bad request - the body must be multipart/form-data")
	})
	t.Run("truncated body", func(t *testing.T) {
		body, ct := pypiGood("acme-hello", "0.1.0", whl, bytes.Repeat([]byte("z"), 4096)).body()
		h := Basic("__token__", s.WriteToken)
		h["Content-Type"] = ct
		r := e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/packages/pypi", s.ProjectID), body[:len(body)-1000], h)
		e.Must(400, r)
	})

	if n := pypiCount(t, e, "SELECT count(*) FROM package_files"); n != 0 {
		t.Fatalf("refused uploads left %d file rows", n)
	}
	if n := pypiCount(t, e, "SELECT count(*) FROM packages"); n != 0 {
		t.Fatalf("refused uploads left %d package rows", n)
	}
	assertNoOrphanObjects(t, e)

	// Everything after the file, and metadata GitLab truncates rather than
	// refuses: accepted, stored truncated, NUL dropped.
	t.Run("all fields after the file", func(t *testing.T) {
		up := pypiUpload{FileName: whl, Content: content, After: append(pypiWith(good, "description", strings.Repeat("é", 5000)), pypiField{"summary", "a\x00b"})}
		e.Must(201, pypiPost(e, s.ProjectID, s.WriteToken, up))
		var md []byte
		pypiMust(t, e.Store.DB().Get(&md, "SELECT metadata FROM packages WHERE package_type = 'pypi'"))
		var m map[string]string
		pypiMust(t, json.Unmarshal(md, &m))
		if len([]rune(m["description"])) != 4000 || m["summary"] != "tiny" || m["requires_python"] != ">=3.7" || m["metadata_version"] != "2.1" {
			t.Fatalf("stored metadata: summary=%q requires_python=%q description %d chars", m["summary"], m["requires_python"], len([]rune(m["description"])))
		}
	})
	t.Run("NUL in metadata is dropped", func(t *testing.T) {
		sd := []byte("sdist bytes")
		up := pypiGood("acme-hello", "0.1.0", "acme_hello-0.1.0.tar.gz", sd)
		up.Before = pypiWith(up.Before, "summary", "a\x00b\xff")
		e.Must(201, pypiPost(e, s.ProjectID, s.WriteToken, up))
		var summary string
		pypiMust(t, e.Store.DB().Get(&summary, "SELECT metadata->>'summary' FROM packages WHERE package_type = 'pypi'"))
		if summary != "ab\uFFFD" {
			t.Fatalf("summary %q", summary)
		}
	})
	assertNoOrphanObjects(t, e)
}

// TestPyPISizeLimit: a content part over GATEWAY_MAX_PYPI_SIZE is 413,
// whether refused from Content-Length or while streaming.
func TestPyPISizeLimit(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.MaxPyPISize = 1024 })
	s := e.NewScenario()
	const sdist = "big-1.0.tar.gz"
	// Streaming: just over the limit (the body is small, Content-Length passes).
	r := pypiPost(e, s.ProjectID, s.WriteToken, pypiGood("big", "1.0", sdist, bytes.Repeat([]byte("x"), 1025)))
	e.Must(413, r)
	ErrBody(t, r, "message", "413 Request Entity Too Large - File is too large")
	// Chunked (no Content-Length): same.
	body, ct := pypiGood("big", "1.0", sdist, bytes.Repeat([]byte("x"), 5000)).body()
	h := Basic("__token__", s.WriteToken)
	h["Content-Type"] = ct
	r = e.Do("POST", fmt.Sprintf("/api/v4/projects/%d/packages/pypi", s.ProjectID), io.MultiReader(bytes.NewReader(body)), h)
	e.Must(413, r)
	// Declared far too large: refused before the body is read.
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi", e.URL, s.ProjectID), strings.NewReader(""))
	req.ContentLength = 64 << 20
	req.SetBasicAuth("__token__", s.WriteToken)
	req.Header.Set("Content-Type", ct)
	req.Body = io.NopCloser(io.LimitReader(pypiRepeat('x'), 64<<20))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("oversized declared body: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Fatalf("declared 64 MiB: status %d", res.StatusCode)
	}
	// Exactly the limit: accepted.
	e.Must(201, pypiPost(e, s.ProjectID, s.WriteToken, pypiGood("big", "1.0", sdist, bytes.Repeat([]byte("x"), 1024))))
	if n := pypiCount(t, e, "SELECT count(*) FROM package_files"); n != 1 {
		t.Fatalf("file rows %d, want 1", n)
	}
	assertNoOrphanObjects(t, e)
}

type pypiRepeat byte

func (b pypiRepeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestPyPIConcurrentDuplicateUpload: N parallel uploads of one file end
// with exactly one 201; the others get GitLab's clean 400 "has already
// been taken", and one file row, one blob, no orphan object remain.
// Parallel uploads of different files of one new release (spelled
// differently) all land in one package.
func TestPyPIConcurrentDuplicateUpload(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	const n = 16
	content := []byte("the one wheel")
	up := pypiGood("race", "1.0", "race-1.0-py3-none-any.whl", content)
	body, ct := up.body()
	statuses, bodies := raceBodies(t, n, func(int) *http.Request {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi", e.URL, s.ProjectID), bytes.NewReader(body))
		req.SetBasicAuth("__token__", s.WriteToken)
		req.Header.Set("Content-Type", ct)
		return req
	})
	created := 0
	for i, st := range statuses {
		switch {
		case st == 201:
			created++
		case st == 400 && strings.Contains(bodies[i], "has already been taken"):
		default:
			t.Errorf("upload %d: %d %s", i, st, bodies[i])
		}
	}
	if created != 1 {
		t.Fatalf("%d uploads created the file, want exactly 1", created)
	}
	if p, f, b := pypiCount(t, e, "SELECT count(*) FROM packages"), pypiCount(t, e, "SELECT count(*) FROM package_files"), pypiCount(t, e, "SELECT count(*) FROM blobs"); p != 1 || f != 1 || b != 1 {
		t.Fatalf("packages=%d files=%d blobs=%d, want 1 each", p, f, b)
	}

	// Different files of one new release, spelled three ways, in parallel.
	files := []struct{ name, file string }{
		{"Multi_Spell", "multi_spell-2.0-py3-none-any.whl"},
		{"multi-spell", "multi-spell-2.0.tar.gz"},
		{"multi.spell", "multi_spell-2.0-py2-none-any.whl"},
		{"MULTI-SPELL", "multi_spell-2.0.zip"},
	}
	statuses = race(t, len(files), func(i int) *http.Request {
		f := files[i]
		b, ct := pypiGood(f.name, "2.0", f.file, []byte("file "+f.file)).body()
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi", e.URL, s.ProjectID), bytes.NewReader(b))
		req.SetBasicAuth("__token__", s.WriteToken)
		req.Header.Set("Content-Type", ct)
		return req
	})
	for i, st := range statuses {
		if st != 201 {
			t.Errorf("%s: status %d", files[i].file, st)
		}
	}
	if p := pypiCount(t, e, "SELECT count(*) FROM packages WHERE lower(name) LIKE 'multi%'"); p != 1 {
		t.Fatalf("one release spelled four ways became %d packages", p)
	}
	assertNoOrphanObjects(t, e)
}

// TestPyPISimpleIndexAndAuth covers the read side over plain HTTP: HTML and
// PEP 691 JSON by Accept, name spellings and trailing slashes, root
// indexes, group pages linking group file URLs, downloads, and the status
// matrix of spec 4.1 (401 challenge for private, 404 for ids that do not
// exist, wrong password on public = anonymous, project token on group 404).
func TestPyPISimpleIndexAndAuth(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	groupRead, _, _ := e.DeployToken("groups", s.GroupID, "read_package_registry")
	rd := Basic("__token__", s.ReadToken)
	proj := fmt.Sprintf("/api/v4/projects/%d/packages/pypi", s.ProjectID)
	grp := fmt.Sprintf("/api/v4/groups/%d/-/packages/pypi", s.GroupID)

	whl := []byte("wheel bytes")
	sd := []byte("sdist bytes")
	e.Must(201, pypiPost(e, s.ProjectID, s.WriteToken, pypiGood("Acme_Hello", "0.1.0", "acme_hello-0.1.0-py3-none-any.whl", whl)))
	up := pypiGood("Acme_Hello", "0.1.0", "acme_hello-0.1.0.tar.gz", sd)
	up.Before = pypiWith(up.Before, "requires_python", `>=3.7,<4 & "x'`)
	e.Must(201, pypiPost(e, s.ProjectID, s.WriteToken, up))
	e.Must(201, pypiPost(e, s.ProjectID, s.WriteToken, pypiGood("zeta", "1.0", "zeta-1.0.tar.gz", []byte("zeta"))))

	const pipAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
	withAccept := func(h H, a string) H {
		out := H{"Accept": a}
		for k, v := range h {
			out[k] = v
		}
		return out
	}

	t.Run("project page HTML, every spelling", func(t *testing.T) {
		for _, name := range []string{"acme-hello/", "acme-hello", "Acme_Hello/", "acme.hello", "ACME__hello/"} {
			r := e.Must(200, e.Do("GET", proj+"/simple/"+name, nil, rd))
			if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Fatalf("%s: content type %q", name, ct)
			}
			if !slices.Contains(strings.Split(strings.ReplaceAll(r.Header.Get("Vary"), " ", ""), ","), "Accept") {
				t.Fatalf("no Vary: Accept (%q)", r.Header.Get("Vary"))
			}
			doc := string(r.Body)
			for _, want := range []string{
				"<title>Links for Acme_Hello</title>",
				fmt.Sprintf(`<a href="%s%s/files/%s/acme_hello-0.1.0-py3-none-any.whl#sha256=%s" data-requires-python="&gt;=3.7">acme_hello-0.1.0-py3-none-any.whl</a>`, e.URL, proj, pypiSHA256(whl), pypiSHA256(whl)),
				fmt.Sprintf(`<a href="%s%s/files/%s/acme_hello-0.1.0.tar.gz#sha256=%s" data-requires-python="&gt;=3.7,&lt;4 &amp; &#34;x&#39;">`, e.URL, proj, pypiSHA256(sd), pypiSHA256(sd)),
			} {
				if !strings.Contains(doc, want) {
					t.Fatalf("%s: page lacks %s:\n%s", name, want, doc)
				}
			}
		}
		r := e.Must(200, e.Do("HEAD", proj+"/simple/acme-hello/", nil, rd))
		if len(r.Body) != 0 || r.Header.Get("Content-Length") == "" {
			t.Fatalf("HEAD: %d body bytes, Content-Length %q", len(r.Body), r.Header.Get("Content-Length"))
		}
		r = e.Must(404, e.Do("GET", proj+"/simple/nothing-here/", nil, rd))
		ErrBody(t, r, "message", "404 Package Not Found")
	})

	t.Run("project page JSON for pip's Accept only", func(t *testing.T) {
		r := e.Must(200, e.Do("GET", proj+"/simple/acme-hello/", nil, withAccept(rd, pipAccept)))
		if ct := r.Header.Get("Content-Type"); ct != "application/vnd.pypi.simple.v1+json" {
			t.Fatalf("content type %q", ct)
		}
		var doc struct {
			Meta  map[string]string `json:"meta"`
			Name  string            `json:"name"`
			Files []struct {
				Filename       string            `json:"filename"`
				URL            string            `json:"url"`
				Hashes         map[string]string `json:"hashes"`
				RequiresPython *string           `json:"requires-python"`
			} `json:"files"`
		}
		r.JSON(t, &doc)
		if doc.Meta["api-version"] != "1.0" || doc.Name != "acme-hello" || len(doc.Files) != 2 {
			t.Fatalf("JSON page: %s", r.Body)
		}
		f := doc.Files[0]
		if f.Filename != "acme_hello-0.1.0-py3-none-any.whl" || f.Hashes["sha256"] != pypiSHA256(whl) || f.RequiresPython == nil || *f.RequiresPython != ">=3.7" ||
			f.URL != fmt.Sprintf("%s%s/files/%s/%s#sha256=%s", e.URL, proj, pypiSHA256(whl), f.Filename, pypiSHA256(whl)) {
			t.Fatalf("JSON file entry: %+v", f)
		}
		for _, a := range []string{"text/html", "*/*", "application/json"} {
			r := e.Must(200, e.Do("GET", proj+"/simple/acme-hello/", nil, withAccept(rd, a)))
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("Accept %q got %q", a, r.Header.Get("Content-Type"))
			}
		}
	})

	t.Run("root index", func(t *testing.T) {
		for _, p := range []string{proj + "/simple", proj + "/simple/"} {
			r := e.Must(200, e.Do("GET", p, nil, rd))
			doc := string(r.Body)
			if !strings.Contains(doc, "<title>Links for app</title>") ||
				!strings.Contains(doc, fmt.Sprintf(`<a href="%s%s/simple/acme-hello" data-requires-python="&gt;=3.7,&lt;4 &amp; &#34;x&#39;">Acme_Hello</a>`, e.URL, proj)) ||
				!strings.Contains(doc, fmt.Sprintf(`<a href="%s%s/simple/zeta" data-requires-python="&gt;=3.7">zeta</a>`, e.URL, proj)) ||
				strings.Count(doc, "<a ") != 2 {
				t.Fatalf("root index:\n%s", doc)
			}
		}
		r := e.Must(200, e.Do("GET", proj+"/simple/", nil, withAccept(rd, pipAccept)))
		if string(r.Body) != `{"meta":{"api-version":"1.0"},"projects":[{"name":"acme-hello"},{"name":"zeta"}]}`+"\n" {
			t.Fatalf("JSON root: %s", r.Body)
		}
	})

	t.Run("group level links group URLs", func(t *testing.T) {
		g := Basic("anything", groupRead)
		r := e.Must(200, e.Do("GET", grp+"/simple/acme-hello/", nil, g))
		want := fmt.Sprintf(`href="%s%s/files/%s/acme_hello-0.1.0-py3-none-any.whl#sha256=%s"`, e.URL, grp, pypiSHA256(whl), pypiSHA256(whl))
		if !strings.Contains(string(r.Body), want) {
			t.Fatalf("group page lacks %s:\n%s", want, r.Body)
		}
		r = e.Must(200, e.Do("GET", grp+"/simple", nil, g))
		if !strings.Contains(string(r.Body), "<title>Links for Acme</title>") || !strings.Contains(string(r.Body), grp+"/simple/zeta") {
			t.Fatalf("group root:\n%s", r.Body)
		}
		got := e.Must(200, e.Do("GET", fmt.Sprintf("%s/files/%s/acme_hello-0.1.0-py3-none-any.whl", grp, pypiSHA256(whl)), nil, g))
		if !bytes.Equal(got.Body, whl) {
			t.Fatalf("group download: %q", got.Body)
		}
		// A project token does not reach group routes (spec 1.2): 404.
		e.Must(404, e.Do("GET", grp+"/simple/acme-hello/", nil, rd))
	})

	t.Run("downloads", func(t *testing.T) {
		url := fmt.Sprintf("%s/files/%s/acme_hello-0.1.0-py3-none-any.whl", proj, pypiSHA256(whl))
		r := e.Must(200, e.Do("GET", url, nil, rd))
		if !bytes.Equal(r.Body, whl) || r.Header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("download: %q %q", r.Body, r.Header.Get("Content-Type"))
		}
		r = e.Must(200, e.Do("HEAD", url, nil, rd))
		if r.Header.Get("Content-Length") != fmt.Sprint(len(whl)) || len(r.Body) != 0 {
			t.Fatalf("HEAD download: %v", r.Header)
		}
		// upper-case digest is the same file
		e.Must(200, e.Do("GET", fmt.Sprintf("%s/files/%s/acme_hello-0.1.0-py3-none-any.whl", proj, strings.ToUpper(pypiSHA256(whl))), nil, rd))
		// the hash of another file, or another name: 404
		ErrBody(t, e.Must(404, e.Do("GET", fmt.Sprintf("%s/files/%s/acme_hello-0.1.0-py3-none-any.whl", proj, pypiSHA256(sd)), nil, rd)), "message", "404 Package Not Found")
		e.Must(404, e.Do("GET", fmt.Sprintf("%s/files/%s/acme_hello-0.1.0.zip", proj, pypiSHA256(whl)), nil, rd))
		ErrBody(t, e.Must(404, e.Do("GET", proj+"/files/abc/x.whl", nil, rd)), "error", "404 Not Found")
		ErrBody(t, e.Must(400, e.Do("GET", fmt.Sprintf("%s/files/%s/..%%2Facme_hello-0.1.0.tar.gz", proj, pypiSHA256(sd)), nil, rd)), "error", "file_name should be a valid file path")
		ErrBody(t, e.Must(400, e.Do("GET", proj+"/simple/acme%0d%0ahello/", nil, rd)), "error", "package_name should be a valid file path")
		ErrBody(t, e.Must(400, e.Do("GET", proj+"/simple/acme%2Fhello/", nil, rd)), "error", "package_name should be a valid file path")
		e.Must(401, e.Do("GET", url, nil, nil))
	})

	t.Run("status matrix", func(t *testing.T) {
		page := proj + "/simple/acme-hello/"
		for _, tc := range []struct {
			name   string
			method string
			path   string
			h      H
			status int
			chal   bool
		}{
			{"anonymous, private project", "GET", page, nil, 401, true},
			{"anonymous, private project, HEAD", "HEAD", page, nil, 401, true},
			{"wrong password, private project", "GET", page, Basic("__token__", "wrong"), 401, true},
			{"anonymous, private group", "GET", grp + "/simple/acme-hello/", nil, 401, true},
			{"anonymous, project id that does not exist", "GET", "/api/v4/projects/999999/packages/pypi/simple/acme-hello/", nil, 404, false},
			{"anonymous, project path that does not exist", "GET", "/api/v4/projects/nope%2Fnope/packages/pypi/simple", nil, 404, false},
			{"anonymous, group id that does not exist", "GET", "/api/v4/groups/999999/-/packages/pypi/simple/acme-hello/", nil, 404, false},
			{"anonymous upload to a project that does not exist", "POST", "/api/v4/projects/999999/packages/pypi", nil, 404, false},
			{"anonymous upload", "POST", proj, nil, 401, true},
			{"valid token of another project", "GET", page, nil, 404, false},
			{"read token uploads", "POST", proj, rd, 403, false},
			{"project path form", "GET", "/api/v4/projects/acme%2Fsub%2Fapp/packages/pypi/simple/acme-hello/", rd, 200, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := tc.h
				if tc.name == "valid token of another project" {
					other := e.Project("other", s.SubID, "private")
					tok, _, _ := e.DeployToken("projects", other, "read_package_registry")
					h = Basic("x", tok)
				}
				r := e.Do(tc.method, tc.path, nil, h)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				if got := r.Header.Get("WWW-Authenticate"); (got == challenge) != tc.chal {
					t.Fatalf("WWW-Authenticate %q, want challenge=%v", got, tc.chal)
				}
			})
		}
	})

	t.Run("public project: wrong password reads as anonymous", func(t *testing.T) {
		pg := e.Group("pub", 0, "public")
		pp := e.Project("lib", pg, "public")
		w, _, _ := e.DeployToken("projects", pp, "write_package_registry")
		e.Must(201, pypiPost(e, pp, w, pypiGood("pub-lib", "1.0", "pub_lib-1.0-py3-none-any.whl", []byte("pub"))))
		page := fmt.Sprintf("/api/v4/projects/%d/packages/pypi/simple/pub-lib/", pp)
		e.Must(200, e.Do("GET", page, nil, nil))
		e.Must(200, e.Do("GET", page, nil, Basic("__token__", "wrong")))
		r := e.Must(401, pypiPost(e, pp, "wrong", pypiGood("pub-lib", "1.1", "pub_lib-1.1-py3-none-any.whl", []byte("pub"))))
		if r.Header.Get("WWW-Authenticate") != challenge {
			t.Fatalf("upload 401 without challenge")
		}
		// The public group's index lists it for anyone.
		r = e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/-/packages/pypi/simple/pub-lib/", pg), nil, nil))
		if !strings.Contains(string(r.Body), "pub_lib-1.0-py3-none-any.whl") {
			t.Fatalf("public group page:\n%s", r.Body)
		}
	})
}

// TestPyPIHeadErrors: a HEAD the PyPI routes refuse answers what the GET
// answers but the body: status, WWW-Authenticate, and the error body's
// Content-Type and Content-Length (Rack keeps them for GitLab, and
// httpx.Abort does on every route without a renderer of its own).
func TestPyPIHeadErrors(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	rd := Basic("__token__", s.ReadToken)
	proj := fmt.Sprintf("/api/v4/projects/%d/packages/pypi", s.ProjectID)
	grp := fmt.Sprintf("/api/v4/groups/%d/-/packages/pypi", s.GroupID)
	for _, tc := range []struct {
		name, path string
		h          H
		status     int
	}{
		{"anonymous, private project", proj + "/simple/acme-hello/", nil, 401},
		{"anonymous, private group", grp + "/simple/", nil, 401},
		{"anonymous, project that does not exist", "/api/v4/projects/999999/packages/pypi/simple/", nil, 404},
		{"no such package", proj + "/simple/nothing-here/", rd, 404},
		{"no such file", fmt.Sprintf("%s/files/%s/x-1.0.tar.gz", proj, strings.Repeat("a", 64)), rd, 404},
		{"bad package name", proj + "/simple/acme%0d%0ahello/", rd, 400},
		{"project token on the group", grp + "/simple/", rd, 404},
	} {
		t.Run(tc.name, func(t *testing.T) { refusedHeadLikeGet(t, e, tc.path, tc.h, tc.status) })
	}
}

// TestPyPIRangeReads: what uv does with a wheel when the index offers no
// PEP 658 metadata: a HEAD for Accept-Ranges and the size, then range
// requests for the zip's central directory (a suffix range first). Small
// files and files streamed from the store answer alike.
func TestPyPIRangeReads(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	rd := Basic("__token__", s.ReadToken)
	for _, size := range []int{100, 3 << 20} {
		content := bytes.Repeat([]byte("0123456789"), size/10)
		version := fmt.Sprintf("1.%d", size)
		fn := "acme-" + version + "-py3-none-any.whl"
		e.Must(201, pypiPost(e, s.ProjectID, s.WriteToken, pypiGood("acme", version, fn, content)))
		url := fmt.Sprintf("/api/v4/projects/%d/packages/pypi/files/%s/%s", s.ProjectID, pypiSHA256(content), fn)
		h := e.Must(200, e.Do("HEAD", url, nil, rd))
		if h.Header.Get("Accept-Ranges") != "bytes" || h.Header.Get("Content-Length") != fmt.Sprint(len(content)) {
			t.Fatalf("%d bytes: HEAD headers %v", size, h.Header)
		}
		r := e.Must(206, e.Do("GET", url, nil, H{"Authorization": rd["Authorization"], "Range": "bytes=-7"}))
		if !bytes.Equal(r.Body, content[len(content)-7:]) || r.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", len(content)-7, len(content)-1, len(content)) {
			t.Fatalf("%d bytes: suffix range %q %v", size, r.Body, r.Header)
		}
		r = e.Must(206, e.Do("GET", url, nil, H{"Authorization": rd["Authorization"], "Range": "bytes=10-19"}))
		if !bytes.Equal(r.Body, content[10:20]) {
			t.Fatalf("%d bytes: range %q", size, r.Body)
		}
	}
}
