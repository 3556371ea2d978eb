package tests

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	_ "github.com/lib/pq"

	"github.com/pkgate/pkgate/migrations"
	"github.com/pkgate/pkgate/tests/harness"
)

// TestMigrationsConcurrentAndIdempotent: two processes migrating one empty
// database at once end with the full schema applied exactly once, and a
// second run applies nothing.
func TestMigrationsConcurrentAndIdempotent(t *testing.T) {
	ctx := context.Background()
	dsn, err := harness.NewDatabase(ctx, adminDSN, "mig")
	if err != nil {
		t.Fatal(err)
	}
	open := func() *sql.DB {
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dbs := []*sql.DB{open(), open(), open()}
	applied := make([][]int64, len(dbs))
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Add(1)
		go func(i int, db *sql.DB) {
			defer wg.Done()
			applied[i], errs[i] = migrations.Up(ctx, db, nil)
		}(i, db)
	}
	wg.Wait()
	total := 0
	for i := range dbs {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	var versions int
	if err := dbs[0].QueryRow(`SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if total != versions || versions == 0 {
		t.Fatalf("%d migrations applied across migrators, %d recorded", total, versions)
	}
	var tables int
	dbs[0].QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_name IN ('users', 'packages', 'package_generations', 'web_sessions')`).Scan(&tables)
	if tables != 4 {
		t.Fatalf("schema incomplete: %d of 4 tables", tables)
	}
	again, err := migrations.Up(ctx, dbs[1], nil)
	if err != nil || len(again) != 0 {
		t.Fatalf("second run applied %v (%v)", again, err)
	}
}
