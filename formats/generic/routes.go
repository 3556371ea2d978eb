package generic

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/storage/registry"
)

// Register mounts the generic routes on the /api/v4 group.
func Register(rg *gin.RouterGroup, d formats.Deps) {
	h := &handler{d: d}
	g := rg.Group("/projects/:id/packages/generic", d.Auth.PackageProject("id"))
	g.PUT("/*path", auth.Require(auth.Write), h.upload)
	g.GET("/*path", auth.Require(auth.Read), h.download)
	g.HEAD("/*path", auth.Require(auth.Read), h.download)
}

type handler struct {
	d formats.Deps
}

const tooLarge = "413 Request Entity Too Large - File is too large"

// upload stores one file. Decision: an oversized file is answered 413 (GitLab
// says 400 "File is too large"; the spec tolerates 413, and 413 lets the
// gateway refuse from Content-Length before reading the body).
func (h *handler) upload(c *gin.Context) {
	const op = "generic.Upload"
	ctx := c.Request.Context()
	t, err := ParsePath(c.Param("path"), c.Query("path"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	status := c.Query("status")
	if status != "" && status != meta.StatusDefault && status != meta.StatusHidden {
		httpx.Abort(c, errs.Param(op, "status does not have a valid value"))
		return
	}
	sel := c.Query("select")
	if sel != "" && sel != "package_file" {
		httpx.Abort(c, errs.Param(op, "select does not have a valid value"))
		return
	}
	if err := formats.CheckContentLength(c, h.d.Limits.Generic, tooLarge); err != nil {
		httpx.Abort(c, err)
		return
	}
	acc := auth.AccessFrom(c)
	staged, err := h.d.Registry.Ingest(ctx, c.Request.Body, registryOpts(h.d.Limits.Generic))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	file := &meta.PackageFile{FileName: t.StoredName(), BlobSHA256: staged.SHA256, Size: staged.Size}
	var pkg meta.Package
	err = h.d.Registry.Commit(ctx, staged, func(tx *meta.Tx) error {
		version := t.Version
		pkg = meta.Package{ProjectID: acc.Project.ID, PackageType: "generic", Name: t.Name, Version: &version, Status: status}
		created, err := tx.FindOrCreatePackage(ctx, &pkg)
		if err != nil {
			return err
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

func (h *handler) download(c *gin.Context) {
	ctx := c.Request.Context()
	t, err := ParsePath(c.Param("path"), "")
	if err != nil {
		httpx.Abort(c, err)
		return
	}
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

func registryOpts(limit int64) registry.IngestOptions {
	// Decision: only sha256 is computed for generic files; file_md5 and
	// file_sha1 are null, which GitLab's API allows (the spec preferred
	// both filled). Each extra digest costs a second of CPU per 0.7-1.6 GB,
	// and on a small machine they would cap uploads well below the speed of
	// the S3 under the gateway; no generic client reads them (downloads
	// carry X-Checksum-SHA256). Formats whose clients need sha1 or md5
	// (npm, Maven, PyPI) compute them, and fill them in for bytes a generic
	// upload stored first.
	return registry.IngestOptions{Limit: limit, TooLargeMsg: tooLarge, SkipMD5: true, SkipSHA1: true}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
