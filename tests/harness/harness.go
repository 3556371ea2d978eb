// Package harness is the single place integration tests get real backing
// services from: a real PostgreSQL 15 cluster and a real S3-compatible object
// store (MinIO).
//
// Tests must never fake these services: the gateway's correctness depends on
// Postgres transaction semantics and on S3 behaviour (multipart uploads,
// path-style addressing, error codes) that mocks get subtly wrong. At the same
// time the tests have to run in very different places — a CI job that already
// provides a database, a laptop with Docker, and a sandbox with neither — so
// the source of the services is chosen at run time by [Select]:
//
//  1. Endpoints named in the environment win, per service:
//     PKGATE_TEST_DATABASE_URL for Postgres;
//     PKGATE_TEST_S3_ENDPOINT + PKGATE_TEST_S3_ACCESS_KEY +
//     PKGATE_TEST_S3_SECRET_KEY (+ optional PKGATE_TEST_S3_REGION) for S3.
//  2. Otherwise testcontainers-go (postgres:15-alpine, minio) when a Docker
//     daemon answers a ping within about two seconds.
//  3. Otherwise local child processes: initdb/postgres from the PostgreSQL 15
//     server binaries and the minio binary.
//
// PKGATE_TEST_PROVIDER=env|testcontainers|local forces one of them.
//
// Tests get isolation by creating a fresh database ([NewDatabase]) and a
// fresh bucket ([NewBucket]) each, rather than by starting servers per test,
// because server start-up dominates the run time otherwise.
//
// Fault-injection tests that need to kill and restart a service use
// [StartPostgres] and [StartMinIO] instead, which always run local processes
// that the test fully controls.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Environment variables understood by [Select].
const (
	// EnvProvider forces a provider: "env", "testcontainers" or "local".
	EnvProvider = "PKGATE_TEST_PROVIDER"
	// EnvDatabaseURL is a superuser (or CREATEDB) DSN of an existing cluster.
	EnvDatabaseURL = "PKGATE_TEST_DATABASE_URL"
	// EnvS3Endpoint is the base URL of an existing S3-compatible endpoint.
	EnvS3Endpoint = "PKGATE_TEST_S3_ENDPOINT"
	// EnvS3AccessKey is the access key for EnvS3Endpoint.
	EnvS3AccessKey = "PKGATE_TEST_S3_ACCESS_KEY"
	// EnvS3SecretKey is the secret key for EnvS3Endpoint.
	EnvS3SecretKey = "PKGATE_TEST_S3_SECRET_KEY"
	// EnvS3Region is the signing region for EnvS3Endpoint (default us-east-1).
	EnvS3Region = "PKGATE_TEST_S3_REGION"

	// EnvPostgresBinDir overrides where initdb and postgres are looked up
	// for local processes (default /usr/lib/postgresql/15/bin, then PATH).
	EnvPostgresBinDir = "PKGATE_TEST_POSTGRES_BIN"
	// EnvMinIOBinary overrides the minio binary used for local processes.
	EnvMinIOBinary = "MINIO_BINARY"
	// EnvPostgresImage overrides the testcontainers Postgres image.
	EnvPostgresImage = "PKGATE_TEST_POSTGRES_IMAGE"
	// EnvMinIOImage overrides the testcontainers MinIO image.
	EnvMinIOImage = "PKGATE_TEST_MINIO_IMAGE"
)

// Provider names returned by [Provider.Name].
const (
	ProviderEnv            = "env"
	ProviderTestcontainers = "testcontainers"
	ProviderLocal          = "local"
)

// DefaultRegion is the region used when none is configured. MinIO accepts any
// region by default, and us-east-1 is the one where CreateBucket needs no
// LocationConstraint, so it is the least surprising choice.
const DefaultRegion = "us-east-1"

// S3 is a reachable S3-compatible endpoint.
type S3 struct {
	Endpoint  string // e.g. http://127.0.0.1:9123
	Region    string // "us-east-1"
	AccessKey string
	SecretKey string
}

// GatewayEnv is the environment that points a `gateway serve` process at a
// database and a bucket on these services. The benchmark and the
// multi-process test start real gateway processes with it.
func GatewayEnv(dsn string, s3 S3, bucket string) []string {
	return []string{
		"GATEWAY_DATABASE_URL=" + dsn, "GATEWAY_BLOB_DRIVER=s3", "GATEWAY_S3_BUCKET=" + bucket,
		"GATEWAY_S3_ENDPOINT=" + s3.Endpoint, "GATEWAY_S3_PATH_STYLE=true", "GATEWAY_S3_REGION=" + s3.Region,
		"AWS_ACCESS_KEY_ID=" + s3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3.SecretKey,
	}
}

// Provider hands out real services. One provider interface, three implementations.
//
// A Provider is safe for concurrent use. Services are started on first use
// and then shared, so a test binary should normally Select once (in TestMain)
// and isolate tests with [NewDatabase] and [NewBucket].
type Provider interface {
	// Name is "env", "testcontainers" or "local". When only some services
	// come from the environment it names the backend serving the others.
	Name() string
	// Postgres returns a superuser DSN (lib/pq URL form, sslmode=disable)
	// to database "postgres". The server is started lazily, once.
	Postgres(ctx context.Context) (string, error)
	// S3 returns the endpoint of an S3-compatible store, started lazily, once.
	S3(ctx context.Context) (S3, error)
	// Close stops everything the provider started and removes temp dirs.
	Close() error
}

// Select picks: endpoints given in the environment win (PKGATE_TEST_DATABASE_URL; PKGATE_TEST_S3_ENDPOINT with
// PKGATE_TEST_S3_ACCESS_KEY, PKGATE_TEST_S3_SECRET_KEY, optional PKGATE_TEST_S3_REGION; each service independently),
// else testcontainers-go modules (postgres:15-alpine, minio) when a Docker daemon answers (use testcontainers' own
// health check with a short timeout, ~2s, and never panic when there is none),
// else local processes. PKGATE_TEST_PROVIDER=env|testcontainers|local forces one.
//
// Forcing testcontainers or local ignores the endpoint variables, so a
// developer can exercise that path without editing their environment. Forcing
// testcontainers fails when no Docker daemon answers instead of silently
// falling back, because the caller explicitly asked for containers.
func Select(ctx context.Context) (Provider, error) {
	forced := strings.ToLower(strings.TrimSpace(os.Getenv(EnvProvider)))
	switch forced {
	case "":
	case ProviderEnv:
		p, err := envFromEnvironment()
		if err != nil {
			return nil, err
		}
		if !p.hasPostgres && !p.hasS3 {
			return nil, fmt.Errorf("harness: %s=env but neither %s nor %s is set",
				EnvProvider, EnvDatabaseURL, EnvS3Endpoint)
		}
		return p, nil
	case ProviderTestcontainers:
		if err := dockerAvailable(ctx); err != nil {
			return nil, fmt.Errorf("harness: %s=testcontainers but no Docker daemon answers: %w", EnvProvider, err)
		}
		return newContainerProvider(), nil
	case ProviderLocal:
		return newLocalProvider(), nil
	default:
		return nil, fmt.Errorf("harness: unknown %s=%q (want env, testcontainers or local)", EnvProvider, forced)
	}

	p, err := envFromEnvironment()
	if err != nil {
		return nil, err
	}
	if p.hasPostgres && p.hasS3 {
		return p, nil
	}
	// Only probe Docker when something actually has to be started; the probe
	// costs up to two seconds when no daemon answers.
	if dockerAvailable(ctx) == nil {
		p.backend = newContainerProvider()
	} else {
		p.backend = newLocalProvider()
	}
	return p, nil
}

// envProvider serves the services named in the environment and delegates the
// rest to backend. With backend == nil it is the pure "env" provider.
type envProvider struct {
	hasPostgres bool
	dsn         string
	hasS3       bool
	s3          S3
	backend     Provider
}

// envFromEnvironment reads the endpoint variables. A partially configured S3
// endpoint is an error rather than a silent fallback: someone meant to point
// the tests at a specific store, and quietly using another would hide that.
func envFromEnvironment() (*envProvider, error) {
	p := &envProvider{}
	if dsn := strings.TrimSpace(os.Getenv(EnvDatabaseURL)); dsn != "" {
		p.hasPostgres, p.dsn = true, dsn
	}
	endpoint := strings.TrimSpace(os.Getenv(EnvS3Endpoint))
	access := os.Getenv(EnvS3AccessKey)
	secret := os.Getenv(EnvS3SecretKey)
	if endpoint != "" {
		if access == "" || secret == "" {
			return nil, fmt.Errorf("harness: %s is set but %s and %s must be set too",
				EnvS3Endpoint, EnvS3AccessKey, EnvS3SecretKey)
		}
		region := strings.TrimSpace(os.Getenv(EnvS3Region))
		if region == "" {
			region = DefaultRegion
		}
		p.hasS3 = true
		p.s3 = S3{Endpoint: strings.TrimRight(endpoint, "/"), Region: region, AccessKey: access, SecretKey: secret}
	}
	return p, nil
}

func (p *envProvider) Name() string {
	if p.backend != nil {
		return p.backend.Name()
	}
	return ProviderEnv
}

func (p *envProvider) Postgres(ctx context.Context) (string, error) {
	if p.hasPostgres {
		return p.dsn, nil
	}
	if p.backend == nil {
		return "", fmt.Errorf("harness: %s=env but %s is not set", EnvProvider, EnvDatabaseURL)
	}
	return p.backend.Postgres(ctx)
}

func (p *envProvider) S3(ctx context.Context) (S3, error) {
	if p.hasS3 {
		return p.s3, nil
	}
	if p.backend == nil {
		return S3{}, fmt.Errorf("harness: %s=env but %s is not set", EnvProvider, EnvS3Endpoint)
	}
	return p.backend.S3(ctx)
}

// Close closes the backend only: services from the environment are owned by
// whoever provided them.
func (p *envProvider) Close() error {
	if p.backend != nil {
		return p.backend.Close()
	}
	return nil
}

// errClosed is returned by providers and process handles used after Close.
var errClosed = errors.New("harness: already closed")
