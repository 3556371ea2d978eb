package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/storage/blob"
	"github.com/pkgate/pkgate/storage/janitor"
	"github.com/pkgate/pkgate/tests/harness"
)

// TestGCFreesOnlyUnreferenced: gc frees blobs of deleted packages and
// orphan objects after the grace period, and never touches what is
// referenced.
func TestGCFreesOnlyUnreferenced(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	url := func(name string) string {
		return fmt.Sprintf("/api/v4/projects/%d/packages/generic/%s/1.0/f.bin", s.ProjectID, name)
	}
	e.Must(201, e.Do("PUT", url("keep"), "kept bytes", DeployHdr(s.WriteToken)))
	e.Must(201, e.Do("PUT", url("shared"), "shared bytes", DeployHdr(s.WriteToken)))
	e.Must(201, e.Do("PUT", url("drop"), "dropped bytes", DeployHdr(s.WriteToken)))
	e.Must(201, e.Do("PUT", url("drop2"), "shared bytes", DeployHdr(s.WriteToken))) // same blob as "shared"
	// An orphan object, as left by a process that died before committing.
	w, _ := e.Server.Blobs.Writer(ctx, "blobs/orphan-from-a-crash")
	w.Write([]byte("orphan"))
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e.deletePackagesNamed(s.ProjectID, "drop")

	// Within the grace period nothing goes.
	rep, err := janitor.Run(ctx, e.Store, e.Server.Blobs, janitor.Options{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if rep.BlobRows != 0 || rep.Objects != 0 {
		t.Fatalf("freed inside the grace period: %+v", rep)
	}
	// Dry run reports without deleting.
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	// Without sweep 2 (serve's runs, unless GATEWAY_GC_ORPHANS) the orphan
	// is left alone.
	rep, err = janitor.Run(ctx, e.Store, e.Server.Blobs, janitor.Options{Grace: time.Hour, Now: later, DryRun: true, SkipOrphans: true})
	if err != nil || rep.BlobRows != 1 || rep.Objects != 0 {
		t.Fatalf("without orphans: %+v %v", rep, err)
	}
	rep, err = janitor.Run(ctx, e.Store, e.Server.Blobs, janitor.Options{Grace: time.Hour, Now: later, DryRun: true})
	if err != nil || rep.BlobRows != 1 || rep.Objects != 1 {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	var progress []string
	rep, err = janitor.Run(ctx, e.Store, e.Server.Blobs, janitor.Options{Grace: time.Hour, Now: later,
		Progress: func(f string, a ...any) { progress = append(progress, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.BlobRows != 1 || rep.Objects != 1 || rep.Bytes != int64(len("dropped bytes")+len("orphan")) || len(progress) < 2 {
		t.Fatalf("report %+v, progress %v", rep, progress)
	}
	// Everything still referenced downloads; nothing dangles either way.
	e.Must(200, e.Do("GET", url("keep"), nil, DeployHdr(s.ReadToken)))
	e.Must(200, e.Do("GET", url("shared"), nil, DeployHdr(s.ReadToken)))
	assertNoOrphanObjects(t, e)
	var blobs int
	e.Store.DB().Get(&blobs, "SELECT count(*) FROM blobs")
	if blobs != 2 {
		t.Errorf("%d blob rows left, want 2", blobs)
	}
}

// TestGCUnfinishedUploads: an upload that never finished (the process died
// mid-upload, or its abort failed) leaves an incomplete multipart upload
// whose parts S3 keeps, and bills, but lists as no object; gc aborts it
// once the grace period has passed, and leaves a recent one alone.
func TestGCUnfinishedUploads(t *testing.T) {
	e := NewEnv(t)
	ctx := context.Background()
	w, err := e.Server.Blobs.Writer(ctx, "blobs/crashed-upload")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 20<<20)); err != nil {
		t.Fatal(err)
	}
	direct, err := blob.NewS3(ctx, blob.S3Config{Bucket: e.Bucket, Region: s3svc.Region, Endpoint: s3svc.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	open := func() int {
		out, err := direct.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(e.Bucket)})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Uploads)
	}
	if n := open(); n != 1 {
		t.Fatalf("%d multipart uploads open, want the crashed one", n)
	}
	// The writer sends its parts in the background; wait for the first.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := direct.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(e.Bucket)})
		if err != nil {
			t.Fatal(err)
		}
		up := out.Uploads[0]
		parts, err := direct.Client().ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(e.Bucket), Key: up.Key, UploadId: up.UploadId})
		if err == nil && len(parts.Parts) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no part stored: %v", err)
		}
	}
	rep, err := janitor.Run(ctx, e.Store, e.Server.Blobs, janitor.Options{Grace: time.Hour})
	if err != nil || rep.Unfinished != 0 || open() != 1 {
		t.Fatalf("inside the grace period: %+v %v", rep, err)
	}
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	rep, err = janitor.Run(ctx, e.Store, e.Server.Blobs, janitor.Options{Grace: time.Hour, Now: later, DryRun: true})
	if err != nil || rep.Unfinished != 1 || rep.Bytes < 8<<20 || open() != 1 {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	rep, err = janitor.Run(ctx, e.Store, e.Server.Blobs, janitor.Options{Grace: time.Hour, Now: later})
	if err != nil || rep.Unfinished != 1 {
		t.Fatalf("run: %+v %v", rep, err)
	}
	if n := open(); n != 0 {
		t.Fatalf("%d multipart uploads still open", n)
	}
	_ = w.Cancel(ctx) // the abort finds nothing left to abort
}

// TestGCCommandChecksBlobStore: `gateway gc` checks the blob store before
// it deletes anything, as serve does at start-up. It used to delete the
// first unreferenced blob row and only then fail on its object, and to scan
// (and create) a filesystem root that serve never wrote to.
func TestGCCommandChecksBlobStore(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	bin := buildGateway(t)
	e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/drop/1.0/f.bin", s.ProjectID), "dropped", DeployHdr(s.WriteToken)))
	e.deletePackagesNamed(s.ProjectID, "drop")
	blobRows := func() int {
		var n int
		if err := e.Store.DB().Get(&n, "SELECT count(*) FROM blobs"); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := blobRows()
	missing := filepath.Join(t.TempDir(), "not-the-blob-root")
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"s3 unreachable", []string{"GATEWAY_S3_ENDPOINT=http://127.0.0.1:1"}, "blob store unreachable"},
		{"fs root missing", []string{"GATEWAY_BLOB_DRIVER=fs", "GATEWAY_FS_ROOT=" + missing}, "GATEWAY_FS_ROOT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, "gc", "--grace", "0s")
			cmd.Env = append(append(os.Environ(), harness.GatewayEnv(e.Cfg.DatabaseURL, s3svc, e.Bucket)...), c.env...)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Errorf("gc: %v, want a failure naming %q:\n%s", err, c.want, out)
			}
			if n := blobRows(); n != before {
				t.Errorf("%d blob rows after the failed gc, want %d", n, before)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("gc created %s: %v", missing, err)
	}
	// With the right settings it frees the row.
	cmd := exec.Command(bin, "gc", "--grace", "0s")
	cmd.Env = append(os.Environ(), harness.GatewayEnv(e.Cfg.DatabaseURL, s3svc, e.Bucket)...)
	if out, err := cmd.CombinedOutput(); err != nil || blobRows() != before-1 {
		t.Fatalf("gc: %v, %d blob rows, want %d:\n%s", err, blobRows(), before-1, out)
	}
}

// TestServeRunsGC: with GATEWAY_GC_INTERVAL, serve frees a deleted
// package's blob by itself once the grace period is over, and counts it,
// with a second node running the same job beside it; it lists the
// bucket for orphan objects only with GATEWAY_GC_ORPHANS.
func TestServeRunsGC(t *testing.T) {
	for _, orphans := range []bool{false, true} {
		t.Run(fmt.Sprint("orphans=", orphans), func(t *testing.T) { serveRunsGC(t, orphans) })
	}
}

func serveRunsGC(t *testing.T, orphans bool) {
	e := NewEnv(t, func(c *gateway.Config) {
		c.GCInterval, c.GCGrace, c.GCOrphans = 100*time.Millisecond, time.Hour, orphans
	})
	second := e.SecondNode()
	s := e.NewScenario()
	url := func(name string) string {
		return fmt.Sprintf("/api/v4/projects/%d/packages/generic/%s/1.0/f.bin", s.ProjectID, name)
	}
	e.Must(201, e.Do("PUT", url("keep"), "kept bytes", DeployHdr(s.WriteToken)))
	e.Must(201, e.Do("PUT", url("drop"), "dropped bytes", DeployHdr(s.WriteToken)))
	e.deletePackagesNamed(s.ProjectID, "drop")
	blobs := func() (n int) {
		if err := e.Store.DB().Get(&n, "SELECT count(*) FROM blobs"); err != nil {
			t.Fatal(err)
		}
		return n
	}
	time.Sleep(300 * time.Millisecond) // runs go by: inside the grace period nothing goes
	if n := blobs(); n != 2 {
		t.Fatalf("%d blob rows inside the grace period, want 2", n)
	}
	// The grace period is over (the rows are made two hours older).
	if _, err := e.Store.DB().Exec(`UPDATE blobs SET created_at = created_at - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	// Done once a run has counted it: the row goes first, then the object.
	freed := func() float64 {
		return metric(e, "pkgate_gc_freed_bytes_total") + metric(second, "pkgate_gc_freed_bytes_total")
	}
	eventually(t, 10*time.Second, "the deleted package's blob was not freed", func() bool { return freed() > 0 })
	if n := blobs(); n != 1 || freed() != float64(len("dropped bytes")) {
		t.Errorf("%d blob rows left, %v bytes freed; want 1 and %d", n, freed(), len("dropped bytes"))
	}
	e.Must(200, e.Do("GET", url("keep"), nil, DeployHdr(s.ReadToken)))
	assertNoOrphanObjects(t, e)
	if metric(e, `pkgate_gc_runs_total{result="done"}`)+metric(second, `pkgate_gc_runs_total{result="done"}`) == 0 {
		t.Error("no gc run counted")
	}
	if scanned := metric(e, "pkgate_gc_objects_scanned_total") + metric(second, "pkgate_gc_objects_scanned_total"); (scanned > 0) != orphans {
		t.Errorf("the runs listed %v objects for orphans", scanned)
	}
}
