package tests

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// npmTarball builds a real npm tarball: gzip'd tar with package/package.json
// (and an index.js), as `npm pack` produces.
func npmTarball(t testing.TB, name, version string, extra map[string]any) []byte {
	t.Helper()
	pj := map[string]any{"name": name, "version": version, "main": "index.js"}
	for k, v := range extra {
		pj[k] = v
	}
	pjb, _ := json.MarshalIndent(pj, "", "  ")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"package/package.json", pjb},
		{"package/index.js", []byte(fmt.Sprintf("module.exports = %q;\n", name+"@"+version))},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(499162500, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// npmPublishDoc is a publish body like libnpmpublish sends; mutate the
// returned map to make it wrong in chosen ways.
func npmPublishDoc(name, version string, tgz []byte) map[string]any {
	s1 := sha1.Sum(tgz)
	s512 := sha512.Sum512(tgz)
	file := name + "-" + version + ".tgz"
	return map[string]any{
		"_id":         name,
		"name":        name,
		"description": "test package",
		"dist-tags":   map[string]any{"latest": version},
		"versions": map[string]any{
			version: map[string]any{
				"name": name, "version": version, "_id": name + "@" + version, "main": "index.js",
				"readme": "# big readme, not stored",
				"dist": map[string]any{
					"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
					"shasum":    hex.EncodeToString(s1[:]),
					"tarball":   "http://example.invalid/" + file,
				},
			},
		},
		"access": nil,
		"_attachments": map[string]any{
			file: map[string]any{"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz)},
		},
	}
}

func npmJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// npmPkgPath is the project-level path of a package (npm's encoding).
func npmPkgPath(projectID int64, name string) string {
	return fmt.Sprintf("/api/v4/projects/%d/packages/npm/%s", projectID, strings.Replace(name, "/", "%2f", 1))
}

// npmPublish publishes over plain HTTP with a Bearer token.
func (e *Env) npmPublish(projectID int64, token, name, version string) *Resp {
	e.t.Helper()
	tgz := npmTarball(e.t, name, version, nil)
	return e.Do("PUT", npmPkgPath(projectID, name), npmJSON(npmPublishDoc(name, version, tgz)),
		H{"Authorization": "Bearer " + token, "Content-Type": "application/json", "npm-command": "publish"})
}

// npmCLI runs the real npm client in isolation: its own user and global
// config, its own cache, HOME in a temp dir, and a default registry that
// does not answer, so nothing can reach the public registry unnoticed.
type npmCLI struct {
	t       *testing.T
	bin     string
	home    string
	cache   string
	global  string
	timeout time.Duration
}

func newNPMCLI(t *testing.T) *npmCLI {
	t.Helper()
	bin, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm is not on PATH: run ../shared/clients/install.sh (CI installs the real clients): %v", err)
	}
	home := t.TempDir()
	global := filepath.Join(home, "globalnpmrc")
	os.WriteFile(global, nil, 0o600)
	return &npmCLI{t: t, bin: bin, home: home, cache: t.TempDir(), global: global, timeout: 3 * time.Minute}
}

// npmrc writes a user config: scope registry, token for the auth prefix
// (a URL; its scheme is dropped as npm wants), and the isolation settings.
func (n *npmCLI) npmrc(registry, authPrefix, token string) string {
	n.t.Helper()
	u, err := url.Parse(authPrefix)
	if err != nil {
		n.t.Fatal(err)
	}
	lines := []string{
		"@acme:registry=" + registry,
		"//" + u.Host + u.Path + ":_authToken=" + token,
		// Unscoped lookups would go here; nothing listens on port 9.
		"registry=http://127.0.0.1:9/",
		"update-notifier=false",
		"audit=false",
		"fund=false",
		"fetch-retries=0",
	}
	f := filepath.Join(n.t.TempDir(), "npmrc")
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		n.t.Fatal(err)
	}
	return f
}

// run executes npm in dir with the given user config and returns combined
// output and the error.
func (n *npmCLI) run(dir, userconfig string, args ...string) (string, error) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	full := append([]string{}, args...)
	full = append(full, "--userconfig", userconfig, "--globalconfig", n.global, "--cache", n.cache,
		"--no-audit", "--no-fund", "--update-notifier=false")
	cmd := exec.CommandContext(ctx, n.bin, full...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + n.home,
		"NODE_EXTRA_CA_CERTS=" + os.Getenv("NODE_EXTRA_CA_CERTS"),
		"npm_config_update_notifier=false",
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// must runs npm and fails the test when it fails.
func (n *npmCLI) must(dir, userconfig string, args ...string) string {
	n.t.Helper()
	out, err := n.run(dir, userconfig, args...)
	if err != nil {
		n.t.Fatalf("npm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// npmPackageDir writes a publishable package directory.
func npmPackageDir(t *testing.T, name, version string, deps map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	pj := map[string]any{"name": name, "version": version, "main": "index.js", "license": "MIT", "description": "test package " + name}
	if len(deps) > 0 {
		pj["dependencies"] = deps
	}
	b, _ := json.MarshalIndent(pj, "", "  ")
	os.WriteFile(filepath.Join(dir, "package.json"), b, 0o644)
	os.WriteFile(filepath.Join(dir, "index.js"), []byte(fmt.Sprintf("module.exports = %q;\n", name+"@"+version)), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("# "+name+"\n"), 0o644)
	return dir
}

// npmConsumerDir writes an empty project to install into.
func npmConsumerDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"consumer","version":"0.0.0","private":true}`), 0o644)
	return dir
}

// npmInstalledVersion reads node_modules/<name>/package.json's version.
func npmInstalledVersion(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", filepath.FromSlash(name), "package.json"))
	if err != nil {
		t.Fatalf("%s not installed: %v", name, err)
	}
	var pj struct {
		Version string `json:"version"`
	}
	json.Unmarshal(b, &pj)
	return pj.Version
}
