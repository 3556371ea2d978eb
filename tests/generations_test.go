package tests

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

// mavenPut stores a file of Maven package com/example/<name> 1.0 in project:
// a publish of a format whose documents (maven-metadata.xml) are cached by
// generation.
func mavenPut(e *Env, project int64, name, file string, hdr H) {
	e.t.Helper()
	e.Must(200, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/maven/com/example/%s/1.0/%s", project, name, file), "x", hdr))
}

// TestGenerationBumpsOncePerTransaction: the package generation (what
// cached documents are checked against) moves by exactly one per committed
// transaction and key, however many rows the transaction changed, and
// never for a rolled-back one.
func TestGenerationBumpsOncePerTransaction(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	other := e.Project("other", s.GroupID, "private")
	ctx := context.Background()
	db := e.Store.DB()
	gen := func(project int64) int64 {
		t.Helper()
		g, err := e.Store.Generation(ctx, []int64{project}, "maven")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	put := func(project int64, file string) {
		t.Helper()
		mavenPut(e, project, "gen", file, DeployHdr(s.WriteToken))
	}
	put(s.ProjectID, "gen-1.0.jar") // creates the package: insert + file
	g0 := gen(s.ProjectID)
	// The package exists now: each upload updates it and adds a file, two
	// row changes in one transaction.
	put(s.ProjectID, "gen-1.0.pom")
	put(s.ProjectID, "gen-1.0.jar")
	if g := gen(s.ProjectID); g != g0+2 {
		t.Fatalf("two uploads moved the generation from %d to %d, want +2", g0, g)
	}

	// One transaction, two packages in two projects, each touched twice.
	mavenPut(e, other, "gen", "gen-1.0.jar", H{"PRIVATE-TOKEN": e.Admin})
	a0, b0 := gen(s.ProjectID), gen(other)
	tx := db.MustBegin()
	for range 2 {
		tx.MustExec(`UPDATE packages SET updated_at = now() WHERE project_id IN ($1, $2) AND package_type = 'maven'`, s.ProjectID, other)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if a, b := gen(s.ProjectID), gen(other); a != a0+1 || b != b0+1 {
		t.Fatalf("one transaction over two projects: %d→%d and %d→%d, want +1 each", a0, a, b0, b)
	}

	// A rolled-back transaction leaves no trace, and the next one on the
	// same connection still bumps.
	conn, err := db.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a0 = gen(s.ProjectID)
	rtx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rtx.MustExec(`UPDATE packages SET updated_at = now() WHERE project_id = $1`, s.ProjectID)
	if err := rtx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if a := gen(s.ProjectID); a != a0 {
		t.Fatalf("rolled back transaction moved the generation %d→%d", a0, a)
	}
	tx2, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx2.MustExec(`UPDATE packages SET updated_at = now() WHERE project_id = $1`, s.ProjectID)
	if err := tx2.Commit(); err != nil {
		t.Fatal(err)
	}
	if a := gen(s.ProjectID); a != a0+1 {
		t.Fatalf("transaction after a rollback on the same connection: %d→%d, want +1", a0, a)
	}
}

// TestGenerationBumpAtCommit: the bump waits for the commit, so an open
// publish does not hold the counter row that every other publish to the
// project needs; and recording a download (last_downloaded_at), which no
// cached document shows, does not move the generation at all.
func TestGenerationBumpAtCommit(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	db := e.Store.DB()
	mavenPut(e, s.ProjectID, "late", "late-1.0.jar", DeployHdr(s.WriteToken))
	path := fmt.Sprintf("/api/v4/projects/%d/packages/maven/com/example/late/1.0/late-1.0.jar", s.ProjectID)
	gen := func() int64 {
		t.Helper()
		g, err := e.Store.Generation(ctx, []int64{s.ProjectID}, "maven")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}

	g0 := gen()
	e.Must(200, e.Do("GET", path, nil, DeployHdr(s.ReadToken)))
	var touched bool
	for range 50 { // the download is recorded after the answer
		db.Get(&touched, `SELECT last_downloaded_at IS NOT NULL FROM packages WHERE project_id = $1 AND name = 'com/example/late'`, s.ProjectID)
		if touched {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !touched {
		t.Fatal("the download was never recorded")
	}
	if g := gen(); g != g0 {
		t.Fatalf("recording a download moved the generation %d→%d", g0, g)
	}

	tx := db.MustBegin()
	defer tx.Rollback()
	tx.MustExec(`INSERT INTO package_files (package_id, file_name, blob_sha256, size)
		SELECT package_id, 'late-1.0.pom', blob_sha256, size FROM package_files f JOIN packages p ON p.id = f.package_id
		WHERE p.project_id = $1 AND p.name = 'com/example/late' LIMIT 1`, s.ProjectID)
	tx.MustExec(`UPDATE packages SET status = 'default' WHERE project_id = $1 AND name = 'com/example/late'`, s.ProjectID)
	other := db.MustBegin()
	defer other.Rollback()
	if _, err := other.Exec(`SELECT 1 FROM package_generations WHERE project_id = $1 AND package_type = 'maven' FOR UPDATE NOWAIT`, s.ProjectID); err != nil {
		t.Fatalf("an open publish holds the generation row: %v", err)
	}
	if err := other.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if g := gen(); g != g0+1 {
		t.Fatalf("the committed publish moved the generation %d→%d, want +1", g0, g)
	}
}

// TestConcurrentBumpsDoNotWait: two sessions committing changes to the same
// project and type bump different counter rows (stripes), so neither waits
// for the other's commit; readers still see the sum move by one per commit.
// Before migration 0012 every publish to a project queued on one row.
func TestConcurrentBumpsDoNotWait(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	db := e.Store.DB()
	mavenPut(e, s.ProjectID, "striped", "striped-1.0.jar", DeployHdr(s.WriteToken))
	g0, err := e.Store.Generation(ctx, []int64{s.ProjectID}, "maven")
	if err != nil {
		t.Fatal(err)
	}
	// Two sessions on different stripes (backend pid modulo 16).
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	stripes := map[int]*sql.Conn{}
	for len(stripes) < 2 && len(conns) < 20 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var pid int
		if err := c.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, ok := stripes[pid%16]; !ok {
			stripes[pid%16] = c
		}
	}
	var pair []*sql.Tx
	for _, c := range stripes {
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		pair = append(pair, tx)
	}
	if len(pair) != 2 {
		t.Fatalf("found %d stripes among %d sessions", len(pair), len(conns))
	}
	// The first holds its counter row as a commit does while it runs.
	if _, err := pair[0].ExecContext(ctx, `SELECT bump_package_generation($1, 'maven')`, s.ProjectID); err != nil {
		t.Fatal(err)
	}
	if _, err := pair[1].ExecContext(ctx, `SET LOCAL lock_timeout = '2s'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pair[1].ExecContext(ctx, `SELECT bump_package_generation($1, 'maven')`, s.ProjectID); err != nil {
		t.Fatalf("the second session waited for the first one's counter row: %v", err)
	}
	for _, tx := range pair {
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if g, err := e.Store.Generation(ctx, []int64{s.ProjectID}, "maven"); err != nil || g != g0+2 {
		t.Fatalf("generation %d→%d (%v), want +2", g0, g, err)
	}
}

// TestGenericPublishBumpsNothing: generic packages have no cached
// document, so their publishes and deletes write no generation row
// (migration 0018), while a Maven publish in the same project still does.
func TestGenericPublishBumpsNothing(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	db := e.Store.DB()
	rows := func(typ string) int {
		t.Helper()
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM package_generations WHERE project_id = $1 AND package_type = $2`, s.ProjectID, typ); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, f := range []string{"a.bin", "b.bin", "a.bin"} {
		e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/quiet/1.0/%s", s.ProjectID, f), "x", DeployHdr(s.WriteToken)))
	}
	var id int64
	if err := db.Get(&id, `SELECT id FROM packages WHERE project_id = $1 AND name = 'quiet'`, s.ProjectID); err != nil {
		t.Fatal(err)
	}
	e.Must(204, e.Do("DELETE", fmt.Sprintf("/api/v4/projects/%d/packages/%d", s.ProjectID, id), nil, H{"PRIVATE-TOKEN": e.Admin}))
	if n := rows("generic"); n != 0 {
		t.Fatalf("generic publishes and a delete left %d generation rows, want none", n)
	}
	mavenPut(e, s.ProjectID, "loud", "loud-1.0.jar", DeployHdr(s.WriteToken))
	if n := rows("maven"); n != 1 {
		t.Fatalf("a Maven publish left %d generation rows, want 1", n)
	}
}

// TestPreparedStatementAfterRetype: a migration that changes the type of a
// column a cached prepared statement returns (as a newer node may run
// during a rolling upgrade) makes Postgres refuse that statement; the
// store drops it and runs the query again, instead of failing it until the
// gateway restarts. Both kinds of call are covered: a list (sqlx select)
// and an upload (the one-row publish statement).
func TestPreparedStatementAfterRetype(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	ctx := context.Background()
	put := func(file string) {
		t.Helper()
		e.Must(201, e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/retyped/1.0/%s", s.ProjectID, file), "x", DeployHdr(s.WriteToken)))
	}
	list := func() ([]meta.Package, error) {
		pkgs, _, err := e.Store.ListPackages(ctx, meta.PackageFilter{ProjectID: s.ProjectID}, 20, 0)
		return pkgs, err
	}
	// The first uses prepare the statements in the background; a few more
	// run them prepared.
	for i := range 5 {
		put(fmt.Sprintf("a%d.bin", i))
		if _, err := list(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.Store.DB().MustExec(`ALTER TABLE packages ALTER COLUMN last_downloaded_at TYPE timestamp`)
	e.Store.DB().MustExec(`ALTER TABLE package_files ALTER COLUMN updated_at TYPE timestamp`)
	pkgs, err := list()
	if err != nil || len(pkgs) != 1 || *pkgs[0].Version != "1.0" {
		t.Fatalf("list after the retype: %v, %v", pkgs, err)
	}
	put("b.bin")
}
