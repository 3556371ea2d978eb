package tests

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkgate/pkgate/tests/harness"
)

var gatewayBin struct {
	once sync.Once
	path string
	err  error
}

// buildGateway builds cmd/gateway once per test run.
func buildGateway(t *testing.T) string {
	t.Helper()
	gatewayBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "pkgate-bin-*")
		if err != nil {
			gatewayBin.err = err
			return
		}
		gatewayBin.path = filepath.Join(dir, "gateway")
		out, err := exec.Command("go", "build", "-o", gatewayBin.path, "github.com/pkgate/pkgate/cmd/gateway").CombinedOutput()
		if err != nil {
			gatewayBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if gatewayBin.err != nil {
		t.Fatal(gatewayBin.err)
	}
	return gatewayBin.path
}

// startProcess runs `gateway serve` as a process of its own on e's database
// and bucket, and returns an Env that speaks to it over HTTP (its Store and
// Server are nil). The process is stopped with SIGTERM when the test ends.
func startProcess(t *testing.T, e *Env) *Env {
	t.Helper()
	bin := buildGateway(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(t.TempDir(), "gateway.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(append(os.Environ(), harness.GatewayEnv(e.Cfg.DatabaseURL, s3svc, e.Bucket)...),
		"GATEWAY_LISTEN="+addr, "GATEWAY_LOG_LEVEL=info", "GATEWAY_LOG_FORMAT=json")
	// The run's shared log too: TestMain greps it for token secrets.
	out := io.MultiWriter(logf, sharedLog{})
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("gateway process %s log:\n%s", addr, b)
		}
	})
	url := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/-/readiness", nil)
		if r, err := http.DefaultClient.Do(req); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("gateway process exited:\n%s", b)
		case <-ctx.Done():
			t.Fatal("gateway process not ready in 30 s")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return &Env{t: t, URL: url, Admin: e.Admin, Cfg: e.Cfg, Bucket: e.Bucket}
}

// TestTwoGatewayProcesses: two `gateway serve` processes on one Postgres and
// one bucket serve the same packages. Each caches file lookups, rendered
// documents and verified tokens; a change through one reaches the other
// through the database (generations: at once; notifications: within
// milliseconds), never by waiting out a cache's TTL.
func TestTwoGatewayProcesses(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	a, b := startProcess(t, e), startProcess(t, e)
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second) // the lookup TTL is 10 s, the token cache's 30 s
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("process b did not see %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// A generic file, replaced through the other process.
	file := fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f.txt", s.ProjectID)
	get := func(n *Env) string { return string(n.Must(200, n.Do("GET", file, nil, DeployHdr(s.ReadToken))).Body) }
	a.Must(201, a.Do("PUT", file, "one", DeployHdr(s.WriteToken)))
	if got := get(b); got != "one" {
		t.Fatalf("process b serves %q", got)
	}
	b.Must(201, b.Do("PUT", file, "two", DeployHdr(s.WriteToken)))
	if got := get(b); got != "two" {
		t.Fatalf("process b serves %q after its own write", got)
	}
	eventually("the replacement made through b", func() bool { return get(a) == "two" })
	b.Must(201, b.Do("PUT", file, "three", DeployHdr(s.WriteToken)))
	eventually("the second replacement", func() bool { return get(a) == "three" })

	// A rendered document: the next read after a publish elsewhere is new.
	base := fmt.Sprintf("/api/v4/projects/%d/packages/maven/com/acme/multi", s.ProjectID)
	meta := func(n *Env) string {
		return string(n.Must(200, n.Do("GET", base+"/maven-metadata.xml", nil, DeployHdr(s.ReadToken))).Body)
	}
	a.Must(200, a.Do("PUT", base+"/1.0/multi-1.0.jar", "jar 1", DeployHdr(s.WriteToken)))
	if m := meta(b); !strings.Contains(m, "<version>1.0</version>") {
		t.Fatalf("process b: %s", m)
	}
	a.Must(200, a.Do("PUT", base+"/2.0/multi-2.0.jar", "jar 2", DeployHdr(s.WriteToken)))
	if m := meta(b); !strings.Contains(m, "<latest>2.0</latest>") {
		t.Fatalf("process b still serves the old document: %s", m)
	}

	// A token deleted through one process stops working on the other,
	// which had it cached.
	var toks []map[string]any
	a.Must(200, a.Do("GET", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", s.ProjectID), nil, PAT(e.Admin))).JSON(t, &toks)
	for _, tok := range toks {
		a.Must(204, a.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens/%v", s.ProjectID, tok["id"]), nil, PAT(e.Admin)))
	}
	eventually("the token deletion", func() bool { return b.Do("GET", file, nil, DeployHdr(s.WriteToken)).Status == 401 })
}

// sharedLog appends to the run's gateway log, beside the in-process nodes.
type sharedLog struct{}

func (sharedLog) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return logFile.Write(p)
}
