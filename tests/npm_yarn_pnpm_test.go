package tests

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The JS package managers other than npm that GitLab users point at its npm
// registry: yarn classic, yarn berry and pnpm, each driven as the real
// client against the gateway with the configuration GitLab documents for
// it. .ci/run installs the pinned versions (yarn 1.22.22, yarn berry
// 4.18.1 as yarn-berry, pnpm 10.34.9, pnpm 9.15.9 as pnpm9); the tests
// check the major version only.
//
// The scenario of every client: publish @acme/dep 1.0.0 and 1.1.0 and
// @acme/hello 1.0.0 (which requires @acme/dep ^1.0.0) with the client's own
// publish command and a write deploy token; install @acme/hello with a read
// deploy token from the project-level registry, which writes a lockfile;
// install again from that lockfile alone (frozen/immutable, fresh checkout,
// empty caches) and from the instance-level registry; after each install
// node must load @acme/hello, which requires @acme/dep, from the files the
// client laid down.

// jsTool names a client: its command on PATH, the major version the tests
// are written for, and what installs it.
type jsTool struct {
	cmd, major, install string
}

var (
	yarnClassicTool = jsTool{"yarn", "1.", "npm install -g yarn@1.22.22"}
	yarnBerryTool   = jsTool{"yarn-berry", "4.", ".ci/run (@yarnpkg/cli-dist@4.18.1 linked as yarn-berry)"}
	pnpm10Tool      = jsTool{"pnpm", "10.", "npm install -g pnpm@10.34.9"}
	pnpm9Tool       = jsTool{"pnpm9", "9.", ".ci/run (pnpm@9.15.9 linked as pnpm9)"}
)

// jsClient runs one client in isolation. HOME is a fresh directory, so the
// user config, yarn berry's global folder (metadata cache, mirror) and
// pnpm's store are new for each client, and so is yarn classic's cache
// (which, run as root, would otherwise be the machine-wide
// /usr/local/share/.cache/yarn and serve tarballs of earlier runs). The
// user config written there sends every unscoped lookup to a port where
// nothing listens and turns off update checks and telemetry, so nothing
// can reach the public registry unnoticed. The environment holds no CI
// variable: yarn berry would turn it into --immutable.
type jsClient struct {
	t    *testing.T
	tool jsTool
	bin  string
	home string
	env  []string
}

// newJSClient finds the tool, or skips the test when it is not installed
// (see missingClient).
func newJSClient(t *testing.T, tool jsTool) *jsClient {
	t.Helper()
	bin, err := exec.LookPath(tool.cmd)
	var out []byte
	if err == nil {
		cmd := exec.Command(bin, "--version")
		cmd.Dir = t.TempDir()
		out, err = cmd.Output()
	}
	version := strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(version, tool.major) {
		msg := fmt.Sprintf("%s %sx is not installed (%q, %v): %s installs it", tool.cmd, tool.major, version, err, tool.install)
		missingClient(t, msg)
	}
	t.Logf("%s %s", tool.cmd, version)
	c := &jsClient{t: t, tool: tool, bin: bin, home: t.TempDir()}
	if tool == yarnClassicTool {
		// yarn 1 reads YARN_* variables as its settings (yarn berry too,
		// but knows neither of these).
		c.env = []string{"YARN_CACHE_FOLDER=" + filepath.Join(c.home, "yarn-cache"), "YARN_DISABLE_SELF_UPDATE_CHECK=true"}
	}
	writeFiles(t, c.home, map[string]string{
		// yarn classic and pnpm.
		".npmrc": "registry=http://127.0.0.1:9/\nupdate-notifier=false\naudit=false\nfund=false\nfetch-retries=0\n",
		// yarn berry: no global cache, mirror or telemetry; http to the
		// test gateway (real installations use https); node_modules, so
		// the installed files can be read.
		".yarnrc.yml": "enableTelemetry: false\nenableGlobalCache: false\nenableMirror: false\n" +
			"npmRegistryServer: \"http://127.0.0.1:9\"\nunsafeHttpWhitelist: [\"127.0.0.1\"]\nnodeLinker: node-modules\n",
	})
	return c
}

func (c *jsClient) run(dir string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.home,
		"NODE_EXTRA_CA_CERTS=" + os.Getenv("NODE_EXTRA_CA_CERTS"),
		"YARN_ENABLE_TELEMETRY=0",
		// For the npm that pnpm publish runs.
		"npm_config_update_notifier=false",
	}
	cmd.Env = append(cmd.Env, c.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *jsClient) must(dir string, args ...string) string {
	c.t.Helper()
	out, err := c.run(dir, args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", c.tool.cmd, strings.Join(args, " "), err, out)
	}
	return out
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// checkout copies the named files of a project into a new directory, as a
// fresh clone of its repository would have them.
func checkout(t *testing.T, src string, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatalf("checkout: %v", err)
		}
		writeFiles(t, dir, map[string]string{f: string(b)})
	}
	return dir
}

// jsPackage is one package of the scenario; its index.js exports its own
// name@version followed by what its dependencies export.
type jsPackage struct {
	name, version string
	deps          map[string]string
}

var jsScenario = []jsPackage{
	{"@acme/dep", "1.0.0", nil},
	{"@acme/dep", "1.1.0", nil},
	{"@acme/hello", "1.0.0", map[string]string{"@acme/dep": "^1.0.0"}},
}

// jsWant is what node prints for @acme/hello after a correct install: the
// newest @acme/dep matching ^1.0.0 is 1.1.0.
const jsWant = "@acme/hello@1.0.0 + @acme/dep@1.1.0"

func (p jsPackage) indexJS() string {
	parts := []string{fmt.Sprintf("%q", p.name+"@"+p.version)}
	names := make([]string, 0, len(p.deps))
	for d := range p.deps {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		parts = append(parts, fmt.Sprintf("require(%q)", d))
	}
	return "module.exports = [" + strings.Join(parts, ", ") + "].join(\" + \");\n"
}

// dir writes the package's source directory plus the given config files.
func (p jsPackage) dir(t *testing.T, config map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	pj := map[string]any{"name": p.name, "version": p.version, "main": "index.js", "license": "MIT",
		"description": "test package " + p.name}
	if len(p.deps) > 0 {
		pj["dependencies"] = p.deps
	}
	writeFiles(t, dir, map[string]string{"package.json": string(npmJSON(pj)), "index.js": p.indexJS()})
	writeFiles(t, dir, config)
	return dir
}

// jsConsumer writes a project that depends on nothing yet, plus config.
func jsConsumer(t *testing.T, config map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"package.json": `{"name":"consumer","version":"0.0.0","private":true}`})
	writeFiles(t, dir, config)
	return dir
}

// jsDist is the dist object the gateway serves for name@version.
func jsDist(t *testing.T, e *Env, s Scenario, name, version string) map[string]any {
	t.Helper()
	pk := e.Must(200, e.Do("GET", npmPkgPath(s.ProjectID, name), nil, Bearer(s.ReadToken))).Map(t)
	v, ok := pk["versions"].(map[string]any)[version].(map[string]any)
	if !ok {
		t.Fatalf("%s@%s is not in the packument: %v", name, version, pk["versions"])
	}
	return v["dist"].(map[string]any)
}

// checkJSInstall verifies what a client laid down in dir: @acme/hello
// 1.0.0 with the bytes it was published with, @acme/dep 1.1.0 (read
// directly when the client hoists it to the top, as yarn does), and node
// loading the pair.
func checkJSInstall(t *testing.T, dir string, hoisted bool) {
	t.Helper()
	hello := jsScenario[2]
	nm := filepath.Join(dir, "node_modules")
	got, err := os.ReadFile(filepath.Join(nm, "@acme", "hello", "index.js"))
	if err != nil || string(got) != hello.indexJS() {
		t.Fatalf("installed @acme/hello/index.js = %q (%v), want %q", got, err, hello.indexJS())
	}
	if v := npmInstalledVersion(t, dir, "@acme/hello"); v != "1.0.0" {
		t.Fatalf("installed @acme/hello %s, want 1.0.0", v)
	}
	if hoisted {
		if v := npmInstalledVersion(t, dir, "@acme/dep"); v != "1.1.0" {
			t.Fatalf("installed @acme/dep %s, want 1.1.0", v)
		}
	}
	npmRequire(t, dir, "@acme/hello", jsWant)
}

// checkLockfile asserts that a lockfile holds each of want.
func checkLockfile(t *testing.T, dir, file string, want ...string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(b), w) {
			t.Fatalf("%s lacks %q:\n%s", file, w, b)
		}
	}
}

// jsURLs are the registry URLs and .npmrc auth keys of a scenario.
type jsURLs struct {
	host     string // host:port
	project  string // project-level registry, with the trailing slash
	instance string // instance-level registry, with the trailing slash
}

func newJSURLs(e *Env, s Scenario) jsURLs {
	return jsURLs{
		host:     strings.TrimPrefix(e.URL, "http://"),
		project:  fmt.Sprintf("%s/api/v4/projects/%d/packages/npm/", e.URL, s.ProjectID),
		instance: e.URL + "/api/v4/packages/npm/",
	}
}

// key is the .npmrc auth key of a registry URL: "//host/path/:_authToken=".
func (u jsURLs) key(registry string) string {
	return "//" + strings.TrimPrefix(registry, "http://") + ":_authToken="
}

// TestYarnClassicPublishInstall drives yarn 1 with the .npmrc/.yarnrc
// configuration GitLab documents for it.
func TestYarnClassicPublishInstall(t *testing.T) {
	yarn := newJSClient(t, yarnClassicTool)
	e := NewEnv(t)
	s := e.NewScenario()
	u := newJSURLs(e, s)

	// yarn publish: the scope's registry and the token in .npmrc.
	publishRC := map[string]string{".npmrc": "@acme:registry=" + u.project + "\n" + u.key(u.project) + s.WriteToken + "\n"}
	var dir string
	for _, p := range jsScenario {
		dir = p.dir(t, publishRC)
		yarn.must(dir, "publish", "--non-interactive")
	}
	// The same version again: yarn shows the server's refusal.
	if out, err := yarn.run(dir, "publish", "--non-interactive"); err == nil || !strings.Contains(out, "Package already exists.") {
		t.Fatalf("republish: err=%v, want the server's 403 text:\n%s", err, out)
	}
	hello, dep := jsDist(t, e, s, "@acme/hello", "1.0.0"), jsDist(t, e, s, "@acme/dep", "1.1.0")

	// Install from the project, with a read token.
	readRC := map[string]string{".npmrc": "@acme:registry=" + u.project + "\n" + u.key(u.project) + s.ReadToken + "\n"}
	consumer := jsConsumer(t, readRC)
	newJSClient(t, yarnClassicTool).must(consumer, "add", "@acme/hello", "--non-interactive")
	checkJSInstall(t, consumer, true)
	// The lockfile pins the gateway's tarball URLs (with the SHA-1 yarn
	// checks) and its sha512 integrity.
	for _, d := range []map[string]any{hello, dep} {
		checkLockfile(t, consumer, "yarn.lock", fmt.Sprintf("resolved %q", d["tarball"].(string)+"#"+d["shasum"].(string)),
			"integrity "+d["integrity"].(string))
	}

	// From the lockfile alone: a fresh checkout, an empty cache.
	frozen := checkout(t, consumer, "package.json", "yarn.lock", ".npmrc")
	newJSClient(t, yarnClassicTool).must(frozen, "install", "--frozen-lockfile", "--non-interactive")
	checkJSInstall(t, frozen, true)

	// From the instance: the scope in .yarnrc and the token in .npmrc, as
	// GitLab documents for yarn 1. Tarball URLs point at the project, and
	// yarn 1 sends a token only to URLs under the scope's registry, or to
	// URLs under an .npmrc "//host/path/:_authToken" key: GitLab's advice
	// for the 404s this gives there. yarn 1 reads those keys by splitting
	// on ':', so a key whose host has a port never matches; the test
	// gateway has one, and custom-host-suffix (any URL on that host counts
	// as the registry's) stands in for it. On GitLab the tarballs fail the
	// same way without either.
	instRC := map[string]string{
		".npmrc":  u.key(u.instance) + s.ReadToken + "\ncustom-host-suffix=" + u.host + "\n",
		".yarnrc": fmt.Sprintf("%q %q\n", "@acme:registry", u.instance),
	}
	inst := jsConsumer(t, instRC)
	newJSClient(t, yarnClassicTool).must(inst, "add", "@acme/hello@^1.0.0", "--non-interactive")
	checkJSInstall(t, inst, true)
	frozen = checkout(t, inst, "package.json", "yarn.lock", ".npmrc", ".yarnrc")
	newJSClient(t, yarnClassicTool).must(frozen, "install", "--frozen-lockfile", "--non-interactive")
	checkJSInstall(t, frozen, true)

	// yarn tag: add creates the tag but then says "Couldn't add tag." and
	// exits 1, because yarn 1 wants npmjs's {"ok":true} body and GitLab
	// (and so the gateway) answers 204 No Content. list and remove work.
	if out, err := yarn.run(dir, "tag", "add", "@acme/hello@1.0.0", "stable", "--non-interactive"); err == nil || !strings.Contains(out, "Couldn't add tag.") {
		t.Fatalf("yarn tag add: err=%v, want yarn 1's complaint about the 204:\n%s", err, out)
	}
	if out := yarn.must(dir, "tag", "list", "@acme/hello", "--non-interactive"); !strings.Contains(out, "stable: 1.0.0") || !strings.Contains(out, "latest: 1.0.0") {
		t.Fatalf("yarn tag list after add:\n%s", out)
	}
	yarn.must(dir, "tag", "remove", "@acme/hello", "stable", "--non-interactive")
	if out := yarn.must(dir, "tag", "list", "@acme/hello", "--non-interactive"); strings.Contains(out, "stable") {
		t.Fatalf("yarn tag list after remove:\n%s", out)
	}
}

// berryRC is a .yarnrc.yml as GitLab documents it for installs: the scope's
// registry, and the token under npmRegistries for that registry (a key
// without the scheme). gate is the scope's npmMinimalAgeGate, "" for
// yarn's default.
func berryRC(registry, token, gate string) map[string]string {
	server := strings.TrimSuffix(registry, "/")
	scope := "  acme:\n    npmRegistryServer: " + fmt.Sprintf("%q", server) + "\n"
	if gate != "" {
		scope += "    npmMinimalAgeGate: " + gate + "\n"
	}
	return map[string]string{".yarnrc.yml": "npmScopes:\n" + scope + "npmRegistries:\n" +
		fmt.Sprintf("  %q:\n    npmAlwaysAuth: true\n    npmAuthToken: %q\n", strings.TrimPrefix(server, "http:"), token)}
}

// TestYarnBerryPublishInstall drives yarn 4 with the .yarnrc.yml settings
// GitLab documents for it (npmScopes, npmRegistries, npmPublishRegistry,
// npmAuthToken, npmAlwaysAuth).
func TestYarnBerryPublishInstall(t *testing.T) {
	yarn := newJSClient(t, yarnBerryTool)
	e := NewEnv(t)
	s := e.NewScenario()
	u := newJSURLs(e, s)

	// yarn npm publish, configured as GitLab documents for publishing. It
	// wants the package in a lockfile, so it runs in a project that has
	// been through yarn install (which resolves @acme/dep from the
	// gateway). npmMinimalAgeGate: see the end of the test.
	publishRC := map[string]string{".yarnrc.yml": fmt.Sprintf(`npmScopes:
  acme:
    npmPublishRegistry: %q
    npmRegistryServer: %q
    npmAlwaysAuth: true
    npmAuthToken: %q
    npmMinimalAgeGate: 0
`, u.project, u.project, s.WriteToken)}
	var dir string
	for _, p := range jsScenario {
		dir = p.dir(t, publishRC)
		yarn.must(dir, "install")
		yarn.must(dir, "npm", "publish")
	}
	if out, err := yarn.run(dir, "npm", "publish"); err == nil || !strings.Contains(out, "Package already exists.") {
		t.Fatalf("republish: err=%v, want the server's 403 text:\n%s", err, out)
	}
	hello, dep := jsDist(t, e, s, "@acme/hello", "1.0.0"), jsDist(t, e, s, "@acme/dep", "1.1.0")

	// Install from the project, with a read token.
	consumer := jsConsumer(t, berryRC(u.project, s.ReadToken, "0"))
	newJSClient(t, yarnBerryTool).must(consumer, "add", "@acme/hello")
	checkJSInstall(t, consumer, true)
	// yarn 4 keeps the tarball URL in the resolution (the gateway's, like
	// GitLab's, is not in npmjs's /-/name-version.tgz form) and its own
	// checksum of the package.
	for _, d := range []map[string]any{hello, dep} {
		checkLockfile(t, consumer, "yarn.lock", "__archiveUrl="+url.QueryEscape(d["tarball"].(string)))
	}
	checkLockfile(t, consumer, "yarn.lock", "checksum: 10c0/")

	// From the lockfile alone: a fresh checkout, an empty cache.
	frozen := checkout(t, consumer, "package.json", "yarn.lock", ".yarnrc.yml")
	newJSClient(t, yarnBerryTool).must(frozen, "install", "--immutable")
	checkJSInstall(t, frozen, true)

	// From the instance. yarn 4 sends the scope registry's token to the
	// tarball URLs too, though they point at the project.
	inst := jsConsumer(t, berryRC(u.instance, s.ReadToken, "0"))
	newJSClient(t, yarnBerryTool).must(inst, "add", "@acme/hello@^1.0.0")
	checkJSInstall(t, inst, true)
	frozen = checkout(t, inst, "package.json", "yarn.lock", ".yarnrc.yml")
	newJSClient(t, yarnBerryTool).must(frozen, "install", "--immutable")
	checkJSInstall(t, frozen, true)

	// dist-tags.
	yarn.must(dir, "npm", "tag", "add", "@acme/hello@1.0.0", "stable")
	if out := yarn.must(dir, "npm", "tag", "list", "@acme/hello"); !strings.Contains(out, "@acme/hello@stable → 1.0.0") {
		t.Fatalf("yarn npm tag list after add:\n%s", out)
	}
	yarn.must(dir, "npm", "tag", "remove", "@acme/hello", "stable")
	if out := yarn.must(dir, "npm", "tag", "list", "@acme/hello"); strings.Contains(out, "stable") {
		t.Fatalf("yarn npm tag list after remove:\n%s", out)
	}

	// yarn 4's npmMinimalAgeGate (1 day by default, per scope) holds back
	// versions published more recently than that, by the packument's
	// time[version]. GitLab sends no "time", so there every version is held
	// back unless the scope sets npmMinimalAgeGate: 0 (as the configs
	// above do); the gateway sends it, so the default works once the
	// versions are a day old.
	young := jsConsumer(t, berryRC(u.project, s.ReadToken, ""))
	if out, err := newJSClient(t, yarnBerryTool).run(young, "add", "@acme/hello"); err == nil || !strings.Contains(out, "quarantined") {
		t.Fatalf("install of day-old versions with the default age gate: err=%v, want them quarantined:\n%s", err, out)
	}
	if _, err := e.Store.DB().Exec(`UPDATE packages SET created_at = created_at - interval '2 days' WHERE project_id = $1`, s.ProjectID); err != nil {
		t.Fatal(err)
	}
	newJSClient(t, yarnBerryTool).must(young, "add", "@acme/hello")
	checkJSInstall(t, young, true)
}

// TestPNPMPublishInstall drives pnpm 10 (publish and install) and pnpm 9
// (install) with the .npmrc GitLab documents.
func TestPNPMPublishInstall(t *testing.T) {
	pnpm := newJSClient(t, pnpm10Tool)
	e := NewEnv(t)
	s := e.NewScenario()
	u := newJSURLs(e, s)

	// pnpm publish packs the package and hands the tarball to npm publish,
	// with pnpm's config. --no-git-checks: the package is not in a git
	// repository.
	publishRC := map[string]string{".npmrc": "@acme:registry=" + u.project + "\n" + u.key(u.project) + s.WriteToken + "\n"}
	for _, p := range jsScenario {
		pnpm.must(p.dir(t, publishRC), "publish", "--no-git-checks")
	}
	hello, dep := jsDist(t, e, s, "@acme/hello", "1.0.0"), jsDist(t, e, s, "@acme/dep", "1.1.0")

	for _, tool := range []jsTool{pnpm10Tool, pnpm9Tool} {
		t.Run(tool.cmd, func(t *testing.T) {
			pnpm := newJSClient(t, tool)
			readRC := map[string]string{".npmrc": "@acme:registry=" + u.project + "\n" + u.key(u.project) + s.ReadToken + "\n"}
			consumer := jsConsumer(t, readRC)
			pnpm.must(consumer, "add", "@acme/hello")
			checkJSInstall(t, consumer, false)
			for _, d := range []map[string]any{hello, dep} {
				checkLockfile(t, consumer, "pnpm-lock.yaml", fmt.Sprintf("{integrity: %s, tarball: %s}", d["integrity"], d["tarball"]))
			}
			frozen := checkout(t, consumer, "package.json", "pnpm-lock.yaml", ".npmrc")
			newJSClient(t, tool).must(frozen, "install", "--frozen-lockfile")
			checkJSInstall(t, frozen, false)

			// From the instance. Unlike npm, pnpm never reuses the scope
			// registry's token for the tarball URLs, which point at the
			// project: with GitLab's single instance-level line they go
			// without a token (GitLab answers 404, the gateway 401). A
			// host-wide key, which pnpm finds by walking up a URL's
			// path, covers both, as the README advises.
			instRC := map[string]string{".npmrc": "@acme:registry=" + u.instance + "\n//" + u.host + "/:_authToken=" + s.ReadToken + "\n"}
			inst := jsConsumer(t, instRC)
			newJSClient(t, tool).must(inst, "add", "@acme/hello@^1.0.0")
			checkJSInstall(t, inst, false)
			frozen = checkout(t, inst, "package.json", "pnpm-lock.yaml", ".npmrc")
			newJSClient(t, tool).must(frozen, "install", "--frozen-lockfile")
			checkJSInstall(t, frozen, false)
		})
	}
}
