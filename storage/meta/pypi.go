package meta

import (
	"context"
	"fmt"

	"github.com/lib/pq"
)

// pypiNorm is PEP 503 normalisation in SQL, spelled exactly as in the
// expression index of migration 0004 so the planner can use it. Stored
// names are validated ASCII, so lower() agrees with the Go side
// (formats/pypi.Normalize).
const pypiNorm = `lower(regexp_replace(p.name, '[-_.]+', '-', 'g'))`

// PyPIIndexEntry is one project (distinct normalised name) of a simple root
// index: the stored name and requires_python of its newest version.
type PyPIIndexEntry struct {
	Normalized     string `db:"normalized"`
	Name           string `db:"name"`
	RequiresPython string `db:"requires_python"`
}

// PyPIProjects lists the distinct normalised PyPI names with at least one
// file among packages of the given projects whose status is one of
// statuses, sorted by normalised name.
func (s *Store) PyPIProjects(ctx context.Context, projectIDs []int64, statuses []string) ([]PyPIIndexEntry, error) {
	var out []PyPIIndexEntry
	err := s.db.SelectContext(ctx, &out, `SELECT DISTINCT ON (normalized) normalized, name, requires_python FROM (
			SELECT `+pypiNorm+` AS normalized, p.name, coalesce(p.metadata->>'requires_python', '') AS requires_python,
				p.created_at, p.id
			FROM packages p
			WHERE p.project_id = ANY($1) AND p.package_type = 'pypi' AND p.version IS NOT NULL AND p.status = ANY($2)
				AND EXISTS (SELECT 1 FROM package_files f WHERE f.package_id = p.id)
		) s ORDER BY normalized, created_at DESC, id DESC`, pq.Int64Array(projectIDs), pq.StringArray(statuses))
	return out, wrap("meta.PyPIProjects", err)
}

// PyPIFileEntry is one file of a simple project page.
type PyPIFileEntry struct {
	PackageID int64  `db:"package_id"`
	ProjectID int64  `db:"project_id"`
	Name      string `db:"name"`
	Version   string `db:"version"`
	FileName  string `db:"file_name"`
	SHA256    string `db:"sha256"`
	Size      int64  `db:"size"`
	// RequiresPython is the value uploaded with the file, else the
	// version's, else "".
	RequiresPython string `db:"requires_python"`
}

// PyPIFiles lists every file of the PyPI packages with a normalised name
// in the given projects whose status is one of statuses, oldest package
// first.
func (s *Store) PyPIFiles(ctx context.Context, projectIDs []int64, normalized string, statuses []string) ([]PyPIFileEntry, error) {
	var out []PyPIFileEntry
	err := s.db.SelectContext(ctx, &out, `SELECT p.id AS package_id, p.project_id, p.name, p.version, f.file_name,
			f.blob_sha256 AS sha256, f.size,
			coalesce(f.metadata->>'requires_python', p.metadata->>'requires_python', '') AS requires_python
		FROM packages p JOIN package_files f ON f.package_id = p.id
		WHERE p.project_id = ANY($1) AND p.package_type = 'pypi' AND p.version IS NOT NULL
			AND `+pypiNorm+` = $2 AND p.status = ANY($3)
		ORDER BY p.created_at, p.id, f.id`, pq.Int64Array(projectIDs), normalized, pq.StringArray(statuses))
	return out, wrap("meta.PyPIFiles", err)
}

// PyPIFile finds the file with exactly that name and stored SHA-256 among
// the PyPI packages of the given projects whose status is one of statuses
// (the newest such file when several packages hold it), through the
// file-lookup cache (lookups): pip downloads every file of a resolve.
func (s *Store) PyPIFile(ctx context.Context, projectIDs []int64, sha256, fileName string, statuses []string) (*Package, *PackageFile, error) {
	key := fmt.Sprintf("pypi\x00%s\x00%s\x00%v\x00%s", setKey(projectIDs), sha256, statuses, fileName)
	return s.cachedSetLookup(ctx, projectIDs, key, func() (*Package, *PackageFile, error) {
		return s.pypiFile(ctx, projectIDs, sha256, fileName, statuses)
	})
}

func (s *Store) pypiFile(ctx context.Context, projectIDs []int64, sha256, fileName string, statuses []string) (*Package, *PackageFile, error) {
	var f PackageFile
	err := s.db.GetContext(ctx, &f, fileSelect+` JOIN packages p ON p.id = f.package_id
		WHERE f.blob_sha256 = $1 AND f.file_name = $2 AND p.project_id = ANY($3) AND p.package_type = 'pypi'
			AND p.status = ANY($4)
		ORDER BY f.id DESC LIMIT 1`, sha256, fileName, pq.Int64Array(projectIDs), pq.StringArray(statuses))
	if err != nil {
		return nil, nil, wrap("meta.PyPIFile", err)
	}
	var p Package
	if err := s.db.GetContext(ctx, &p, `SELECT `+pkgCols+` FROM packages WHERE id = $1`, f.PackageID); err != nil {
		return nil, nil, wrap("meta.PyPIFile", err)
	}
	return &p, &f, nil
}

// PyPIReleases lists the live PyPI packages of a project whose name
// normalises to normalized (every version, any live status). Called under
// the upload's advisory lock, it decides which release a new file joins.
func (t *Tx) PyPIReleases(ctx context.Context, projectID int64, normalized string) ([]Package, error) {
	var out []Package
	err := t.tx.SelectContext(ctx, &out, `SELECT `+pkgCols+` FROM packages p
		WHERE p.project_id = $1 AND p.package_type = 'pypi' AND p.status <> 'pending_destruction'
			AND `+pypiNorm+` = $2
		ORDER BY p.id`, projectID, normalized)
	return out, wrap("meta.PyPIReleases", err)
}
