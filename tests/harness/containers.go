package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcminio "github.com/testcontainers/testcontainers-go/modules/minio"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
)

// Default images for the testcontainers provider. Postgres matches the
// production major version; MinIO is the release the testcontainers module
// itself defaults to. Both can be overridden from the environment.
const (
	defaultPostgresImage = "postgres:15-alpine"
	defaultMinIOImage    = "minio/minio:RELEASE.2024-01-16T16-07-38Z"
)

// dockerProbeTimeout bounds the Docker probe. Without a daemon the probe is
// pure overhead on every test binary, so it must fail fast.
const dockerProbeTimeout = 2 * time.Second

// dockerAvailable reports (as a nil error) whether a Docker daemon answers.
//
// It uses testcontainers' own client construction, so it honours the same
// DOCKER_HOST, ~/.testcontainers.properties and socket discovery rules that
// the containers will later be started with. testcontainers panics in some
// discovery paths when there is no Docker at all, and a daemon that accepts
// the connection but never answers could block indefinitely, so the probe
// runs in a goroutine that recovers and is abandoned after the timeout.
func dockerAvailable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dockerProbeTimeout)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				res <- fmt.Errorf("docker probe panicked: %v", r)
			}
		}()
		cli, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err != nil {
			res <- err
			return
		}
		defer cli.Close()
		_, err = cli.Ping(ctx, client.PingOptions{})
		res <- err
	}()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return fmt.Errorf("docker probe: %w", ctx.Err())
	}
}

// containerProvider runs the services in Docker via the testcontainers-go
// modules. Containers are also registered with testcontainers' reaper (Ryuk),
// which removes them should the test binary die before Close.
type containerProvider struct {
	mu     sync.Mutex
	closed bool

	pg    *tcpostgres.PostgresContainer
	pgDSN string
	pgErr error
	pgRun bool

	minio    *tcminio.MinioContainer
	s3       S3
	minioErr error
	minioRun bool
}

func newContainerProvider() *containerProvider { return &containerProvider{} }

func (p *containerProvider) Name() string { return ProviderTestcontainers }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (p *containerProvider) Postgres(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return "", errClosed
	}
	if !p.pgRun {
		p.pgRun = true
		p.pgDSN, p.pgErr = p.startPostgres(ctx)
	}
	return p.pgDSN, p.pgErr
}

func (p *containerProvider) startPostgres(ctx context.Context) (string, error) {
	ctr, err := tcpostgres.Run(ctx, envOr(EnvPostgresImage, defaultPostgresImage),
		tcpostgres.WithDatabase("postgres"),
		tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"),
		// The image's entrypoint starts a temporary server for init scripts
		// and then the real one: ready is only the second "ready" line.
		tcpostgres.BasicWaitStrategies(),
		// Same settings as the local server (the module already sets fsync=off).
		testcontainers.WithCmdArgs(
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "max_connections=300",
		),
	)
	if ctr != nil {
		p.pg = ctr // terminate in Close even when start-up failed half-way
	}
	if err != nil {
		return "", fmt.Errorf("harness: testcontainers postgres: %w", err)
	}
	dsn, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		return "", fmt.Errorf("harness: testcontainers postgres address: %w", err)
	}
	return dsn, nil
}

func (p *containerProvider) S3(ctx context.Context) (S3, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return S3{}, errClosed
	}
	if !p.minioRun {
		p.minioRun = true
		p.s3, p.minioErr = p.startMinIO(ctx)
	}
	return p.s3, p.minioErr
}

func (p *containerProvider) startMinIO(ctx context.Context) (S3, error) {
	user, pass := "pkgate-"+randomHex(4), randomHex(16)
	ctr, err := tcminio.Run(ctx, envOr(EnvMinIOImage, defaultMinIOImage),
		tcminio.WithUsername(user),
		tcminio.WithPassword(pass),
	)
	if ctr != nil {
		p.minio = ctr
	}
	if err != nil {
		return S3{}, fmt.Errorf("harness: testcontainers minio: %w", err)
	}
	hostPort, err := ctr.ConnectionString(ctx)
	if err != nil {
		return S3{}, fmt.Errorf("harness: testcontainers minio address: %w", err)
	}
	if ctr.Username != "" {
		user, pass = ctr.Username, ctr.Password
	}
	return S3{
		Endpoint:  "http://" + hostPort,
		Region:    DefaultRegion,
		AccessKey: user,
		SecretKey: pass,
	}, nil
}

func (p *containerProvider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	if p.pg != nil {
		errs = append(errs, testcontainers.TerminateContainer(p.pg))
	}
	if p.minio != nil {
		errs = append(errs, testcontainers.TerminateContainer(p.minio))
	}
	return errors.Join(errs...)
}
