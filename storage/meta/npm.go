package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// NPMVersion is one installable npm version with its tarball's digests:
// everything a packument needs, read in one query.
type NPMVersion struct {
	PackageID int64     `db:"package_id"`
	ProjectID int64     `db:"project_id"`
	Version   string    `db:"version"`
	Status    string    `db:"status"`
	Metadata  JSON      `db:"metadata"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
	FileID    int64     `db:"file_id"`
	Size      int64     `db:"size"`
	SHA1      string    `db:"sha1"`
	SHA512    *string   `db:"sha512"`
}

// npmVisible selects the versions a packument shows: installable status
// and a tarball present (GitLab skips versions whose file is missing). The
// tarball is the newest file named "<name>-<version>.tgz".
const npmVisible = `FROM packages p
	JOIN LATERAL (SELECT f.id, f.size, f.blob_sha256 FROM package_files f
		WHERE f.package_id = p.id AND f.file_name = p.name || '-' || p.version || '.tgz'
		ORDER BY f.id DESC LIMIT 1) f ON true
	JOIN blobs b ON b.sha256 = f.blob_sha256
	WHERE p.project_id = ANY($1) AND p.package_type = 'npm' AND p.name = $2 AND p.version IS NOT NULL
		AND p.status IN ('default', 'hidden', 'deprecated')`

// NPMVersions lists the visible versions of a package name across
// projects, oldest first (so that, when a version exists in several
// projects, the newest record is the last one). withMetadata=false skips
// the manifests (dist-tag routes only need version strings). One query,
// whatever the number of versions.
func (s *Store) NPMVersions(ctx context.Context, projectIDs []int64, name string, withMetadata bool) ([]NPMVersion, error) {
	md := "p.metadata"
	if !withMetadata {
		md = "'{}'::jsonb"
	}
	var vs []NPMVersion
	err := s.db.SelectContext(ctx, &vs, `SELECT p.id package_id, p.project_id, p.version, p.status, `+md+` metadata,
		p.created_at, p.updated_at, f.id file_id, f.size, b.sha1, b.sha512 `+npmVisible+`
		ORDER BY p.created_at, p.id`, pq.Int64Array(projectIDs), name)
	return vs, wrap("meta.NPMVersions", err)
}

// NPMTag is a stored dist-tag.
type NPMTag struct {
	ProjectID int64     `db:"project_id"`
	Tag       string    `db:"tag"`
	PackageID int64     `db:"package_id"`
	Version   string    `db:"version"`
	UpdatedAt time.Time `db:"updated_at"`
}

// NPMTags lists the dist-tags of a package name across projects, oldest
// change first, for versions that are still installable.
func (s *Store) NPMTags(ctx context.Context, projectIDs []int64, name string) ([]NPMTag, error) {
	var ts []NPMTag
	err := s.db.SelectContext(ctx, &ts, `SELECT t.project_id, t.tag, t.package_id, p.version, t.updated_at
		FROM npm_dist_tags t JOIN packages p ON p.id = t.package_id
		WHERE t.project_id = ANY($1) AND t.package_name = $2 AND p.status IN ('default', 'hidden', 'deprecated')
		ORDER BY t.updated_at, t.tag`, pq.Int64Array(projectIDs), name)
	return ts, wrap("meta.NPMTags", err)
}

// NPMProjectIDs lists the projects in a namespace's tree (the namespace
// and its subgroups) that hold an installable package of that name, the
// one with the newest package first (instance-level endpoints resolve a
// scope to these; group-level ones ask which unreadable project holds a
// name none of the readable ones does).
func (s *Store) NPMProjectIDs(ctx context.Context, namespaceID int64, name string) ([]int64, error) {
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, `SELECT p.project_id FROM packages p
		JOIN projects pr ON pr.id = p.project_id JOIN namespaces n ON n.id = pr.namespace_id
		WHERE $1 = ANY(n.traversal_ids) AND p.package_type = 'npm' AND p.name = $2 AND p.version IS NOT NULL
			AND p.status IN ('default', 'hidden', 'deprecated')
		GROUP BY p.project_id ORDER BY max(p.created_at) DESC, p.project_id`, namespaceID, name)
	return ids, wrap("meta.NPMProjectIDs", err)
}

// HasNonPublicProjects reports whether the tree of a namespace (it and
// every subgroup) holds a project with packages enabled that is not public,
// whose packages an anonymous caller therefore cannot read: an anonymous
// miss at group or instance level is then answered with 401 whatever the
// name, so that the answer tells nothing of the names such projects hold.
func (s *Store) HasNonPublicProjects(ctx context.Context, namespaceID int64) (bool, error) {
	var ok bool
	err := s.db.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM projects p JOIN namespaces n ON n.id = p.namespace_id
		WHERE $1 = ANY(n.traversal_ids) AND p.packages_enabled AND p.visibility <> 'public')`, namespaceID)
	return ok, wrap("meta.HasNonPublicProjects", err)
}

// NPMNewestProject returns, among projectIDs, the project holding the newest
// installable package of that name (group-level writes act on it).
func (s *Store) NPMNewestProject(ctx context.Context, projectIDs []int64, name string) (int64, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `SELECT p.project_id FROM packages p
		WHERE p.project_id = ANY($1) AND p.package_type = 'npm' AND p.name = $2 AND p.version IS NOT NULL
			AND p.status IN ('default', 'hidden', 'deprecated')
		ORDER BY p.created_at DESC, p.id DESC LIMIT 1`, pq.Int64Array(projectIDs), name)
	return id, wrap("meta.NPMNewestProject", err)
}

// NPMTarball finds a tarball by exact file name in the newest installable
// package of that name holding it: one query for both rows.
func (s *Store) NPMTarball(ctx context.Context, projectID int64, name, fileName string) (*Package, *PackageFile, error) {
	key := fmt.Sprintf("npm\x00%d\x00%s\x00%s", projectID, name, fileName)
	return s.cachedLookup(ctx, projectID, key, func() (*Package, *PackageFile, error) {
		return s.npmTarball(ctx, projectID, name, fileName)
	})
}

func (s *Store) npmTarball(ctx context.Context, projectID int64, name, fileName string) (*Package, *PackageFile, error) {
	var row struct {
		P Package     `db:"p"`
		F PackageFile `db:"f"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT p.id "p.id", p.project_id "p.project_id", p.package_type "p.package_type",
		p.name "p.name", p.version "p.version", p.status "p.status", p.metadata "p.metadata", p.created_at "p.created_at",
		p.updated_at "p.updated_at", p.last_downloaded_at "p.last_downloaded_at",
		f.id "f.id", f.package_id "f.package_id", f.file_name "f.file_name", f.blob_sha256 "f.blob_sha256", f.size "f.size",
		f.metadata "f.metadata", f.created_at "f.created_at", f.updated_at "f.updated_at",
		b.md5 "f.md5", b.sha1 "f.sha1", b.sha512 "f.sha512", b.storage_key "f.storage_key", b.damaged_at IS NOT NULL "f.damaged"
		FROM packages p JOIN package_files f ON f.package_id = p.id JOIN blobs b ON b.sha256 = f.blob_sha256
		WHERE p.project_id = $1 AND p.package_type = 'npm' AND p.name = $2 AND f.file_name = $3
			AND p.status IN ('default', 'hidden', 'deprecated')
		ORDER BY p.id DESC, f.id DESC LIMIT 1`, projectID, name, fileName)
	if err != nil {
		return nil, nil, wrap("meta.NPMTarball", err)
	}
	return &row.P, &row.F, nil
}

// SetNPMTag points a dist-tag at a package (creating or moving it).
func (s *Store) SetNPMTag(ctx context.Context, projectID int64, name, tag string, packageID int64) error {
	return wrap("meta.SetNPMTag", setNPMTag(ctx, s.db, projectID, name, tag, packageID))
}

// SetNPMTag is Store.SetNPMTag inside a transaction (publish).
func (t *Tx) SetNPMTag(ctx context.Context, projectID int64, name, tag string, packageID int64) error {
	return wrap("meta.SetNPMTag", setNPMTag(ctx, t.tx, projectID, name, tag, packageID))
}

func setNPMTag(ctx context.Context, db q, projectID int64, name, tag string, packageID int64) error {
	_, err := db.ExecContext(ctx, `INSERT INTO npm_dist_tags (project_id, package_name, tag, package_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project_id, package_name, tag) DO UPDATE SET package_id = EXCLUDED.package_id, updated_at = now()`,
		projectID, name, tag, packageID)
	return err
}

// DeleteNPMTag removes a dist-tag, reporting whether it existed.
func (s *Store) DeleteNPMTag(ctx context.Context, projectID int64, name, tag string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM npm_dist_tags WHERE project_id = $1 AND package_name = $2 AND tag = $3`, projectID, name, tag)
	if err != nil {
		return false, wrap("meta.DeleteNPMTag", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// NPMVersionElsewhere reports whether another project under the same
// top-level namespace holds a live package with this name and version
// (GitLab's cross-project duplicate rule for names that follow the naming
// convention).
func (t *Tx) NPMVersionElsewhere(ctx context.Context, topNamespaceID, projectID int64, name, version string) (bool, error) {
	var ok bool
	err := t.tx.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM packages p
		JOIN projects pr ON pr.id = p.project_id JOIN namespaces n ON n.id = pr.namespace_id
		WHERE n.traversal_ids[1] = $1 AND p.project_id <> $2 AND p.package_type = 'npm' AND p.name = $3
			AND p.version = $4 AND p.status <> 'pending_destruction')`, topNamespaceID, projectID, name, version)
	return ok, wrap("meta.NPMVersionElsewhere", err)
}

// NPMVisibleVersions is NPMVersions for one project inside a transaction,
// without manifests, locking the package rows so that a concurrent
// deprecate or delete of the same versions waits for us.
func (t *Tx) NPMVisibleVersions(ctx context.Context, projectID int64, name string) ([]NPMVersion, error) {
	var vs []NPMVersion
	err := t.tx.SelectContext(ctx, &vs, `SELECT p.id package_id, p.project_id, p.version, p.status, '{}'::jsonb metadata,
		p.created_at, p.updated_at, f.id file_id, f.size, b.sha1, b.sha512 `+npmVisible+`
		ORDER BY p.created_at, p.id FOR UPDATE OF p`, pq.Int64Array([]int64{projectID}), name)
	return vs, wrap("meta.NPMVisibleVersions", err)
}

// DeletePackages removes packages of a project by id, with their files and
// dist-tags (ON DELETE CASCADE). Blob rows stay for the janitor, as in
// DeletePackage.
func (t *Tx) DeletePackages(ctx context.Context, projectID int64, ids []int64) (int64, error) {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM packages WHERE project_id = $1 AND id = ANY($2)`, projectID, pq.Int64Array(ids))
	if err != nil {
		return 0, wrap("meta.DeletePackages", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// DeletePackagesNamed removes every live package of a type and name in a
// project (whatever its status), with files and tags.
func (t *Tx) DeletePackagesNamed(ctx context.Context, projectID int64, typ, name string) (int64, error) {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM packages WHERE project_id = $1 AND package_type = $2 AND name = $3
		AND status <> 'pending_destruction'`, projectID, typ, name)
	if err != nil {
		return 0, wrap("meta.DeletePackagesNamed", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// DeprecateNPM sets (message non-empty) or clears (empty) the deprecation
// of versions of a package in one statement: the manifest's "deprecated"
// key and the status (deprecated <-> default; hidden versions keep their
// status). It returns how many versions changed.
func (s *Store) DeprecateNPM(ctx context.Context, projectID int64, name string, versions, messages []string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE packages p SET
			metadata = CASE WHEN u.msg = '' THEN p.metadata - 'deprecated' ELSE jsonb_set(p.metadata, '{deprecated}', to_jsonb(u.msg)) END,
			status = CASE WHEN p.status = 'hidden' THEN p.status WHEN u.msg = '' THEN 'default' ELSE 'deprecated' END,
			updated_at = now()
		FROM unnest($3::text[], $4::text[]) AS u(version, msg)
		WHERE p.project_id = $1 AND p.package_type = 'npm' AND p.name = $2 AND p.version = u.version
			AND p.status IN ('default', 'hidden', 'deprecated')`,
		projectID, name, pq.StringArray(versions), pq.StringArray(messages))
	if err != nil {
		return 0, wrap("meta.DeprecateNPM", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
