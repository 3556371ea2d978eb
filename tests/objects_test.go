package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/pkgate/pkgate/storage/blob"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/storage/registry"
)

// assertNoOrphanObjects checks the bucket and the blobs table agree: every
// row names an existing object and every object is named by a row.
func assertNoOrphanObjects(t *testing.T, e *Env) {
	t.Helper()
	ctx := context.Background()
	var keys []string
	if err := e.Store.DB().Select(&keys, "SELECT storage_key FROM blobs"); err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, k := range keys {
		rows[k] = true
		if _, err := e.Server.Blobs.Stat(ctx, k); err != nil {
			t.Errorf("blob row points at missing object %s: %v", k, err)
		}
	}
	err := e.Server.Blobs.List(ctx, "", func(i blob.Info) error {
		if !rows[i.Key] {
			t.Errorf("object %s has no blob row", i.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSameBytesOneObject: bytes uploaded again are stored once (the second
// object is dropped for the first), and when the first object has been
// lost, the next upload of those bytes repairs the blob row instead of
// pointing a new file at nothing. Both publish paths: the one-statement
// path of a plain upload, and the transaction that ?status= takes.
func TestSameBytesOneObject(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	for _, query := range []string{"", "?status=default"} {
		content := "same bytes " + query
		url := func(name string) string {
			return fmt.Sprintf("/api/v4/projects/%d/packages/generic/same/1.0/%s", s.ProjectID, name)
		}
		e.Must(201, e.Do("PUT", url("a.bin")+query, content, DeployHdr(s.WriteToken)))
		e.Must(201, e.Do("PUT", url("b.bin")+query, content, DeployHdr(s.WriteToken)))
		assertNoOrphanObjects(t, e)
		sum := sha256.Sum256([]byte(content))
		var key string
		if err := e.Store.DB().Get(&key, "SELECT storage_key FROM blobs WHERE sha256 = $1", hex.EncodeToString(sum[:])); err != nil {
			t.Fatal(err)
		}
		if err := e.Server.Blobs.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		e.Must(201, e.Do("PUT", url("c.bin")+query, content, DeployHdr(s.WriteToken)))
		assertNoOrphanObjects(t, e)
		for _, name := range []string{"a.bin", "b.bin", "c.bin"} {
			if got := string(e.Must(200, e.Do("GET", url(name), nil, DeployHdr(s.ReadToken))).Body); got != content {
				t.Errorf("%s%s: got %q", name, query, got)
			}
		}
	}
}

// TestPublishFileOutsideARequest: PublishFile without a pending audit event
// (a caller that is not an HTTP request, such as an import) records the
// file and no event.
func TestPublishFileOutsideARequest(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	st, err := e.Server.Registry.Ingest(ctx, strings.NewReader("imported"), registry.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var before, after int
	e.Store.DB().Get(&before, "SELECT count(*) FROM audit_events")
	version := "1.0"
	p := &meta.Package{ProjectID: s.ProjectID, PackageType: "generic", Name: "imported", Version: &version}
	f := &meta.PackageFile{FileName: "i.bin", BlobSHA256: st.SHA256, Size: st.Size}
	if err := e.Server.Registry.Publish(ctx, st, p, f); err != nil {
		t.Fatal(err)
	}
	e.Store.DB().Get(&after, "SELECT count(*) FROM audit_events")
	if f.ID == 0 || p.ID == 0 || after != before {
		t.Fatalf("file %d, package %d, audit events %d -> %d", f.ID, p.ID, before, after)
	}
	got := e.Must(200, e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/generic/imported/1.0/i.bin", s.ProjectID), nil, DeployHdr(s.ReadToken)))
	if string(got.Body) != "imported" {
		t.Fatalf("got %q", got.Body)
	}
	assertNoOrphanObjects(t, e)
}
