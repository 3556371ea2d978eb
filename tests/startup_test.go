package tests

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/tests/harness"
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
	dsn, err := harness.NewDatabase(ctx, adminDSN, "gw")
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := harness.NewBucket(ctx, s3svc, "gw")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3svc.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3svc.SecretKey)
	cfg, err := gateway.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL, cfg.Migrate = dsn, true
	cfg.BlobDriver, cfg.S3Bucket, cfg.S3Region, cfg.S3Endpoint, cfg.S3PathStyle = "s3", bucket, s3svc.Region, s3svc.Endpoint, true
	cfg.ShutdownTimeout = 10 * time.Second

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
