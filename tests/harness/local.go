package harness

import (
	"context"
	"errors"
	"sync"
)

// localProvider runs Postgres and MinIO as child processes of the test
// binary. It is the fallback that works without Docker and without any
// pre-provisioned services, as long as the binaries are installed.
type localProvider struct {
	mu     sync.Mutex
	closed bool

	pg    *PostgresProcess
	pgErr error // sticky: a failed start is not retried by every test

	minio    *MinIOProcess
	minioErr error
}

func newLocalProvider() *localProvider { return &localProvider{} }

func (p *localProvider) Name() string { return ProviderLocal }

func (p *localProvider) Postgres(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return "", errClosed
	}
	if p.pg == nil && p.pgErr == nil {
		p.pg, p.pgErr = startPostgres(ctx, false)
	}
	if p.pgErr != nil {
		return "", p.pgErr
	}
	return p.pg.DSN(), nil
}

func (p *localProvider) S3(ctx context.Context) (S3, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return S3{}, errClosed
	}
	if p.minio == nil && p.minioErr == nil {
		p.minio, p.minioErr = StartMinIO(ctx)
	}
	if p.minioErr != nil {
		return S3{}, p.minioErr
	}
	return p.minio.S3(), nil
}

func (p *localProvider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	if p.pg != nil {
		errs = append(errs, p.pg.Close())
	}
	if p.minio != nil {
		errs = append(errs, p.minio.Close())
	}
	return errors.Join(errs...)
}
