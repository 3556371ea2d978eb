package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// webChromium finds the browser, failing (never skipping) when it is
// missing: CI installs it, and a silently skipped browser test proves
// nothing.
func webChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PKGATE_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("PKGATE_CHROMIUM=%s is not an executable: %v", p, err)
		}
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("headless Chromium is required for the browser test and was not found at /usr/bin/chromium or on PATH: " +
		"install it (Debian/Ubuntu: apt-get install -y chromium) or point PKGATE_CHROMIUM at a Chrome/Chromium binary")
	return ""
}

var webShotsOnce sync.Once
var webShotsDir string

// webScreenshotDir is $PKGATE_TEST_ARTIFACTS/screenshots, or a temp dir.
func webScreenshotDir(t *testing.T) string {
	t.Helper()
	webShotsOnce.Do(func() {
		if a := os.Getenv("PKGATE_TEST_ARTIFACTS"); a != "" {
			webShotsDir = filepath.Join(a, "screenshots")
		} else {
			webShotsDir, _ = os.MkdirTemp("", "pkgate-screenshots-*")
		}
		_ = os.MkdirAll(webShotsDir, 0o755)
		fmt.Fprintf(os.Stderr, "tests: web screenshots in %s\n", webShotsDir)
	})
	t.Logf("screenshots in %s", webShotsDir)
	return webShotsDir
}

// webBrowser is one headless Chromium with a fresh profile.
type webBrowser struct {
	t   *testing.T
	ctx context.Context
	dir string

	mu       sync.Mutex
	problems []string // script exceptions and console errors (CSP violations included)
}

func newWebBrowser(t *testing.T) *webBrowser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(webChromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	b := &webBrowser{t: t, ctx: ctx, dir: webScreenshotDir(t)}
	exceptions := chromedp.Events(ctx, cdpruntime.ExceptionThrown)
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			b.problem("exception: " + ev.ExceptionDetails.Text + " " + ev.ExceptionDetails.URL)
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			// Network errors are expected: the test provokes 401/403 pages.
			if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
				b.problem(string(ev.Entry.Source) + ": " + ev.Entry.Text)
			}
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("browser reported: %s", p)
		}
	})
	return b
}

func (b *webBrowser) problem(s string) {
	b.mu.Lock()
	b.problems = append(b.problems, s)
	b.mu.Unlock()
}

// do runs steps, failing the test with the step's name.
func (b *webBrowser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.shot("failure-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

func webRun[T any](b *webBrowser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// js evaluates a boolean expression in the page.
func (b *webBrowser) js(expr string) bool {
	b.t.Helper()
	return webRun(b, expr, chromedp.Evaluate[bool](expr))
}

func (b *webBrowser) location() string {
	b.t.Helper()
	return webRun(b, "location", chromedp.Location())
}

// shot saves a full-page screenshot.
func (b *webBrowser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// viewportShot saves what is on screen (phone-sized pages are too long for
// one readable full-page image).
func (b *webBrowser) viewportShot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// webCurl runs the real curl binary and returns the HTTP status.
func webCurl(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is required (apt-get install -y curl)")
	}
	out, err := exec.Command(bin, append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestWebBrowserDeployTokenFlow drives headless Chromium through the whole
// deploy-token flow and checks each effect with the real curl.
func TestWebBrowserDeployTokenFlow(t *testing.T) {
	webChromium(t) // fail fast, before building the fixture
	e := NewEnv(t)
	f := newWebFixture(e)
	b := newWebBrowser(t)
	if _, err := chromedp.CallBrowser(b.ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-write"}, Setting: browser.PermissionSettingGranted, Origin: e.URL}); err != nil {
		t.Logf("clipboard permission: %v", err)
	}
	_, _ = chromedp.CallBrowser(b.ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-read"}, Setting: browser.PermissionSettingGranted, Origin: e.URL})
	settings := fmt.Sprintf("%s/-/ui/projects/%d/settings", e.URL, f.ProjectID)
	uploadURL := fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/name/1.0.0/file.txt", e.URL, f.ProjectID)
	payload := filepath.Join(t.TempDir(), "file.txt")
	if err := os.WriteFile(payload, []byte("hello from the browser test\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Sign in, with the keyboard: type the token and press Enter.
	b.do("open the pages", chromedp.Navigate(e.URL+"/-/ui/"), chromedp.WaitVisible(chromedp.ID("token")))
	if loc := b.location(); !strings.Contains(loc, "/-/ui/sign_in?next=") {
		t.Fatalf("not sent to sign-in: %s", loc)
	}
	b.shot("01-sign-in")
	b.do("wrong token", chromedp.SendKeys(chromedp.ID("token"), "glpat-wrongwrongwrongwrong"+kb.Enter),
		chromedp.WaitVisible(chromedp.ID("signin-error")))
	b.shot("01b-sign-in-error")
	b.do("sign in", chromedp.SendKeys(chromedp.ID("token"), f.maintainer+kb.Enter), chromedp.WaitVisible(chromedp.ID("projects-title")))
	b.shot("02-dashboard")
	// The session cookie is HttpOnly: page scripts cannot read it.
	if b.js(`document.cookie.includes("pkgate_session")`) {
		t.Fatal("session cookie readable from JavaScript")
	}

	// Open the project, then its settings, and expand "Deploy tokens".
	b.do("open project", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/-/ui/projects/%d"]`, f.ProjectID))),
		chromedp.WaitVisible(chromedp.ID("packages-title")))
	b.do("open settings", chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/settings"]`)), chromedp.WaitVisible(chromedp.ID("general-title")))
	if b.js(`document.getElementById("deploy-tokens").open`) {
		t.Fatal("Deploy tokens section should start collapsed")
	}
	b.shot("03-settings-collapsed")
	b.do("expand deploy tokens", chromedp.Click(chromedp.CSS(`#deploy-tokens > summary`)), chromedp.WaitVisible(chromedp.ID("field-name")))

	// Fill in the form: name, expiry, username, scopes (one by keyboard).
	expiry := time.Now().UTC().AddDate(0, 2, 0).Format("2006-01-02")
	b.do("fill form",
		chromedp.SendKeys(chromedp.ID("field-name"), "ci-publisher"),
		chromedp.SetValue(chromedp.ID("field-expires_at"), expiry),
		chromedp.SendKeys(chromedp.ID("field-username"), "ci-bot"),
		chromedp.Focus(chromedp.ID("scope-read_package_registry")),
		chromedp.KeyEvent(" "),
		chromedp.Click(chromedp.ID("scope-write_package_registry")),
	)
	if !b.js(`document.getElementById("scope-read_package_registry").checked && document.getElementById("scope-write_package_registry").checked`) {
		t.Fatal("scopes not ticked")
	}
	b.shot("04-create-form")
	b.do("create", chromedp.Click(chromedp.ID("create-token")), chromedp.WaitVisible(chromedp.ID("new-token-value")))
	token := webRun(b, "read token", chromedp.Value(chromedp.ID("new-token-value")))
	if !webSecretRE.MatchString(token) {
		t.Fatalf("shown token %q", token)
	}
	if user := webRun(b, "read username", chromedp.Value(chromedp.ID("new-token-username"))); user != "ci-bot" {
		t.Fatalf("username %q", user)
	}
	warning := webRun(b, "warning", chromedp.Text(chromedp.ID("new-token-warning")))
	if !strings.Contains(warning, "will not be shown again") {
		t.Fatalf("warning %q", warning)
	}
	if !b.js(`document.activeElement && document.activeElement.id === "new-token"`) {
		t.Fatalf("focus did not move to the new token: %s", webRun(b, "active", chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : "none"`)))
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](fmt.Sprintf(`location.href === %q`, settings+"#deploy-tokens"),
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("history entry not replaced: %s (%v)", b.location(), err)
	}
	b.do("copy", chromedp.Click(chromedp.CSS(`button[data-copy="new-token-value"]`)))
	status := webRun(b, "copy status", chromedp.Poll[string](`(document.getElementById("live-status").textContent || null)`, chromedp.WithPollingTimeout(5*time.Second)))
	if status != "Copied to clipboard." {
		t.Fatalf("copy status %q", status)
	}
	if clip, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); err == nil && clip != token {
		t.Fatalf("clipboard holds %q", clip)
	}
	b.shot("05-new-token")

	// The token works with curl: upload a generic package.
	if s := webCurl(t, "--fail-with-body", "-X", "PUT", "-H", "Deploy-Token: "+token, "--upload-file", payload, uploadURL); s != "201" {
		t.Fatalf("upload with the new token: %s", s)
	}
	// It was created as typed.
	var created map[string]any
	for _, tok := range webTokens(e, "projects", f.ProjectID) {
		if tok["name"] == "ci-publisher" {
			created = tok
		}
	}
	if created == nil || created["username"] != "ci-bot" || created["expires_at"] != expiry+"T00:00:00.000Z" ||
		fmt.Sprint(created["scopes"]) != "[read_package_registry write_package_registry]" {
		t.Fatalf("created %v", created)
	}
	before := len(webTokens(e, "projects", f.ProjectID))

	// Reload: a plain GET, no second token, the secret gone.
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("active-tokens")))
	if b.js(`document.getElementById("new-token-value") !== null`) || strings.Contains(webRun(b, "html", chromedp.OuterHTML(chromedp.CSS("html"))), token) {
		t.Fatal("the secret is shown again after a reload")
	}
	if n := len(webTokens(e, "projects", f.ProjectID)); n != before {
		t.Fatalf("reload created a token: %d, want %d", n, before)
	}
	id := int64(created["id"].(float64))
	row := webRun(b, "row", chromedp.Text(chromedp.CSS(fmt.Sprintf(`tr[data-token-id="%d"]`, id))))
	for _, want := range []string{"ci-publisher", "ci-bot", "read_package_registry", "write_package_registry", expiry} {
		if !strings.Contains(row, want) {
			t.Fatalf("row %q lacks %q", row, want)
		}
	}
	b.shot("06-token-list")

	// The packages page lists the upload with its curl command (and, for
	// the screenshot, packages of the other formats).
	webSeedPackage(e, f.ProjectID, "npm", "@acme/hello", "1.0.0", "@acme/hello-1.0.0.tgz", make([]byte, 2300))
	webSeedPackage(e, f.ProjectID, "pypi", "acme-hello", "0.1.0", "acme_hello-0.1.0-py3-none-any.whl", make([]byte, 5400))
	webSeedPackage(e, f.ProjectID, "maven", "com/acme/hello", "1.0", "hello-1.0.jar", make([]byte, 81000))
	b.do("packages", chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/packages"]`)), chromedp.WaitVisible(chromedp.ID("setup-title")))
	pkgs := webRun(b, "packages text", chromedp.Text(chromedp.ID("main")))
	for _, want := range []string{"name", "1.0.0", "file.txt", "28 B", uploadURL} {
		if !strings.Contains(pkgs, want) {
			t.Fatalf("packages page lacks %q:\n%s", want, pkgs)
		}
	}
	b.shot("07-packages")

	// Phone-sized screen: nothing scrolls sideways; screenshots of the
	// viewport at the form and at the token list.
	for _, page := range []struct{ url, wait, name string }{
		{settings + "#deploy-tokens", "active-tokens", "08-phone-settings"},
		{strings.TrimSuffix(settings, "/settings") + "/packages", "setup-title", "08-phone-packages"},
		{e.URL + "/-/ui/", "projects-title", "08-phone-dashboard"},
	} {
		b.do("phone "+page.name, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(page.url),
			chromedp.WaitVisible(chromedp.ID(page.wait)))
		if b.js(`document.documentElement.scrollWidth > window.innerWidth + 1`) {
			t.Errorf("%s scrolls sideways on a phone-sized screen", page.url)
		}
		b.viewportShot(page.name + "-a")
		if page.wait == "active-tokens" {
			b.do("scroll", chromedp.ScrollIntoView(chromedp.ID("active-tokens-title")))
			b.viewportShot(page.name + "-b")
		}
	}
	b.do("desktop", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(settings+"#deploy-tokens"), chromedp.WaitVisible(chromedp.ID("active-tokens")))

	// A forged cross-site form post (the maintainer visits another site
	// whose page submits to the gateway) is refused.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form id="f" method="post" action="%s/-/ui/projects/%d/deploy_tokens">
			<input name="name" value="evil"><input name="scopes" value="write_package_registry"></form>
			<script>document.getElementById("f").submit()</script>`, e.URL, f.ProjectID)
	}))
	defer evil.Close()
	b.do("cross-site post", chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.ID("msg-title")))
	if txt := webRun(b, "refusal", chromedp.Text(chromedp.ID("main"))); !strings.Contains(txt, "Request refused") {
		t.Fatalf("cross-site post: %s", txt)
	}
	for _, tok := range webTokens(e, "projects", f.ProjectID) {
		if tok["name"] == "evil" {
			t.Fatal("a cross-site post created a token")
		}
	}

	// Revoke: the dialog asks first; Escape cancels.
	revokeBtn := chromedp.CSS(fmt.Sprintf(`tr[data-token-id="%d"] button[type="submit"]`, id))
	b.do("back to settings", chromedp.Navigate(settings+"#deploy-tokens"), chromedp.WaitVisible(revokeBtn))
	b.do("revoke, then cancel", chromedp.Click(revokeBtn), chromedp.WaitVisible(chromedp.ID("revoke-dialog")))
	if name := webRun(b, "dialog", chromedp.Text(chromedp.ID("revoke-dialog-text"))); !strings.Contains(name, "ci-publisher") || !strings.Contains(name, "ci-bot") {
		t.Fatalf("dialog text %q", name)
	}
	b.viewportShot("09-revoke-dialog")
	b.do("escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("revoke-dialog")))
	if s := webCurl(t, "-X", "PUT", "-H", "Deploy-Token: "+token, "--upload-file", payload, uploadURL+".2"); s != "201" {
		t.Fatalf("cancelled revoke still revoked: %s", s)
	}
	b.do("revoke, confirm", chromedp.Click(revokeBtn), chromedp.WaitVisible(chromedp.ID("revoke-confirm")),
		chromedp.Click(chromedp.ID("revoke-confirm")), chromedp.WaitVisible(chromedp.ID("token-notice")))
	if b.js(fmt.Sprintf(`document.querySelector('tr[data-token-id="%d"]') !== null`, id)) {
		t.Fatal("revoked token still listed")
	}
	b.shot("10-revoked")
	if s := webCurl(t, "-X", "PUT", "-H", "Deploy-Token: "+token, "--upload-file", payload, uploadURL+".3"); s != "401" {
		t.Fatalf("upload with the revoked token: %s, want 401", s)
	}

	// The group pages, as a project maintainer with no role on the group.
	b.do("group", chromedp.Navigate(fmt.Sprintf("%s/-/ui/groups/%d", e.URL, f.SubID)), chromedp.WaitVisible(chromedp.ID("gprojects-title")))
	b.shot("10b-group-overview")
	b.do("group settings", chromedp.Navigate(fmt.Sprintf("%s/-/ui/groups/%d/settings#deploy-tokens", e.URL, f.SubID)),
		chromedp.WaitVisible(chromedp.ID("token-permissions")))
	if b.js(`document.getElementById("deploy-token-form") !== null`) {
		t.Fatal("a project maintainer sees the group's create form")
	}
	// Dark colour scheme.
	scheme := func(v string) {
		if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}}); err != nil {
			t.Fatalf("colour scheme: %v", err)
		}
	}
	scheme("dark")
	b.do("dark", chromedp.Navigate(settings+"#deploy-tokens"), chromedp.WaitVisible(chromedp.ID("active-tokens")))
	b.shot("10c-settings-dark")
	scheme("light")

	// Sign out, then as a developer: the page without form or buttons.
	b.do("sign out", chromedp.Click(chromedp.CSS(`form[action="/-/ui/sign_out"] button`)), chromedp.WaitVisible(chromedp.ID("token")))
	b.do("sign in as developer", chromedp.SendKeys(chromedp.ID("token"), f.developer+kb.Enter), chromedp.WaitVisible(chromedp.ID("projects-title")),
		chromedp.Navigate(settings+"#deploy-tokens"), chromedp.WaitVisible(chromedp.ID("token-permissions")))
	if b.js(`document.getElementById("deploy-token-form") !== null || document.querySelector('form[action*="/revoke"]') !== null`) {
		t.Fatal("a developer sees the create form or Revoke buttons")
	}
	b.shot("11-developer-settings")

	// Forged posts with the developer's real session: without the CSRF
	// token, and with it.
	cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.URL + "/-/ui/"}})
	if err != nil {
		t.Fatal(err)
	}
	var sess *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "pkgate_session" {
			sess = c
		}
	}
	if sess == nil || !sess.HTTPOnly || sess.SameSite != network.CookieSameSiteLax || sess.Path != "/-/ui" {
		t.Fatalf("session cookie %+v", sess)
	}
	csrf := webRun(b, "csrf", chromedp.Evaluate[string](`document.querySelector('input[name="csrf_token"]').value`))
	w := newWebClient(e)
	u, _ := url.Parse(e.URL + "/-/ui/")
	w.http.Jar.SetCookies(u, []*http.Cookie{{Name: sess.Name, Value: sess.Value, Path: "/-/ui"}})
	form := url.Values{"name": {"forged"}, "scopes": {"write_package_registry"}}
	if r := w.post(fmt.Sprintf("/-/ui/projects/%d/deploy_tokens", f.ProjectID), form); r.Status != http.StatusForbidden {
		t.Fatalf("forged post without csrf: %d", r.Status)
	}
	form.Set("csrf_token", csrf)
	if r := w.post(fmt.Sprintf("/-/ui/projects/%d/deploy_tokens", f.ProjectID), form); r.Status != http.StatusForbidden {
		t.Fatalf("forged post with csrf, developer rights: %d", r.Status)
	}
	for _, tok := range webTokens(e, "projects", f.ProjectID) {
		if tok["name"] == "forged" {
			t.Fatal("a developer created a token")
		}
	}
}

// TestWebBrowserValidationMessages: server-side messages render next to
// their fields and in a focused summary (the browser's own checks are
// switched off to reach the server).
func TestWebBrowserValidationMessages(t *testing.T) {
	webChromium(t)
	e := NewEnv(t)
	f := newWebFixture(e)
	b := newWebBrowser(t)
	b.do("sign in", chromedp.Navigate(e.URL+"/-/ui/sign_in"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), f.maintainer+kb.Enter), chromedp.WaitVisible(chromedp.ID("projects-title")),
		chromedp.Navigate(fmt.Sprintf("%s/-/ui/projects/%d/settings#deploy-tokens", e.URL, f.ProjectID)),
		chromedp.WaitVisible(chromedp.ID("field-name")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("deploy-token-form").noValidate = true;
			document.getElementById("field-expires_at").removeAttribute("min");`),
		chromedp.SetValue(chromedp.ID("field-expires_at"), "2001-01-01"),
		chromedp.SendKeys(chromedp.ID("field-username"), "not valid"),
		chromedp.Click(chromedp.ID("create-token")),
		chromedp.WaitVisible(chromedp.ID("error-summary")),
	)
	summary := webRun(b, "summary", chromedp.Text(chromedp.ID("error-summary")))
	for _, want := range []string{"Enter a name for the token.", "Expiration date must be in the future.", "Username can contain only", "Select at least one scope."} {
		if !strings.Contains(summary, want) {
			t.Fatalf("summary %q lacks %q", summary, want)
		}
	}
	if !b.js(`document.activeElement.id === "error-summary" && document.getElementById("field-name").getAttribute("aria-invalid") === "true"`) {
		t.Fatal("focus or aria-invalid wrong")
	}
	b.shot("12-validation-errors")
}
