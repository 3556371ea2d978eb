package meta

import (
	"context"
	"errors"
	"time"

	"github.com/lib/pq"
)

// UnreferencedBlobs lists blob rows no package file names, created before
// cutoff (the grace window protects uploads that are committing now).
func (s *Store) UnreferencedBlobs(ctx context.Context, cutoff time.Time, limit int) ([]Blob, error) {
	var bs []Blob
	err := s.db.SelectContext(ctx, &bs, `SELECT sha256, size, md5, sha1, sha512, storage_key, created_at FROM blobs b
		WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM package_files f WHERE f.blob_sha256 = b.sha256)
		ORDER BY created_at LIMIT $2`, cutoff, limit)
	return bs, wrap("meta.UnreferencedBlobs", err)
}

// DeleteBlobRow deletes a blob row unless a file references it; the
// foreign key, checked under the row lock, decides a race with a commit
// that is adding a reference right now. It reports whether the row went.
func (s *Store) DeleteBlobRow(ctx context.Context, sha string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM blobs WHERE sha256 = $1`, sha)
	if err != nil {
		var pe *pq.Error
		if errors.As(err, &pe) && pe.Code == "23503" {
			return false, nil
		}
		return false, wrap("meta.DeleteBlobRow", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// KnownStorageKeys returns which of keys some blob row names.
func (s *Store) KnownStorageKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	var known []string
	err := s.db.SelectContext(ctx, &known, `SELECT storage_key FROM blobs WHERE storage_key = ANY($1)`, pq.StringArray(keys))
	if err != nil {
		return nil, wrap("meta.KnownStorageKeys", err)
	}
	m := make(map[string]bool, len(known))
	for _, k := range known {
		m[k] = true
	}
	return m, nil
}
