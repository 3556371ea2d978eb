package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// pypiExample is the tested example project of ../shared/clients (read,
// copied, never modified).
const pypiExample = "../../shared/clients/examples/python"

// pypiRequireClients fails (never skips) when a client is missing: CI
// installs them, a missing one is a broken environment.
func pypiRequireClients(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"twine", "python3", "/usr/bin/python3"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found (%v): run ../shared/clients/install.sh", bin, err)
		}
	}
	if out, err := exec.Command("/usr/bin/python3", "-m", "build", "--version").CombinedOutput(); err != nil {
		t.Fatalf("/usr/bin/python3 -m build unavailable (%v: %s): run ../shared/clients/install.sh", err, out)
	}
	if out, err := exec.Command("python3", "-m", "pip", "--version").CombinedOutput(); err != nil {
		t.Fatalf("python3 -m pip unavailable (%v: %s): run ../shared/clients/install.sh", err, out)
	}
}

// pypiDist is a built wheel + sdist.
type pypiDist struct {
	Wheel, Sdist string
}

// pypiBuild builds a wheel and an sdist offline from a copy of the example
// project with the given name, version, requires-python and dependencies.
func pypiBuild(t *testing.T, name, version, requiresPython string, deps ...string) pypiDist {
	t.Helper()
	dir := t.TempDir()
	tmpl, err := os.ReadFile(filepath.Join(pypiExample, "pyproject.toml"))
	if err != nil {
		t.Fatalf("example project: %v", err)
	}
	py := string(tmpl)
	py = strings.Replace(py, `name = "acme-hello"`, fmt.Sprintf("name = %q", name), 1)
	py = strings.Replace(py, `version = "0.1.0"`, fmt.Sprintf("version = %q", version), 1)
	py = strings.Replace(py, `requires-python = ">=3.7"`, fmt.Sprintf("requires-python = %q", requiresPython), 1)
	if len(deps) > 0 {
		quoted := make([]string, len(deps))
		for i, d := range deps {
			quoted[i] = fmt.Sprintf("%q", d)
		}
		py += "dependencies = [" + strings.Join(quoted, ", ") + "]\n"
	}
	if !strings.Contains(py, fmt.Sprintf("name = %q", name)) || !strings.Contains(py, fmt.Sprintf("version = %q", version)) {
		t.Fatalf("example pyproject.toml changed shape:\n%s", tmpl)
	}
	module := strings.ReplaceAll(name, "-", "_")
	pypiMust(t, os.MkdirAll(filepath.Join(dir, "src", module), 0o755))
	pypiMust(t, os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte(py), 0o644))
	pypiMust(t, os.WriteFile(filepath.Join(dir, "src", module, "__init__.py"),
		[]byte(fmt.Sprintf("GREETING = \"hello from gateway\"\nVERSION = %q\n", version)), 0o644))
	pypiRun(t, dir, nil, "/usr/bin/python3", "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", "dist", ".")
	var d pypiDist
	whls, _ := filepath.Glob(filepath.Join(dir, "dist", "*.whl"))
	sdists, _ := filepath.Glob(filepath.Join(dir, "dist", "*.tar.gz"))
	if len(whls) != 1 || len(sdists) != 1 {
		t.Fatalf("build of %s %s: wheels %v, sdists %v", name, version, whls, sdists)
	}
	d.Wheel, d.Sdist = whls[0], sdists[0]
	return d
}

func pypiMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// pypiExec runs a client and returns its combined output and error.
func pypiExec(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	home := t.TempDir()
	// A private HOME keeps any ~/.pypirc, pip.conf or netrc of the machine
	// out; the null keyring keeps twine/pip from probing a desktop keyring.
	cmd.Env = append(os.Environ(), "HOME="+home, "PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring",
		"TWINE_NON_INTERACTIVE=1", "PIP_NO_INPUT=1")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pypiRun is pypiExec that must succeed.
func pypiRun(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := pypiExec(t, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func pypiTwine(t *testing.T, repoURL, token string, files ...string) (string, error) {
	t.Helper()
	args := append([]string{"upload", "--non-interactive", "--disable-progress-bar", "--repository-url", repoURL, "-u", "__token__", "-p", token}, files...)
	return pypiExec(t, t.TempDir(), nil, "twine", args...)
}

// pypiPipArgs are the flags the clients README prescribes: only the
// gateway's index is used, never pypi.org.
var pypiPipArgs = []string{"--isolated", "--no-input", "--disable-pip-version-check", "--no-cache-dir"}

// pypiPipTarget installs into a fresh --target dir and returns it.
func pypiPipTarget(t *testing.T, index string, reqs ...string) (string, string, error) {
	t.Helper()
	target := t.TempDir()
	args := append([]string{"-m", "pip"}, pypiPipArgs...)
	args = append(args, "install", "--target", target, "--index-url", index)
	args = append(args, reqs...)
	out, err := pypiExec(t, t.TempDir(), nil, "python3", args...)
	return target, out, err
}

func pypiIndexURL(base, token, path string) string {
	u, _ := url.Parse(base + path)
	u.User = url.UserPassword("__token__", token)
	return u.String()
}

func pypiFileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	pypiMust(t, err)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// pypiInstalled asserts which distributions a --target dir holds.
func pypiInstalled(t *testing.T, target string, want ...string) {
	t.Helper()
	infos, _ := filepath.Glob(filepath.Join(target, "*.dist-info"))
	var got []string
	for _, i := range infos {
		got = append(got, strings.TrimSuffix(filepath.Base(i), ".dist-info"))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("installed %v, want %v", got, want)
	}
}

// TestPyPIRealClients drives twine and pip end to end: wheels and sdists
// of two packages (one depending on the other) and a release requiring
// Python >= 4, uploaded with twine (command-line credentials and a
// .pypirc), installed with pip at project and group level, dependencies
// resolved from the gateway (no --no-deps), the >=4 release skipped.
func TestPyPIRealClients(t *testing.T) {
	pypiRequireClients(t)
	e := NewEnv(t)
	s := e.NewScenario()
	groupRead, _, _ := e.DeployToken("groups", s.GroupID, "read_package_registry")

	var dep, hello, future pypiDist
	var wg sync.WaitGroup
	for _, b := range []struct {
		out                     *pypiDist
		name, ver, requires, on string
	}{
		{&dep, "acme-dep", "0.1.0", ">=3.7", ""},
		{&hello, "acme-hello", "0.1.0", ">=3.7", "acme-dep>=0.1"},
		{&future, "acme-hello", "0.2.0", ">=4", "acme-dep>=0.1"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var deps []string
			if b.on != "" {
				deps = append(deps, b.on)
			}
			*b.out = pypiBuild(t, b.name, b.ver, b.requires, deps...)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	repo := fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi", e.URL, s.ProjectID)

	// A read-only token cannot upload: twine fails on the 403.
	out, err := pypiTwine(t, repo, s.ReadToken, hello.Wheel)
	if err == nil || !strings.Contains(out, "403") {
		t.Fatalf("read token upload: err=%v\n%s", err, out)
	}

	// acme-dep through a .pypirc (twine's config file), the rest with -u/-p.
	pypirc := filepath.Join(t.TempDir(), ".pypirc")
	pypiMust(t, os.WriteFile(pypirc, []byte(fmt.Sprintf("[distutils]\nindex-servers =\n    gateway\n\n[gateway]\nrepository = %s\nusername = %s\npassword = %s\n",
		repo, s.WriteUser, s.WriteToken)), 0o600))
	pypiRun(t, t.TempDir(), nil, "twine", "upload", "--non-interactive", "--disable-progress-bar", "--config-file", pypirc,
		"--repository", "gateway", dep.Wheel, dep.Sdist)
	if out, err := pypiTwine(t, repo, s.WriteToken, hello.Wheel, hello.Sdist, future.Wheel, future.Sdist); err != nil {
		t.Fatalf("twine upload: %v\n%s", err, out)
	}

	// Re-upload: GitLab's 400 "has already been taken", which twine 4
	// reports as an error and --skip-existing skips.
	out, err = pypiTwine(t, repo, s.WriteToken, hello.Wheel)
	if err == nil || !strings.Contains(out, "400") {
		t.Fatalf("duplicate upload: err=%v\n%s", err, out)
	}
	out, err = pypiExec(t, t.TempDir(), nil, "twine", "upload", "--non-interactive", "--disable-progress-bar", "--skip-existing",
		"--repository-url", repo, "-u", "__token__", "-p", s.WriteToken, hello.Wheel, hello.Sdist)
	if err != nil || !strings.Contains(out, "Skipping") {
		t.Fatalf("--skip-existing: err=%v\n%s", err, out)
	}

	// The project page as pip reads it: hashes of the real files,
	// requires-python escaped.
	page := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/pypi/simple/acme-hello/", s.ProjectID), nil, Basic("__token__", s.ReadToken)))
	for _, f := range []string{hello.Wheel, hello.Sdist} {
		want := fmt.Sprintf(`%s/files/%s/%s#sha256=%s" data-requires-python="&gt;=3.7">%s</a>`, repo, pypiFileSHA256(t, f), filepath.Base(f), pypiFileSHA256(t, f), filepath.Base(f))
		if !strings.Contains(string(page.Body), want) {
			t.Fatalf("project page lacks %s:\n%s", want, page.Body)
		}
	}
	if !strings.Contains(string(page.Body), `data-requires-python="&gt;=4"`) {
		t.Fatalf("project page lacks the >=4 release:\n%s", page.Body)
	}

	projectIndex := pypiIndexURL(e.URL, s.ReadToken, fmt.Sprintf("/api/v4/projects/%d/packages/pypi/simple", s.ProjectID))
	groupIndex := pypiIndexURL(e.URL, groupRead, fmt.Sprintf("/api/v4/groups/%d/-/packages/pypi/simple", s.GroupID))

	t.Run("project level, dependency resolved, >=4 skipped", func(t *testing.T) {
		target, out, err := pypiPipTarget(t, projectIndex, "acme-hello")
		if err != nil {
			t.Fatalf("pip install: %v\n%s", err, out)
		}
		pypiInstalled(t, target, "acme_dep-0.1.0", "acme_hello-0.1.0")
		got := pypiRun(t, target, []string{"PYTHONPATH=" + target}, "python3", "-c", "import acme_hello, acme_dep; print(acme_hello.VERSION, acme_dep.GREETING)")
		if strings.TrimSpace(got) != "0.1.0 hello from gateway" {
			t.Fatalf("import: %q", got)
		}
	})
	t.Run("group level, any spelling of the name", func(t *testing.T) {
		target, out, err := pypiPipTarget(t, groupIndex, "Acme_Hello==0.1.0")
		if err != nil {
			t.Fatalf("pip install: %v\n%s", err, out)
		}
		pypiInstalled(t, target, "acme_dep-0.1.0", "acme_hello-0.1.0")
	})
	t.Run("an explicit pin on the >=4 release finds nothing installable", func(t *testing.T) {
		_, out, err := pypiPipTarget(t, projectIndex, "acme-hello==0.2.0")
		if err == nil || !regexp.MustCompile(`(?i)requires-python|Requires-Python`).MatchString(out) {
			t.Fatalf("pip installed a >=4 release or failed otherwise: err=%v\n%s", err, out)
		}
	})
	t.Run("no credentials: 401, pip sees no versions", func(t *testing.T) {
		anon := fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi/simple", e.URL, s.ProjectID)
		_, out, err := pypiPipTarget(t, anon, "acme-hello")
		if err == nil || !strings.Contains(out, "from versions: none") {
			t.Fatalf("anonymous pip install: err=%v\n%s", err, out)
		}
	})
	t.Run("project token on the group index: 404, no versions", func(t *testing.T) {
		idx := pypiIndexURL(e.URL, s.ReadToken, fmt.Sprintf("/api/v4/groups/%d/-/packages/pypi/simple", s.GroupID))
		_, out, err := pypiPipTarget(t, idx, "acme-hello")
		if err == nil || !strings.Contains(out, "from versions: none") {
			t.Fatalf("pip install: err=%v\n%s", err, out)
		}
	})
	t.Run("sdists built and installed by pip in a venv", func(t *testing.T) {
		venv := filepath.Join(t.TempDir(), "venv")
		pypiRun(t, t.TempDir(), nil, "/usr/bin/python3", "-m", "venv", "--system-site-packages", venv)
		py := filepath.Join(venv, "bin", "python")
		args := append([]string{"-m", "pip"}, pypiPipArgs...)
		args = append(args, "install", "--no-build-isolation", "--no-binary", ":all:", "--index-url", projectIndex, "acme-hello==0.1.0")
		out := pypiRun(t, t.TempDir(), nil, py, args...)
		if !strings.Contains(out, "acme-hello-0.1.0.tar.gz") && !strings.Contains(out, "acme_hello-0.1.0.tar.gz") {
			t.Fatalf("pip did not use the sdist:\n%s", out)
		}
		got := pypiRun(t, t.TempDir(), nil, py, "-c", "import acme_hello, acme_dep; print(acme_hello.VERSION)")
		if strings.TrimSpace(got) != "0.1.0" {
			t.Fatalf("import: %q", got)
		}
	})

	var pkgs, files int
	e.Store.DB().Get(&pkgs, "SELECT count(*) FROM packages WHERE package_type = 'pypi'")
	e.Store.DB().Get(&files, "SELECT count(*) FROM package_files")
	if pkgs != 3 || files != 6 {
		t.Errorf("packages=%d files=%d, want 3 and 6", pkgs, files)
	}
	assertNoOrphanObjects(t, e)
}
