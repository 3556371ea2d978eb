package meta

import (
	"context"
	"time"

	"github.com/lib/pq"
)

// Maven queries. Every read takes a set of project ids (one project, the
// readable projects of a group tree, or the readable projects of the
// instance that hold the path) so the three endpoint levels share one
// code path; when several projects hold the same path, the most recent
// upload wins, as in GitLab's group-level finder.

// mavenLive restricts to downloadable maven packages of a name in a set of
// projects ($1 project ids, $2 name).
const mavenLive = `p.project_id = ANY($1) AND p.package_type = 'maven' AND p.name = $2
	AND p.status IN ('default', 'hidden', 'deprecated')`

// MavenNewestFile returns the most recently uploaded file with that name
// among the packages with that name and version (nil: versionless) in the
// given projects. One indexed query: it is the artifact download path.
func (s *Store) MavenNewestFile(ctx context.Context, projectIDs []int64, name string, version *string, fileName string) (*PackageFile, error) {
	var f PackageFile
	err := s.db.GetContext(ctx, &f, fileSelect+` JOIN packages p ON p.id = f.package_id
		WHERE `+mavenLive+` AND coalesce(p.version, '') = coalesce($3, '') AND f.file_name = $4
		ORDER BY f.id DESC LIMIT 1`, pq.Int64Array(projectIDs), name, version, fileName)
	if err != nil {
		return nil, wrap("meta.MavenNewestFile", err)
	}
	return &f, nil
}

// MavenDownloadFile is MavenNewestFile through the file-lookup cache
// (lookups): Maven resolves every dependency as a pom, a jar and their
// checksums, each a GET that was a database round trip. Only downloads
// use it; the checks of a write read the database.
func (s *Store) MavenDownloadFile(ctx context.Context, projectIDs []int64, name string, version *string, fileName string) (*PackageFile, error) {
	key := "maven\x00" + setKey(projectIDs) + "\x00" + name + "\x00" + fileName
	if version != nil {
		key += "\x00v" + *version
	}
	_, f, err := s.cachedSetLookup(ctx, projectIDs, key, func() (*Package, *PackageFile, error) {
		f, err := s.MavenNewestFile(ctx, projectIDs, name, version, fileName)
		return nil, f, err
	})
	return f, err
}

// MavenVersion is one version of a Maven artifact across a project set.
type MavenVersion struct {
	Version   string    `db:"version"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

// MavenVersions lists the distinct versions of an artifact path in
// creation order (first deploy first), with the newest change of each.
func (s *Store) MavenVersions(ctx context.Context, projectIDs []int64, name string) ([]MavenVersion, error) {
	var vs []MavenVersion
	err := s.db.SelectContext(ctx, &vs, `SELECT p.version, min(p.created_at) AS created_at, max(p.updated_at) AS updated_at
		FROM packages p WHERE `+mavenLive+` AND p.version IS NOT NULL
		GROUP BY p.version ORDER BY min(p.created_at), min(p.id)`, pq.Int64Array(projectIDs), name)
	return vs, wrap("meta.MavenVersions", err)
}

// MavenVersionless is a versionless (metadata) package's JSON metadata.
type MavenVersionless struct {
	ID        int64     `db:"id"`
	Metadata  JSON      `db:"metadata"`
	UpdatedAt time.Time `db:"updated_at"`
}

// MavenVersionlessPackages returns the versionless packages of a path (at
// most one per project), oldest project first.
func (s *Store) MavenVersionlessPackages(ctx context.Context, projectIDs []int64, name string) ([]MavenVersionless, error) {
	var ps []MavenVersionless
	err := s.db.SelectContext(ctx, &ps, `SELECT p.id, p.metadata, p.updated_at FROM packages p
		WHERE `+mavenLive+` AND p.version IS NULL ORDER BY p.project_id`, pq.Int64Array(projectIDs), name)
	return ps, wrap("meta.MavenVersionlessPackages", err)
}

// MavenFileNames lists the distinct file names of one version of an
// artifact path (SNAPSHOT version metadata is derived from them).
func (s *Store) MavenFileNames(ctx context.Context, projectIDs []int64, name, version string) ([]string, error) {
	var names []string
	err := s.db.SelectContext(ctx, &names, `SELECT DISTINCT f.file_name FROM package_files f JOIN packages p ON p.id = f.package_id
		WHERE `+mavenLive+` AND p.version = $3 ORDER BY f.file_name`, pq.Int64Array(projectIDs), name, version)
	return names, wrap("meta.MavenFileNames", err)
}

// MavenProjectsWithPath returns every project of the instance holding a
// downloadable maven package with that name (any version), by id. The
// caller filters them by permission: instance-level reads search
// "projects the caller may read", and auth owns that rule.
func (s *Store) MavenProjectsWithPath(ctx context.Context, name string) ([]Project, error) {
	var ps []Project
	err := s.db.SelectContext(ctx, &ps, projectSelect+` WHERE p.packages_enabled AND p.id IN (SELECT DISTINCT project_id FROM packages
		WHERE package_type = 'maven' AND name = $1 AND status IN ('default', 'hidden', 'deprecated')) ORDER BY p.id`, name)
	return ps, wrap("meta.MavenProjectsWithPath", err)
}

// MavenGroupHasOtherProjects reports whether the group tree holds a project
// with packages enabled outside ids (projects the caller cannot read): an
// anonymous miss is then answered with the Basic challenge, so Maven
// retries with its credentials.
func (s *Store) MavenGroupHasOtherProjects(ctx context.Context, groupID int64, ids []int64) (bool, error) {
	var ok bool
	err := s.db.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM projects p JOIN namespaces n ON n.id = p.namespace_id
		WHERE $1 = ANY(n.traversal_ids) AND p.packages_enabled AND NOT (p.id = ANY($2)))`, groupID, pq.Int64Array(ids))
	return ok, wrap("meta.MavenGroupHasOtherProjects", err)
}

// MavenNewestFiles returns up to limit files with that name of one
// package of a project, newest first (checksum PUTs are verified against
// them).
func (s *Store) MavenNewestFiles(ctx context.Context, projectID int64, name string, version *string, fileName string, limit int) ([]PackageFile, error) {
	var fs []PackageFile
	err := s.db.SelectContext(ctx, &fs, fileSelect+` JOIN packages p ON p.id = f.package_id
		WHERE `+mavenLive+` AND coalesce(p.version, '') = coalesce($3, '') AND f.file_name = $4
		ORDER BY f.id DESC LIMIT $5`, pq.Int64Array([]int64{projectID}), name, version, fileName, limit)
	return fs, wrap("meta.MavenNewestFiles", err)
}
