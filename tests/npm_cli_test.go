package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNPMCLIPublishInstall drives the real npm client through the whole
// life of a scoped package: publish several versions (with a scoped
// dependency) with a write deploy token, install with a read token from the
// project, group and instance registries, dist-tag add/ls/rm, deprecate,
// unpublish one version (whose install then fails cleanly), whoami and
// ping.
func TestNPMCLIPublishInstall(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	npm := newNPMCLI(t)
	projURL := fmt.Sprintf("%s/api/v4/projects/%d/packages/npm/", e.URL, s.ProjectID)
	writeRC := npm.npmrc(projURL, projURL, s.WriteToken)

	// A dependency first, so installs resolve a transitive scoped package
	// through the gateway too.
	npm.must(npmPackageDir(t, "@acme/dep", "1.0.0", nil), writeRC, "publish")
	for _, v := range []string{"1.0.0", "1.1.0"} {
		npm.must(npmPackageDir(t, "@acme/hello", v, map[string]string{"@acme/dep": "^1.0.0"}), writeRC, "publish")
	}
	npm.must(npmPackageDir(t, "@acme/hello", "2.0.0-beta.1", nil), writeRC, "publish", "--tag", "beta")

	// Re-publishing a version: npm 11 sees it in the packument and stops
	// before sending (the server's 403 is covered by the HTTP tests).
	out, err := npm.run(npmPackageDir(t, "@acme/hello", "1.1.0", nil), writeRC, "publish")
	if err == nil || !strings.Contains(out, "cannot publish over the previously published versions: 1.1.0") {
		t.Fatalf("republish: err=%v:\n%s", err, out)
	}

	// dist-tags as published.
	tags := npmDistTags(t, npm, writeRC)
	if tags["latest"] != "1.1.0" || tags["beta"] != "2.0.0-beta.1" {
		t.Fatalf("dist-tags after publish: %v", tags)
	}

	// Install with the read token at project level.
	readRC := npm.npmrc(projURL, projURL, s.ReadToken)
	// Each consumer gets a fresh cache: npm publish leaves the tarballs in
	// the publisher's cache, and they must come from the gateway here.
	dir := npmConsumerDir(t)
	newNPMCLI(t).must(dir, readRC, "install", "@acme/hello")
	if v := npmInstalledVersion(t, dir, "@acme/hello"); v != "1.1.0" {
		t.Fatalf("project install: @acme/hello %s, want 1.1.0 (latest)", v)
	}
	if v := npmInstalledVersion(t, dir, "@acme/dep"); v != "1.0.0" {
		t.Fatalf("project install: @acme/dep %s", v)
	}
	npmRequire(t, dir, "@acme/hello", "@acme/hello@1.1.0")
	// The lockfile pins the gateway's tarball URLs and sha512 integrity:
	// a clean `npm ci` with an empty cache must reproduce the install.
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil || !strings.Contains(string(lock), `"resolved": "`+e.URL) || !strings.Contains(string(lock), `"integrity": "sha512-`) {
		t.Fatalf("package-lock.json: %v\n%s", err, lock)
	}
	os.RemoveAll(filepath.Join(dir, "node_modules"))
	newNPMCLI(t).must(dir, readRC, "ci")
	npmRequire(t, dir, "@acme/hello", "@acme/hello@1.1.0")

	// Instance level: the scope names the top-level group; the host-wide
	// token key also covers the project-level tarball URLs.
	instURL := e.URL + "/api/v4/packages/npm/"
	instRC := npm.npmrc(instURL, e.URL+"/", s.ReadToken)
	dir = npmConsumerDir(t)
	inst := newNPMCLI(t)
	inst.must(dir, instRC, "install", "@acme/hello@1.0.0")
	if v := npmInstalledVersion(t, dir, "@acme/hello"); v != "1.0.0" {
		t.Fatalf("instance install: %s", v)
	}
	inst.must(dir, instRC, "install", "@acme/hello@beta")
	if v := npmInstalledVersion(t, dir, "@acme/hello"); v != "2.0.0-beta.1" {
		t.Fatalf("instance install of the beta tag: %s", v)
	}

	// Group level, with a group deploy token.
	groupTok, _, _ := e.DeployToken("groups", s.GroupID, "read_package_registry")
	groupURL := fmt.Sprintf("%s/api/v4/groups/%d/-/packages/npm/", e.URL, s.GroupID)
	dir = npmConsumerDir(t)
	newNPMCLI(t).must(dir, npm.npmrc(groupURL, e.URL+"/", groupTok), "install", "@acme/hello@^1.0.0")
	if v := npmInstalledVersion(t, dir, "@acme/hello"); v != "1.1.0" {
		t.Fatalf("group install: %s", v)
	}

	// dist-tag add / ls / rm.
	npm.must(t.TempDir(), writeRC, "dist-tag", "add", "@acme/hello@1.0.0", "stable")
	if tags := npmDistTags(t, npm, writeRC); tags["stable"] != "1.0.0" || tags["latest"] != "1.1.0" {
		t.Fatalf("after dist-tag add: %v", tags)
	}
	// The read token may list but not change tags.
	if out, err := npm.run(t.TempDir(), readRC, "dist-tag", "add", "@acme/hello@1.0.0", "nope"); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("read token dist-tag add: err=%v\n%s", err, out)
	}
	npm.must(t.TempDir(), writeRC, "dist-tag", "rm", "@acme/hello", "stable")
	if tags := npmDistTags(t, npm, writeRC); tags["stable"] != "" {
		t.Fatalf("after dist-tag rm: %v", tags)
	}

	// Deprecate and undeprecate.
	npm.must(t.TempDir(), writeRC, "deprecate", "@acme/hello@1.0.0", "use 1.1.0")
	pk := e.Must(200, e.Do("GET", npmPkgPath(s.ProjectID, "@acme/hello"), nil, Bearer(s.ReadToken))).Map(t)
	if d := pk["versions"].(map[string]any)["1.0.0"].(map[string]any)["deprecated"]; d != "use 1.1.0" {
		t.Fatalf("deprecated = %v", d)
	}
	npm.must(t.TempDir(), writeRC, "deprecate", "@acme/hello@1.0.0", "")
	pk = e.Must(200, e.Do("GET", npmPkgPath(s.ProjectID, "@acme/hello"), nil, Bearer(s.ReadToken))).Map(t)
	if _, ok := pk["versions"].(map[string]any)["1.0.0"].(map[string]any)["deprecated"]; ok {
		t.Fatalf("undeprecate left the key: %v", pk["versions"])
	}
	// npm 11's own undeprecate command: the same PUT, sent with
	// "npm-command: undeprecate".
	npm.must(t.TempDir(), writeRC, "deprecate", "@acme/hello@1.0.0", "again")
	npm.must(t.TempDir(), writeRC, "undeprecate", "@acme/hello@1.0.0")
	pk = e.Must(200, e.Do("GET", npmPkgPath(s.ProjectID, "@acme/hello"), nil, Bearer(s.ReadToken))).Map(t)
	if _, ok := pk["versions"].(map[string]any)["1.0.0"].(map[string]any)["deprecated"]; ok {
		t.Fatalf("npm undeprecate left the key: %v", pk["versions"])
	}

	// Unpublish one version: its files go, the others stay; latest falls
	// back to the highest remaining release.
	var filesBefore int
	e.Store.DB().Get(&filesBefore, `SELECT count(*) FROM package_files`)
	npm.must(t.TempDir(), writeRC, "unpublish", "@acme/hello@1.1.0")
	var filesAfter int
	e.Store.DB().Get(&filesAfter, `SELECT count(*) FROM package_files`)
	if filesAfter != filesBefore-1 {
		t.Fatalf("package_files %d -> %d, want one fewer", filesBefore, filesAfter)
	}
	tags = npmDistTags(t, npm, writeRC)
	if tags["latest"] != "1.0.0" || tags["beta"] != "2.0.0-beta.1" {
		t.Fatalf("dist-tags after unpublish: %v", tags)
	}
	dir = npmConsumerDir(t)
	after := newNPMCLI(t)
	out, err = after.run(dir, readRC, "install", "@acme/hello@1.1.0")
	if err == nil || !strings.Contains(out, "ETARGET") {
		t.Fatalf("install of an unpublished version: err=%v, want ETARGET:\n%s", err, out)
	}
	after.must(dir, readRC, "install", "@acme/hello@1")
	if v := npmInstalledVersion(t, dir, "@acme/hello"); v != "1.0.0" {
		t.Fatalf("install after unpublish: %s", v)
	}

	// The read token cannot unpublish.
	if out, err := npm.run(t.TempDir(), readRC, "unpublish", "@acme/hello@1.0.0"); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("read token unpublish: err=%v\n%s", err, out)
	}

	// whoami and ping.
	who := strings.TrimSpace(npm.must(t.TempDir(), writeRC, "whoami", "--registry", projURL))
	if who != s.WriteUser {
		t.Fatalf("whoami = %q, want %q", who, s.WriteUser)
	}
	npm.must(t.TempDir(), writeRC, "ping", "--registry", projURL)

	// Unpublish the whole package.
	npm.must(t.TempDir(), writeRC, "unpublish", "@acme/hello", "--force")
	e.Must(404, e.Do("GET", npmPkgPath(s.ProjectID, "@acme/hello"), nil, Bearer(s.ReadToken)))
	var n int
	e.Store.DB().Get(&n, `SELECT count(*) FROM packages WHERE name = '@acme/hello'`)
	if n != 0 {
		t.Fatalf("%d @acme/hello package rows left", n)
	}
}

// TestNPMCLIReadOnlyTokenCannotPublish: npm shows the server's 403 text.
func TestNPMCLIReadOnlyTokenCannotPublish(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	npm := newNPMCLI(t)
	projURL := fmt.Sprintf("%s/api/v4/projects/%d/packages/npm/", e.URL, s.ProjectID)
	out, err := npm.run(npmPackageDir(t, "@acme/hello", "1.0.0", nil), npm.npmrc(projURL, projURL, s.ReadToken), "publish")
	if err == nil {
		t.Fatalf("publish with a read token succeeded:\n%s", out)
	}
	if !strings.Contains(out, "E403") || !strings.Contains(out, "you are not allowed to publish packages in this project") {
		t.Fatalf("publish with a read token: want E403 and the server's message:\n%s", out)
	}
	var n int
	e.Store.DB().Get(&n, `SELECT count(*) FROM packages`)
	if n != 0 {
		t.Fatalf("%d package rows after a refused publish", n)
	}
	// No token at all: 401.
	rc := filepath.Join(t.TempDir(), "npmrc")
	os.WriteFile(rc, []byte("@acme:registry="+projURL+"\nregistry=http://127.0.0.1:9/\n"), 0o600)
	out, err = npm.run(npmPackageDir(t, "@acme/hello", "1.0.0", nil), rc, "publish")
	if err == nil || !(strings.Contains(out, "E401") || strings.Contains(out, "ENEEDAUTH")) {
		t.Fatalf("publish without a token: err=%v\n%s", err, out)
	}
}

// TestNPMCLIUnpublishAboveProjectLevel: npm unpublish through a group or
// instance registry (the install configuration GitLab documents) fails
// loudly instead of printing "- <name>@<version>" over a 404 that npm
// reads as "already unpublished"; pointing the scope at the project
// registry, as the message says, unpublishes.
func TestNPMCLIUnpublishAboveProjectLevel(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	gtok, _, _ := e.DeployToken("groups", s.GroupID, "read_package_registry", "write_package_registry")
	npm := newNPMCLI(t)
	projURL := fmt.Sprintf("%s/api/v4/projects/%d/packages/npm/", e.URL, s.ProjectID)
	writeRC := npm.npmrc(projURL, projURL, s.WriteToken)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		npm.must(npmPackageDir(t, "@acme/hello", v, nil), writeRC, "publish")
	}
	versions := func() int {
		var n int
		e.Store.DB().Get(&n, `SELECT count(*) FROM packages WHERE name = '@acme/hello'`)
		return n
	}
	for name, reg := range map[string]string{
		"group":    fmt.Sprintf("%s/api/v4/groups/%d/-/packages/npm/", e.URL, s.GroupID),
		"instance": e.URL + "/api/v4/packages/npm/",
	} {
		rc := npm.npmrc(reg, e.URL+"/", gtok)
		for _, args := range [][]string{{"unpublish", "@acme/hello@1.1.0"}, {"unpublish", "@acme/hello", "--force"}} {
			out, err := npm.run(t.TempDir(), rc, args...)
			if err == nil || !strings.Contains(out, "E400") || !strings.Contains(out, "npm unpublish works only against a project-level registry") {
				t.Errorf("%s registry: npm %s: want E400 with the server's message, got %v:\n%s", name, strings.Join(args, " "), err, out)
			}
		}
		if n := versions(); n != 2 {
			t.Fatalf("%s registry: %d versions left, want 2", name, n)
		}
	}
	rc := npm.npmrc(fmt.Sprintf("%s/api/v4/groups/%d/-/packages/npm/", e.URL, s.GroupID), e.URL+"/", gtok)
	npm.must(t.TempDir(), rc, "unpublish", "@acme/hello@1.1.0", "--@acme:registry="+projURL)
	if n := versions(); n != 1 {
		t.Fatalf("%d versions left after unpublishing through the project registry, want 1", n)
	}
}

func npmDistTags(t *testing.T, npm *npmCLI, rc string) map[string]string {
	t.Helper()
	out := npm.must(t.TempDir(), rc, "dist-tag", "ls", "@acme/hello")
	tags := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok {
			tags[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return tags
}

// npmRequire checks the installed package loads in node.
func npmRequire(t *testing.T, dir, name, want string) {
	t.Helper()
	cmd := exec.Command("node", "-e", fmt.Sprintf("process.stdout.write(JSON.stringify(require(%q)))", name))
	cmd.Dir = dir // node resolves from the working directory
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node require(%s): %v\n%s", name, err, out)
	}
	var got string
	json.Unmarshal(out, &got)
	if got != want {
		t.Fatalf("require(%s) = %q, want %q", name, got, want)
	}
}
