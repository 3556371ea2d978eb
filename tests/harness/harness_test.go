package harness

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// provider is shared by the tests in this binary, the way every integration
// test package is expected to use the harness: Select once, isolate with
// NewDatabase/NewBucket.
var provider Provider

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	p, err := Select(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness.Select:", err)
		os.Exit(1)
	}
	provider = p
	code := m.Run()
	if err := p.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "provider.Close:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatalf("sql.Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func selectOne(ctx context.Context, db *sql.DB) error {
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 returned %d", one)
	}
	return nil
}

func putObject(ctx context.Context, c *s3.Client, bucket, key string, body []byte) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Body:   bytes.NewReader(body),
	})
	return err
}

func getObject(ctx context.Context, c *s3.Client, bucket, key string) ([]byte, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// noRetries makes a failure against a stopped server show up immediately
// instead of after the SDK's backoff.
func noRetries(o *s3.Options) { o.RetryMaxAttempts = 1 }

func TestProviderPostgres(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	t.Logf("provider: %s", provider.Name())

	admin, err := provider.Postgres(ctx)
	if err != nil {
		t.Fatalf("Postgres: %v", err)
	}
	// Lazily started once: a second call hands out the same server.
	again, err := provider.Postgres(ctx)
	if err != nil || again != admin {
		t.Fatalf("second Postgres call = %q, %v; want %q", again, err, admin)
	}

	dsnA, err := NewDatabase(ctx, admin, "Harness Test/A")
	if err != nil {
		t.Fatalf("NewDatabase: %v", err)
	}
	dsnB, err := NewDatabase(ctx, admin, "Harness Test/A")
	if err != nil {
		t.Fatalf("NewDatabase: %v", err)
	}
	if dsnA == dsnB {
		t.Fatalf("NewDatabase returned the same DSN twice: %s", dsnA)
	}

	db := openDB(t, dsnA)
	if err := selectOne(ctx, db); err != nil {
		t.Fatalf("SELECT 1 on %s: %v", dsnA, err)
	}
	var name string
	if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "harness_test_a_") {
		t.Errorf("current_database() = %q, want prefix harness_test_a_", name)
	}
	// Fresh and empty: no user tables.
	var tables int
	if err := db.QueryRowContext(ctx,
		"SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("new database has %d user tables", tables)
	}
	// Writes in one database are invisible in the other.
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (id int)"); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := openDB(t, dsnB).QueryRowContext(ctx, "SELECT to_regclass('public.t') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("table created in one database is visible in another")
	}
}

func TestProviderS3(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)

	ep, err := provider.S3(ctx)
	if err != nil {
		t.Fatalf("S3: %v", err)
	}
	if ep.Endpoint == "" || ep.Region == "" || ep.AccessKey == "" || ep.SecretKey == "" {
		t.Fatalf("incomplete S3 endpoint: %+v", ep)
	}
	bucket, err := NewBucket(ctx, ep, "Harness_Test")
	if err != nil {
		t.Fatalf("NewBucket: %v", err)
	}
	if !regexp.MustCompile(`^harness-test-[0-9a-f]{12}$`).MatchString(bucket) {
		t.Errorf("bucket name %q does not look like harness-test-<hex>", bucket)
	}
	c := NewS3Client(ep)
	body := []byte("hello, pkgate")
	if err := putObject(ctx, c, bucket, "dir/object.txt", body); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	got, err := getObject(ctx, c, bucket, "dir/object.txt")
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("GetObject = %q, want %q", got, body)
	}
}

func TestMinIOProcessStopStart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)

	m, err := StartMinIO(ctx)
	if err != nil {
		t.Fatalf("StartMinIO: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ep := m.S3()
	bucket, err := NewBucket(ctx, ep, "fault")
	if err != nil {
		t.Fatalf("NewBucket: %v", err)
	}
	c := NewS3Client(ep, noRetries)
	if err := putObject(ctx, c, bucket, "before", []byte("before")); err != nil {
		t.Fatalf("PutObject before stop: %v", err)
	}

	if err := m.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := putObject(ctx, c, bucket, "during", []byte("during")); err == nil {
		t.Fatal("PutObject succeeded while MinIO was stopped")
	}

	if err := m.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if m.S3() != ep {
		t.Fatalf("endpoint changed across restart: %+v -> %+v", ep, m.S3())
	}
	// The same client reconnects, and data written before the kill survived.
	got, err := getObject(ctx, c, bucket, "before")
	if err != nil {
		t.Fatalf("GetObject after restart: %v", err)
	}
	if string(got) != "before" {
		t.Fatalf("GetObject after restart = %q", got)
	}
	if err := putObject(ctx, c, bucket, "after", []byte("after")); err != nil {
		t.Fatalf("PutObject after restart: %v", err)
	}
}

func TestPostgresProcessStopStart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)

	p, err := StartPostgres(ctx)
	if err != nil {
		t.Fatalf("StartPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	dsn := p.DSN()
	db := openDB(t, dsn)
	if err := selectOne(ctx, db); err != nil {
		t.Fatalf("SELECT 1: %v", err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE survived (v text); INSERT INTO survived VALUES ('yes')"); err != nil {
		t.Fatal(err)
	}

	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = selectOne(qctx, db)
	cancel()
	if err == nil {
		t.Fatal("SELECT 1 succeeded while Postgres was stopped")
	}

	if err := p.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if p.DSN() != dsn {
		t.Fatalf("DSN changed across restart: %s -> %s", dsn, p.DSN())
	}
	// The pool discards the broken connections and reconnects on its own.
	if err := selectOne(ctx, db); err != nil {
		t.Fatalf("SELECT 1 after restart: %v", err)
	}
	var v string
	if err := db.QueryRowContext(ctx, "SELECT v FROM survived").Scan(&v); err != nil || v != "yes" {
		t.Fatalf("committed row after immediate shutdown = %q, %v", v, err)
	}
}

// TestSelectFromEnvironment points the environment variables at the shared
// provider's services and checks that Select hands them out unchanged
// without starting anything.
func TestSelectFromEnvironment(t *testing.T) {
	ctx := testContext(t)
	dsn, err := provider.Postgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := provider.S3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvProvider, "")
	t.Setenv(EnvDatabaseURL, dsn)
	t.Setenv(EnvS3Endpoint, ep.Endpoint)
	t.Setenv(EnvS3AccessKey, ep.AccessKey)
	t.Setenv(EnvS3SecretKey, ep.SecretKey)
	t.Setenv(EnvS3Region, "")

	p, err := Select(ctx)
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	defer p.Close()
	if p.Name() != ProviderEnv {
		t.Errorf("Name() = %q, want %q", p.Name(), ProviderEnv)
	}
	if got, err := p.Postgres(ctx); err != nil || got != dsn {
		t.Errorf("Postgres() = %q, %v; want %q", got, err, dsn)
	}
	if got, err := p.S3(ctx); err != nil || got != ep {
		t.Errorf("S3() = %+v, %v; want %+v", got, err, ep)
	}
	db, err := NewDatabase(ctx, dsn, "from_env")
	if err != nil {
		t.Fatal(err)
	}
	if err := selectOne(ctx, openDB(t, db)); err != nil {
		t.Fatal(err)
	}

	// Forcing env with only one service configured: the other one is a
	// clear error, not a silently started server.
	t.Setenv(EnvProvider, "env")
	t.Setenv(EnvS3Endpoint, "")
	p2, err := Select(ctx)
	if err != nil {
		t.Fatalf("Select(env, Postgres only): %v", err)
	}
	if _, err := p2.S3(ctx); err == nil || !strings.Contains(err.Error(), EnvS3Endpoint) {
		t.Errorf("S3() with forced env and no endpoint: err = %v, want mention of %s", err, EnvS3Endpoint)
	}
}

func TestSelectErrors(t *testing.T) {
	ctx := testContext(t)
	for _, k := range []string{EnvDatabaseURL, EnvS3Endpoint, EnvS3AccessKey, EnvS3SecretKey} {
		t.Setenv(k, "")
	}

	t.Setenv(EnvProvider, "bogus")
	if _, err := Select(ctx); err == nil {
		t.Error("Select with an unknown provider succeeded")
	}

	t.Setenv(EnvProvider, "env")
	if _, err := Select(ctx); err == nil {
		t.Error("Select(env) with nothing configured succeeded")
	}

	t.Setenv(EnvProvider, "")
	t.Setenv(EnvS3Endpoint, "http://127.0.0.1:1")
	if _, err := Select(ctx); err == nil || !strings.Contains(err.Error(), EnvS3AccessKey) {
		t.Errorf("Select with an S3 endpoint but no keys: err = %v", err)
	}
}

// TestDockerProbe checks that the probe answers quickly and never panics,
// whether or not a daemon exists.
func TestDockerProbe(t *testing.T) {
	start := time.Now()
	err := dockerAvailable(context.Background())
	if d := time.Since(start); d > dockerProbeTimeout+time.Second {
		t.Errorf("docker probe took %s", d)
	}
	t.Logf("docker available: %v (err=%v) in %s", err == nil, err, time.Since(start).Round(time.Millisecond))
}

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9_-]*[0-9a-f]$`)
	for _, prefix := range []string{"", "x", "Hello World!", "123abc", "__a__b__", strings.Repeat("long", 40), "ümlaut"} {
		for _, sep := range []byte{'_', '-'} {
			n := uniqueName(prefix, sep, 63)
			if len(n) > 63 || len(n) < 3 || !valid.MatchString(n) {
				t.Errorf("uniqueName(%q, %q) = %q: invalid", prefix, sep, n)
			}
			other := byte('-')
			if sep == '-' {
				other = '_'
			}
			if strings.IndexByte(n, other) >= 0 || strings.Contains(n, string([]byte{sep, sep})) {
				t.Errorf("uniqueName(%q, %q) = %q: bad separators", prefix, sep, n)
			}
		}
	}
	if a, b := uniqueName("p", '_', 63), uniqueName("p", '_', 63); a == b {
		t.Errorf("uniqueName not unique: %q", a)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable":            "postgres://postgres@127.0.0.1:5432/db_1?sslmode=disable",
		"postgresql://u:p%40ss@localhost/postgres?sslmode=disable&x=y":           "postgresql://u:p%40ss@localhost/db_1?sslmode=disable&x=y",
		"postgres://postgres@127.0.0.1:5432?sslmode=disable":                     "postgres://postgres@127.0.0.1:5432/db_1?sslmode=disable",
		"host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable": "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable dbname=db_1",
	} {
		got, err := withDatabase(in, "db_1")
		if err != nil || got != want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
