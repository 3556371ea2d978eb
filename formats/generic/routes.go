package generic

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/storage/registry"
)

// Options are GitLab's generic duplicate settings.
//
// Decision: they are instance-wide (GATEWAY_GENERIC_DUPLICATES_ALLOWED and
// GATEWAY_GENERIC_DUPLICATE_EXCEPTION_REGEX), as the Maven ones are, rather
// than per namespace: GitLab exposes the namespace setting only through
// GraphQL, which no package client calls and this gateway does not serve.
type Options struct {
	// Duplicates is GitLab's generic_duplicates_allowed and
	// generic_duplicate_exception_regex. When refused, a package that
	// already holds a file of that name refuses it with 400 "Duplicate
	// package is not allowed".
	Duplicates formats.Duplicates
}

// DefaultOptions are GitLab's defaults.
func DefaultOptions() Options { return Options{Duplicates: formats.AllowDuplicates} }

// Register mounts the generic routes on the /api/v4 group with GitLab's
// default settings.
func Register(rg *gin.RouterGroup, d formats.Deps) { RegisterWith(rg, d, DefaultOptions()) }

// RegisterWith mounts the generic routes with explicit settings.
func RegisterWith(rg *gin.RouterGroup, d formats.Deps, o Options) {
	h := &handler{d: d, o: o}
	project := d.Auth.PackageProject("id")
	g := rg.Group("/projects/:id/packages/generic")
	g.PUT("/*path", h.parse(true), project, auth.Require(auth.Write), h.upload)
	g.GET("/*path", h.parse(false), project, auth.Require(auth.Read), h.download)
	g.HEAD("/*path", h.parse(false), project, auth.Require(auth.Read), h.download)
}

const targetKey = "generic.target"

// parse reads the path before the project is looked up, in GitLab's
// order of checks (spec 6.3): a path of fewer than three segments matches
// no route, so it is 404 {"error":"404 Not Found"} for everyone, as
// Grape's unmatched route; a download's bad name is 400 with or without
// a credential (GitLab validates parameters before its handler looks the
// project up); an upload authenticates first (GitLab's "authenticate
// unless GET/HEAD" filter), so its bad name is 401 without a credential
// and 400 with one, before the project's 404 or the role's 403.
func (h *handler) parse(upload bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		// GitLab declares `path` on the download as on the upload
		// (gitlabhq lib/api/generic_packages.rb, encoded_file_name), so a
		// file uploaded with ?path=dir is downloaded with ?path=dir too.
		t, err := ParsePath(c.Param("path"), c.Query("path"))
		if err == nil && upload {
			err = uploadParams(c)
		}
		if err == nil {
			c.Set(targetKey, t)
			c.Next()
			return
		}
		c.Set(httpx.ChallengeKey, httpx.PackagesRealm)
		if upload && err != ErrRouteNotFound {
			id, aerr := h.d.Auth.Packages(c.Request.Context(), c.Request, c.ClientIP)
			switch {
			case aerr != nil:
				err = aerr
			case id.Anonymous():
				err = errs.New("generic.parse", errs.Unauthorized, "401 Unauthorized")
			}
		}
		httpx.Abort(c, err)
	}
}

// uploadParams checks an upload's query parameters.
func uploadParams(c *gin.Context) error {
	const op = "generic.Upload"
	if status := c.Query("status"); status != "" && status != meta.StatusDefault && status != meta.StatusHidden {
		return errs.Param(op, "status does not have a valid value")
	}
	if sel := c.Query("select"); sel != "" && sel != "package_file" {
		return errs.Param(op, "select does not have a valid value")
	}
	return nil
}

// target is the path parse read.
func target(c *gin.Context) Target { return c.MustGet(targetKey).(Target) }

type handler struct {
	d formats.Deps
	o Options
}

// lockKey names the advisory lock serialising uploads to one package when
// duplicates are refused. Names and versions cannot hold ':'.
func lockKey(projectID int64, t Target) string {
	return fmt.Sprintf("generic:%d:%s:%s", projectID, t.Name, t.Version)
}

const tooLarge = "413 Request Entity Too Large - File is too large"

// upload stores one file. Decision: an oversized file is answered 413 (GitLab
// says 400 "File is too large"; the spec tolerates 413, and 413 lets the
// gateway refuse from Content-Length before reading the body).
//
// With duplicates refused, a known duplicate is refused before the body is
// read (curl sends Expect: 100-continue for large files, so it never sends
// the bytes), and the authoritative check runs in the commit transaction
// under the package's advisory lock, so of concurrent uploads of one file
// exactly one wins and the others get 400. With duplicates allowed no lock
// is taken: uploads to one version stay concurrent.
func (h *handler) upload(c *gin.Context) {
	const op = "generic.Upload"
	ctx := c.Request.Context()
	t := target(c)
	status, sel := c.Query("status"), c.Query("select") // checked by parse
	if err := formats.CheckContentLength(c, h.d.Limits.Generic, tooLarge); err != nil {
		httpx.Abort(c, err)
		return
	}
	acc := auth.AccessFrom(c)
	dupOK := h.o.Duplicates.Allow(t.Name, t.Version)
	if !dupOK {
		dup, err := h.hasFile(ctx, acc.Project.ID, t)
		if err != nil {
			httpx.Abort(c, err)
			return
		}
		if dup {
			httpx.Abort(c, formats.ErrDuplicate(op))
			return
		}
	}
	staged, err := h.d.Registry.Ingest(ctx, c.Request.Body, registryOpts(h.d.Limits.Generic, c.Request.ContentLength))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	file := &meta.PackageFile{FileName: t.StoredName(), BlobSHA256: staged.SHA256, Size: staged.Size}
	version := t.Version
	pkg := meta.Package{ProjectID: acc.Project.ID, PackageType: "generic", Name: t.Name, Version: &version, Status: status}
	if dupOK && status == "" {
		// Nothing to check or change beyond adding the file: one statement.
		err = h.d.Registry.Publish(ctx, staged, &pkg, file)
	} else {
		err = h.commit(ctx, staged, acc.Project.ID, t, &pkg, file, dupOK, status)
	}
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if sel == "package_file" {
		c.JSON(http.StatusOK, gin.H{
			"id": file.ID, "package_id": file.PackageID, "created_at": httpx.TS(file.CreatedAt),
			"updated_at": httpx.TS(file.UpdatedAt), "size": file.Size, "file_store": 1,
			"file_md5": nilIfEmpty(staged.MD5), "file_sha1": nilIfEmpty(staged.SHA1), "file_sha256": staged.SHA256,
			"file_name": file.FileName,
			"file":      gin.H{"url": c.Request.URL.EscapedPath()},
		})
		return
	}
	c.JSON(http.StatusCreated, gin.H{"message": "201 Created"})
}

// commit publishes inside a transaction, for uploads that must check for a
// duplicate or change the package's status.
func (h *handler) commit(ctx context.Context, staged *registry.Staged, projectID int64, t Target, pkg *meta.Package, file *meta.PackageFile, dupOK bool, status string) error {
	const op = "generic.Upload"
	return h.d.Registry.Commit(ctx, staged, func(tx *meta.Tx) error {
		if !dupOK {
			if err := tx.AdvisoryLock(ctx, lockKey(projectID, t)); err != nil {
				return err
			}
		}
		created, err := tx.FindOrCreatePackage(ctx, pkg, false)
		if err != nil {
			return err
		}
		if !dupOK && !created {
			dup, err := tx.HasFile(ctx, pkg.ID, file.FileName)
			if err != nil {
				return err
			}
			if dup {
				return formats.ErrDuplicate(op)
			}
		}
		if !created && status != "" && pkg.Status != status {
			if err := tx.SetPackageStatus(ctx, pkg.ID, status); err != nil {
				return err
			}
			pkg.Status = status
		}
		file.PackageID = pkg.ID
		return tx.AddFile(ctx, file)
	})
}

// hasFile is the pre-check of a refused duplicate: whether the live
// package already holds a file of t's stored name. It reads the database
// directly, not the download path's lookup cache, whose entries may
// outlive a deletion made on another node by a few milliseconds.
func (h *handler) hasFile(ctx context.Context, projectID int64, t Target) (bool, error) {
	version := t.Version
	pkg, err := h.d.Registry.Meta.FindPackage(ctx, projectID, "generic", t.Name, &version, nil)
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = h.d.Registry.Meta.NewestFile(ctx, pkg.ID, t.StoredName())
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	return err == nil, err
}

func (h *handler) download(c *gin.Context) {
	ctx := c.Request.Context()
	t := target(c)
	acc := auth.AccessFrom(c)
	version := t.Version
	pkg, f, err := h.d.Registry.Meta.FindFile(ctx, acc.Project.ID, "generic", t.Name, &version, meta.InstallableStatuses, t.StoredName())
	if err != nil {
		httpx.Abort(c, notFound(err))
		return
	}
	formats.ServeFile(c, h.d, pkg, f, formats.ServeOptions{FileName: t.FileName})
}

func notFound(err error) error {
	if errs.Is(err, errs.NotFound) {
		return errs.New("generic.Download", errs.NotFound, "404 Not found")
	}
	return err
}

func registryOpts(limit, sizeHint int64) registry.IngestOptions {
	// The spec's decision: file_md5 and file_sha1 are computed, as GitLab
	// does. A file of up to one part gets them with its upload; a larger
	// one gets them from the digest backfill once it is stored, and reads
	// as null until then, which GitLab's API allows. Each extra digest costs
	// a core-second per 0.7-1.6 GB, and computed while the bytes stream
	// they would cap a large upload well below the speed of the S3 under
	// the gateway on a machine whose cores the store shares; no generic
	// client waits for them (downloads carry X-Checksum-SHA256 at once).
	return registry.IngestOptions{Limit: limit, TooLargeMsg: tooLarge, DeferDigests: true, SizeHint: sizeHint}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
