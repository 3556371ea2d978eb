package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireTool fails (never skips) when a client is missing: CI installs
// them with ../shared/clients/install.sh.
func requireTool(t *testing.T, path string, args ...string) {
	t.Helper()
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s is not usable (%v: %s); run ../shared/clients/install.sh", path, err, out)
	}
}

// runPythonGitlab runs a python-gitlab script of testdata/pythongitlab
// against a fresh gateway (GATEWAY_URL, ADMIN_TOKEN, WORK) and fails the
// test unless it exits 0 having printed done.
func runPythonGitlab(t *testing.T, script, done string) {
	t.Helper()
	requireTool(t, "/usr/bin/python3", "-c", "import gitlab")
	e := NewEnv(t)
	path, _ := filepath.Abs(filepath.Join("testdata/pythongitlab", script))
	cmd := exec.Command("/usr/bin/python3", path)
	cmd.Env = append(os.Environ(), "GATEWAY_URL="+e.URL, "ADMIN_TOKEN="+e.Admin, "WORK="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), done) {
		t.Fatalf("python-gitlab %s failed: %v\n%s", script, err, out)
	}
}

func TestPythonGitlabScenario(t *testing.T) { runPythonGitlab(t, "scenario.py", "SCENARIO OK") }

// TestPythonGitlabPersonalAccessTokens drives the personal access token
// API with python-gitlab: list, get by id and "self", delete by id, "self"
// and through the object.
func TestPythonGitlabPersonalAccessTokens(t *testing.T) { runPythonGitlab(t, "pats.py", "PATS OK") }

// TestPythonGitlabRotatePersonalAccessTokens rotates tokens with
// python-gitlab's rotate(): the manager's, by id and "self", and the
// object's.
func TestPythonGitlabRotatePersonalAccessTokens(t *testing.T) {
	runPythonGitlab(t, "pat_rotate.py", "ROTATE OK")
}

// TestCurlCIJob does what a CI job does with curl and a deploy token.
func TestCurlCIJob(t *testing.T) {
	requireTool(t, "curl", "--version")
	e := NewEnv(t)
	s := e.NewScenario()
	dir := t.TempDir()
	src := filepath.Join(dir, "app.tar.gz")
	data := strings.Repeat("build output\n", 50000)
	os.WriteFile(src, []byte(data), 0o644)
	url := e.URL + "/api/v4/projects/acme%2Fsub%2Fapp/packages/generic/app/1.0.0/app.tar.gz"
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-sS", "--fail-with-body"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("--user", s.WriteUser+":"+s.WriteToken, "--upload-file", src, url); !strings.Contains(out, "201 Created") {
		t.Fatalf("upload: %s", out)
	}
	out := run("--header", "Deploy-Token: "+s.WriteToken, "--upload-file", src, url+"?select=package_file")
	if !strings.Contains(out, `"file_sha256"`) {
		t.Fatalf("select=package_file: %s", out)
	}
	dst := filepath.Join(dir, "out")
	run("--location", "--user", s.ReadUser+":"+s.ReadToken, "--output", dst, url)
	got, _ := os.ReadFile(dst)
	if string(got) != data {
		t.Fatal("downloaded bytes differ")
	}
	// A read token cannot upload: curl fails with the server's message.
	cmd := exec.Command("curl", "-sS", "--fail-with-body", "--user", "x:"+s.ReadToken, "--upload-file", src, url)
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "403 Forbidden") {
		t.Fatalf("read-only upload: %v %s", err, b)
	}
}
