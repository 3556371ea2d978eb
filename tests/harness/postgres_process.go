package harness

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	_ "github.com/lib/pq" // the DSNs handed out are lib/pq URLs
)

// postgresStartTimeout bounds how long a local server may take to accept
// connections (crash recovery after Stop included).
const postgresStartTimeout = 30 * time.Second

// PostgresProcess is a throw-away PostgreSQL cluster run as a child process.
//
// It exists for fault-injection tests (Postgres restarted under load): such a
// test has to stop and start the server itself, which neither an external
// database nor a shared provider allows. The port is chosen once, so a client
// holding DSN() reconnects to the restarted server. Safe for concurrent use.
type PostgresProcess struct {
	mu      sync.Mutex
	binDir  string
	tmpDir  string // removed by Close
	dataDir string
	logPath string
	port    int
	cred    *syscall.Credential // nil when not running as root
	durable bool                // synchronous_commit=on, see StartPostgres
	proc    *child              // nil while stopped
	closed  bool
}

// StartPostgres initialises a new cluster in a temp dir and starts it on a
// free loopback port. It always runs a local process, whatever [Select]
// would choose.
//
// The server is fast and unsafe against power loss (fsync=off,
// full_page_writes=off), but unlike the provider's shared server it keeps
// synchronous_commit=on: with it off, transactions committed in the last few
// hundred milliseconds are lost by Stop, and a fault-injection test checking
// that acknowledged writes survive a restart would fail at random. With
// fsync=off the setting costs only a write(2) per commit.
func StartPostgres(ctx context.Context) (*PostgresProcess, error) {
	return startPostgres(ctx, true)
}

// startPostgres is StartPostgres with a choice of commit durability; the
// shared server of the local provider is never restarted, so it can afford
// synchronous_commit=off.
func startPostgres(ctx context.Context, durableCommits bool) (*PostgresProcess, error) {
	binDir, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "pkgate-pg-")
	if err != nil {
		return nil, fmt.Errorf("harness: postgres temp dir: %w", err)
	}
	p := &PostgresProcess{
		binDir:  binDir,
		tmpDir:  tmp,
		dataDir: filepath.Join(tmp, "data"),
		logPath: filepath.Join(tmp, "postgres.log"),
		cred:    cred,
		durable: durableCommits,
	}
	if err := p.initdb(ctx); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	// A port picked by freePort can be grabbed by someone else before the
	// server binds it; try a few fresh ports before giving up.
	for attempt := 0; ; attempt++ {
		if p.port, err = freePort(); err != nil {
			_ = p.Close()
			return nil, err
		}
		err = p.Start(ctx)
		if err == nil {
			return p, nil
		}
		if attempt >= 2 || !looksLikePortClash(p.logPath) {
			_ = p.Close()
			return nil, err
		}
	}
}

// postgresBinDir finds the directory holding initdb and postgres. Debian
// installs server binaries outside PATH, hence the well-known locations.
func postgresBinDir() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv(EnvPostgresBinDir); dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("harness: %s=%s does not contain initdb and postgres", EnvPostgresBinDir, dir)
		}
		return dir, nil
	}
	candidates := []string{"/usr/lib/postgresql/15/bin"}
	// Other major versions only as a fallback; production runs 15.
	others, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(others)))
	candidates = append(candidates, others...)
	candidates = append(candidates, "/usr/local/pgsql/bin")
	for _, dir := range candidates {
		if has(dir) {
			return dir, nil
		}
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(path); has(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("harness: PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/15/bin or PATH; "+
		"install them (Debian: apt-get install postgresql-15) or set %s", EnvPostgresBinDir)
}

// postgresCredential returns the identity to run the server as. initdb and
// postgres refuse to run as root, so as root we switch to the "postgres" OS
// user; otherwise we run as ourselves.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("harness: running as root, and PostgreSQL refuses root, but there is no \"postgres\" user to run it as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("harness: postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("harness: postgres gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// initdb creates the cluster. Trust authentication keeps DSNs password-free;
// that is acceptable only because the server listens on loopback and a
// private socket directory.
func (p *PostgresProcess) initdb(ctx context.Context) error {
	if p.cred != nil {
		// The temp dir is created 0700 by root; the server user must own it
		// to create the data dir inside.
		if err := os.Chown(p.tmpDir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return fmt.Errorf("harness: chown %s: %w", p.tmpDir, err)
		}
	}
	args := []string{
		"-D", p.dataDir,
		"-A", "trust",
		"-U", "postgres",
		"--no-sync",
		"-E", "UTF8",
		"--locale=C",
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err := runLogged(ctx, filepath.Join(p.binDir, "initdb"), args, p.env(), p.cred, p.logPath)
	if err != nil {
		return errWithLog(err, "harness: initdb", p.logPath)
	}
	return nil
}

// env is the server environment. LC_ALL=C matches --locale=C and keeps the
// host's locale settings from changing server messages.
func (p *PostgresProcess) env() []string {
	return cleanEnv("LC_ALL=C", "LANG=C")
}

// DSN is the superuser DSN to database "postgres" in lib/pq URL form.
func (p *PostgresProcess) DSN() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Port is the loopback TCP port the server listens on across restarts.
func (p *PostgresProcess) Port() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.port
}

// LogPath is the server log, handy when a test fails in a confusing way.
func (p *PostgresProcess) LogPath() string { return p.logPath }

// Start starts the server (again) on the same port and data dir and waits
// until it accepts connections. After [PostgresProcess.Stop] that includes
// crash recovery. Starting a running server is a no-op.
func (p *PostgresProcess) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errClosed
	}
	if p.proc != nil && !p.proc.exited() {
		return nil
	}
	syncCommit := "off"
	if p.durable {
		syncCommit = "on"
	}
	args := []string{
		"-D", p.dataDir,
		"-c", "listen_addresses=127.0.0.1",
		"-p", strconv.Itoa(p.port),
		// The socket lives in the data dir so it cannot collide with a system
		// server's /var/run/postgresql or another harness instance.
		"-c", "unix_socket_directories=" + p.dataDir,
		// Durability against OS crashes is irrelevant for throw-away test
		// data; speed is not.
		"-c", "fsync=off",
		"-c", "synchronous_commit=" + syncCommit,
		"-c", "full_page_writes=off",
		// Many test packages open pools against one cluster in parallel.
		"-c", "max_connections=300",
	}
	c, err := startChild(filepath.Join(p.binDir, "postgres"), args, p.env(), p.cred, p.logPath)
	if err != nil {
		return errWithLog(err, "harness: start postgres", p.logPath)
	}
	p.proc = c
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", p.port)
	err = waitReady(ctx, c, postgresStartTimeout, func(ctx context.Context) error {
		return pingPostgres(ctx, dsn)
	})
	if err != nil {
		c.stop(syscall.SIGQUIT, 5*time.Second)
		p.proc = nil
		return errWithLog(err, "harness: postgres did not become ready", p.logPath)
	}
	return nil
}

// pingPostgres opens a fresh connection, so a success proves the server
// accepts new sessions rather than reusing a pooled one.
func pingPostgres(ctx context.Context, dsn string) error {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// Stop shuts the server down the way `pg_ctl stop -m immediate` does (SIGQUIT
// to the postmaster): no checkpoint, connections are cut, and the next Start
// goes through crash recovery — exactly what "database restarted under load"
// should look like. Stopping a stopped server is a no-op.
func (p *PostgresProcess) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errClosed
	}
	p.stopLocked()
	return nil
}

func (p *PostgresProcess) stopLocked() {
	if p.proc == nil {
		return
	}
	// SIGQUIT lets the postmaster take its backends down with it before it
	// exits; SIGKILL only if that hangs, since killing the postmaster alone
	// leaves backends running until they notice.
	p.proc.stop(syscall.SIGQUIT, 10*time.Second)
	p.proc = nil
}

// Close stops the server and removes its data dir and log. It is idempotent.
func (p *PostgresProcess) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.stopLocked()
	if err := os.RemoveAll(p.tmpDir); err != nil {
		return fmt.Errorf("harness: remove %s: %w", p.tmpDir, err)
	}
	return nil
}
