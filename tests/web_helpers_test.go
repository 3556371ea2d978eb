package tests

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/storage/registry"
)

// webClient is a cookie-keeping HTTP client for the /-/ui pages (the
// browser test drives real Chromium; these tests check the server's rules
// quickly and precisely, including posts a browser would never send).
type webClient struct {
	t    testing.TB
	e    *Env
	http *http.Client
}

// webResp is a finished page request.
type webResp struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

func newWebClient(e *Env) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: e.t, e: e, http: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *webClient) do(method, path string, form url.Values, h H) *webResp {
	w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, w.e.URL+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := w.http.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &webResp{Status: res.StatusCode, Header: res.Header, Body: string(b), Location: res.Header.Get("Location")}
}

func (w *webClient) get(path string) *webResp { w.t.Helper(); return w.do("GET", path, nil, nil) }

func (w *webClient) post(path string, form url.Values) *webResp {
	w.t.Helper()
	return w.do("POST", path, form, nil)
}

// cookie returns the value of a cookie the jar holds for the pages.
func (w *webClient) cookie(name string) string {
	u, _ := url.Parse(w.e.URL + "/-/ui/")
	for _, c := range w.http.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

var webCSRFRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfOf extracts the form token of a page.
func webCSRF(t testing.TB, body string) string {
	t.Helper()
	m := webCSRFRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no csrf_token:\n%s", body)
	}
	return html.UnescapeString(m[1])
}

// signIn signs in with a PAT and returns the dashboard's CSRF token.
func (w *webClient) signIn(pat string) string {
	w.t.Helper()
	r := w.get("/-/ui/sign_in")
	if r.Status != 200 {
		w.t.Fatalf("sign-in form: %d", r.Status)
	}
	r = w.post("/-/ui/sign_in", url.Values{"csrf_token": {webCSRF(w.t, r.Body)}, "token": {pat}, "next": {"/-/ui/"}})
	if r.Status != http.StatusSeeOther || r.Location != "/-/ui/" {
		w.t.Fatalf("sign in: %d %q\n%s", r.Status, r.Location, r.Body)
	}
	d := w.get("/-/ui/")
	if d.Status != 200 {
		w.t.Fatalf("dashboard: %d", d.Status)
	}
	return webCSRF(w.t, d.Body)
}

// mustContain asserts page fragments.
func (r *webResp) mustContain(t *testing.T, parts ...string) {
	t.Helper()
	text := html.UnescapeString(r.Body)
	for _, p := range parts {
		if !strings.Contains(r.Body, p) && !strings.Contains(text, p) {
			t.Fatalf("page (%d) lacks %q:\n%s", r.Status, p, r.Body)
		}
	}
}

func (r *webResp) mustNotContain(t *testing.T, parts ...string) {
	t.Helper()
	text := html.UnescapeString(r.Body)
	for _, p := range parts {
		if strings.Contains(r.Body, p) || strings.Contains(text, p) {
			t.Fatalf("page (%d) contains %q", r.Status, p)
		}
	}
}

var webSecretRE = regexp.MustCompile(`gldt-[A-Za-z0-9_-]{20}`)

// webTokens lists a project's or group's deploy tokens through the REST API.
func webTokens(e *Env, kind string, id int64) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/%s/%d/deploy_tokens", kind, id), nil, PAT(e.Admin))).JSON(e.t, &out)
	return out
}

// webSeedPackage stores a package with one file through the registry (the
// same path the format handlers use), so the packages page can be checked
// for every format without depending on each format's upload handler.
func webSeedPackage(e *Env, projectID int64, typ, name, version, file string, content []byte) {
	e.t.Helper()
	ctx := context.Background()
	st, err := e.Server.Registry.Ingest(ctx, bytes.NewReader(content), registry.IngestOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.Server.Registry.Commit(ctx, st, func(tx *meta.Tx) error {
		p := &meta.Package{ProjectID: projectID, PackageType: typ, Name: name, Version: &version}
		if _, err := tx.FindOrCreatePackage(ctx, p, false); err != nil {
			return err
		}
		return tx.AddFile(ctx, &meta.PackageFile{PackageID: p.ID, FileName: file, BlobSHA256: st.SHA256, Size: st.Size})
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// webCookieSeen is a Set-Cookie without its value (random every time).
type webCookieSeen struct {
	Name, Path       string
	MaxAge           int
	Secure, HttpOnly bool
	SameSite         http.SameSite
}

// webStep is all a browser learns from one answer besides the page.
type webStep struct {
	Status   int
	Location string
	Cookies  []webCookieSeen
}

// webCookieFlow signs the admin in, opens a project's packages page, signs
// out and comes back with the dead session, sending extra headers with
// every request and carrying cookies by hand (a jar would drop Secure ones
// on http). It returns what each answer told the browser, and checks that
// the page's absolute URLs are the external URL's whatever the headers.
func webCookieFlow(t *testing.T, e *Env, client *http.Client, base string, extra H, projectID int64) []webStep {
	t.Helper()
	var steps []webStep
	do := func(method, path, cookie string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		for k, v := range extra {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		st := webStep{Status: res.StatusCode, Location: res.Header.Get("Location")}
		for _, c := range res.Cookies() {
			st.Cookies = append(st.Cookies, webCookieSeen{c.Name, c.Path, c.MaxAge, c.Secure, c.HttpOnly, c.SameSite})
		}
		steps = append(steps, st)
		return res, string(b)
	}
	value := func(res *http.Response, name string) string {
		t.Helper()
		for _, c := range res.Cookies() {
			if c.Name == name && c.Value != "" {
				return name + "=" + c.Value
			}
		}
		t.Fatalf("%s %s set no %s", res.Request.Method, res.Request.URL.Path, name)
		return ""
	}

	res, page := do("GET", "/-/ui/sign_in", "", nil)
	signin := value(res, "pkgate_signin")
	next := fmt.Sprintf("/-/ui/projects/%d/packages", projectID)
	res, _ = do("POST", "/-/ui/sign_in", signin, url.Values{"csrf_token": {webCSRF(t, page)}, "token": {e.Admin}, "next": {next}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	session := value(res, "pkgate_session")
	res, page = do("GET", next, session, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("packages page: %d", res.StatusCode)
	}
	registry := fmt.Sprintf("Registry base URL: <code class=\"break\">%s/api/v4/projects/%d/packages</code>", e.URL, projectID)
	if !strings.Contains(page, registry) || strings.Contains(page, "evil.example") {
		t.Fatalf("packages page does not show the external URL %s:\n%s", e.URL, page)
	}
	do("POST", "/-/ui/sign_out", session, url.Values{"csrf_token": {webCSRF(t, page)}})
	do("GET", "/-/ui/", session, nil)
	return steps
}
