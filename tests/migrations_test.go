package tests

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/pkgate/pkgate/migrations"
	"github.com/pkgate/pkgate/storage/meta"
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

// TestMigrationsWarnOfNewerSchema: a node started on a database a newer
// release migrated applies nothing, fails nothing (rolling upgrades), and
// warns naming both schema versions; on an up-to-date database it says
// nothing of the kind.
func TestMigrationsWarnOfNewerSchema(t *testing.T) {
	ctx := context.Background()
	dsn, err := harness.NewDatabase(ctx, adminDSN, "newer")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	if _, err := migrations.Up(ctx, db, log); err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Up(ctx, db, log); err != nil || strings.Contains(logs.String(), "newer than this binary") {
		t.Fatalf("up-to-date schema: %v\n%s", err, logs.String())
	}
	var known int64
	if err := db.QueryRow(`SELECT max(version_id) FROM goose_db_version`).Scan(&known); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, known+1); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	applied, err := migrations.Up(ctx, db, log)
	if err != nil || len(applied) != 0 {
		t.Fatalf("newer schema: applied %v, %v", applied, err)
	}
	want := fmt.Sprintf(`"database_version":%d,"binary_version":%d`, known+1, known)
	if !strings.Contains(logs.String(), "newer than this binary") || !strings.Contains(logs.String(), want) {
		t.Fatalf("no warning naming %s:\n%s", want, logs.String())
	}
}

// databaseAt makes a fresh database migrated up to version, for a test
// that seeds data an older version wrote and then applies what follows;
// it returns the raw connection (for migrations) and a store on it.
func databaseAt(t *testing.T, name string, version int64) (*sql.DB, *meta.Store) {
	t.Helper()
	ctx := context.Background()
	dsn, err := harness.NewDatabase(ctx, adminDSN, name)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := migrations.UpTo(ctx, db, version); err != nil {
		t.Fatal(err)
	}
	st, err := meta.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return db, st
}

// TestMigrationsHolderMemberships: migration 0014 deletes the membership
// rows older versions gave the holder of a personal namespace on projects
// in it, which the members API can no longer update or remove, and only
// those; no one's access to any project changes, the holder's ownership
// coming from the namespace.
func TestMigrationsHolderMemberships(t *testing.T) {
	ctx := context.Background()
	db, st := databaseAt(t, "migholder", 13)

	user := func(name string) int64 {
		u := &meta.User{Username: name, Email: name + "@example.com", Name: name}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	project := func(path string, ns int64) *meta.Project {
		p := &meta.Project{NamespaceID: ns, Name: path, Path: path, Visibility: "private", PackagesEnabled: true}
		if err := st.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	personal := func(uid int64) int64 {
		ns, err := st.PersonalNamespace(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		return ns.ID
	}
	hID, oID := user("holder"), user("other")
	g := &meta.Namespace{Name: "Team", Path: "team", Visibility: "private"}
	if err := st.CreateGroup(ctx, g, nil, oID); err != nil {
		t.Fatal(err)
	}
	mine := project("mine", personal(hID))
	theirs := project("theirs", personal(oID))
	team := project("shared", g.ID)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1)
	rows := []struct {
		name    string
		project *meta.Project
		user    int64
		level   int
		expires *time.Time
		kept    bool
	}{
		{"the holder on their own project", mine, hID, meta.Developer, &tomorrow, false},
		{"the holder of another namespace on their own project", theirs, oID, meta.Owner, nil, false},
		{"another user on the holder's project", mine, oID, meta.Reporter, nil, true},
		{"the holder on someone else's project", theirs, hID, meta.Guest, nil, true},
		{"the holder on a group's project", team, hID, meta.Maintainer, nil, true},
	}
	for _, r := range rows {
		if _, err := st.AddMember(ctx, meta.MemberSource{ID: r.project.ID}, r.user, r.level, r.expires); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
	}
	access := func() map[string]int {
		out := map[string]int{}
		for _, p := range []*meta.Project{mine, theirs, team} {
			for _, u := range []int64{hID, oID} {
				lvl, err := st.ProjectAccess(ctx, u, p)
				if err != nil {
					t.Fatal(err)
				}
				out[fmt.Sprintf("user %d on %s", u, p.Path)] = lvl
			}
		}
		return out
	}
	before := access()

	applied, err := migrations.UpTo(ctx, db, 14)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != "[14]" {
		t.Fatalf("applied %v", applied)
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM project_members WHERE project_id = $1 AND user_id = $2`, r.project.ID, r.user).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if (n == 1) != r.kept {
				t.Errorf("%d rows, kept %v", n, r.kept)
			}
		})
	}
	if after := access(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("access changed: %v, was %v", after, before)
	}
}

// TestMigrationsAuditEntityPaths: migration 0015 gives the deploy-token
// and personal-access-token events older versions recorded without an
// entity path the full path of their project or group, or the username,
// as new events have; other events keep theirs. 0016 indexes the events
// by entity for the group and project audit lists.
func TestMigrationsAuditEntityPaths(t *testing.T) {
	ctx := context.Background()
	db, st := databaseAt(t, "migaudit", 14)
	u := &meta.User{Username: "dora", Email: "dora@example.com", Name: "Dora"}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	top := &meta.Namespace{Name: "Acme", Path: "acme", Visibility: "private"}
	if err := st.CreateGroup(ctx, top, nil, u.ID); err != nil {
		t.Fatal(err)
	}
	sub := &meta.Namespace{Name: "Sub", Path: "sub", Visibility: "private"}
	if err := st.CreateGroup(ctx, sub, top, u.ID); err != nil {
		t.Fatal(err)
	}
	p := &meta.Project{NamespaceID: sub.ID, Name: "app", Path: "app", Visibility: "private", PackagesEnabled: true}
	if err := st.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	missing := int64(1 << 40)
	rows := []struct {
		name, action, entity string
		id                   int64
		path, want           string
	}{
		{"project deploy token created", "deploy_token.create", "project", p.ID, "", "acme/sub/app"},
		{"project deploy token revoked", "deploy_token.revoke", "project", p.ID, "", "acme/sub/app"},
		{"group deploy token deleted", "deploy_token.delete", "group", sub.ID, "", "acme/sub"},
		{"token created for a user", "personal_access_token.create", "user", u.ID, "", "dora"},
		{"user's token revoked", "personal_access_token.revoke", "user", u.ID, "", "dora"},
		{"token of a user since deleted", "personal_access_token.revoke", "user", missing, "", ""},
		{"user created", "user.create", "user", u.ID, "dora", "dora"},
		{"package published", "package.publish", "project", p.ID, "/api/v4/projects/1/packages/generic/a/1/f", "/api/v4/projects/1/packages/generic/a/1/f"},
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		err := db.QueryRow(`INSERT INTO audit_events (actor_type, action, target_type, target_id, target_path)
			VALUES ('user', $1, $2, $3, $4) RETURNING id`, r.action, r.entity, r.id, r.path).Scan(&ids[i])
		if err != nil {
			t.Fatal(err)
		}
	}
	applied, err := migrations.UpTo(ctx, db, 16)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != "[15 16]" {
		t.Fatalf("applied %v", applied)
	}
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			var path string
			if err := db.QueryRow(`SELECT target_path FROM audit_events WHERE id = $1`, ids[i]).Scan(&path); err != nil {
				t.Fatal(err)
			}
			if path != r.want {
				t.Errorf("entity path %q, want %q", path, r.want)
			}
		})
	}
	var index int
	db.QueryRow(`SELECT count(*) FROM pg_indexes WHERE tablename = 'audit_events' AND indexname = 'audit_events_entity'`).Scan(&index)
	if index != 1 {
		t.Error("no entity index")
	}
}

// TestMigrationsDamagedBlobs: migration 0017 adds blobs.damaged_at, and
// the rows older versions wrote are not known damaged: the backfill still
// reads them, and their files still download.
func TestMigrationsDamagedBlobs(t *testing.T) {
	ctx := context.Background()
	db, st := databaseAt(t, "migdamaged", 16)
	if _, err := db.ExecContext(ctx, `INSERT INTO blobs (sha256, size, md5, sha1, storage_key) VALUES ('ab', 1, '', '', 'blobs/old')`); err != nil {
		t.Fatal(err)
	}
	applied, err := migrations.UpTo(ctx, db, 17)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != "[17]" {
		t.Fatalf("applied %v", applied)
	}
	var damaged bool
	if err := db.QueryRowContext(ctx, `SELECT damaged_at IS NOT NULL FROM blobs WHERE sha256 = 'ab'`).Scan(&damaged); err != nil || damaged {
		t.Fatalf("an older row damaged %v (%v)", damaged, err)
	}
	// The store's queries of the column run on the migrated schema.
	if marked, _, err := st.MarkBlobDamaged(ctx, "ab", "blobs/old"); err != nil || !marked {
		t.Fatalf("marked %v (%v)", marked, err)
	}
}
