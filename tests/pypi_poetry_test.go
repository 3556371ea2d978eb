package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requirePoetry skips when Poetry is not installed at all: it is not one
// of ../shared/clients' clients, and .ci/run installs Debian's
// python3-poetry (1.3.2), so CI runs these tests. An installed Poetry that
// does not run fails the test.
func requirePoetry(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("poetry"); err != nil {
		missingClient(t, "poetry is not installed: the Poetry tests need it (apt-get install -y python3-poetry; .ci/run installs it)")
	}
	if out, err := exec.Command("poetry", "--version").CombinedOutput(); err != nil {
		t.Fatalf("poetry is installed but does not run (%v): %s", err, out)
	}
}

// poetryClient runs Poetry the way a user's machine would, but with
// everything it writes in temp dirs: its config (repositories, http-basic
// credentials, which Poetry keeps in its auth.toml when no keyring is
// usable), its cache and the virtualenvs (in-project: APP/.venv), and HOME.
// The null keyring stops it from probing a desktop keyring.
//
// HTTP(S)_PROXY point at a closed port, and NO_PROXY exempts only the
// loopback names the gateway and its store listen on: a Poetry that asked
// pypi.org for anything would fail at once on every machine, online or
// not, instead of passing wherever pypi.org happens to be reachable.
type poetryClient struct {
	t   *testing.T
	env []string
}

func newPoetry(t *testing.T, env ...string) *poetryClient {
	t.Helper()
	base := []string{
		"HOME=" + t.TempDir(),
		"POETRY_CONFIG_DIR=" + t.TempDir(),
		"POETRY_CACHE_DIR=" + t.TempDir(),
		"POETRY_VIRTUALENVS_PATH=" + t.TempDir(),
		"POETRY_VIRTUALENVS_IN_PROJECT=true",
		"PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring",
		"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9",
		"http_proxy=http://127.0.0.1:9", "https_proxy=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	}
	return &poetryClient{t: t, env: append(base, env...)}
}

// exec runs `poetry ARGS --no-interaction --no-ansi` in dir.
func (p *poetryClient) exec(dir string, args ...string) (string, error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "poetry", append(args, "--no-interaction", "--no-ansi")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), p.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (p *poetryClient) run(dir string, args ...string) string {
	p.t.Helper()
	out, err := p.exec(dir, args...)
	if err != nil {
		p.t.Fatalf("poetry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// poetryProject writes a Poetry project whose package is the module of the
// same name (GREETING, VERSION), with extra lines for
// [tool.poetry.dependencies] and extra TOML (sources) after them.
func poetryProject(t *testing.T, name, version, deps, extra string) string {
	t.Helper()
	dir := t.TempDir()
	module := strings.ReplaceAll(name, "-", "_")
	pypiMust(t, os.MkdirAll(filepath.Join(dir, module), 0o755))
	pypiMust(t, os.WriteFile(filepath.Join(dir, module, "__init__.py"),
		[]byte(fmt.Sprintf("GREETING = \"hello from poetry\"\nVERSION = %q\n", version)), 0o644))
	pypiMust(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("# "+name+"\n\nPublished with Poetry.\n"), 0o644))
	pypiMust(t, os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte(fmt.Sprintf(`[tool.poetry]
name = %q
version = %q
description = "A Poetry project"
authors = ["Acme <dev@acme.test>"]
readme = "README.md"
packages = [{include = %q}]

[tool.poetry.dependencies]
python = "^3.7"
%s
%s
[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
`, name, version, module, deps, extra)), 0o644))
	return dir
}

// poetryDist is what `poetry build` made of one project.
type poetryDist struct{ wheel, sdist string }

func poetryBuild(t *testing.T, p *poetryClient, dir string) poetryDist {
	t.Helper()
	p.run(dir, "build")
	whls, _ := filepath.Glob(filepath.Join(dir, "dist", "*.whl"))
	sdists, _ := filepath.Glob(filepath.Join(dir, "dist", "*.tar.gz"))
	if len(whls) != 1 || len(sdists) != 1 {
		t.Fatalf("poetry build in %s: wheels %v, sdists %v", dir, whls, sdists)
	}
	return poetryDist{whls[0], sdists[0]}
}

// TestPoetryPublishAndInstall drives Poetry 1.3 as GitLab's docs set it
// up: `poetry build` and `poetry publish -r gitlab` to the project-level
// PyPI URL (`poetry config repositories.gitlab`, credentials from
// `poetry config http-basic.gitlab`, --username/--password or
// `pypi-token.gitlab`), then applications depending on what was
// published, locked and installed with read-only deploy tokens from the
// project's and the group's simple index, as the only source
// (`default = true`, which disables PyPI) or as a `secondary` source the
// dependency is pinned to. acme-poetry depends on acme-base, so Poetry
// also resolves a dependency from the metadata of a wheel it downloaded
// from the gateway. The packages must land in the virtualenv Poetry made.
func TestPoetryPublishAndInstall(t *testing.T) {
	requirePoetry(t)
	e := NewEnv(t)
	s := e.NewScenario()
	groupRead, groupReadUser, _ := e.DeployToken("groups", s.GroupID, "read_package_registry")
	repo := fmt.Sprintf("%s/api/v4/projects/%d/packages/pypi", e.URL, s.ProjectID)
	projectIndex := repo + "/simple"
	groupIndex := fmt.Sprintf("%s/api/v4/groups/%d/-/packages/pypi/simple", e.URL, s.GroupID)

	pub := newPoetry(t)
	base := poetryProject(t, "acme-base", "0.1.0", "", "")
	lib := poetryProject(t, "acme-poetry", "0.1.0", `acme-base = "^0.1"`, "")
	baseDist, libDist := poetryBuild(t, pub, base), poetryBuild(t, pub, lib)
	if filepath.Base(libDist.wheel) != "acme_poetry-0.1.0-py3-none-any.whl" {
		t.Fatalf("poetry built %s", libDist.wheel)
	}
	pub.run(lib, "config", "repositories.gitlab", repo)

	// No credentials: the gateway's 401; a read-only token given on the
	// command line: GitLab's 403. Neither stores anything.
	out, err := pub.exec(lib, "publish", "-r", "gitlab")
	if err == nil || !strings.Contains(out, "HTTP Error 401") {
		t.Fatalf("anonymous publish: err=%v\n%s", err, out)
	}
	out, err = pub.exec(lib, "publish", "-r", "gitlab", "--username", s.ReadUser, "--password", s.ReadToken)
	if err == nil || !strings.Contains(out, "HTTP Error 403") {
		t.Fatalf("publish with a read token: err=%v\n%s", err, out)
	}

	pub.run(lib, "config", "http-basic.gitlab", s.WriteUser, s.WriteToken)
	for _, d := range []struct {
		dir  string
		dist poetryDist
	}{{base, baseDist}, {lib, libDist}} {
		out := pub.run(d.dir, "publish", "-r", "gitlab")
		for _, f := range []string{d.dist.wheel, d.dist.sdist} {
			if !strings.Contains(out, "Uploading "+filepath.Base(f)+" 100%") {
				t.Fatalf("publish did not upload %s:\n%s", filepath.Base(f), out)
			}
		}
	}

	// Publishing again (now with a pypi-token, which Poetry sends as
	// __token__): GitLab's 400 "has already been taken" fails the publish,
	// and --skip-existing recognises it as "File exists".
	pub.run(lib, "config", "pypi-token.gitlab", s.WriteToken)
	out, err = pub.exec(lib, "publish", "-r", "gitlab")
	if err == nil || !strings.Contains(out, "HTTP Error 400") || !strings.Contains(out, "already been taken") {
		t.Fatalf("duplicate publish: err=%v\n%s", err, out)
	}
	out = pub.run(lib, "publish", "-r", "gitlab", "--skip-existing")
	if strings.Count(out, "File exists. Skipping") != 2 {
		t.Fatalf("publish --skip-existing did not skip both files:\n%s", out)
	}

	// What Poetry uploaded is what the index serves, with Poetry's
	// requires-python.
	page := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/pypi/simple/acme-poetry/", s.ProjectID), nil, Basic("__token__", s.ReadToken)))
	for _, f := range []string{libDist.wheel, libDist.sdist} {
		sum := pypiFileSHA256(t, f)
		want := fmt.Sprintf(`%s/files/%s/%s#sha256=%s" data-requires-python="&gt;=3.7,&lt;4.0">%s</a>`, repo, sum, filepath.Base(f), sum, filepath.Base(f))
		if !strings.Contains(string(page.Body), want) {
			t.Fatalf("project page lacks %s:\n%s", want, page.Body)
		}
	}

	// installed checks what a lock + install left behind: both packages
	// locked from the gateway source with the hashes of the published
	// files, and importable from the in-project virtualenv Poetry made.
	installed := func(t *testing.T, p *poetryClient, app, source, index string) {
		t.Helper()
		lock, err := os.ReadFile(filepath.Join(app, "poetry.lock"))
		pypiMust(t, err)
		for _, d := range []struct {
			name string
			dist poetryDist
		}{{"acme-base", baseDist}, {"acme-poetry", libDist}} {
			for _, want := range []string{
				fmt.Sprintf("name = %q\nversion = \"0.1.0\"", d.name),
				fmt.Sprintf(`{file = "%s", hash = "sha256:%s"}`, filepath.Base(d.dist.wheel), pypiFileSHA256(t, d.dist.wheel)),
				fmt.Sprintf(`{file = "%s", hash = "sha256:%s"}`, filepath.Base(d.dist.sdist), pypiFileSHA256(t, d.dist.sdist)),
			} {
				if !strings.Contains(string(lock), want) {
					t.Fatalf("poetry.lock lacks %q:\n%s", want, lock)
				}
			}
		}
		src := fmt.Sprintf("[package.source]\ntype = \"legacy\"\nurl = %q\nreference = %q\n", index, source)
		if strings.Count(string(lock), src) != 2 || strings.Count(string(lock), "[package.source]") != 2 {
			t.Fatalf("poetry.lock does not lock both packages from %s:\n%s", index, lock)
		}
		venvPy := filepath.Join(app, ".venv", "bin", "python")
		got := pypiRun(t, app, nil, venvPy, "-c", `import sys, acme_poetry, acme_base, importlib.metadata as m
print(acme_poetry.VERSION, acme_base.GREETING, m.version("acme-poetry"), m.version("acme-base"), acme_poetry.__file__.startswith(sys.prefix))`)
		if strings.TrimSpace(got) != "0.1.0 hello from poetry 0.1.0 0.1.0 True" {
			t.Fatalf("import in Poetry's virtualenv: %q", got)
		}
		if got := p.run(app, "run", "python", "-c", "import acme_poetry; print(acme_poetry.GREETING)"); strings.TrimSpace(got) != "hello from poetry" {
			t.Fatalf("poetry run: %q", got)
		}
	}

	t.Run("poetry source add --default + poetry add, project index", func(t *testing.T) {
		p := newPoetry(t)
		app := poetryProject(t, "acme-app", "1.0.0", "", "")
		p.run(app, "source", "add", "--default", "gitlab", projectIndex)
		p.run(app, "config", "http-basic.gitlab", s.ReadUser, s.ReadToken)
		out := p.run(app, "add", "acme-poetry")
		for _, want := range []string{"Using version ^0.1.0 for acme-poetry", "Installing acme-base (0.1.0)", "Installing acme-poetry (0.1.0)"} {
			if !strings.Contains(out, want) {
				t.Fatalf("poetry add: no %q in\n%s", want, out)
			}
		}
		installed(t, p, app, "gitlab", projectIndex)
	})

	t.Run("default source in pyproject, poetry lock + install, group index", func(t *testing.T) {
		p := newPoetry(t)
		app := poetryProject(t, "acme-app", "1.0.0", `acme-poetry = "^0.1"`,
			fmt.Sprintf("[[tool.poetry.source]]\nname = \"gitlab-group\"\nurl = %q\ndefault = true\n", groupIndex))
		p.run(app, "config", "http-basic.gitlab-group", groupReadUser, groupRead)
		p.run(app, "lock")
		out := p.run(app, "install")
		if !strings.Contains(out, "Installing acme-poetry (0.1.0)") {
			t.Fatalf("poetry install:\n%s", out)
		}
		installed(t, p, app, "gitlab-group", groupIndex)
	})

	t.Run("secondary source the dependencies are pinned to, PyPI left as default", func(t *testing.T) {
		// Credentials from the environment, as CI jobs pass them.
		p := newPoetry(t, "POETRY_HTTP_BASIC_GITLAB_USERNAME="+s.ReadUser, "POETRY_HTTP_BASIC_GITLAB_PASSWORD="+s.ReadToken)
		app := poetryProject(t, "acme-app", "1.0.0",
			"acme-poetry = {version = \"^0.1\", source = \"gitlab\"}\nacme-base = {version = \"^0.1\", source = \"gitlab\"}",
			fmt.Sprintf("[[tool.poetry.source]]\nname = \"gitlab\"\nurl = %q\nsecondary = true\n", projectIndex))
		p.run(app, "lock")
		p.run(app, "install")
		installed(t, p, app, "gitlab", projectIndex)
	})

	t.Run("no credentials: Poetry finds no acme-poetry", func(t *testing.T) {
		app := poetryProject(t, "acme-app", "1.0.0", `acme-poetry = "^0.1"`,
			fmt.Sprintf("[[tool.poetry.source]]\nname = \"gitlab\"\nurl = %q\ndefault = true\n", projectIndex))
		out, err := newPoetry(t).exec(app, "lock")
		if err == nil || !strings.Contains(out, "acme-poetry") || !strings.Contains(out, "doesn't match any versions") {
			t.Fatalf("anonymous lock: err=%v\n%s", err, out)
		}
	})
}
