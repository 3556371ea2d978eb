package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/pkgate/pkgate/internal/errs"
)

// Package statuses (GitLab's).
const (
	StatusDefault            = "default"
	StatusHidden             = "hidden"
	StatusProcessing         = "processing"
	StatusError              = "error"
	StatusPendingDestruction = "pending_destruction"
	StatusDeprecated         = "deprecated"
)

// InstallableStatuses may be downloaded.
var InstallableStatuses = []string{StatusDefault, StatusHidden, StatusDeprecated}

// Package is one name+version of one type in one project.
type Package struct {
	ID               int64      `db:"id"`
	ProjectID        int64      `db:"project_id"`
	PackageType      string     `db:"package_type"`
	Name             string     `db:"name"`
	Version          *string    `db:"version"`
	Status           string     `db:"status"`
	Metadata         JSON       `db:"metadata"`
	CreatedAt        time.Time  `db:"created_at"`
	UpdatedAt        time.Time  `db:"updated_at"`
	LastDownloadedAt *time.Time `db:"last_downloaded_at"`
}

// VersionString is the version or "".
func (p *Package) VersionString() string {
	if p.Version == nil {
		return ""
	}
	return *p.Version
}

// fillDefaults gives a package about to be inserted GitLab's default status
// and empty metadata.
func (p *Package) fillDefaults() {
	if p.Status == "" {
		p.Status = StatusDefault
	}
	if p.Metadata == nil {
		p.Metadata = JSON("{}")
	}
}

const pkgCols = `id, project_id, package_type, name, version, status, metadata, created_at, updated_at, last_downloaded_at`

// Blob is a content-addressed blob row.
type Blob struct {
	SHA256     string    `db:"sha256"`
	Size       int64     `db:"size"`
	MD5        string    `db:"md5"`
	SHA1       string    `db:"sha1"`
	SHA512     *string   `db:"sha512"`
	StorageKey string    `db:"storage_key"`
	CreatedAt  time.Time `db:"created_at"`
}

// PackageFile is a file of a package, joined with its blob's digests.
type PackageFile struct {
	ID         int64     `db:"id"`
	PackageID  int64     `db:"package_id"`
	FileName   string    `db:"file_name"`
	BlobSHA256 string    `db:"blob_sha256"`
	Size       int64     `db:"size"`
	Metadata   JSON      `db:"metadata"`
	CreatedAt  time.Time `db:"created_at"`
	UpdatedAt  time.Time `db:"updated_at"`
	MD5        string    `db:"md5"`
	SHA1       string    `db:"sha1"`
	SHA512     *string   `db:"sha512"`
	StorageKey string    `db:"storage_key"`
	// Damaged: the digest backfill found the blob's object holding other
	// bytes than the row's (blobs.damaged_at); downloads refuse it until
	// an upload of the same bytes heals the row.
	Damaged bool `db:"damaged"`
}

// fillDefaults gives a file about to be inserted empty metadata.
func (f *PackageFile) fillDefaults() {
	if f.Metadata == nil {
		f.Metadata = JSON("{}")
	}
}

const fileSelect = `SELECT f.id, f.package_id, f.file_name, f.blob_sha256, f.size, f.metadata, f.created_at, f.updated_at,
	b.md5, b.sha1, b.sha512, b.storage_key, b.damaged_at IS NOT NULL AS damaged
	FROM package_files f JOIN blobs b ON b.sha256 = f.blob_sha256`

// BlobBySHA256 loads a blob row.
func (s *Store) BlobBySHA256(ctx context.Context, sha string) (*Blob, error) {
	var b Blob
	if err := s.db.GetContext(ctx, &b, `SELECT sha256, size, md5, sha1, sha512, storage_key, created_at FROM blobs WHERE sha256 = $1`, sha); err != nil {
		return nil, wrap("meta.BlobBySHA256", err)
	}
	return &b, nil
}

// upsertBlob inserts a blob row ($1-$6) or fills the digests an earlier,
// leaner upload left empty; the row keeps its storage key, unless it is
// marked damaged: then it takes the upload's object, whose bytes the
// upload has just hashed to the row's sha256 and size, and loses the mark.
// Its RETURNING clause is upsertBlobReturning.
const upsertBlob = `INSERT INTO blobs (sha256, size, md5, sha1, sha512, storage_key) VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (sha256) DO UPDATE SET
		md5 = CASE WHEN blobs.md5 = '' THEN EXCLUDED.md5 ELSE blobs.md5 END,
		sha1 = CASE WHEN blobs.sha1 = '' THEN EXCLUDED.sha1 ELSE blobs.sha1 END,
		sha512 = coalesce(blobs.sha512, EXCLUDED.sha512),
		storage_key = CASE WHEN blobs.damaged_at IS NULL THEN blobs.storage_key ELSE EXCLUDED.storage_key END,
		damaged_at = NULL`

// upsertBlobReturning returns the row as the upsert left it (KeptBlob).
// Healed is an existing row (one the statement updated, so its xmax is
// set, as FindOrCreatePackage tells an insert) that now names the upload's
// fresh object.
const upsertBlobReturning = ` RETURNING storage_key, (xmax <> 0 AND storage_key = $6) AS healed, md5, sha1`

// KeptBlob is the blob row an upload's upsert left: the object it names
// (another than the upload's when these bytes were stored before),
// whether the upsert healed a row marked damaged, and its md5 and sha1,
// which an upload that left them to the backfill can report at once when
// an earlier upload of the same bytes filled them.
type KeptBlob struct {
	Key    string `db:"storage_key"`
	Healed bool   `db:"healed"`
	MD5    string `db:"md5"`
	SHA1   string `db:"sha1"`
}

// UpsertBlob inserts the blob row or, if these bytes are known, keeps the
// existing row (filling digests it lacked, healing it if it was marked
// damaged) and locks it for the rest of the transaction. It returns the
// row as it left it; after a heal, other projects' cached lookups of the
// blob still carry the damaged object.
func (t *Tx) UpsertBlob(ctx context.Context, b *Blob) (KeptBlob, error) {
	var row KeptBlob
	err := t.tx.GetContext(ctx, &row, upsertBlob+upsertBlobReturning, b.SHA256, b.Size, b.MD5, b.SHA1, b.SHA512, b.StorageKey)
	return row, wrap("meta.UpsertBlob", err)
}

// SetBlobKey points a blob row at another object (self-healing after the
// original object was lost).
func (t *Tx) SetBlobKey(ctx context.Context, sha, key string) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE blobs SET storage_key = $2 WHERE sha256 = $1`, sha, key)
	return wrap("meta.SetBlobKey", err)
}

// ReplaceBlobKey points a blob row from a lost object at another, unless
// something already moved it; it reports whether this call did.
func (s *Store) ReplaceBlobKey(ctx context.Context, sha, from, to string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE blobs SET storage_key = $3 WHERE sha256 = $1 AND storage_key = $2`, sha, from, to)
	if err != nil {
		return false, wrap("meta.ReplaceBlobKey", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("meta.ReplaceBlobKey", err)
}

// packageCTE is the common table expressions "ins" and "p" that find or
// create a live package without locking it, its identity, status and
// metadata in parameters $n to $n+5; p has pkgCols and inserted. The SELECT
// sees the statement's snapshot: when the conflicting row was committed by
// a concurrent publish after that snapshot was taken, neither branch
// returns it, and the caller runs the statement again (a new snapshot).
func packageCTE(n int) string {
	r := strings.NewReplacer("$1", "$"+strconv.Itoa(n), "$2", "$"+strconv.Itoa(n+1), "$3", "$"+strconv.Itoa(n+2),
		"$4", "$"+strconv.Itoa(n+3), "$5", "$"+strconv.Itoa(n+4), "$6", "$"+strconv.Itoa(n+5))
	return r.Replace(`ins AS (
		INSERT INTO packages (project_id, package_type, name, version, status, metadata) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (project_id, package_type, name, (coalesce(version, ''))) WHERE status <> 'pending_destruction'
		DO NOTHING
		RETURNING ` + pkgCols + `, true AS inserted
	), p AS (
		SELECT * FROM ins
		UNION ALL
		SELECT ` + pkgCols + `, false FROM packages WHERE project_id = $1 AND package_type = $2 AND name = $3
			AND coalesce(version, '') = coalesce($4, '') AND status <> 'pending_destruction'
		LIMIT 1
	)`)
}

var findOrCreatePackage = `WITH ` + packageCTE(1) + ` SELECT * FROM p`

// FindOrCreatePackage returns the live package with p's identity, creating
// it when absent. Concurrent first publishes converge on one row through the
// partial unique index. created reports whether this call inserted it.
//
// touch sets the updated_at of a package that already exists, for formats
// whose documents show it (Maven's lastUpdated). The update locks the row
// until the transaction ends, so concurrent publishes to one version take
// turns; without touch, they add their files side by side.
func (t *Tx) FindOrCreatePackage(ctx context.Context, p *Package, touch bool) (created bool, err error) {
	p.fillDefaults()
	var row struct {
		Package
		Inserted bool `db:"inserted"`
	}
	args := []any{p.ProjectID, p.PackageType, p.Name, p.Version, p.Status, p.Metadata}
	if touch {
		err = t.tx.GetContext(ctx, &row, `INSERT INTO packages (project_id, package_type, name, version, status, metadata)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (project_id, package_type, name, (coalesce(version, ''))) WHERE status <> 'pending_destruction'
			DO UPDATE SET updated_at = now()
			RETURNING `+pkgCols+`, (xmax = 0) AS inserted`, args...)
	} else {
		for range 3 { // see packageCTE
			err = t.tx.GetContext(ctx, &row, findOrCreatePackage, args...)
			if !errors.Is(err, sql.ErrNoRows) {
				break
			}
		}
	}
	if err != nil {
		return false, wrap("meta.FindOrCreatePackage", err)
	}
	*p = row.Package
	return row.Inserted, nil
}

// CreatePackage inserts a new package; an existing live one is Conflict.
func (t *Tx) CreatePackage(ctx context.Context, p *Package) error {
	p.fillDefaults()
	err := t.tx.GetContext(ctx, p, `INSERT INTO packages (project_id, package_type, name, version, status, metadata)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (project_id, package_type, name, (coalesce(version, ''))) WHERE status <> 'pending_destruction' DO NOTHING
		RETURNING `+pkgCols, p.ProjectID, p.PackageType, p.Name, p.Version, p.Status, p.Metadata)
	if err != nil {
		if errs.Is(wrap("", err), errs.NotFound) {
			return errs.New("meta.CreatePackage", errs.Conflict, "")
		}
		return wrap("meta.CreatePackage", err)
	}
	return nil
}

// LockPackage loads a live package FOR UPDATE (NotFound if absent).
func (t *Tx) LockPackage(ctx context.Context, projectID int64, typ, name string, version *string) (*Package, error) {
	var p Package
	err := t.tx.GetContext(ctx, &p, `SELECT `+pkgCols+` FROM packages WHERE project_id = $1 AND package_type = $2 AND name = $3
		AND coalesce(version, '') = coalesce($4, '') AND status <> 'pending_destruction' FOR UPDATE`, projectID, typ, name, version)
	if err != nil {
		return nil, wrap("meta.LockPackage", err)
	}
	return &p, nil
}

// SetPackageStatus changes a package's status.
func (t *Tx) SetPackageStatus(ctx context.Context, id int64, status string) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE packages SET status = $2, updated_at = now() WHERE id = $1`, id, status)
	return wrap("meta.SetPackageStatus", err)
}

// SetPackageMetadata replaces a package's JSON metadata.
func (t *Tx) SetPackageMetadata(ctx context.Context, id int64, md JSON) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE packages SET metadata = $2, updated_at = now() WHERE id = $1`, id, md)
	return wrap("meta.SetPackageMetadata", err)
}

// AddFile inserts a file row (the blob row must exist in this transaction).
func (t *Tx) AddFile(ctx context.Context, f *PackageFile) error {
	f.fillDefaults()
	err := t.tx.GetContext(ctx, f, `INSERT INTO package_files (package_id, file_name, blob_sha256, size, metadata)
		VALUES ($1, $2, $3, $4, $5) RETURNING id, package_id, file_name, blob_sha256, size, metadata, created_at, updated_at`,
		f.PackageID, f.FileName, f.BlobSHA256, f.Size, f.Metadata)
	return wrap("meta.AddFile", err)
}

// DeleteFilesNamed removes every file of a package with a name (used where a
// format replaces a file instead of keeping duplicates).
func (t *Tx) DeleteFilesNamed(ctx context.Context, packageID int64, name string) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM package_files WHERE package_id = $1 AND file_name = $2`, packageID, name)
	return wrap("meta.DeleteFilesNamed", err)
}

// HasFile reports whether a package has a file with that name.
func (t *Tx) HasFile(ctx context.Context, packageID int64, name string) (bool, error) {
	var ok bool
	err := t.tx.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM package_files WHERE package_id = $1 AND file_name = $2)`, packageID, name)
	return ok, wrap("meta.HasFile", err)
}

// FindPackage returns the live package with an identity whose status is one
// of statuses (empty or nil: any live status; pq sends a nil slice as NULL,
// hence the coalesce).
func (s *Store) FindPackage(ctx context.Context, projectID int64, typ, name string, version *string, statuses []string) (*Package, error) {
	var p Package
	err := s.db.GetContext(ctx, &p, `SELECT `+pkgCols+` FROM packages WHERE project_id = $1 AND package_type = $2 AND name = $3
		AND coalesce(version, '') = coalesce($4, '') AND status <> 'pending_destruction'
		AND (coalesce(cardinality($5::text[]), 0) = 0 OR status = ANY($5))`, projectID, typ, name, version, pq.StringArray(statuses))
	if err != nil {
		return nil, wrap("meta.FindPackage", err)
	}
	return &p, nil
}

// FindFile returns, in one query, the newest file named name of the live
// package with that identity whose status is one of statuses.
func (s *Store) FindFile(ctx context.Context, projectID int64, typ, name string, version *string, statuses []string, fileName string) (*Package, *PackageFile, error) {
	key := fmt.Sprintf("file\x00%d\x00%s\x00%s\x00%v\x00%v\x00%s", projectID, typ, name, version != nil, statuses, fileName)
	if version != nil {
		key += "\x00" + *version
	}
	return s.cachedLookup(ctx, projectID, key, func() (*Package, *PackageFile, error) {
		return s.findFile(ctx, projectID, typ, name, version, statuses, fileName)
	})
}

func (s *Store) findFile(ctx context.Context, projectID int64, typ, name string, version *string, statuses []string, fileName string) (*Package, *PackageFile, error) {
	var row struct {
		Package
		F PackageFile `db:"f"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT p.id, p.project_id, p.package_type, p.name, p.version, p.status, p.metadata,
		p.created_at, p.updated_at, p.last_downloaded_at,
		f.id "f.id", f.package_id "f.package_id", f.file_name "f.file_name", f.blob_sha256 "f.blob_sha256", f.size "f.size",
		f.metadata "f.metadata", f.created_at "f.created_at", f.updated_at "f.updated_at",
		b.md5 "f.md5", b.sha1 "f.sha1", b.sha512 "f.sha512", b.storage_key "f.storage_key", b.damaged_at IS NOT NULL "f.damaged"
		FROM packages p JOIN package_files f ON f.package_id = p.id JOIN blobs b ON b.sha256 = f.blob_sha256
		WHERE p.project_id = $1 AND p.package_type = $2 AND p.name = $3 AND coalesce(p.version, '') = coalesce($4, '')
		AND p.status <> 'pending_destruction' AND (coalesce(cardinality($5::text[]), 0) = 0 OR p.status = ANY($5)) AND f.file_name = $6
		ORDER BY f.id DESC LIMIT 1`, projectID, typ, name, version, pq.StringArray(statuses), fileName)
	if err != nil {
		return nil, nil, wrap("meta.FindFile", err)
	}
	return &row.Package, &row.F, nil
}

// NewestFile returns the newest file of a package with that name.
func (s *Store) NewestFile(ctx context.Context, packageID int64, name string) (*PackageFile, error) {
	var f PackageFile
	err := s.db.GetContext(ctx, &f, fileSelect+` WHERE f.package_id = $1 AND f.file_name = $2 ORDER BY f.id DESC LIMIT 1`, packageID, name)
	if err != nil {
		return nil, wrap("meta.NewestFile", err)
	}
	return &f, nil
}

// FileByID returns one file of a package.
func (s *Store) FileByID(ctx context.Context, packageID, fileID int64) (*PackageFile, error) {
	var f PackageFile
	err := s.db.GetContext(ctx, &f, fileSelect+` WHERE f.package_id = $1 AND f.id = $2`, packageID, fileID)
	if err != nil {
		return nil, wrap("meta.FileByID", err)
	}
	return &f, nil
}

// TouchDownload records a download, at most once a minute per package: an
// in-process check skips the query entirely for hot packages.
func (s *Store) TouchDownload(ctx context.Context, packageID int64) error {
	now := time.Now()
	if last, ok := s.touched.Load(packageID); ok && now.Sub(last.(time.Time)) < time.Minute {
		return nil
	}
	s.touched.Store(packageID, now)
	_, err := s.db.ExecContext(ctx, `UPDATE packages SET last_downloaded_at = now()
		WHERE id = $1 AND (last_downloaded_at IS NULL OR last_downloaded_at < now() - interval '1 minute')`, packageID)
	return wrap("meta.TouchDownload", err)
}

// PackageFilter is the packages REST API's list query.
type PackageFilter struct {
	ProjectID int64
	GroupID   int64 // every project in the group tree
	// ExcludeSubgroups limits a group listing to the group's own projects
	// (GitLab's exclude_subgroups).
	ExcludeSubgroups   bool
	VisibleTo          *User // for group listings: nil = public projects only
	Type               string
	Name               string // case-insensitive substring
	Version            string
	Status             string // empty: default, error, deprecated
	IncludeVersionless bool
	OrderBy            string // created_at, name, version, type, project_path (group listings)
	Desc               bool
}

func (f PackageFilter) where() (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if f.ProjectID > 0 {
		conds = append(conds, "p.project_id = "+arg(f.ProjectID))
	}
	if f.GroupID > 0 {
		// Projects with packages turned off have none to list, for anyone
		// (GitLab's GroupPackagesFinder: with_feature_available_for_user
		// :package_registry), as every package route of theirs refuses.
		if f.ExcludeSubgroups {
			conds = append(conds, "n.id = "+arg(f.GroupID), "pr.packages_enabled")
		} else {
			conds = append(conds, arg(f.GroupID)+" = ANY(n.traversal_ids)", "pr.packages_enabled")
		}
		switch u := f.VisibleTo; {
		case u == nil:
			conds = append(conds, "pr.visibility = 'public'")
		case !u.IsAdmin:
			uid := arg(u.ID)
			conds = append(conds, `(pr.visibility <> 'private' OR `+projectMember("pr.id", "n.traversal_ids", uid)+`)`)
		}
	}
	if f.Type != "" {
		conds = append(conds, "p.package_type = "+arg(f.Type))
	} else {
		conds = append(conds, "p.package_type <> 'terraform_module'")
	}
	if f.Name != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Name)
		conds = append(conds, "p.name ILIKE "+arg("%"+esc+"%"))
	}
	if f.Version != "" {
		conds = append(conds, "p.version = "+arg(f.Version))
	}
	if f.Status != "" {
		conds = append(conds, "p.status = "+arg(f.Status))
	} else {
		conds = append(conds, "p.status IN ('default', 'error', 'deprecated')")
	}
	if !f.IncludeVersionless {
		conds = append(conds, "p.version IS NOT NULL")
	}
	return strings.Join(conds, " AND "), args
}

// ListPackages pages packages matching f.
func (s *Store) ListPackages(ctx context.Context, f PackageFilter, limit, offset int) ([]Package, int, error) {
	where, args := f.where()
	from := ` FROM packages p JOIN projects pr ON pr.id = p.project_id JOIN namespaces n ON n.id = pr.namespace_id WHERE `
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*)`+from+where, args...); err != nil {
		return nil, 0, wrap("meta.ListPackages", err)
	}
	order := map[string]string{"name": "p.name", "version": "p.version", "type": "p.package_type",
		"project_path": "(n.full_path || '/' || pr.path)"}[f.OrderBy]
	if order == "" {
		order = "p.created_at"
	}
	dir := "ASC"
	if f.Desc {
		dir = "DESC"
	}
	n := len(args)
	args = append(args, limit, offset)
	var ps []Package
	err := s.db.SelectContext(ctx, &ps, `SELECT p.id, p.project_id, p.package_type, p.name, p.version, p.status, p.metadata,
		p.created_at, p.updated_at, p.last_downloaded_at`+from+where+` ORDER BY `+order+` `+dir+`, p.id `+dir+
		` LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2), args...)
	if err != nil {
		return nil, 0, wrap("meta.ListPackages", err)
	}
	return ps, total, nil
}

// PackageByID loads a live package of a project.
func (s *Store) PackageByID(ctx context.Context, projectID, id int64) (*Package, error) {
	var p Package
	err := s.db.GetContext(ctx, &p, `SELECT `+pkgCols+` FROM packages WHERE id = $1 AND project_id = $2 AND status <> 'pending_destruction'`, id, projectID)
	if err != nil {
		return nil, wrap("meta.PackageByID", err)
	}
	return &p, nil
}

// PackageVersions lists the other displayable packages sharing a package's
// name and type, ordered by version.
func (s *Store) PackageVersions(ctx context.Context, p *Package) ([]Package, error) {
	var ps []Package
	err := s.db.SelectContext(ctx, &ps, `SELECT `+pkgCols+` FROM packages WHERE project_id = $1 AND package_type = $2 AND name = $3
		AND id <> $4 AND status IN ('default', 'error', 'deprecated') ORDER BY version, id`, p.ProjectID, p.PackageType, p.Name, p.ID)
	return ps, wrap("meta.PackageVersions", err)
}

// DeletePackage removes a package and its file rows. Blob rows stay: the
// janitor frees unreferenced blobs after a grace period, so a concurrent
// upload that just deduplicated against one of them is never broken.
func (s *Store) DeletePackage(ctx context.Context, projectID, id int64) (*Package, error) {
	var p Package
	err := s.db.GetContext(ctx, &p, `DELETE FROM packages WHERE id = $1 AND project_id = $2 AND status <> 'pending_destruction' RETURNING `+pkgCols, id, projectID)
	if err != nil {
		return nil, wrap("meta.DeletePackage", err)
	}
	return &p, nil
}

// ListFiles pages a package's files, ordered by orderBy (id, the default;
// created_at; file_name) in the given direction, ties broken by id in the
// same direction (GitLab's package_files order_by).
func (s *Store) ListFiles(ctx context.Context, packageID int64, orderBy string, desc bool, limit, offset int) ([]PackageFile, int, error) {
	order := map[string]string{"created_at": "f.created_at, ", "file_name": "f.file_name, "}[orderBy]
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	if order != "" {
		order = strings.Replace(order, ",", dir+",", 1)
	}
	var fs []PackageFile
	if err := s.db.SelectContext(ctx, &fs, fileSelect+` WHERE f.package_id = $1 ORDER BY `+order+`f.id`+dir+` LIMIT $2 OFFSET $3`, packageID, limit, offset); err != nil {
		return nil, 0, wrap("meta.ListFiles", err)
	}
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM package_files WHERE package_id = $1`, packageID); err != nil {
		return nil, 0, wrap("meta.ListFiles", err)
	}
	return fs, total, nil
}

// AllFiles returns every file of the given packages, by package then id.
func (s *Store) AllFiles(ctx context.Context, packageIDs []int64) ([]PackageFile, error) {
	var fs []PackageFile
	err := s.db.SelectContext(ctx, &fs, fileSelect+` WHERE f.package_id = ANY($1) ORDER BY f.package_id, f.id`, pq.Int64Array(packageIDs))
	return fs, wrap("meta.AllFiles", err)
}

// DeleteFile removes one file of a package.
func (s *Store) DeleteFile(ctx context.Context, packageID, fileID int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM package_files WHERE id = $1 AND package_id = $2`, fileID, packageID)
	if err != nil {
		return wrap("meta.DeleteFile", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.New("meta.DeleteFile", errs.NotFound, "404 Not found")
	}
	return nil
}

// publishFile is PublishFile's statement: blob row $1-$6, package $7-$12,
// file name and metadata $13-$14, audit event $15-$23 in auditArgs' order
// (none when $18, the action, is NULL).
var publishFile = `WITH b AS (` + upsertBlob + upsertBlobReturning + `), ` + packageCTE(7) + `, f AS (
		INSERT INTO package_files (package_id, file_name, blob_sha256, size, metadata)
		SELECT p.id, $13, $1, $2, $14 FROM p
		RETURNING id, package_id, created_at, updated_at
	), a AS (
		INSERT INTO audit_events (actor_type, actor_id, actor_name, action, target_type, target_id, target_path, ip, details)
		SELECT $15, $16, $17, $18, $19, $20, $21, $22, $23 FROM f WHERE $18::text IS NOT NULL
	)
	SELECT b.storage_key, b.healed, b.md5, b.sha1, f.id, f.package_id, f.created_at, f.updated_at FROM b, f`

// PublishFile records an uploaded file in one statement: its blob row, its
// package (found, or created as in FindOrCreatePackage without touch), the
// file row and the request's pending audit event. An upload is then one
// round trip and one commit; through Tx it takes six round trips (BEGIN,
// three statements, COMMIT, the audit insert), and on a small file they
// cost Postgres more CPU than the object store spends storing it.
//
// It returns the blob row as it left it, as UpsertBlob does: its storage
// key is another object's when these bytes were stored before, which the
// caller checks exists (see Registry.Publish).
// On success it sets p.ID and f's ID, PackageID, CreatedAt and UpdatedAt,
// all an upload reports; reading back every column of both rows cost the
// gateway a third of the call's CPU.
func (s *Store) PublishFile(ctx context.Context, b *Blob, p *Package, f *PackageFile) (kept KeptBlob, err error) {
	p.fillDefaults()
	f.fillDefaults()
	pending, e := pendingAudit(ctx)
	audit := (&AuditEvent{}).auditArgs()
	audit[3] = nil // no action: the statement inserts no event
	if pending != nil {
		audit = e.auditArgs()
	}
	args := append([]any{b.SHA256, b.Size, b.MD5, b.SHA1, b.SHA512, b.StorageKey,
		p.ProjectID, p.PackageType, p.Name, p.Version, p.Status, p.Metadata,
		f.FileName, f.Metadata}, audit...)
	// When p is empty (see packageCTE) nothing is inserted but the
	// idempotent blob row, and the next attempt finds the package.
	for range 3 {
		err = s.db.scanRow(ctx, publishFile, args, &kept.Key, &kept.Healed, &kept.MD5, &kept.SHA1, &f.ID, &f.PackageID, &f.CreatedAt, &f.UpdatedAt)
		if !errors.Is(err, sql.ErrNoRows) {
			break
		}
	}
	if err != nil {
		// One autocommit statement: unless Postgres answered the error,
		// it may have committed.
		return KeptBlob{}, wrap("meta.PublishFile", outcome(err))
	}
	if pending != nil {
		pending.written.Store(true)
	}
	p.ID = f.PackageID
	return kept, nil
}
