package meta

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"time"
)

// BlobsLackingDigests lists blob rows whose md5 or sha1 is empty (uploads
// that left them to the backfill) and that some file names, oldest first,
// after the row (afterTime, afterSHA), so a pass walks every such row once
// even when some of them fail. A blob no file names (its package deleted,
// waiting for gc) is nobody's to report, and not worth a read; nor is one
// marked damaged (MarkBlobDamaged), whose object another read would only
// find damaged again, at a paid store's price, every hour on every node.
func (s *Store) BlobsLackingDigests(ctx context.Context, afterTime time.Time, afterSHA string, limit int) ([]Blob, error) {
	var bs []Blob
	err := s.db.SelectContext(ctx, &bs, `SELECT sha256, size, md5, sha1, sha512, storage_key, created_at FROM blobs
		WHERE (md5 = '' OR sha1 = '') AND (created_at, sha256) > ($1, $2) AND damaged_at IS NULL
			AND EXISTS (SELECT 1 FROM package_files f WHERE f.blob_sha256 = blobs.sha256)
		ORDER BY created_at, sha256 LIMIT $3`, afterTime, afterSHA, limit)
	return bs, wrap("meta.BlobsLackingDigests", err)
}

// FillBlobDigests records the md5 and sha1 of a blob's bytes where the row
// lacks them. It reports whether it changed the row, and the projects whose
// files name the blob (their cached file lookups carry the old, empty
// values). A row that is gone, or that an upload of the same bytes filled
// meanwhile, changes nothing.
func (s *Store) FillBlobDigests(ctx context.Context, sha, md5, sha1 string) (filled bool, projects []int64, err error) {
	var rows []struct {
		Filled  bool          `db:"filled"`
		Project sql.NullInt64 `db:"project_id"`
	}
	err = s.db.SelectContext(ctx, &rows, `WITH filled AS (
			UPDATE blobs SET md5 = CASE WHEN md5 = '' THEN $2 ELSE md5 END,
				sha1 = CASE WHEN sha1 = '' THEN $3 ELSE sha1 END
			WHERE sha256 = $1 AND (md5 = '' OR sha1 = '') RETURNING sha256)
		SELECT true AS filled, p.project_id FROM filled
			LEFT JOIN package_files f ON f.blob_sha256 = filled.sha256
			LEFT JOIN packages p ON p.id = f.package_id
		GROUP BY p.project_id`, sha, md5, sha1)
	if err != nil {
		return false, nil, wrap("meta.FillBlobDigests", err)
	}
	for _, r := range rows {
		filled = filled || r.Filled
		if r.Project.Valid {
			projects = append(projects, r.Project.Int64)
		}
	}
	return filled, projects, nil
}

// MarkBlobDamaged records that the object key, read back, does not hold
// the bytes of blob sha, unless the row names another object by now (an
// upload healed it, or gc freed it) or is marked already: marked says
// whether this call marked it. projects are the projects whose files name
// the blob, whose cached file lookups still say it is intact.
func (s *Store) MarkBlobDamaged(ctx context.Context, sha, key string) (marked bool, projects []int64, err error) {
	var rows []struct {
		Project sql.NullInt64 `db:"project_id"`
	}
	err = s.db.SelectContext(ctx, &rows, `WITH marked AS (
			UPDATE blobs SET damaged_at = now()
			WHERE sha256 = $1 AND storage_key = $2 AND damaged_at IS NULL RETURNING sha256)
		SELECT p.project_id FROM marked
			LEFT JOIN package_files f ON f.blob_sha256 = marked.sha256
			LEFT JOIN packages p ON p.id = f.package_id
		GROUP BY p.project_id`, sha, key)
	if err != nil {
		return false, nil, wrap("meta.MarkBlobDamaged", err)
	}
	for _, r := range rows {
		if r.Project.Valid {
			projects = append(projects, r.Project.Int64)
		}
	}
	return len(rows) > 0, projects, nil
}

// BlobProjects lists the projects whose files name blob sha.
func (s *Store) BlobProjects(ctx context.Context, sha string) ([]int64, error) {
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, `SELECT DISTINCT p.project_id FROM package_files f
		JOIN packages p ON p.id = f.package_id WHERE f.blob_sha256 = $1`, sha)
	return ids, wrap("meta.BlobProjects", err)
}

// The session advisory locks that keep a background job to one node at
// a time (arbitrary constants, distinct from the hashed keys of
// transaction-scoped locks only by chance; the two kinds do not block
// each other unless equal).
const (
	backfillLock = 0x706b67617465_01 // "pkgate" + 1: the digest backfill
	gcLock       = 0x706b67617465_02 // the gc that serve runs
)

// WithBackfillLock runs fn while this node holds the digest backfill's
// lock, if no other node holds it; ran says whether fn ran.
func (s *Store) WithBackfillLock(ctx context.Context, fn func() error) (ran bool, err error) {
	return s.withSessionLock(ctx, "meta.WithBackfillLock", backfillLock, fn)
}

// WithGCLock runs fn while this node holds the lock of serve's gc runs,
// if no other node holds it; ran says whether fn ran.
func (s *Store) WithGCLock(ctx context.Context, fn func() error) (ran bool, err error) {
	return s.withSessionLock(ctx, "meta.WithGCLock", gcLock, fn)
}

// withSessionLock runs fn while this node holds session advisory lock
// key, on a connection of its own, if no other node holds it. The lock
// goes with the connection, so a node that dies or loses Postgres mid-run
// frees it for the others.
func (s *Store) withSessionLock(ctx context.Context, op string, key int64, fn func() error) (ran bool, err error) {
	conn, err := s.db.DB.Connx(ctx)
	if err != nil {
		return false, wrap(op, err)
	}
	defer conn.Close()
	var got bool
	if err := conn.GetContext(ctx, &got, `SELECT pg_try_advisory_lock($1)`, key); err != nil {
		return false, wrap(op, err)
	}
	if !got {
		return false, nil
	}
	defer func() {
		// A cancelled ctx must not keep the lock on a pooled connection.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, key); uerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // discard it, lock and all
		}
	}()
	return true, fn()
}
