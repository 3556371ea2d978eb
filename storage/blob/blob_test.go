package blob_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"testing"
	"time"

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
	t.Run("parallel ranges within the download budget", func(t *testing.T) {
		const size = 16 << 20 // two 5 MiB parts and more: the smallest ranged span is 10 MiB
		w, err := d.Writer(ctx, "ranged")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		defer d.Delete(ctx, "ranged")
		open := func(off, n int64) io.ReadCloser {
			rc, err := d.Open(ctx, "ranged", off, n)
			if err != nil {
				t.Fatal(err)
			}
			return rc
		}
		for _, tc := range []struct {
			off, n int64
			ranged bool
		}{
			{0, size, true},
			{1, 10 << 20, true},
			{0, 10<<20 - 1, false}, // under two parts
			{0, -1, false},         // length unknown
		} {
			rc := open(tc.off, tc.n)
			if blob.IsRanged(rc) != tc.ranged {
				t.Errorf("Open(%d, %d): ranged %v, want %v", tc.off, tc.n, !tc.ranged, tc.ranged)
			}
			rc.Close()
		}
		// The budget: DownloadBudget readers at the default concurrency;
		// the next is one GET until one of them closes.
		var held []io.ReadCloser
		for range blob.DownloadBudget {
			held = append(held, open(0, size))
		}
		if rc := open(0, size); blob.IsRanged(rc) {
			t.Error("a download past the budget was given parallel ranges")
		} else {
			rc.Close()
		}
		held[0].Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			rc := open(0, size)
			ranged := blob.IsRanged(rc)
			rc.Close()
			if ranged {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a closed download's budget was not given back")
			}
			time.Sleep(10 * time.Millisecond)
		}
		for _, rc := range held[1:] {
			rc.Close()
		}
	})
	// MinIO, as S3 without KMS, answers a PUT with the md5 of its body as
	// ETag: the probe finds so, and a body sent in one PUT reports it.
	t.Run("md5 from the ETag", func(t *testing.T) {
		d, err := blob.NewS3(ctx, blob.S3Config{Bucket: bucket, Region: s3.Region, Endpoint: s3.Endpoint, PathStyle: true, PartSize: 5 << 20, ETagMD5: true})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := d.ProbeStoredMD5(ctx); !ok || err != nil {
			t.Fatalf("ProbeStoredMD5 on MinIO: %v, %v", ok, err)
		}
		for _, size := range []int{0, 100 << 10, 5 << 20, 5<<20 + 1} {
			body := make([]byte, size)
			for i := range body {
				body[i] = byte(i * 7 / 5)
			}
			w, err := d.Writer(ctx, "etag")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(body); err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			sum := md5.Sum(body)
			want := hex.EncodeToString(sum[:])
			if size > 5<<20 {
				want = "" // a multipart upload's ETag is no md5 of the object
			}
			if got := w.(blob.MD5Reporter).StoredMD5(); got != want {
				t.Errorf("%d bytes: StoredMD5 %q, want %q", size, got, want)
			}
		}
		_ = d.Delete(ctx, "etag")
	})
}
