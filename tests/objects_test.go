package tests

import (
	"context"
	"testing"

	"github.com/pkgate/pkgate/storage/blob"
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
