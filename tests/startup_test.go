package tests

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
)

// TestStartWaitsForAnotherNodesMigration: a node that starts while
// another holds the migration lock waits for it and then starts. Its
// start-up checks shared one deadline, which the wait used up, so the
// blob store, checked after the migrations, was reported unreachable
// ("context deadline exceeded") though it was fine, and the node exited.
func TestStartWaitsForAnotherNodesMigration(t *testing.T) {
	old := gateway.StartupCheckTimeout
	gateway.StartupCheckTimeout = 2 * time.Second
	t.Cleanup(func() { gateway.StartupCheckTimeout = old })
	ctx := context.Background()
	cfg, bucket := envConfig(t, adminDSN, s3svc)
	dsn := cfg.DatabaseURL

	// Another node migrating: it holds goose's session lock a little longer
	// than one check may take.
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const gooseLockID = 4097083626 // goose's lock.DefaultLockID
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, gooseLockID); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(gateway.StartupCheckTimeout + time.Second)
		conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, gooseLockID) //nolint:errcheck
	}()
	start := time.Now()
	e := startEnv(t, cfg, bucket)
	if waited := time.Since(start); waited < gateway.StartupCheckTimeout {
		t.Fatalf("started after %v, before the lock was released", waited)
	}
	e.Must(200, e.Do("GET", "/-/readiness", nil, nil))
}

// TestHealthAnswersHead: the health and readiness checks answer HEAD as
// GET, status and no body, as GitLab's do; load balancers send HEAD.
func TestHealthAnswersHead(t *testing.T) {
	e := NewEnv(t)
	for _, path := range []string{"/-/health", "/-/readiness"} {
		r := e.Must(200, e.Do("HEAD", path, nil, nil))
		if len(r.Body) != 0 {
			t.Errorf("HEAD %s: body %q", path, r.Body)
		}
	}
}

// TestPprofAddressTakenFailsStart: a GATEWAY_PPROF_LISTEN address that
// cannot be had fails the start, naming the variable; it was only logged
// after the gateway had started serving.
func TestPprofAddressTakenFailsStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg, _ := envConfig(t, adminDSN, s3svc, func(c *gateway.Config) { c.PprofListen = busy.Addr().String() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := gateway.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "GATEWAY_PPROF_LISTEN") {
			t.Fatalf("Run: %v, want an error naming GATEWAY_PPROF_LISTEN", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway started serving with its profiler's address taken")
	}
}
