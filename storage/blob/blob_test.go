package blob_test

import (
	"context"
	"os"
	"testing"

	"github.com/pkgate/pkgate/storage/blob"
	"github.com/pkgate/pkgate/storage/blob/blobtest"
	"github.com/pkgate/pkgate/tests/harness"
)

func TestFSDriver(t *testing.T) {
	d, err := blob.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, d, "conformance")
}

// TestS3Driver runs the suite against real S3 (MinIO from the harness).
// `make unit` (-short) starts no services, so there it runs only against
// an S3 endpoint given in the environment; `make test` always runs it.
func TestS3Driver(t *testing.T) {
	if testing.Short() && os.Getenv(harness.EnvS3Endpoint) == "" {
		t.Skipf("-short starts no MinIO: set %s to run it here; make test runs it", harness.EnvS3Endpoint)
	}
	ctx := context.Background()
	p, err := harness.Select(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s3, err := p.S3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := harness.NewBucket(ctx, s3, "blobtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3.SecretKey)
	os.Unsetenv("AWS_PROFILE")
	d, err := blob.NewS3(ctx, blob.S3Config{Bucket: bucket, Region: s3.Region, Endpoint: s3.Endpoint, PathStyle: true, PartSize: 5 << 20, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, d, "conformance")
}
