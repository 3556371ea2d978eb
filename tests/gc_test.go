package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/janitor"
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
	var pkgs []map[string]any
	e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages?package_name=drop", s.ProjectID), nil, PAT(e.Admin))).JSON(t, &pkgs)
	for _, p := range pkgs {
		e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/packages/%v", s.ProjectID, p["id"]), nil, PAT(e.Admin)))
	}

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
