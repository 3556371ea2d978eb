// Package tests holds the integration tests: a real gateway over real HTTP,
// on real Postgres and real S3 (from tests/harness), driven by curl-like Go
// requests and by the real clients (python-gitlab, npm, pip/twine, mvn).
package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/tests/harness"
)

var (
	provider harness.Provider
	adminDSN string
	s3svc    harness.S3
	// logFile collects every gateway log line of the run, so tests can
	// assert that no secret was ever logged.
	logFile *os.File
	logMu   sync.Mutex
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var err error
	provider, err = harness.Select(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests: no services:", err)
		return 1
	}
	defer provider.Close()
	if adminDSN, err = provider.Postgres(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tests: postgres:", err)
		return 1
	}
	if s3svc, err = provider.S3(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tests: s3:", err)
		return 1
	}
	dir := os.Getenv("PKGATE_TEST_ARTIFACTS")
	if dir == "" {
		dir, _ = os.MkdirTemp("", "pkgate-logs-*")
	}
	os.MkdirAll(dir, 0o755)
	logFile, err = os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests: log file:", err)
		return 1
	}
	defer logFile.Close()
	fmt.Fprintf(os.Stderr, "tests: provider %s, gateway logs in %s\n", provider.Name(), logFile.Name())
	code := m.Run()
	if gatewayBin.path != "" {
		os.RemoveAll(filepath.Dir(gatewayBin.path))
	}
	if n := secretsInLog(); n > 0 {
		fmt.Fprintf(os.Stderr, "tests: FAIL: %d token secrets found in the gateway logs of this run (%s)\n", n, logFile.Name())
		return 1
	}
	return code
}

// secretShape matches every secret the gateway issues.
var secretShape = regexp.MustCompile(`(gldt|glpat)-[A-Za-z0-9_-]{20}`)

// secretsInLog greps everything the gateways logged during the whole run
// for token secrets: none may ever be logged, whatever the test did.
func secretsInLog() int {
	logMu.Lock()
	defer logMu.Unlock()
	logFile.Sync()
	data, err := os.ReadFile(logFile.Name())
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests: reading the gateway log:", err)
		return 1
	}
	found := secretShape.FindAll(data, -1)
	for _, f := range found {
		fmt.Fprintf(os.Stderr, "tests: secret-shaped string in the gateway log: %s...\n", f[:8])
	}
	return len(found)
}

type syncWriter struct{}

func (syncWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return logFile.Write(p)
}

// Env is one gateway on a fresh database and a fresh bucket.
type Env struct {
	t      testing.TB
	URL    string // external URL, no trailing slash
	Server *gateway.Server
	Store  *meta.Store
	Admin  string // admin PAT
	Bucket string
	Cfg    gateway.Config
	cancel context.CancelFunc
	done   chan error
}

// EnvOption tweaks the config before start.
type EnvOption func(*gateway.Config)

// NewEnv starts a gateway with the S3 driver on the shared services.
func NewEnv(t testing.TB, opts ...EnvOption) *Env {
	t.Helper()
	return NewEnvOn(t, adminDSN, s3svc, opts...)
}

// NewEnvOn starts a gateway on given services (fault tests bring their own
// MinIO or Postgres process to stop and restart).
func NewEnvOn(t testing.TB, pgAdminDSN string, s3svc harness.S3, opts ...EnvOption) *Env {
	t.Helper()
	cfg, bucket := envConfig(t, pgAdminDSN, s3svc, opts...)
	e := startEnv(t, cfg, bucket)
	e.Admin = e.bootstrapAdmin()
	return e
}

// envConfig makes a fresh database and bucket on the given services and
// the configuration of a gateway on them, before start.
func envConfig(t testing.TB, pgAdminDSN string, s3svc harness.S3, opts ...EnvOption) (gateway.Config, string) {
	t.Helper()
	ctx := context.Background()
	dsn, err := harness.NewDatabase(ctx, pgAdminDSN, "gw")
	if err != nil {
		t.Fatalf("database: %v", err)
	}
	bucket, err := harness.NewBucket(ctx, s3svc, "gw")
	if err != nil {
		t.Fatalf("bucket: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3svc.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3svc.SecretKey)
	// Start from the production defaults (GATEWAY_* variables and their
	// defaults), then point the gateway at this test's services.
	cfg, err := gateway.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.ExternalURL, cfg.DatabaseURL = "127.0.0.1:0", "", dsn
	cfg.BlobDriver, cfg.S3Bucket, cfg.S3Region, cfg.S3Endpoint, cfg.S3PathStyle = "s3", bucket, s3svc.Region, s3svc.Endpoint, true
	cfg.LogLevel, cfg.LogFormat, cfg.Migrate = "debug", "json", true
	cfg.ShutdownTimeout = 10 * time.Second
	for _, o := range opts {
		o(&cfg)
	}
	return cfg, bucket
}

func startEnv(t testing.TB, cfg gateway.Config, bucket string) *Env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = ln.Addr().String()
	if cfg.ExternalURL == "" {
		cfg.ExternalURL = "http://" + ln.Addr().String()
	}
	level, _ := gateway.ParseLogLevel(cfg.LogLevel)
	log := slog.New(slog.NewJSONHandler(syncWriter{}, &slog.HandlerOptions{Level: level})).With("test", t.Name())
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := gateway.New(ctx, cfg, log)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("gateway: %v", err)
	}
	e := &Env{t: t, URL: cfg.ExternalURL, Server: srv, Store: srv.Store, Bucket: bucket, Cfg: srv.Cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- srv.Run(ctx, ln) }()
	t.Cleanup(e.Stop)
	return e
}

// SecondNode starts another gateway process on the same database and
// bucket, as a second node behind a load balancer would be.
func (e *Env) SecondNode() *Env {
	e.t.Helper()
	cfg := e.Cfg
	cfg.ExternalURL = ""
	n := startEnv(e.t, cfg, e.Bucket)
	n.Admin = e.Admin
	return n
}

// Stop shuts the gateway down (idempotent).
func (e *Env) Stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	<-e.done
	e.Server.Close()
}

func (e *Env) bootstrapAdmin() string {
	ctx := context.Background()
	u := &meta.User{Username: "root", Email: "root@example.com", Name: "Administrator", IsAdmin: true, CanCreateGroup: true}
	if err := e.Store.CreateUser(ctx, u); err != nil {
		e.t.Fatalf("admin user: %v", err)
	}
	secret, err := auth.IssuePAT(ctx, e.Store, &meta.PAT{UserID: u.ID, Name: "admin", Scopes: []string{"api"}})
	if err != nil {
		e.t.Fatalf("admin pat: %v", err)
	}
	return secret
}

// Resp is a finished HTTP exchange.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Resp) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body is not JSON (%d): %q", r.Status, r.Body)
	}
}

// Map decodes an object body.
func (r *Resp) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Header sets request headers for Do.
type H map[string]string

var client = &http.Client{
	Timeout:       5 * time.Minute,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Do sends a request. body may be nil, []byte, string, io.Reader, or any
// other value (sent as JSON).
func (e *Env) Do(method, path string, body any, h H) *Resp {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
		ct = "application/json"
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.URL + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return &Resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// PAT returns the header map of a personal access token.
func PAT(tok string) H { return H{"PRIVATE-TOKEN": tok} }

// DeployHdr returns the Deploy-Token header map.
func DeployHdr(tok string) H { return H{"Deploy-Token": tok} }

// Basic returns an Authorization header map.
func Basic(user, pass string) H {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pass)
	return H{"Authorization": req.Header.Get("Authorization")}
}

// Bearer returns an Authorization: Bearer header map.
func Bearer(tok string) H { return H{"Authorization": "Bearer " + tok} }

// Must asserts a status and returns the response.
func (e *Env) Must(status int, r *Resp) *Resp {
	e.t.Helper()
	if r.Status != status {
		e.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// Group creates a group (parent 0: top level) as admin and returns its id.
func (e *Env) Group(path string, parent int64, visibility string) int64 {
	e.t.Helper()
	body := map[string]any{"name": strings.ToUpper(path[:1]) + path[1:], "path": path, "visibility": visibility}
	if parent > 0 {
		body["parent_id"] = parent
	}
	m := e.Must(201, e.Do("POST", "/api/v4/groups", body, PAT(e.Admin))).Map(e.t)
	return int64(m["id"].(float64))
}

// Project creates a project in a namespace as admin.
func (e *Env) Project(path string, ns int64, visibility string) int64 {
	e.t.Helper()
	m := e.Must(201, e.Do("POST", "/api/v4/projects", map[string]any{"path": path, "namespace_id": ns, "visibility": visibility}, PAT(e.Admin))).Map(e.t)
	return int64(m["id"].(float64))
}

// DeployToken creates a token on "projects" or "groups" id and returns
// (secret, username, id).
func (e *Env) DeployToken(kind string, id int64, scopes ...string) (string, string, int64) {
	e.t.Helper()
	m := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/%s/%d/deploy_tokens", kind, id),
		map[string]any{"name": "t", "scopes": scopes}, PAT(e.Admin))).Map(e.t)
	return m["token"].(string), m["username"].(string), int64(m["id"].(float64))
}

// User creates a user and a PAT with scope api; returns (id, pat).
func (e *Env) User(username string) (int64, string) {
	e.t.Helper()
	m := e.Must(201, e.Do("POST", "/api/v4/users", map[string]any{"email": username + "@example.com", "username": username,
		"name": username, "password": "s3cret-Passw0rd"}, PAT(e.Admin))).Map(e.t)
	id := int64(m["id"].(float64))
	p := e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", id),
		map[string]any{"name": "t", "scopes": []string{"api"}}, PAT(e.Admin))).Map(e.t)
	return id, p["token"].(string)
}

// Member adds a user to "projects" or "groups" id at a level.
func (e *Env) Member(kind string, id, user int64, level int) {
	e.t.Helper()
	e.Must(201, e.Do("POST", fmt.Sprintf("/api/v4/%s/%d/members", kind, id), map[string]any{"user_id": user, "access_level": level}, PAT(e.Admin)))
}

// Scenario is the common fixture: group acme, subgroup sub, private
// project app in sub, and write/read deploy tokens on app.
type Scenario struct {
	GroupID, SubID, ProjectID int64
	WriteToken, WriteUser     string
	ReadToken, ReadUser       string
}

// NewScenario builds the common fixture.
func (e *Env) NewScenario() Scenario {
	e.t.Helper()
	var s Scenario
	s.GroupID = e.Group("acme", 0, "private")
	s.SubID = e.Group("sub", s.GroupID, "private")
	s.ProjectID = e.Project("app", s.SubID, "private")
	s.WriteToken, s.WriteUser, _ = e.DeployToken("projects", s.ProjectID, "read_package_registry", "write_package_registry")
	s.ReadToken, s.ReadUser, _ = e.DeployToken("projects", s.ProjectID, "read_package_registry")
	return s
}

// ErrBody asserts a JSON error body of the form {"message": want} or
// {"error": want} (key names the family).
func ErrBody(t *testing.T, r *Resp, key, want string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("error body is not JSON (%d): %q", r.Status, r.Body)
	}
	got, ok := m[key].(string)
	if !ok {
		t.Fatalf("error body has no %q string: %s", key, r.Body)
	}
	if want != "" && got != want {
		t.Fatalf("%s = %q, want %q", key, got, want)
	}
}

// BenchEnv is NewEnv for benchmarks: the production configuration with
// request logging and the failed-authentication limit off, so the numbers
// measure the gateway rather than the log writer.
func BenchEnv(b testing.TB) *Env {
	b.Helper()
	return NewEnv(b, func(c *gateway.Config) { c.LogLevel, c.AuthFailPerMinute = "error", 0 })
}

// eventually polls cond until it holds, failing the test with what when
// it does not within d: for what another node or a background job does
// on its own time.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
	}
}

// missingClient answers a client that .ci/run installs beyond
// ../shared/clients/install.sh (Poetry, yarn, pnpm) and this machine
// lacks: the test is skipped, so that make test runs where only the
// shared clients are, unless PKGATE_ALL_CLIENTS is set, as .ci/run sets
// it: there a missing client fails, and CI never passes without them.
func missingClient(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("PKGATE_ALL_CLIENTS") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// deletePackagesNamed deletes, through the packages API, every package
// of the project by that name; there must be one.
func (e *Env) deletePackagesNamed(projectID int64, name string) {
	e.t.Helper()
	var pkgs []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages?package_name=%s", projectID, url.QueryEscape(name)), nil, PAT(e.Admin))).JSON(e.t, &pkgs)
	if len(pkgs) == 0 {
		e.t.Fatalf("no package named %s to delete", name)
	}
	for _, p := range pkgs {
		e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/packages/%v", projectID, p["id"]), nil, PAT(e.Admin)))
	}
}
