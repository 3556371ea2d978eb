package npm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/storage/registry"
)

const (
	// MaxMetadata bounds the part of a publish (or deprecate/unpublish)
	// body that is not tarball data: manifests, readme, dist-tags. It is
	// the only part held in memory. npm puts the readme in the manifest,
	// so this is generous; GitLab then keeps at most 20 000 characters.
	MaxMetadata = 16 << 20
	// maxUnpacked bounds the decompressed bytes the package.json check
	// reads from a tarball (gzip-bomb guard).
	maxUnpacked = 2 << 30
	// tooLargeMsg: GitLab answers an oversized npm tarball with 400 "File
	// is too large."; we keep its text but send 413, the status every other
	// size refusal of the gateway uses, and the only one we can give before
	// reading a byte (from Content-Length).
	tooLargeMsg = "413 Request Entity Too Large - File is too large."
)

var errExists = errs.New("npm.Publish", errs.Forbidden, "Package already exists.")

// maxBody is the largest publish body accepted: the base64 form of the
// largest tarball plus the metadata allowance (0: unlimited).
func (h *handler) maxBody() int64 {
	l := h.d.Limits.NPM
	if l <= 0 {
		return 0
	}
	return (l+2)/3*4 + MaxMetadata
}

// forbidden gives a 403 on a write route a message saying what was
// refused (npm prints it after the status line). Errors with a fixed body
// (a PAT's insufficient_scope) are kept as they are.
func forbidden(err error, what string) error {
	var e *errs.Error
	if errors.As(err, &e) && e.Kind == errs.Forbidden && e.Body == nil {
		return errs.E(e.Op, errs.Forbidden, errs.Msg("403 Forbidden - you are not allowed to %s in this project", what), err)
	}
	return err
}

// publish handles `npm publish`: the body is parsed as a stream and the
// tarball attachment is decoded straight into the blob store while being
// hashed and checked; metadata is committed only after the bytes are
// durable, and the partial unique index on packages decides concurrent
// publishes of one version (exactly one wins, the others get 403 as GitLab
// answers for an existing npm version).
func (h *handler) publish(c *gin.Context, t target, name Name) {
	const op = "npm.Publish"
	ctx := c.Request.Context()
	acc := t.access
	if err := auth.Authorize(acc, auth.Write); err != nil {
		httpx.Abort(c, forbidden(err, "publish packages"))
		return
	}
	maxBody := h.maxBody()
	if err := checkLength(c, maxBody); err != nil {
		httpx.Abort(c, err)
		return
	}
	var staged *registry.Staged
	var tm TarballManifest
	doc, err := ParsePublish(c.Request.Body, ParseLimits{MaxBody: maxBody, MaxMeta: MaxMetadata},
		func(doc *PublishDoc, file string, data io.Reader) error {
			version, err := EarlyCheck(name, doc, file)
			if err != nil {
				return err
			}
			if version != "" {
				// Refuse a known duplicate before storing a byte; the
				// unique index still decides races below.
				_, err := h.d.Registry.Meta.FindPackage(ctx, acc.Project.ID, "npm", name.String(), &version, nil)
				if err == nil {
					return errExists
				}
				if !errs.Is(err, errs.NotFound) {
					return err
				}
			}
			staged, tm, err = h.ingestTarball(ctx, data)
			return err
		})
	if err != nil {
		h.d.Registry.Discard(ctx, staged)
		httpx.Abort(c, err)
		return
	}
	pub, err := ValidatePublish(name, doc)
	if err == nil {
		err = pub.VerifyDigests(staged.SHA1, staged.SHA512)
	}
	if err == nil {
		err = CheckTarballManifest(tm, name, pub.Version)
	}
	if err != nil {
		h.d.Registry.Discard(ctx, staged)
		httpx.Abort(c, err)
		return
	}
	project := acc.Project
	topID := project.NamespaceID
	if len(project.Namespace.TraversalIDs) > 0 {
		topID = project.Namespace.TraversalIDs[0]
	}
	topPath, _, _ := strings.Cut(project.Namespace.FullPath, "/")
	convention := name.Scoped() && strings.EqualFold(name.Scope, topPath)
	var pkg meta.Package
	err = h.d.Registry.Commit(ctx, staged, func(tx *meta.Tx) error {
		// Serialise publishes of this name@version under one top-level
		// namespace, so the cross-project check below cannot race.
		if err := tx.AdvisoryLock(ctx, fmt.Sprintf("npm:%d:%s@%s", topID, name, pub.Version)); err != nil {
			return err
		}
		if convention {
			dup, err := tx.NPMVersionElsewhere(ctx, topID, project.ID, name.String(), pub.Version)
			if err != nil {
				return err
			}
			if dup {
				return errs.New(op, errs.Invalid, "Validation failed: Package already exists")
			}
		}
		version := pub.Version
		pkg = meta.Package{ProjectID: project.ID, PackageType: "npm", Name: name.String(), Version: &version,
			Status: meta.StatusDefault, Metadata: []byte(pub.Manifest)}
		if err := tx.CreatePackage(ctx, &pkg); err != nil {
			if errs.Is(err, errs.Conflict) {
				return errExists
			}
			return err
		}
		if err := tx.AddFile(ctx, &meta.PackageFile{PackageID: pkg.ID, FileName: pub.FileName, BlobSHA256: staged.SHA256, Size: staged.Size}); err != nil {
			return err
		}
		for _, tag := range pub.Tags {
			if err := tx.SetNPMTag(ctx, project.ID, name.String(), tag, pkg.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"ok": true, "id": pkg.ID, "name": pkg.Name, "version": pub.Version, "package_type": "npm",
		"status": pkg.Status, "created_at": httpx.TS(pkg.CreatedAt), "updated_at": httpx.TS(pkg.UpdatedAt),
	})
}

// checkLength refuses a body whose declared length exceeds the limit
// before any of it is read (413).
func checkLength(c *gin.Context, limit int64) error {
	if limit > 0 && c.Request.ContentLength > limit {
		return errs.New("npm.Publish", errs.TooLarge, tooLargeMsg)
	}
	return nil
}

// ingestTarball streams decoded tarball bytes into the registry (hashing
// sha1/sha256/md5/sha512 on the way) and, through a pipe, into the
// package.json check running alongside: one pass over the data, nothing
// buffered beyond the copy buffers.
func (h *handler) ingestTarball(ctx context.Context, data io.Reader) (*registry.Staged, TarballManifest, error) {
	pr, pw := io.Pipe()
	type result struct {
		m   TarballManifest
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := InspectTarball(pr, maxUnpacked)
		// Keep draining so the tee never blocks, whatever the inspector
		// decided.
		_, _ = io.Copy(io.Discard, pr)
		done <- result{m, err}
	}()
	st, err := h.d.Registry.Ingest(ctx, io.TeeReader(data, pw), registry.IngestOptions{
		Limit: h.d.Limits.NPM, TooLargeMsg: tooLargeMsg, SHA512: true,
	})
	if err != nil {
		pw.CloseWithError(err)
		<-done
		return nil, TarballManifest{}, err
	}
	pw.Close()
	res := <-done
	if res.err != nil {
		h.d.Registry.Discard(ctx, st)
		return nil, TarballManifest{}, res.err
	}
	return st, res.m, nil
}

// readSmallBody reads a metadata-only body (deprecate, unpublish) with the
// metadata bound.
func readSmallBody(c *gin.Context, op string) ([]byte, error) {
	if c.Request.ContentLength > MaxMetadata {
		return nil, errs.New(op, errs.TooLarge, "413 Request Entity Too Large - package metadata is too large")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, MaxMetadata+1))
	if err != nil {
		return nil, errs.E(op, errs.Invalid, errs.Msg("400 Bad request - upload body could not be read"), err)
	}
	if len(body) > MaxMetadata {
		return nil, errs.New(op, errs.TooLarge, "413 Request Entity Too Large - package metadata is too large")
	}
	return body, nil
}

// deprecate handles `npm deprecate`: npm PUTs the packument back with
// "deprecated" set on the chosen versions. Applied synchronously (GitLab
// queues it); needs destroy permission, as in GitLab.
func (h *handler) deprecate(c *gin.Context, t target, name Name) {
	const op = "npm.Deprecate"
	if err := auth.Authorize(t.access, auth.Delete); err != nil {
		httpx.Abort(c, forbidden(err, "deprecate packages"))
		return
	}
	body, err := readSmallBody(c, op)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	deps, err := ParseDeprecate(body)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	versions := make([]string, len(deps))
	msgs := make([]string, len(deps))
	for i, d := range deps {
		versions[i], msgs[i] = d.Version, d.Message
	}
	n, err := h.d.Registry.Meta.DeprecateNPM(c.Request.Context(), t.access.Project.ID, name.String(), versions, msgs)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	if n == 0 {
		httpx.Abort(c, errPackageNotFound)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

var errRevConflict = &errs.Error{Op: "npm.Unpublish", Kind: errs.Conflict,
	Msg: "409 Conflict - the package changed since it was read; fetch it again and retry"}

// unpublishVersions handles the PUT <name>/-rev/<rev> of `npm unpublish
// <name>@<version>`: the body is the packument minus the removed version.
// Versions it no longer lists are deleted with their files and tags (blobs
// are left to the janitor). The rev must be the one the packument carried:
// a version published since would otherwise be deleted unseen.
func (h *handler) unpublishVersions(c *gin.Context, t target, r Route) {
	const op = "npm.UnpublishVersions"
	if err := auth.Authorize(t.access, auth.Delete); err != nil {
		httpx.Abort(c, forbidden(err, "unpublish packages"))
		return
	}
	body, err := readSmallBody(c, op)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	keep, err := ParseKeptVersions(body)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	pid := t.access.Project.ID
	err = h.d.Registry.Meta.Tx(c.Request.Context(), func(tx *meta.Tx) error {
		rows, err := tx.NPMVisibleVersions(c.Request.Context(), pid, r.Name.String())
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return errPackageNotFound
		}
		if Rev(rows) != r.Rev {
			return errRevConflict
		}
		var ids []int64
		for _, v := range rows {
			if !keep[v.Version] {
				ids = append(ids, v.PackageID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		_, err = tx.DeletePackages(c.Request.Context(), pid, ids)
		return err
	})
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

// unpublishPackage handles DELETE <name>/-rev/<rev> (`npm unpublish <name>
// --force`, or unpublishing the last version): every version of the name
// in the project goes, whatever its status.
func (h *handler) unpublishPackage(c *gin.Context, t target, r Route) {
	if err := auth.Authorize(t.access, auth.Delete); err != nil {
		httpx.Abort(c, forbidden(err, "unpublish packages"))
		return
	}
	ctx := c.Request.Context()
	pid := t.access.Project.ID
	err := h.d.Registry.Meta.Tx(ctx, func(tx *meta.Tx) error {
		rows, err := tx.NPMVisibleVersions(ctx, pid, r.Name.String())
		if err != nil {
			return err
		}
		if len(rows) > 0 && Rev(rows) != r.Rev {
			return errRevConflict
		}
		n, err := tx.DeletePackagesNamed(ctx, pid, "npm", r.Name.String())
		if err != nil {
			return err
		}
		if n == 0 {
			return errPackageNotFound
		}
		return nil
	})
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

// unpublishTarball handles DELETE <name>/-/<file>/-rev/<rev>, the CouchDB
// way of removing a tarball: the version owning the file is deleted. (npm
// 11 builds this URL wrongly, doubling the registry path, gets 404 and
// ignores it; the version is already gone by then through the -rev PUT.)
func (h *handler) unpublishTarball(c *gin.Context, t target, r Route) {
	if err := auth.Authorize(t.access, auth.Delete); err != nil {
		httpx.Abort(c, forbidden(err, "unpublish packages"))
		return
	}
	ctx := c.Request.Context()
	pid := t.access.Project.ID
	pkg, _, err := h.d.Registry.Meta.NPMTarball(ctx, pid, r.Name.String(), r.File)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			err = errPackageNotFound
		}
		httpx.Abort(c, err)
		return
	}
	err = h.d.Registry.Meta.Tx(ctx, func(tx *meta.Tx) error {
		rows, err := tx.NPMVisibleVersions(ctx, pid, r.Name.String())
		if err != nil {
			return err
		}
		if Rev(rows) != r.Rev {
			return errRevConflict
		}
		_, err = tx.DeletePackages(ctx, pid, []int64{pkg.ID})
		return err
	})
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}
