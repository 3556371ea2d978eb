package tests

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/storage/blob"
)

// npmCount runs a count query.
func npmCount(e *Env, q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.Store.DB().Get(&n, q, args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// npmNoOrphans asserts every object in the bucket has a blob row and vice
// versa: refused and losing uploads leave nothing behind.
func npmNoOrphans(e *Env) {
	e.t.Helper()
	objects := 0
	err := e.Server.Blobs.List(context.Background(), "", func(blob.Info) error { objects++; return nil })
	if err != nil {
		e.t.Fatal(err)
	}
	if rows := npmCount(e, `SELECT count(*) FROM blobs`); rows != objects {
		e.t.Fatalf("%d objects in the bucket, %d blob rows", objects, rows)
	}
}

// npmErr asserts an npm error body: both keys, or only "error" for
// parameter errors.
func npmErr(t *testing.T, r *Resp, status int, text string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("error body is not JSON: %q", r.Body)
	}
	if m["error"] != text {
		t.Fatalf("error = %v, want %q (body %s)", m["error"], text, r.Body)
	}
	// GitLab's packument 404 is the one body whose two keys differ.
	if msg, ok := m["message"]; ok && msg != text && text != "Packages not found" {
		t.Fatalf("message = %v, want %q", msg, text)
	}
}

// npmRaw sends a request with full control over the body and its length
// (ContentLength -1: chunked).
func npmRaw(t *testing.T, method, url string, body io.Reader, length int64, h H) *Resp {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return &Resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

func TestNPMPackument(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	e.Must(200, e.npmPublish(s.ProjectID, s.WriteToken, "@acme/hello", "1.0.0"))
	tgz := npmTarball(t, "@acme/hello", "1.1.0", map[string]any{"scripts": map[string]any{"postinstall": "echo hi"}})
	doc := npmPublishDoc("@acme/hello", "1.1.0", tgz)
	doc["versions"].(map[string]any)["1.1.0"].(map[string]any)["scripts"] = map[string]any{"postinstall": "echo hi"}
	doc["versions"].(map[string]any)["1.1.0"].(map[string]any)["dependencies"] = map[string]any{"@acme/dep": "^1.0.0"}
	r := e.Must(200, e.Do("PUT", npmPkgPath(s.ProjectID, "@acme/hello"), npmJSON(doc), Bearer(s.WriteToken)))
	if m := r.Map(t); m["name"] != "@acme/hello" || m["version"] != "1.1.0" {
		t.Fatalf("publish answer %s", r.Body)
	}
	auth := Bearer(s.ReadToken)
	base := fmt.Sprintf("/api/v4/projects/%d/packages/npm/", s.ProjectID)

	// All three spellings of a scoped name, and the project path as :id.
	var first []byte
	for _, p := range []string{base + "@acme%2fhello", base + "@acme%2Fhello", base + "@acme/hello", base + "@acme/hello/",
		"/api/v4/projects/acme%2Fsub%2Fapp/packages/npm/@acme%2fhello"} {
		r := e.Must(200, e.Do("GET", p, nil, auth))
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s: content-type %q", p, ct)
		}
		if first == nil {
			first = r.Body
		} else if !bytes.Equal(first, r.Body) {
			t.Fatalf("%s answered differently", p)
		}
	}
	var full struct {
		ID       string                    `json:"_id"`
		Rev      string                    `json:"_rev"`
		Name     string                    `json:"name"`
		DistTags map[string]string         `json:"dist-tags"`
		Versions map[string]map[string]any `json:"versions"`
		Time     map[string]string         `json:"time"`
	}
	json.Unmarshal(first, &full)
	if full.Name != "@acme/hello" || full.DistTags["latest"] != "1.1.0" || len(full.Versions) != 2 || full.Time["1.0.0"] == "" || full.Time["created"] == "" {
		t.Fatalf("packument %s", first)
	}
	v := full.Versions["1.1.0"]
	dist := v["dist"].(map[string]any)
	s1, s512 := sha1.Sum(tgz), sha512.Sum512(tgz)
	wantURL := fmt.Sprintf("%s/api/v4/projects/%d/packages/npm/@acme/hello/-/@acme/hello-1.1.0.tgz", e.URL, s.ProjectID)
	if dist["tarball"] != wantURL || dist["shasum"] != hex.EncodeToString(s1[:]) || dist["integrity"] != "sha512-"+base64.StdEncoding.EncodeToString(s512[:]) {
		t.Fatalf("dist %v", dist)
	}
	if v["hasInstallScript"] != true || v["readme"] != nil || v["_id"] != "@acme/hello@1.1.0" || v["dependencies"] == nil {
		t.Fatalf("version %v", v)
	}
	var md []byte
	e.Store.DB().Get(&md, `SELECT metadata FROM packages WHERE version = '1.1.0'`)
	if !bytes.Contains(md, []byte(`"postinstall"`)) || bytes.Contains(md, []byte("readme")) {
		t.Fatalf("packages.metadata = %s", md)
	}

	// Abbreviated form.
	r = e.Must(200, e.Do("GET", base+"@acme%2fhello", nil, H{"Authorization": "Bearer " + s.ReadToken,
		"Accept": "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"}))
	if ct := r.Header.Get("Content-Type"); ct != "application/vnd.npm.install-v1+json" {
		t.Fatalf("abbreviated content-type %q", ct)
	}
	var abbr map[string]any
	json.Unmarshal(r.Body, &abbr)
	av := abbr["versions"].(map[string]any)["1.1.0"].(map[string]any)
	if abbr["modified"] == nil || abbr["_rev"] != nil || abbr["time"] != nil || av["scripts"] != nil || av["dist"] == nil || av["hasInstallScript"] != true {
		t.Fatalf("abbreviated %s", r.Body)
	}
	// ?write=true (npm unpublish/deprecate) always gets the full form.
	r = e.Must(200, e.Do("GET", base+"@acme%2fhello?write=true", nil, H{"Authorization": "Bearer " + s.ReadToken, "Accept": "application/vnd.npm.install-v1+json"}))
	if !bytes.Contains(r.Body, []byte(`"_rev"`)) {
		t.Fatal("write=true must give the full packument")
	}

	// ETag and 304 (identity: Go's transport asks for gzip otherwise, and
	// unpacks it).
	r = e.Must(200, e.Do("GET", base+"@acme%2fhello", nil, H{"Authorization": "Bearer " + s.ReadToken, "Accept-Encoding": "identity"}))
	etag := r.Header.Get("ETag")
	if etag == "" || !strings.Contains(r.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("headers %v", r.Header)
	}
	r = e.Must(304, e.Do("GET", base+"@acme%2fhello", nil, H{"Authorization": "Bearer " + s.ReadToken, "Accept-Encoding": "identity", "If-None-Match": etag}))
	if len(r.Body) != 0 {
		t.Fatal("304 with a body")
	}
	e.Must(200, e.Do("GET", base+"@acme%2fhello", nil, H{"Authorization": "Bearer " + s.ReadToken, "If-None-Match": `W/"other"`}))

	// gzip when asked (the Go client does not decompress when the caller
	// sets Accept-Encoding itself).
	r = e.Must(200, e.Do("GET", base+"@acme%2fhello", nil, H{"Authorization": "Bearer " + s.ReadToken, "Accept-Encoding": "gzip"}))
	gzETag := r.Header.Get("ETag")
	if r.Header.Get("Content-Encoding") != "gzip" || gzETag == "" || gzETag == etag {
		t.Fatalf("gzip headers %v (plain ETag %s): the gzip form needs an ETag of its own", r.Header, etag)
	}
	// Each form's validator revalidates that form only.
	e.Must(304, e.Do("GET", base+"@acme%2fhello", nil, H{"Authorization": "Bearer " + s.ReadToken, "Accept-Encoding": "gzip", "If-None-Match": gzETag}))
	e.Must(200, e.Do("GET", base+"@acme%2fhello", nil, H{"Authorization": "Bearer " + s.ReadToken, "Accept-Encoding": "gzip", "If-None-Match": etag}))
	e.Must(200, e.Do("GET", base+"@acme%2fhello", nil, H{"Authorization": "Bearer " + s.ReadToken, "Accept-Encoding": "identity", "If-None-Match": gzETag}))
	zr, err := gzip.NewReader(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, first) {
		t.Fatal("gzip body differs")
	}
	r = e.Must(200, e.Do("GET", base+"@acme%2fhello", nil, H{"Authorization": "Bearer " + s.ReadToken, "Accept-Encoding": "gzip;q=0"}))
	if r.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 must not be compressed")
	}

	// HEAD answers like GET without a body.
	r = e.Must(200, e.Do("HEAD", base+"@acme%2fhello", nil, auth))
	if len(r.Body) != 0 || r.Header.Get("ETag") != etag {
		t.Fatalf("HEAD %v", r.Header)
	}

	// Tarball download (exact URL from the packument), HEAD, Range,
	// npmjs-style basename, and bytes identical to what was published.
	r = e.Must(200, e.Do("GET", wantURL, nil, auth))
	if !bytes.Equal(r.Body, tgz) || r.Header.Get("X-Checksum-SHA1") != hex.EncodeToString(s1[:]) {
		t.Fatal("tarball bytes differ")
	}
	r = e.Must(200, e.Do("HEAD", wantURL, nil, auth))
	if r.Header.Get("Content-Length") != fmt.Sprint(len(tgz)) {
		t.Fatalf("HEAD tarball %v", r.Header)
	}
	r = e.Must(206, e.Do("GET", wantURL, nil, H{"Authorization": "Bearer " + s.ReadToken, "Range": "bytes=0-9"}))
	if !bytes.Equal(r.Body, tgz[:10]) {
		t.Fatal("range")
	}
	e.Must(200, e.Do("GET", base+"@acme/hello/-/hello-1.1.0.tgz", nil, auth))
	e.Must(200, e.Do("GET", base+"@acme%2fhello/-/@acme%2fhello-1.0.0.tgz", nil, auth))
	npmErr(t, e.Do("GET", base+"@acme/hello/-/@acme/hello-9.9.9.tgz", nil, auth), 404, "404 Package Not Found")
	npmErr(t, e.Do("GET", base+"@acme/other/-/@acme/hello-1.0.0.tgz", nil, auth), 404, "404 Package Not Found")

	// Group and instance level serve the same versions with project-level
	// tarball URLs.
	groupTok, _, _ := e.DeployToken("groups", s.GroupID, "read_package_registry")
	for _, p := range []string{fmt.Sprintf("/api/v4/groups/%d/-/packages/npm/@acme%%2fhello", s.GroupID), "/api/v4/groups/acme/-/packages/npm/@acme%2fhello",
		"/api/v4/packages/npm/@acme%2fhello"} {
		r := e.Must(200, e.Do("GET", p, nil, Bearer(groupTok)))
		var d struct {
			Versions map[string]map[string]any `json:"versions"`
		}
		json.Unmarshal(r.Body, &d)
		if len(d.Versions) != 2 || d.Versions["1.1.0"]["dist"].(map[string]any)["tarball"] != wantURL {
			t.Fatalf("%s: %s", p, r.Body)
		}
	}
}

func TestNPMPublishBadInput(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.MaxNPMSize = 64 << 10 })
	s := e.NewScenario()
	path := npmPkgPath(s.ProjectID, "@acme/hello")
	auth := H{"Authorization": "Bearer " + s.WriteToken, "Content-Type": "application/json"}
	tgz := npmTarball(t, "@acme/hello", "1.0.0", nil)
	put := func(body []byte) *Resp { return e.Do("PUT", path, body, auth) }
	mutate := func(f func(doc map[string]any)) []byte {
		doc := npmPublishDoc("@acme/hello", "1.0.0", tgz)
		f(doc)
		return npmJSON(doc)
	}
	version := func(doc map[string]any) map[string]any {
		return doc["versions"].(map[string]any)["1.0.0"].(map[string]any)
	}
	attachment := func(doc map[string]any) map[string]any {
		return doc["_attachments"].(map[string]any)["@acme/hello-1.0.0.tgz"].(map[string]any)
	}
	good := npmJSON(npmPublishDoc("@acme/hello", "1.0.0", tgz))
	tests := []struct {
		name   string
		body   []byte
		path   string
		status int
		text   string
	}{
		{"malformed JSON", []byte(`{"name":"@acme/hello",`), "", 400, "400 Bad request - malformed JSON: unexpected end of the document"},
		{"not JSON", []byte(`hello`), "", 400, "400 Bad request - malformed JSON: invalid character 'h' looking for beginning of value"},
		{"truncated inside the attachment", good[:len(good)-40], "", 400, "400 Bad request - malformed JSON: unexpected end of the document"},
		{"integrity mismatch", mutate(func(d map[string]any) {
			version(d)["dist"].(map[string]any)["integrity"] = "sha512-" + base64.StdEncoding.EncodeToString(make([]byte, 64))
		}), "", 400, "400 Bad request - the tarball's sha512 does not match dist.integrity"},
		{"shasum mismatch", mutate(func(d map[string]any) { version(d)["dist"].(map[string]any)["shasum"] = strings.Repeat("0", 40) }),
			"", 400, "400 Bad request - the tarball's sha1 does not match dist.shasum"},
		{"URL and body names differ", good, npmPkgPath(s.ProjectID, "@acme/other"), 400,
			`400 Bad request - package name in the URL (@acme/other) does not match the name in the body ("@acme/hello")`},
		{"manifest version differs from its key", mutate(func(d map[string]any) { version(d)["version"] = "2.0.0" }), "", 400,
			`400 Bad request - the manifest's version does not match "1.0.0"`},
		{"attachment for another version", mutate(func(d map[string]any) {
			d["_attachments"] = map[string]any{"@acme/hello-2.0.0.tgz": attachment(d)}
		}), "", 400, `400 Bad request - attachment "@acme/hello-2.0.0.tgz" does not match the package name and version (expected "@acme/hello-1.0.0.tgz")`},
		{"no attachment", mutate(func(d map[string]any) { delete(d, "_attachments") }), "", 400, `400 Bad request - attachment "@acme/hello-1.0.0.tgz" is missing`},
		{"empty attachment", mutate(func(d map[string]any) { attachment(d)["data"] = "" }), "", 400, "Attachment data is empty."},
		{"bad base64", mutate(func(d map[string]any) { attachment(d)["data"] = "!!!!" }), "", 400, "400 Bad request - attachment data is not valid base64"},
		{"length mismatch", mutate(func(d map[string]any) { attachment(d)["length"] = 1 }), "", 400, "400 Bad request - attachment length does not match its data"},
		{"no versions", mutate(func(d map[string]any) { delete(d, "versions") }), "", 400, "versions is missing"},
		{"empty versions", mutate(func(d map[string]any) { d["versions"] = map[string]any{} }), "", 400, "Version is empty."},
		{"invalid version", []byte(strings.ReplaceAll(string(good), "1.0.0", "1.0")), "", 400, "Validation failed: Version is invalid"},
		{"tarball's package.json has another version", npmJSON(npmPublishDoc("@acme/hello", "1.0.0", npmTarball(t, "@acme/hello", "1.0.1", nil))), "", 400,
			`400 Bad request - package.json in the tarball has version "1.0.1", not "1.0.0"`},
		{"tarball's package.json has another name", npmJSON(npmPublishDoc("@acme/hello", "1.0.0", npmTarball(t, "@acme/evil", "1.0.0", nil))), "", 400,
			`400 Bad request - package.json in the tarball names "@acme/evil", not "@acme/hello"`},
		{"tarball is not gzip", npmJSON(npmPublishDoc("@acme/hello", "1.0.0", []byte("not a tarball"))), "", 400,
			"400 Bad request - the tarball is not a valid gzip-compressed tar archive"},
		{"invalid name", good, fmt.Sprintf("/api/v4/projects/%d/packages/npm/@acme%%2f..", s.ProjectID), 400, "package_name should be a valid file path"},
		{"oversize tarball (streaming)", npmJSON(npmPublishDoc("@acme/hello", "1.0.0", bytes.Repeat([]byte{7}, 100<<10))), "", 413,
			"413 Request Entity Too Large - File is too large."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			if tc.path != "" {
				p = tc.path
			}
			npmErr(t, e.Do("PUT", p, tc.body, auth), tc.status, tc.text)
		})
	}

	t.Run("oversize by Content-Length, refused before reading", func(t *testing.T) {
		// Expect: 100-continue: the body is never sent if the server
		// answers from the headers alone.
		r := npmRaw(t, "PUT", e.URL+path, io.LimitReader(npmZeros{}, 20<<20), 20<<20,
			H{"Authorization": "Bearer " + s.WriteToken, "Content-Type": "application/json", "Expect": "100-continue"})
		npmErr(t, r, 413, "413 Request Entity Too Large - File is too large.")
	})
	t.Run("oversize metadata, chunked", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(`{"readme":"`), io.LimitReader(npmRepeat('r'), 16<<20+1000), strings.NewReader(`"}`))
		r := npmRaw(t, "PUT", e.URL+path, body, -1, auth)
		npmErr(t, r, 413, "413 Request Entity Too Large - package metadata is too large")
	})
	t.Run("oversize tarball, chunked", func(t *testing.T) {
		r := npmRaw(t, "PUT", e.URL+path, bytes.NewReader(npmJSON(npmPublishDoc("@acme/hello", "1.0.0", bytes.Repeat([]byte{7}, 100<<10)))), -1, auth)
		npmErr(t, r, 413, "413 Request Entity Too Large - File is too large.")
	})

	if n := npmCount(e, `SELECT count(*) FROM packages`); n != 0 {
		t.Fatalf("%d packages after refused publishes", n)
	}
	npmNoOrphans(e)
	if n := npmCount(e, `SELECT count(*) FROM blobs`); n != 0 {
		t.Fatalf("%d blobs after refused publishes", n)
	}
	// And the good body still publishes.
	e.Must(200, put(good))
	npmNoOrphans(e)
}

type npmZeros struct{}

func (npmZeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

type npmRepeat byte

func (r npmRepeat) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(r)
	}
	return len(b), nil
}

func TestNPMNotFoundAndAuth(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	e.Must(200, e.npmPublish(s.ProjectID, s.WriteToken, "@acme/hello", "1.0.0"))
	path := npmPkgPath(s.ProjectID, "@acme/hello")
	read := Bearer(s.ReadToken)

	// Unknown package: GitLab's body, which npm prints as "Packages not found".
	r := e.Do("GET", npmPkgPath(s.ProjectID, "@acme/nope"), nil, read)
	if r.Status != 404 || string(r.Body) != `{"error":"Packages not found","message":"404 Packages Not Found"}` {
		t.Fatalf("unknown package: %d %s", r.Status, r.Body)
	}
	npmErr(t, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/npm/-/v1/search?text=x", s.ProjectID), nil, read), 404, "404 Not Found")
	npmErr(t, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/npm/-/package/@acme%%2fnope/dist-tags", s.ProjectID), nil, read), 404, "404 Package Not Found")
	// Instance level: unscoped names and unknown scopes are not found.
	npmErr(t, e.Do("GET", "/api/v4/packages/npm/hello", nil, read), 404, "Packages not found")
	npmErr(t, e.Do("GET", "/api/v4/packages/npm/@nobody%2fhello", nil, read), 404, "Packages not found")
	npmErr(t, e.Do("GET", "/api/v4/packages/npm/@sub%2fhello", nil, read), 404, "Packages not found")
	// Publishing is project-level only.
	npmErr(t, e.Do("PUT", "/api/v4/packages/npm/@acme%2fhello", "{}", Bearer(s.WriteToken)), 404,
		"404 Not Found - tarballs, publish and unpublish exist only at project level (/api/v4/projects/:id/packages/npm/)")

	// Anonymous on a private project: 401 with a challenge npm will not
	// read as an OTP request.
	for _, m := range []string{"GET", "PUT"} {
		r := e.Do(m, path, nil, nil)
		if r.Status != 401 || strings.Contains(strings.ToLower(r.Header.Get("WWW-Authenticate")), "otp") {
			t.Fatalf("anonymous %s: %d %v", m, r.Status, r.Header)
		}
		npmErr(t, r, 401, "401 Unauthorized")
	}
	npmErr(t, e.Do("GET", "/api/v4/packages/npm/@acme%2fhello", nil, nil), 401, "401 Unauthorized")
	// An unknown Bearer is 401 even where anonymous could read.
	npmErr(t, e.Do("GET", path, nil, Bearer("gldt-nonsense")), 401, "401 Unauthorized")
	// A token of another project sees nothing: 404.
	other := e.Project("other", s.SubID, "private")
	otherTok, _, _ := e.DeployToken("projects", other, "read_package_registry", "write_package_registry")
	npmErr(t, e.Do("GET", path, nil, Bearer(otherTok)), 404, "404 Not Found")
	npmErr(t, e.Do("GET", "/api/v4/packages/npm/@acme%2fhello", nil, Bearer(otherTok)), 404, "Packages not found")
	r = e.npmPublish(s.ProjectID, otherTok, "@acme/hello", "2.0.0")
	npmErr(t, r, 404, "404 Not Found")
	// A read token may not publish: 403 saying so.
	npmErr(t, e.npmPublish(s.ProjectID, s.ReadToken, "@acme/hello", "2.0.0"), 403,
		"403 Forbidden - you are not allowed to publish packages in this project")
	// A PAT without api scope gets GitLab's insufficient_scope.
	uid, _ := e.User("dev")
	e.Member("projects", s.ProjectID, uid, 30)
	p := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", uid), map[string]any{"name": "ro", "scopes": []string{"read_api"}}, PAT(e.Admin))).Map(t)
	r = e.npmPublish(s.ProjectID, p["token"].(string), "@acme/hello", "2.0.0")
	if r.Status != 403 || !strings.Contains(string(r.Body), "insufficient_scope") {
		t.Fatalf("read_api PAT publish: %d %s", r.Status, r.Body)
	}

	// whoami, ping, audit.
	r = e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/npm/-/whoami", s.ProjectID), nil, read))
	if r.Map(t)["username"] != s.ReadUser {
		t.Fatalf("whoami %s", r.Body)
	}
	r = e.Must(200, e.Do("GET", "/api/v4/packages/npm/-/whoami", nil, Bearer(e.Admin)))
	if r.Map(t)["username"] != "root" {
		t.Fatalf("whoami PAT %s", r.Body)
	}
	npmErr(t, e.Do("GET", "/api/v4/packages/npm/-/whoami", nil, nil), 401, "401 Unauthorized")
	e.Must(200, e.Do("GET", "/api/v4/packages/npm/-/ping?write=true", nil, read))
	for _, p := range []string{fmt.Sprintf("/api/v4/projects/%d/packages/npm", s.ProjectID), fmt.Sprintf("/api/v4/groups/%d/-/packages/npm", s.GroupID), "/api/v4/packages/npm"} {
		tok := s.ReadToken
		if strings.Contains(p, "groups") {
			tok, _, _ = e.DeployToken("groups", s.GroupID, "read_package_registry")
		}
		for _, a := range []string{"/-/npm/v1/security/advisories/bulk", "/-/npm/v1/security/audits/quick"} {
			r := e.Do("POST", p+a, `{"@acme/hello":["1.0.0"]}`, H{"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
			if r.Status != 200 || string(r.Body) != "[]" {
				t.Fatalf("%s%s: %d %s", p, a, r.Status, r.Body)
			}
		}
	}
	npmErr(t, e.Do("POST", "/api/v4/packages/npm/-/npm/v1/security/advisories/bulk", "{}", nil), 401, "401 Unauthorized")
}

func TestNPMDuplicatesAndRace(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	e.Must(200, e.npmPublish(s.ProjectID, s.WriteToken, "@acme/hello", "1.0.0"))
	// Same version again: GitLab's 403, both keys.
	r := e.npmPublish(s.ProjectID, s.WriteToken, "@acme/hello", "1.0.0")
	if r.Status != 403 || string(r.Body) != `{"error":"Package already exists.","message":"Package already exists."}` {
		t.Fatalf("duplicate: %d %s", r.Status, r.Body)
	}
	// Same name and version in another project of the same top-level
	// namespace: GitLab's naming-convention rule (400).
	other := e.Project("other", s.GroupID, "private")
	otherTok, _, _ := e.DeployToken("projects", other, "read_package_registry", "write_package_registry")
	npmErr(t, e.npmPublish(other, otherTok, "@acme/hello", "1.0.0"), 400, "Validation failed: Package already exists")
	e.Must(200, e.npmPublish(other, otherTok, "@acme/hello", "1.0.1"))
	// Names outside the convention may repeat across projects.
	e.Must(200, e.npmPublish(s.ProjectID, s.WriteToken, "@elsewhere/x", "1.0.0"))
	e.Must(200, e.npmPublish(other, otherTok, "@elsewhere/x", "1.0.0"))
	e.Must(200, e.npmPublish(other, otherTok, "plain", "1.0.0"))
	// The instance level merges both projects of @acme.
	r = e.Must(200, e.Do("GET", "/api/v4/packages/npm/@acme%2fhello", nil, Bearer(e.Admin)))
	var d struct {
		Versions map[string]any    `json:"versions"`
		Tags     map[string]string `json:"dist-tags"`
	}
	json.Unmarshal(r.Body, &d)
	if len(d.Versions) != 2 || d.Tags["latest"] != "1.0.1" {
		t.Fatalf("instance packument %s", r.Body)
	}

	// 20 concurrent publishes of one new version: exactly one wins, the
	// others get a clean 403, one package row, one file row, no orphans.
	const n = 20
	tgz := npmTarball(t, "@acme/hello", "3.0.0", nil)
	body := npmJSON(npmPublishDoc("@acme/hello", "3.0.0", tgz))
	statuses := make([]int, n)
	statuses, bodies := raceBodies(t, n, func(int) *http.Request {
		req, _ := http.NewRequest("PUT", e.URL+npmPkgPath(s.ProjectID, "@acme/hello"), bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.WriteToken)
		req.Header.Set("Content-Type", "application/json")
		return req
	})
	won := 0
	for i, st := range statuses {
		switch {
		case st == 200:
			won++
		case st == 403 && strings.Contains(bodies[i], "Package already exists."):
		default:
			t.Errorf("publish %d: %d %s", i, st, bodies[i])
		}
	}
	if won != 1 {
		t.Fatalf("%d publishes won, want exactly 1 (%v)", won, statuses)
	}
	if c := npmCount(e, `SELECT count(*) FROM packages WHERE name = '@acme/hello' AND version = '3.0.0'`); c != 1 {
		t.Fatalf("%d package rows", c)
	}
	if c := npmCount(e, `SELECT count(*) FROM package_files f JOIN packages p ON p.id = f.package_id WHERE p.version = '3.0.0'`); c != 1 {
		t.Fatalf("%d file rows", c)
	}
	npmNoOrphans(e)
}

func TestNPMDistTagsHTTP(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-rc.1"} {
		e.Must(200, e.npmPublish(s.ProjectID, s.WriteToken, "@acme/hello", v))
	}
	base := fmt.Sprintf("/api/v4/projects/%d/packages/npm/-/package/@acme%%2fhello/dist-tags", s.ProjectID)
	w := H{"Authorization": "Bearer " + s.WriteToken, "Content-Type": "application/json"}
	tags := func() map[string]string {
		var m map[string]string
		e.Must(200, e.Do("GET", base, nil, Bearer(s.ReadToken))).JSON(t, &m)
		return m
	}
	// npm sends the version as a JSON string; raw text works too.
	e.Must(204, e.Do("PUT", base+"/stable", `"1.0.0"`, w))
	e.Must(204, e.Do("PUT", base+"/next", "2.0.0-rc.1", H{"Authorization": "Bearer " + s.WriteToken}))
	if m := tags(); m["stable"] != "1.0.0" || m["next"] != "2.0.0-rc.1" || m["latest"] != "2.0.0-rc.1" {
		// latest was last published with the default tag.
		t.Fatalf("tags %v", m)
	}
	// Moving latest back, then removing it: it falls back to the highest
	// release.
	e.Must(204, e.Do("PUT", base+"/latest", `"1.0.0"`, w))
	if m := tags(); m["latest"] != "1.0.0" {
		t.Fatalf("tags %v", m)
	}
	e.Must(204, e.Do("DELETE", base+"/latest", nil, w))
	if m := tags(); m["latest"] != "1.1.0" {
		t.Fatalf("implicit latest %v", m)
	}
	npmErr(t, e.Do("PUT", base+"/x", `"9.9.9"`, w), 404, "404 Package Not Found")
	npmErr(t, e.Do("PUT", base+"/x", `""`, w), 400, `"Version" not given`)
	npmErr(t, e.Do("PUT", base+"/x", `"not-a-version"`, w), 400, `400 Bad request - "not-a-version" is not a valid version`)
	npmErr(t, e.Do("PUT", base+"/1.0.0", `"1.0.0"`, w), 400, "tag is invalid: a tag must not be a valid SemVer version")
	npmErr(t, e.Do("DELETE", base+"/nope", nil, w), 404, "404 Package Tag Not Found")
	npmErr(t, e.Do("PUT", base+"/x", `"1.0.0"`, H{"Authorization": "Bearer " + s.ReadToken}), 403, "403 Forbidden")
	npmErr(t, e.Do("DELETE", base+"/stable", nil, Bearer(s.ReadToken)), 403, "403 Forbidden")
	npmErr(t, e.Do("PUT", base+"/x", `"1.0.0"`, nil), 401, "401 Unauthorized")

	// Instance and group level act on the project holding the package.
	inst := "/api/v4/packages/npm/-/package/@acme%2fhello/dist-tags"
	e.Must(204, e.Do("PUT", inst+"/viaInstance", `"1.1.0"`, w))
	npmErr(t, e.Do("PUT", inst+"/x", `"1.1.0"`, Bearer(s.ReadToken)), 403, "403 Forbidden")
	groupTok, _, _ := e.DeployToken("groups", s.GroupID, "read_package_registry", "write_package_registry")
	grp := fmt.Sprintf("/api/v4/groups/%d/-/packages/npm/-/package/@acme%%2fhello/dist-tags", s.GroupID)
	e.Must(204, e.Do("DELETE", grp+"/viaInstance", nil, Bearer(groupTok)))
	var m map[string]string
	e.Must(200, e.Do("GET", grp, nil, Bearer(groupTok))).JSON(t, &m)
	if m["stable"] != "1.0.0" || m["viaInstance"] != "" {
		t.Fatalf("group tags %v", m)
	}
	// A tag follows its version out: deleting the version removes it.
	e.Must(204, e.Do("PUT", base+"/old", `"1.0.0"`, w))
	var pid int64
	e.Store.DB().Get(&pid, `SELECT id FROM packages WHERE version = '1.0.0'`)
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/packages/%d", s.ProjectID, pid), nil, PAT(e.Admin)))
	if m := tags(); m["old"] != "" || m["stable"] != "" {
		t.Fatalf("tags of a deleted version: %v", m)
	}
}

func TestNPMUnpublishAndDeprecateHTTP(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		e.Must(200, e.npmPublish(s.ProjectID, s.WriteToken, "@acme/hello", v))
	}
	path := npmPkgPath(s.ProjectID, "@acme/hello")
	w := H{"Authorization": "Bearer " + s.WriteToken, "Content-Type": "application/json"}
	packument := func() map[string]any {
		return e.Must(200, e.Do("GET", path+"?write=true", nil, Bearer(s.WriteToken))).Map(t)
	}
	pk := packument()
	rev := pk["_rev"].(string)
	versions := pk["versions"].(map[string]any)
	delete(versions, "1.1.0")

	// Read tokens cannot unpublish or deprecate.
	npmErr(t, e.Do("PUT", path+"/-rev/"+rev, pk, Bearer(s.ReadToken)), 403, "403 Forbidden - you are not allowed to unpublish packages in this project")
	npmErr(t, e.Do("PUT", path, pk, H{"Authorization": "Bearer " + s.ReadToken, "npm-command": "deprecate"}), 403,
		"403 Forbidden - you are not allowed to deprecate packages in this project")
	// A stale rev is refused; so is a body without versions.
	npmErr(t, e.Do("PUT", path+"/-rev/1-stale", pk, w), 409, "409 Conflict - the package changed since it was read; fetch it again and retry")
	npmErr(t, e.Do("PUT", path+"/-rev/"+rev, `{"name":"@acme/hello"}`, w), 400, "versions is missing")

	blobs := npmCount(e, `SELECT count(*) FROM blobs`)
	e.Must(200, e.Do("PUT", path+"/-rev/"+rev, pk, w))
	pk = packument()
	if _, ok := pk["versions"].(map[string]any)["1.1.0"]; ok || len(pk["versions"].(map[string]any)) != 2 {
		t.Fatalf("after unpublish: %v", pk["versions"])
	}
	if n := npmCount(e, `SELECT count(*) FROM package_files`); n != 2 {
		t.Fatalf("%d files", n)
	}
	// Blob rows stay for the janitor (it frees them after its grace period).
	if n := npmCount(e, `SELECT count(*) FROM blobs`); n != blobs {
		t.Fatalf("blobs %d -> %d", blobs, n)
	}
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/npm/@acme/hello/-/@acme/hello-1.1.0.tgz", s.ProjectID), nil, Bearer(s.ReadToken)))

	// The CouchDB-style tarball delete removes that version.
	rev = pk["_rev"].(string)
	e.Must(200, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/packages/npm/@acme/hello/-/@acme/hello-1.0.0.tgz/-rev/%s", s.ProjectID, rev), nil, w))

	// Deprecate: GitLab's rule keeps versions with a "deprecated" key.
	npmErr(t, e.Do("PUT", path, `{"versions":{"1.2.0":{}}}`, H{"Authorization": "Bearer " + s.WriteToken, "npm-command": "deprecate"}), 400,
		`"package versions to deprecate" not given`)
	e.Must(200, e.Do("PUT", path, `{"versions":{"1.2.0":{"deprecated":"gone soon"}}}`, H{"Authorization": "Bearer " + s.WriteToken, "npm-command": "deprecate"}))
	if st := npmCount(e, `SELECT count(*) FROM packages WHERE version = '1.2.0' AND status = 'deprecated'`); st != 1 {
		t.Fatal("status not deprecated")
	}
	// Deprecated versions stay installable.
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/npm/@acme/hello/-/@acme/hello-1.2.0.tgz", s.ProjectID), nil, Bearer(s.ReadToken)))
	// npm 11's `npm undeprecate` sends the same body as `npm deprecate
	// <spec> ""`, with "npm-command: undeprecate".
	e.Must(200, e.Do("PUT", path, `{"versions":{"1.2.0":{"deprecated":""}}}`, H{"Authorization": "Bearer " + s.WriteToken, "npm-command": "undeprecate"}))
	if st := npmCount(e, `SELECT count(*) FROM packages WHERE version = '1.2.0' AND status = 'default' AND NOT metadata ? 'deprecated'`); st != 1 {
		t.Fatal("undeprecate left 1.2.0 deprecated")
	}

	// Whole package.
	rev = packument()["_rev"].(string)
	e.Must(200, e.Do("DELETE", path+"/-rev/"+rev, nil, w))
	npmErr(t, e.Do("GET", path, nil, Bearer(s.ReadToken)), 404, "Packages not found")
	npmErr(t, e.Do("DELETE", path+"/-rev/"+rev, nil, w), 404, "404 Package Not Found")
	if n := npmCount(e, `SELECT count(*) FROM package_files`); n != 0 {
		t.Fatalf("%d files left", n)
	}
	npmNoOrphans(e)
}

// TestNPMHeadErrors: a refused HEAD on an npm route answers as its GET
// does, Content-Type and Content-Length included, without the body.
func TestNPMHeadErrors(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	e.Must(200, e.npmPublish(s.ProjectID, s.WriteToken, "@acme/hello", "1.0.0"))
	rd := DeployHdr(s.ReadToken)
	proj := fmt.Sprintf("/api/v4/projects/%d/packages/npm/", s.ProjectID)
	grp := fmt.Sprintf("/api/v4/groups/%d/-/packages/npm/", s.GroupID)
	for _, tc := range []struct {
		name, path string
		h          H
		status     int
	}{
		{"anonymous, private project", proj + "@acme%2fhello", nil, 401},
		{"no such package", proj + "@acme%2fnothing", rd, 404},
		{"no such tarball", proj + "@acme/hello/-/@acme/hello-9.9.9.tgz", rd, 404},
		{"project that does not exist", "/api/v4/projects/999999/packages/npm/@acme%2fhello", rd, 404},
		{"project token on the group", grp + "@acme%2fnothing", rd, 404},
	} {
		t.Run(tc.name, func(t *testing.T) { refusedHeadLikeGet(t, e, tc.path, tc.h, tc.status) })
	}
}

// TestNPMAnonymousMissRevealsNothing: at group and instance level an
// anonymous caller must not learn which package names private or internal
// projects hold. A miss in a tree that holds projects hidden from them is
// 401 (npm then asks for a token) whether or not the name exists there,
// as Maven's group level answers; a tree without hidden projects is 404.
func TestNPMAnonymousMissRevealsNothing(t *testing.T) {
	e := NewEnv(t)
	pub := e.Group("pub", 0, "public")
	sub := e.Group("psub", pub, "public")
	open := e.Project("open", pub, "public")
	secret := e.Project("secret", sub, "private")
	inner := e.Project("inner", pub, "internal")
	e.Must(200, e.npmPublish(open, e.Admin, "@pub/open", "1.0.0"))
	e.Must(200, e.npmPublish(secret, e.Admin, "@pub/secret", "1.0.0"))
	e.Must(200, e.npmPublish(inner, e.Admin, "@pub/inner", "1.0.0"))
	bare := e.Group("bare", 0, "public")
	bareOpen := e.Project("open", bare, "public")
	e.Must(200, e.npmPublish(bareOpen, e.Admin, "@bare/open", "1.0.0"))

	for _, name := range []string{"secret", "inner", "nothing"} {
		for _, p := range []string{
			fmt.Sprintf("/api/v4/groups/%d/-/packages/npm/@pub%%2f%s", pub, name),
			"/api/v4/packages/npm/@pub%2f" + name,
			fmt.Sprintf("/api/v4/groups/%d/-/packages/npm/-/package/@pub%%2f%s/dist-tags", pub, name),
			"/api/v4/packages/npm/-/package/@pub%2f" + name + "/dist-tags",
		} {
			npmErr(t, e.Do("GET", p, nil, nil), 401, "401 Unauthorized")
		}
	}
	e.Must(200, e.Do("GET", "/api/v4/packages/npm/@pub%2fopen", nil, nil))
	// Nothing hidden below: a miss is a plain miss.
	npmErr(t, e.Do("GET", fmt.Sprintf("/api/v4/groups/%d/-/packages/npm/@bare%%2fnothing", bare), nil, nil), 404, "Packages not found")
	npmErr(t, e.Do("GET", "/api/v4/packages/npm/@bare%2fnothing", nil, nil), 404, "Packages not found")
	// A signed-in outsider still hears 404 for both.
	_, alice := e.User("alice")
	for _, name := range []string{"secret", "nothing"} {
		npmErr(t, e.Do("GET", "/api/v4/packages/npm/@pub%2f"+name, nil, Bearer(alice)), 404, "Packages not found")
	}
	e.Must(200, e.Do("GET", "/api/v4/packages/npm/@pub%2finner", nil, Bearer(alice)))
}
