package tests

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/storage/meta"
)

// TestWebSignInAndSession: the PAT is checked once and never kept in the
// browser; the session cookie is HttpOnly/SameSite, opens no API endpoint,
// follows the source token's fate and ends at sign-out.
func TestWebSignInAndSession(t *testing.T) {
	e := NewEnv(t)
	uid, pat := e.User("alice")
	w := newWebClient(e)

	// Anonymous visitors are sent to the sign-in form, remembering the page.
	r := w.get("/-/ui/projects/1/settings")
	if r.Status != http.StatusSeeOther || r.Location != "/-/ui/sign_in?next=%2F-%2Fui%2Fprojects%2F1%2Fsettings" {
		t.Fatalf("anonymous: %d %q", r.Status, r.Location)
	}
	if r := w.get("/-/ui"); r.Status != http.StatusMovedPermanently || r.Location != "/-/ui/" {
		t.Fatalf("/-/ui: %d %q", r.Status, r.Location)
	}

	form := w.get("/-/ui/sign_in")
	form.mustContain(t, `<label for="token">Personal access token</label>`, `type="password"`)
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if form.Header.Get(h) == "" {
			t.Errorf("sign-in page lacks %s", h)
		}
	}
	if cc := form.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	csrf := webCSRF(t, form.Body)

	// Wrong tokens: a clear message, no session.
	for _, c := range []struct{ tok, msg string }{
		{"", "Enter a personal access token."},
		{"glpat-doesnotexist00000", "This token is not valid."},
		{e.Admin[:len(e.Admin)-1], "This token is not valid."},
	} {
		r := w.post("/-/ui/sign_in", url.Values{"csrf_token": {csrf}, "token": {c.tok}})
		if r.Status < 400 || !strings.Contains(r.Body, c.msg) {
			t.Fatalf("token %q: %d, want message %q", c.tok, r.Status, c.msg)
		}
		if w.cookie("pkgate_session") != "" {
			t.Fatal("session cookie after a failed sign-in")
		}
	}
	// A PAT without api/read_api cannot sign in.
	p := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", uid),
		map[string]any{"name": "u", "scopes": []string{"read_user"}}, PAT(e.Admin))).Map(t)
	r = w.post("/-/ui/sign_in", url.Values{"csrf_token": {csrf}, "token": {p["token"].(string)}})
	if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "needs the api scope") {
		t.Fatalf("read_user token: %d", r.Status)
	}
	// The sign-in form itself is CSRF-protected (login CSRF).
	if r := w.post("/-/ui/sign_in", url.Values{"token": {pat}}); r.Status != http.StatusForbidden {
		t.Fatalf("sign-in without form token: %d", r.Status)
	}
	if r := newWebClient(e).post("/-/ui/sign_in", url.Values{"csrf_token": {csrf}, "token": {pat}}); r.Status != http.StatusForbidden {
		t.Fatalf("sign-in with another browser's form token: %d", r.Status)
	}

	// Success: the next parameter is honoured only for pages.
	r = w.post("/-/ui/sign_in", url.Values{"csrf_token": {csrf}, "token": {pat}, "next": {"//evil.example/"}})
	if r.Status != http.StatusSeeOther || r.Location != "/-/ui/" {
		t.Fatalf("sign in: %d %q %s", r.Status, r.Location, r.Body)
	}
	var sc *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "pkgate_session" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/-/ui" || sc.Secure {
		t.Fatalf("session cookie %+v", sc)
	}
	if strings.Contains(sc.Value, pat) || strings.Contains(pat, sc.Value) {
		t.Fatal("the PAT is in the cookie")
	}
	// The session secret is no token: the API does not know it.
	if r := e.Do("GET", "/api/v4/user", nil, PAT(sc.Value)); r.Status != http.StatusUnauthorized {
		t.Fatalf("session secret on the API: %d %s", r.Status, r.Body)
	}
	dash := w.get("/-/ui/")
	dash.mustContain(t, "Groups and projects", "alice")
	dash.mustNotContain(t, pat)

	// Revoking the token the user signed in with ends the session.
	if _, err := e.Store.DB().ExecContext(context.Background(),
		`UPDATE personal_access_tokens SET revoked = true WHERE user_id = $1 AND name = 't'`, uid); err != nil {
		t.Fatal(err)
	}
	r = w.get("/-/ui/")
	if r.Status != http.StatusSeeOther || !strings.Contains(r.Location, "reason=expired") {
		t.Fatalf("after revoking the source token: %d %q", r.Status, r.Location)
	}

	// Sign out deletes the session row; the old cookie is worthless.
	_, pat2 := e.User("bob")
	w2 := newWebClient(e)
	dcsrf := w2.signIn(pat2)
	old := w2.cookie("pkgate_session")
	if r := w2.post("/-/ui/sign_out", url.Values{}); r.Status != http.StatusForbidden {
		t.Fatalf("sign out without csrf: %d", r.Status)
	}
	r = w2.post("/-/ui/sign_out", url.Values{"csrf_token": {dcsrf}})
	if r.Status != http.StatusSeeOther || !strings.Contains(r.Location, "signed_out") {
		t.Fatalf("sign out: %d %q", r.Status, r.Location)
	}
	w3 := newWebClient(e)
	u, _ := url.Parse(e.URL + "/-/ui/")
	w3.http.Jar.SetCookies(u, []*http.Cookie{{Name: "pkgate_session", Value: old, Path: "/-/ui"}})
	if r := w3.get("/-/ui/"); r.Status != http.StatusSeeOther {
		t.Fatalf("old cookie after sign-out: %d", r.Status)
	}
	var n int
	if err := e.Store.DB().GetContext(context.Background(), &n,
		`SELECT count(*) FROM web_sessions WHERE user_id = (SELECT id FROM users WHERE username = 'bob')`); err != nil || n != 0 {
		t.Fatalf("session rows after sign-out: %d %v", n, err)
	}
}

// webFixture: the scenario plus one user per role.
type webFixture struct {
	Scenario
	maintainer, developer, groupMaintainer, groupOwner, outsider, reader string
}

func newWebFixture(e *Env) webFixture {
	f := webFixture{Scenario: e.NewScenario()}
	add := func(name, kind string, id int64, level int) string {
		uid, pat := e.User(name)
		if level > 0 {
			e.Member(kind, id, uid, level)
		}
		return pat
	}
	f.maintainer = add("maria", "projects", f.ProjectID, meta.Maintainer)
	f.developer = add("dave", "projects", f.ProjectID, meta.Developer)
	f.groupMaintainer = add("gina", "groups", f.GroupID, meta.Maintainer)
	f.groupOwner = add("otto", "groups", f.GroupID, meta.Owner)
	f.outsider = add("olga", "", 0, 0)
	// A maintainer signed in with a read_api token.
	uid, _ := e.User("rita")
	e.Member("projects", f.ProjectID, uid, meta.Maintainer)
	p := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", uid),
		map[string]any{"name": "ro", "scopes": []string{"read_api"}}, PAT(e.Admin))).Map(e.t)
	f.reader = p["token"].(string)
	return f
}

// webTokenAudits lists a project's deploy-token audit events, newest
// first, one "event token_id by author" a line.
func webTokenAudits(e *Env, project int64) string {
	var lines []string
	for _, ev := range auditList(e, fmt.Sprintf("/api/v4/audit_events?action=deploy_token&entity_type=Project&entity_id=%d", project), e.Admin) {
		d, _ := ev["details"].(map[string]any)
		lines = append(lines, fmt.Sprint(ev["event_name"], " ", d["token_id"], " by ", ev["author_name"]))
	}
	return strings.Join(lines, "\n")
}

// TestWebTokenPermissions: who sees the form and the Revoke buttons, and
// the server refusing every post the page would not have offered.
func TestWebTokenPermissions(t *testing.T) {
	e := NewEnv(t)
	f := newWebFixture(e)
	proj := fmt.Sprintf("/-/ui/projects/%d", f.ProjectID)
	grp := fmt.Sprintf("/-/ui/groups/%d", f.GroupID)
	before := len(webTokens(e, "projects", f.ProjectID))
	valid := url.Values{"name": {"x"}, "scopes": {"read_package_registry"}}
	with := func(csrf string) url.Values {
		v := url.Values{"csrf_token": {csrf}}
		for k, x := range valid {
			v[k] = x
		}
		return v
	}

	// Maintainer: form, table, Revoke buttons.
	m := newWebClient(e)
	m.signIn(f.maintainer)
	page := m.get(proj + "/settings")
	page.mustContain(t, `id="deploy-token-form"`, `id="active-tokens"`, "Revoke", `<fieldset class="scopes`, "<legend>Scopes",
		`<label for="field-name">Name</label>`, `<label for="field-expires_at">`, `<label for="field-username">`)
	for _, s := range []string{"read_repository", "read_registry", "write_registry", "read_package_registry", "write_package_registry"} {
		page.mustContain(t, `id="scope-`+s+`"`)
	}
	page.mustNotContain(t, f.WriteToken, f.ReadToken)

	// Developer: the page, but neither form nor token list; posts refused
	// with or without a valid CSRF token.
	d := newWebClient(e)
	dcsrf := d.signIn(f.developer)
	page = d.get(proj + "/settings")
	if page.Status != 200 {
		t.Fatalf("developer settings: %d", page.Status)
	}
	page.mustContain(t, "Only maintainers and owners of this project", "Your role: Developer")
	page.mustNotContain(t, `id="deploy-token-form"`, `id="active-tokens"`, "/revoke")
	if r := d.post(proj+"/deploy_tokens", valid); r.Status != http.StatusForbidden {
		t.Fatalf("developer post without csrf: %d", r.Status)
	}
	if r := d.post(proj+"/deploy_tokens", with(dcsrf)); r.Status != http.StatusForbidden || !strings.Contains(r.Body, "cannot create deploy tokens") {
		t.Fatalf("developer post with csrf: %d", r.Status)
	}
	if r := d.post(fmt.Sprintf("%s/deploy_tokens/1/revoke", proj), url.Values{"csrf_token": {dcsrf}, "confirm": {"yes"}}); r.Status != http.StatusForbidden {
		t.Fatalf("developer revoke: %d", r.Status)
	}
	if n := len(webTokens(e, "projects", f.ProjectID)); n != before {
		t.Fatalf("tokens %d, want %d", n, before)
	}
	for _, tok := range webTokens(e, "projects", f.ProjectID) {
		if tok["revoked"].(bool) {
			t.Fatal("a developer revoked a token")
		}
	}

	// A maintainer's valid session is not enough without the CSRF token, or
	// from another origin.
	mcsrf := webCSRF(t, m.get(proj+"/settings").Body)
	if r := m.post(proj+"/deploy_tokens", valid); r.Status != http.StatusForbidden {
		t.Fatalf("maintainer post without csrf: %d", r.Status)
	}
	if r := m.post(proj+"/deploy_tokens", with(dcsrf)); r.Status != http.StatusForbidden {
		t.Fatalf("maintainer post with another session's csrf: %d", r.Status)
	}
	if r := m.do("POST", proj+"/deploy_tokens", with(mcsrf), H{"Origin": "https://evil.example"}); r.Status != http.StatusForbidden {
		t.Fatalf("cross-origin post: %d", r.Status)
	}
	if n := len(webTokens(e, "projects", f.ProjectID)); n != before {
		t.Fatalf("tokens %d, want %d", n, before)
	}

	// read_api session: read-only.
	ro := newWebClient(e)
	rocsrf := ro.signIn(f.reader)
	page = ro.get(proj + "/settings")
	page.mustContain(t, "read-only token", `id="active-tokens"`)
	page.mustNotContain(t, `id="deploy-token-form"`, "/revoke")
	if r := ro.post(proj+"/deploy_tokens", with(rocsrf)); r.Status != http.StatusForbidden {
		t.Fatalf("read_api post: %d", r.Status)
	}

	// Outsider: the private project does not exist for them.
	o := newWebClient(e)
	ocsrf := o.signIn(f.outsider)
	if r := o.get(proj + "/settings"); r.Status != http.StatusNotFound {
		t.Fatalf("outsider settings: %d", r.Status)
	}
	if r := o.post(proj+"/deploy_tokens", with(ocsrf)); r.Status != http.StatusNotFound {
		t.Fatalf("outsider post: %d", r.Status)
	}
	o.get("/-/ui/").mustNotContain(t, "acme")

	// Group: maintainers see the list, only owners manage it.
	gm := newWebClient(e)
	gmcsrf := gm.signIn(f.groupMaintainer)
	page = gm.get(grp + "/settings")
	page.mustContain(t, "Only owners of this group can create or revoke", `id="no-tokens"`)
	page.mustNotContain(t, `id="deploy-token-form"`)
	if r := gm.post(grp+"/deploy_tokens", with(gmcsrf)); r.Status != http.StatusForbidden {
		t.Fatalf("group maintainer post: %d", r.Status)
	}
	// ...but a group maintainer is a project maintainer through inheritance.
	gm.get(proj+"/settings").mustContain(t, `id="deploy-token-form"`)

	gowner := newWebClient(e)
	gocsrf := gowner.signIn(f.groupOwner)
	page = gowner.get(grp + "/settings")
	page.mustContain(t, `id="deploy-token-form"`)
	v := with(gocsrf)
	v.Set("name", "group-ci")
	v["scopes"] = []string{"write_package_registry"}
	r := gowner.post(grp+"/deploy_tokens", v)
	if r.Status != http.StatusCreated {
		t.Fatalf("group owner create: %d\n%s", r.Status, r.Body)
	}
	secret := webSecretRE.FindString(r.Body)
	if secret == "" {
		t.Fatal("no secret shown")
	}
	gts := webTokens(e, "groups", f.GroupID)
	if len(gts) != 1 || gts[0]["name"] != "group-ci" {
		t.Fatalf("group tokens %v", gts)
	}
	// Admins manage everything.
	adm := newWebClient(e)
	adm.signIn(e.Admin)
	adm.get(grp+"/settings").mustContain(t, `id="deploy-token-form"`, "group-ci", "your role: <strong>Administrator</strong>")
	adm.get("/-/ui/").mustContain(t, "Acme / Sub / app", "Administrator")
	if r := adm.get("/-/ui/groups/999999/settings"); r.Status != http.StatusNotFound || !strings.Contains(r.Body, "Page not found") {
		t.Fatalf("missing group: %d", r.Status)
	}
	// The group token reaches the project below the group.
	e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/g/1.0.0/a.txt", f.ProjectID), "x", DeployHdr(secret)))
	// Subgroup members see the parent group (they are members below it) but
	// not its tokens.
	page = d.get(grp + "/settings")
	page.mustContain(t, "Only maintainers and owners of this group")
	page.mustNotContain(t, "group-ci")
}

// TestWebCreateValidationAndOneTimeDisplay: clear messages for bad input,
// values kept; the secret appears once, never again, never in logs.
func TestWebCreateValidationAndOneTimeDisplay(t *testing.T) {
	e := NewEnv(t)
	f := newWebFixture(e)
	proj := fmt.Sprintf("/-/ui/projects/%d", f.ProjectID)
	m := newWebClient(e)
	m.signIn(f.maintainer)
	csrf := webCSRF(t, m.get(proj+"/settings").Body)
	before := len(webTokens(e, "projects", f.ProjectID))

	r := m.post(proj+"/deploy_tokens", url.Values{"csrf_token": {csrf}, "name": {"  "}, "expires_at": {"2001-02-03"}, "username": {"bad name"}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid form: %d", r.Status)
	}
	r.mustContain(t, `id="error-summary"`, "Enter a name for the token.", "Expiration date must be in the future.",
		"Username can contain only letters, digits", "Select at least one scope.", `aria-invalid="true"`,
		`value="2001-02-03"`, `value="bad name"`, ` open>`)
	r = m.post(proj+"/deploy_tokens", url.Values{"csrf_token": {csrf}, "name": {"x"}, "scopes": {"read_package_registry", "sudo"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "Unknown scope: sudo.") {
		t.Fatalf("unknown scope: %d", r.Status)
	}
	r.mustContain(t, `id="scope-read_package_registry" name="scopes" value="read_package_registry" checked`)
	if n := len(webTokens(e, "projects", f.ProjectID)); n != before {
		t.Fatalf("tokens %d, want %d", n, before)
	}

	r = m.post(proj+"/deploy_tokens", url.Values{"csrf_token": {csrf}, "name": {"ci-reader"}, "expires_at": {"2099-01-31"},
		"username": {"reader-bot"}, "scopes": {"read_package_registry"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d\n%s", r.Status, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	secret := webSecretRE.FindString(r.Body)
	r.mustContain(t, "It will not be shown again", `aria-live="polite"`, `value="reader-bot"`, `data-replace-url="`+proj+`/settings#deploy-tokens"`)
	if secret == "" {
		t.Fatal("no secret")
	}
	// The token works, exactly as created: on this private project a refused
	// credential gets 401, an accepted one 404 for the missing file.
	e.Must(404, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/generic/none/1.0.0/x.txt", f.ProjectID), nil, Basic("reader-bot", secret)))
	e.Must(401, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/generic/none/1.0.0/x.txt", f.ProjectID), nil, Basic("reader-bot", secret+"x")))
	var got map[string]any
	for _, tok := range webTokens(e, "projects", f.ProjectID) {
		if tok["name"] == "ci-reader" {
			got = tok
		}
	}
	if got == nil || got["username"] != "reader-bot" || got["expires_at"] != "2099-01-31T00:00:00.000Z" {
		t.Fatalf("token %v", got)
	}
	// Audited as the REST API's creation is, the refused forms not at all.
	if a := webTokenAudits(e, f.ProjectID); !strings.HasPrefix(a, fmt.Sprintf("deploy_token_created %v by maria\n", got["id"])) ||
		strings.Count(a, "maria") != 1 {
		t.Errorf("audit events: %s", a)
	}
	// Never again: not on the settings page, the dashboard, or in logs.
	for _, p := range []string{proj + "/settings", "/-/ui/", proj + "/packages"} {
		page := m.get(p)
		page.mustNotContain(t, secret)
		if webSecretRE.MatchString(page.Body) {
			t.Fatalf("%s shows a token secret", p)
		}
	}
	m.get(proj+"/settings").mustContain(t, "ci-reader", "reader-bot", "2099-01-31")
	logMu.Lock()
	logs, _ := os.ReadFile(logFile.Name())
	logMu.Unlock()
	if bytes.Contains(logs, []byte(secret)) || bytes.Contains(logs, []byte(f.maintainer)) {
		t.Fatal("a secret was logged")
	}
}

// TestWebRevokeWithoutJavaScript: the first post shows a confirmation page;
// the confirmed post revokes, and the token stops working at once even
// though it was cached.
func TestWebRevokeWithoutJavaScript(t *testing.T) {
	e := NewEnv(t)
	f := newWebFixture(e)
	proj := fmt.Sprintf("/-/ui/projects/%d", f.ProjectID)
	m := newWebClient(e)
	m.signIn(f.maintainer)
	page := m.get(proj + "/settings")
	csrf := webCSRF(t, page.Body)
	put := func() int {
		return e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/r/1.0.0/f.txt", f.ProjectID), "x", DeployHdr(f.WriteToken)).Status
	}
	if s := put(); s != 201 { // also caches the token
		t.Fatalf("before revoke: %d", s)
	}
	var id int64
	for _, tok := range webTokens(e, "projects", f.ProjectID) {
		if tok["username"] == f.WriteUser {
			id = int64(tok["id"].(float64))
		}
	}
	path := fmt.Sprintf("%s/deploy_tokens/%d/revoke", proj, id)
	r := m.post(path, url.Values{"csrf_token": {csrf}})
	if r.Status != 200 {
		t.Fatalf("unconfirmed revoke: %d", r.Status)
	}
	r.mustContain(t, "Revoke deploy token", f.WriteUser, `name="confirm" value="yes"`)
	if s := put(); s != 201 {
		t.Fatalf("token revoked without confirmation: %d", s)
	}
	r = m.post(path, url.Values{"csrf_token": {csrf}, "confirm": {"yes"}})
	want := fmt.Sprintf("%s/settings?revoked=%d#deploy-tokens", proj, id)
	if r.Status != http.StatusSeeOther || r.Location != want {
		t.Fatalf("revoke: %d %q", r.Status, r.Location)
	}
	if s := put(); s != 401 {
		t.Fatalf("after revoke: %d", s)
	}
	if a := webTokenAudits(e, f.ProjectID); !strings.HasPrefix(a, fmt.Sprintf("deploy_token_revoked %d by maria\n", id)) ||
		strings.Count(a, "revoked") != 1 {
		t.Errorf("audit events: %s", a)
	}
	page = m.get(fmt.Sprintf("%s/settings?revoked=%d", proj, id))
	page.mustContain(t, "was revoked")
	page.mustNotContain(t, fmt.Sprintf(`data-token-id="%d"`, id))
	for _, tok := range webTokens(e, "projects", f.ProjectID) {
		if int64(tok["id"].(float64)) == id && tok["revoked"] != true {
			t.Fatalf("API shows %v", tok)
		}
	}
	// A token of another project cannot be revoked through this one.
	other := e.Project("other", f.SubID, "private")
	_, _, otherID := e.DeployToken("projects", other, "read_package_registry")
	if r := m.post(fmt.Sprintf("%s/deploy_tokens/%d/revoke", proj, otherID), url.Values{"csrf_token": {csrf}, "confirm": {"yes"}}); r.Status != http.StatusNotFound {
		t.Fatalf("foreign token: %d", r.Status)
	}
}

// TestWebPackagesPage: files, sizes and install commands with the
// gateway's external URL.
func TestWebPackagesPage(t *testing.T) {
	e := NewEnv(t)
	f := newWebFixture(e)
	e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/2.1.0/tool-linux.tar.gz", f.ProjectID),
		bytes.Repeat([]byte("z"), 3000), DeployHdr(f.WriteToken)))
	webSeedPackage(e, f.ProjectID, "npm", "@acme/hello", "1.0.0", "@acme/hello-1.0.0.tgz", []byte("tgz"))
	webSeedPackage(e, f.ProjectID, "pypi", "acme-hello", "0.1.0", "acme_hello-0.1.0-py3-none-any.whl", []byte("whl"))
	webSeedPackage(e, f.ProjectID, "maven", "com/acme/hello", "1.0", "hello-1.0.jar", []byte("jar"))
	d := newWebClient(e)
	d.signIn(f.developer)
	page := d.get(fmt.Sprintf("/-/ui/projects/%d/packages", f.ProjectID))
	api := fmt.Sprintf("%s/api/v4/projects/%d/packages/", e.URL, f.ProjectID)
	page.mustContain(t,
		"npm install @acme/hello@1.0.0 --@acme:registry="+api+"npm/",
		`pip install --index-url "`+strings.Replace(api, "://", "://__token__:$DEPLOY_TOKEN@", 1)+`pypi/simple" acme-hello==0.1.0`,
		"mvn dependency:get -Dartifact=com.acme:hello:1.0 -DremoteRepositories=gateway::default::"+api+"maven",
		"acme_hello-0.1.0-py3-none-any.whl", "hello-1.0.jar")
	if page.Status != 200 {
		t.Fatalf("packages: %d", page.Status)
	}
	page.mustContain(t, "tool", "2.1.0", "tool-linux.tar.gz", "2.9 KiB",
		fmt.Sprintf(`--output tool-linux.tar.gz %s/api/v4/projects/%d/packages/generic/tool/2.1.0/tool-linux.tar.gz`, e.URL, f.ProjectID),
		fmt.Sprintf(`%s/api/v4/projects/%d/packages/maven`, e.URL, f.ProjectID))
	// The dashboard lists what the user can see, with their role.
	dash := d.get("/-/ui/")
	dash.mustContain(t, "Acme / Sub / app", "Developer")
	// Static assets are versioned and cacheable.
	st := d.get("/-/ui/static/app.css")
	if st.Status != 200 || !strings.HasPrefix(st.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("css: %d %s", st.Status, st.Header.Get("Content-Type"))
	}
}

// Wrong tokens sent through the sign-in form count against the per-address
// limit of failed authentications as wrong tokens in a header do: the form
// is no way around the 429.
func TestWebSignInRateLimited(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.AuthFailBurst, c.AuthFailPerMinute = 5, 1 })
	w := newWebClient(e)
	limited := 0
	for i := range 12 {
		page := w.get("/-/ui/sign_in")
		if page.Status == http.StatusTooManyRequests { // the address is limited everywhere now
			limited++
			break
		}
		csrf := webCSRF(t, page.Body)
		r := w.post("/-/ui/sign_in", url.Values{"csrf_token": {csrf}, "token": {fmt.Sprintf("glpat-guess%09d", i)}})
		switch r.Status {
		case http.StatusTooManyRequests:
			limited++
		case http.StatusUnauthorized:
		default:
			t.Fatalf("guess %d: %d", i, r.Status)
		}
	}
	if limited == 0 {
		t.Fatal("twelve wrong tokens through the form, never a 429")
	}
}

// A project opened by its path keeps that path, %2F and all, in its page
// links: the decoded path would point at acme/sub/app, which is no page.
func TestWebPagerKeepsEscapedPath(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	for i := range 51 {
		e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p%02d/1.0/f.bin", s.ProjectID, i), "x", PAT(e.Admin)))
	}
	w := newWebClient(e)
	w.signIn(e.Admin)
	r := w.get("/-/ui/projects/acme%2Fsub%2Fapp/packages")
	if r.Status != http.StatusOK {
		t.Fatalf("packages page: %d", r.Status)
	}
	r.mustContain(t, `href="/-/ui/projects/acme%2Fsub%2Fapp/packages?page=2"`)
}

// TestWebCookiesSecureBehindProxy: behind a TLS-terminating proxy the
// external URL may be left at its http default; the pages' cookies are
// Secure anyway when the request came over TLS or a trusted proxy says the
// browser used https. The same headers from any other peer change nothing
// at all, and the pages' URLs never follow them.
func TestWebCookiesSecureBehindProxy(t *testing.T) {
	envs := []struct {
		name    string
		proxies []string
		trusted bool // the test's own address, 127.0.0.1, is a trusted proxy
	}{
		{"no trusted proxies", nil, false},
		{"peer not among them", []string{"192.0.2.1", "10.0.0.0/8"}, false},
		{"peer trusted", []string{"10.0.0.0/8", "127.0.0.0/8"}, true},
	}
	headers := []struct {
		name   string
		h      H
		secure bool // when the peer is trusted
	}{
		{"X-Forwarded-Proto https", H{"X-Forwarded-Proto": "https"}, true},
		{"Forwarded proto=https", H{"Forwarded": "for=203.0.113.9;proto=https"}, true},
		{"X-Forwarded-Proto http", H{"X-Forwarded-Proto": "http"}, false},
		{"the client's https before the proxy's http", H{"X-Forwarded-Proto": "https, http"}, false},
		{"every forwarding header", H{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-Port": "443",
			"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9;host=evil.example;proto=https"}, true},
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	withSecure := func(steps []webStep, secure bool) []webStep {
		out := make([]webStep, len(steps))
		for i, s := range steps {
			out[i] = s
			out[i].Cookies = slices.Clone(s.Cookies)
			for j := range out[i].Cookies {
				out[i].Cookies[j].Secure = secure
			}
		}
		return out
	}
	for _, env := range envs {
		t.Run(env.name, func(t *testing.T) {
			e := NewEnv(t, func(c *gateway.Config) { c.TrustedProxies = env.proxies })
			pid := e.Project("app", e.Group("acme", 0, "private"), "private")
			plain := &http.Client{Timeout: time.Minute, CheckRedirect: noRedirect}

			next := fmt.Sprintf("/-/ui/projects/%d/packages", pid)
			signin := webCookieSeen{Name: "pkgate_signin", Path: "/-/ui", MaxAge: 3600, HttpOnly: true, SameSite: http.SameSiteStrictMode}
			session := webCookieSeen{Name: "pkgate_session", Path: "/-/ui", MaxAge: 12 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode}
			cleared := func(c webCookieSeen) webCookieSeen { c.MaxAge, c.SameSite = -1, http.SameSiteLaxMode; return c }
			want := []webStep{
				{Status: http.StatusOK, Cookies: []webCookieSeen{signin}},
				{Status: http.StatusSeeOther, Location: next, Cookies: []webCookieSeen{session, cleared(signin)}},
				{Status: http.StatusOK},
				{Status: http.StatusSeeOther, Location: "/-/ui/sign_in?reason=signed_out", Cookies: []webCookieSeen{cleared(session)}},
				{Status: http.StatusSeeOther, Location: "/-/ui/sign_in?next=%2F-%2Fui%2F&reason=expired", Cookies: []webCookieSeen{cleared(session)}},
			}
			if got := webCookieFlow(t, e, plain, e.URL, nil, pid); !reflect.DeepEqual(got, want) {
				t.Fatalf("plain http:\n got %+v\nwant %+v", got, want)
			}
			for _, hc := range headers {
				t.Run(hc.name, func(t *testing.T) {
					got := webCookieFlow(t, e, plain, e.URL, hc.h, pid)
					if w := withSecure(want, env.trusted && hc.secure); !reflect.DeepEqual(got, w) {
						t.Fatalf("\n got %+v\nwant %+v", got, w)
					}
				})
			}
			// The same gateway reached over TLS: Secure whatever the
			// configuration and a proxy header say, URLs unchanged.
			t.Run("direct TLS", func(t *testing.T) {
				ts := httptest.NewUnstartedServer(e.Server.Handler())
				ts.StartTLS()
				defer ts.Close()
				c := ts.Client()
				c.CheckRedirect, c.Timeout = noRedirect, time.Minute
				got := webCookieFlow(t, e, c, ts.URL, H{"X-Forwarded-Proto": "http"}, pid)
				if w := withSecure(want, true); !reflect.DeepEqual(got, w) {
					t.Fatalf("\n got %+v\nwant %+v", got, w)
				}
			})
		})
	}
}

// Strict-Transport-Security goes only on answers to requests that came
// over https as the gateway can know it: an https external URL, or a
// trusted proxy's X-Forwarded-Proto/Forwarded. The same header from an
// untrusted peer, or plain http, gets none; GATEWAY_HSTS_MAX_AGE=0 turns
// it off.
func TestHSTS(t *testing.T) {
	for _, env := range []struct {
		name   string
		config func(c *gateway.Config)
		https  bool // for a request whose peer says https
		plain  bool // for a plain request
	}{
		{"no trusted proxies", func(c *gateway.Config) {}, false, false},
		{"peer trusted", func(c *gateway.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} }, true, false},
		{"https external URL", func(c *gateway.Config) { c.ExternalURL = "https://pkg.example.test" }, true, true},
		{"turned off", func(c *gateway.Config) { c.TrustedProxies = []string{"127.0.0.0/8"}; c.HSTSMaxAge = 0 }, false, false},
	} {
		t.Run(env.name, func(t *testing.T) {
			e := NewEnv(t, env.config)
			e.URL = "http://" + e.Cfg.Listen // not the external URL's host
			for _, rq := range []struct {
				h    H
				want bool
			}{
				{H{}, env.plain},
				{H{"X-Forwarded-Proto": "https"}, env.https},
				{H{"Forwarded": "for=203.0.113.9;proto=https"}, env.https},
				{H{"X-Forwarded-Proto": "http"}, env.plain},
			} {
				for _, path := range []string{"/-/health", "/api/v4/projects/999999/packages/generic/a/1/f.bin"} {
					r := e.Do("GET", path, nil, rq.h)
					got := r.Header.Get("Strict-Transport-Security")
					if want := map[bool]string{true: "max-age=63072000", false: ""}[rq.want]; got != want {
						t.Errorf("%s with %v: Strict-Transport-Security %q, want %q", path, rq.h, got, want)
					}
				}
			}
		})
	}
}
