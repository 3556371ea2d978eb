package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// minioStartTimeout bounds how long a local MinIO may take to become live;
// the first start formats the drive, which takes a few seconds on slow disks.
const minioStartTimeout = 30 * time.Second

// minioPinnedModule is the version the project builds MinIO from, quoted in
// the "not found" error so the fix is one copy-paste away.
const minioPinnedModule = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// MinIOProcess is a single-drive MinIO server run as a child process.
//
// It exists for fault-injection tests (S3 dying mid-upload): such a test has
// to kill and restart the store itself. Port, credentials and data dir stay
// the same across Stop/Start, so clients built from S3() keep working and
// objects written before the stop are still there afterwards. Safe for
// concurrent use.
type MinIOProcess struct {
	mu      sync.Mutex
	binary  string
	tmpDir  string // removed by Close
	dataDir string
	logPath string
	port    int
	console int
	access  string
	secret  string
	proc    *child // nil while stopped
	closed  bool
	extra   []string // server flags for the next Start (SetFlags)
}

// StartMinIO starts MinIO on a free loopback port with a fresh data dir and
// waits until it is live. It always runs a local process, whatever [Select]
// would choose.
func StartMinIO(ctx context.Context) (*MinIOProcess, error) {
	bin, err := minioBinary()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "pkgate-minio-")
	if err != nil {
		return nil, fmt.Errorf("harness: minio temp dir: %w", err)
	}
	m := &MinIOProcess{
		binary:  bin,
		tmpDir:  tmp,
		dataDir: filepath.Join(tmp, "data"),
		logPath: filepath.Join(tmp, "minio.log"),
		// Random credentials make it impossible for a test to depend on
		// well-known ones instead of what S3() returns.
		access: "pkgate-" + randomHex(4),
		secret: randomHex(16),
	}
	for _, dir := range []string{m.dataDir, filepath.Join(tmp, "certs")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			_ = os.RemoveAll(tmp)
			return nil, fmt.Errorf("harness: %w", err)
		}
	}
	// As with Postgres, a picked port may be taken before MinIO binds it.
	for attempt := 0; ; attempt++ {
		if m.port, err = freePort(); err == nil {
			m.console, err = freePort()
		}
		if err != nil {
			_ = m.Close()
			return nil, err
		}
		if m.port == m.console {
			continue
		}
		err = m.Start(ctx)
		if err == nil {
			return m, nil
		}
		if attempt >= 2 || !looksLikePortClash(m.logPath) {
			_ = m.Close()
			return nil, err
		}
	}
}

// minioBinary finds the server: $MINIO_BINARY, then the binary `go install`
// puts in GOPATH/bin, then PATH.
func minioBinary() (string, error) {
	if b := os.Getenv(EnvMinIOBinary); b != "" {
		if st, err := os.Stat(b); err != nil || st.IsDir() {
			return "", fmt.Errorf("harness: %s=%s is not a file", EnvMinIOBinary, b)
		}
		return b, nil
	}
	for _, dir := range goPathBins() {
		b := filepath.Join(dir, "minio")
		if st, err := os.Stat(b); err == nil && !st.IsDir() {
			return b, nil
		}
	}
	if b, err := exec.LookPath("minio"); err == nil {
		return b, nil
	}
	return "", fmt.Errorf("harness: minio binary not found (looked at $%s, $(go env GOPATH)/bin/minio and PATH); "+
		"install it with `go install %s` or point %s at a minio server binary", EnvMinIOBinary, minioPinnedModule, EnvMinIOBinary)
}

// goPathBins lists GOBIN and the bin dirs of GOPATH. $GOPATH and $GOBIN are
// read directly when set; otherwise `go env` answers (it knows about go.env
// files), with $HOME/go as the documented default if go is unavailable.
func goPathBins() []string {
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	for _, p := range filepath.SplitList(gopath) {
		if p != "" {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	return dirs
}

// randomHex returns n random bytes hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// S3 describes the endpoint; it does not change across Stop/Start.
func (m *MinIOProcess) S3() S3 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return S3{
		Endpoint:  "http://127.0.0.1:" + strconv.Itoa(m.port),
		Region:    DefaultRegion,
		AccessKey: m.access,
		SecretKey: m.secret,
	}
}

// LogPath is the server log, handy when a test fails in a confusing way.
func (m *MinIOProcess) LogPath() string { return m.logPath }

// Start starts the server (again) on the same port and data dir and waits
// until GET /minio/health/live answers 200. Starting a running server is a
// no-op.
func (m *MinIOProcess) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	if m.proc != nil && !m.proc.exited() {
		return nil
	}
	args := []string{
		"server",
		"--address", "127.0.0.1:" + strconv.Itoa(m.port),
		"--console-address", "127.0.0.1:" + strconv.Itoa(m.console),
		// Keep MinIO away from $HOME/.minio.
		"--certs-dir", filepath.Join(m.tmpDir, "certs"),
	}
	args = append(append(args, m.extra...), m.dataDir)
	env := cleanEnv(
		"MINIO_ROOT_USER="+m.access,
		"MINIO_ROOT_PASSWORD="+m.secret,
		"MINIO_BROWSER=off",
		// No update checks or other outbound traffic from tests.
		"MINIO_UPDATE=off",
	)
	c, err := startChild(m.binary, args, env, nil, m.logPath)
	if err != nil {
		return errWithLog(err, "harness: start minio", m.logPath)
	}
	m.proc = c
	base := "http://127.0.0.1:" + strconv.Itoa(m.port)
	err = waitReady(ctx, c, minioStartTimeout, func(ctx context.Context) error {
		return minioHealthy(ctx, base)
	})
	if err != nil {
		c.stop(syscall.SIGKILL, 0)
		m.proc = nil
		return errWithLog(err, "harness: minio did not become ready", m.logPath)
	}
	return nil
}

// SetFlags sets extra server flags (such as "--no-compat") that the next
// Start passes, for a test that restarts the store with another behaviour.
func (m *MinIOProcess) SetFlags(flags ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.extra = flags
}

// healthClient never reuses connections: a pooled connection to a killed
// server would only produce a spurious failure on the next probe.
var healthClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// minioHealthy checks liveness and then readiness: "live" answers as soon as
// the HTTP server is up, "ready" only once the drive is usable, and S3 calls
// made in between fail with "server not initialized". After a restart,
// "ready" has been seen to answer 200 while S3 calls still failed, so
// the last probe is an S3 call: an anonymous ListBuckets, which an
// initialised server refuses with 403 and an uninitialised one with 503.
func minioHealthy(ctx context.Context, base string) error {
	for _, path := range []string{"/minio/health/live", "/minio/health/ready", "/"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return err
		}
		resp, err := healthClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if path == "/" {
			if resp.StatusCode >= 500 {
				return fmt.Errorf("GET %s: %s", path, resp.Status)
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
	}
	return nil
}

// Stop kills the server with SIGKILL: it simulates S3 dying, so it must not
// get the chance to finish in-flight requests. Stopping a stopped server is a
// no-op.
func (m *MinIOProcess) Stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	m.stopLocked()
	return nil
}

func (m *MinIOProcess) stopLocked() {
	if m.proc == nil {
		return
	}
	m.proc.stop(syscall.SIGKILL, 0)
	m.proc = nil
}

// Close stops the server and removes its data. It is idempotent.
func (m *MinIOProcess) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.stopLocked()
	if err := os.RemoveAll(m.tmpDir); err != nil {
		return fmt.Errorf("harness: remove %s: %w", m.tmpDir, err)
	}
	return nil
}
