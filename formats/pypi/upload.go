package pypi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/formats"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/storage/registry"
)

const (
	// tooLarge answers a content part over the PyPI limit. DECISION: 413,
	// not GitLab's 400 "File is too large": the gateway can then refuse
	// from Content-Length before reading the body (as the generic format
	// does), and twine reports either as a failed upload.
	tooLarge = "413 Request Entity Too Large - File is too large"

	// maxFormBytes bounds all non-file parts of one upload together.
	// Only the truncated values GitLab keeps are held in memory; the rest
	// is read and dropped, so this bounds work, not memory. 8 MiB leaves
	// room for any real README sent as `description`.
	maxFormBytes = 8 << 20

	errTaken = "400 Bad request - Validation failed: File name has already been taken"
)

// fieldSpec says how much of a form field is kept: keep bytes are read
// into memory, then the value is truncated to runes characters (0: not
// truncated; such fields are validated instead and a longer value fails).
type fieldSpec struct {
	keep  int64
	runes int
}

// fields the gateway uses. Truncation lengths are GitLab's (spec 4.7):
// metadata is truncated, never rejected for length. Everything else twine
// sends (author, classifiers, requires_dist, gpg_signature, attestations,
// ...) is read and ignored.
var fields = map[string]fieldSpec{
	":action":                  {keep: 64},
	"name":                     {keep: MaxNameLength + 1},
	"version":                  {keep: MaxNameLength + 1},
	"sha256_digest":            {keep: 128},
	"md5_digest":               {keep: 128},
	"requires_python":          {keep: 4 * 1024},
	"metadata_version":         {keep: 4 * 16, runes: 16},
	"summary":                  {keep: 4 * 255, runes: 255},
	"description":              {keep: 4 * 4000, runes: 4000},
	"description_content_type": {keep: 4 * 128, runes: 128},
	"keywords":                 {keep: 4 * 1024, runes: 1024},
	"author_email":             {keep: 4 * 2048, runes: 2048},
	"filetype":                 {keep: 64, runes: 64},
	"pyversion":                {keep: 64, runes: 64},
}

// uploadForm collects twine's fields while the body streams by.
type uploadForm struct {
	values    map[string]string
	formBytes int64
	fileName  string // the content part's file name
}

// readField consumes one non-file part.
func (f *uploadForm) readField(name string, r io.Reader) error {
	const op = "pypi.Upload"
	spec, known := fields[name]
	_, seen := f.values[name]
	keep := known && !seen // the first occurrence of a field counts
	var kept []byte
	if keep {
		b, err := io.ReadAll(io.LimitReader(r, spec.keep))
		if err != nil {
			return malformed(op, err)
		}
		kept = b
		f.formBytes += int64(len(b))
	}
	n, err := io.Copy(io.Discard, io.LimitReader(r, maxFormBytes-f.formBytes+1))
	f.formBytes += n
	if err != nil {
		return malformed(op, err)
	}
	if f.formBytes > maxFormBytes {
		return errs.New(op, errs.TooLarge, "413 Request Entity Too Large - form fields are too large")
	}
	if !keep {
		return nil
	}
	v := string(kept)
	if n > 0 && spec.runes == 0 {
		v += "\x00" // over the kept size: marks the value invalid for validation
	}
	if spec.runes > 0 {
		v = clean(v, spec.runes)
	}
	f.values[name] = v
	return nil
}

// clean makes a metadata value storable in jsonb: valid UTF-8, no NUL
// (Postgres rejects \u0000 in jsonb), at most runes characters.
func clean(s string, runes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if utf8.RuneCountInString(s) > runes {
		s = string([]rune(s)[:runes])
	}
	return s
}

func malformed(op string, err error) error {
	return errs.E(op, errs.Invalid, errs.Msg("400 Bad request - malformed multipart/form-data body"), err)
}

// check validates what has arrived. Before the file is streamed it runs
// with final=false and only judges fields present so far (twine sends all
// metadata first, so a bad name or a file name that does not match is
// refused before a byte of the file is stored); after the body it runs
// with final=true and requires everything, in Grape's declaration order.
func (f *uploadForm) check(final bool) error {
	const op = "pypi.Upload"
	v := f.values
	if a, ok := v[":action"]; ok && a != "file_upload" {
		return errs.Param(op, ":action does not have a valid value")
	}
	name, hasName := v["name"]
	version, hasVersion := v["version"]
	if final && !hasName {
		return errs.Param(op, "name is missing")
	}
	if final && !hasVersion {
		return errs.Param(op, "version is missing")
	}
	if hasName && !ValidName(name) {
		return errs.New(op, errs.Invalid, "400 Bad request - Validation failed: Name is invalid")
	}
	if hasVersion && !ValidVersion(version) {
		return errs.New(op, errs.Invalid, "400 Bad request - Validation failed: Version is invalid")
	}
	if d := v["sha256_digest"]; d != "" && !ValidSHA256(d) {
		return errs.Param(op, "sha256_digest is invalid")
	}
	if d := v["md5_digest"]; d != "" && !ValidMD5(d) {
		return errs.Param(op, "md5_digest is invalid")
	}
	if rp, ok := v["requires_python"]; ok {
		if !utf8.ValidString(rp) || strings.ContainsRune(rp, 0) || utf8.RuneCountInString(rp) > 255 {
			return errs.New(op, errs.Invalid, "400 Bad request - Validation failed: Required python is invalid (at most 255 characters)")
		}
	}
	if f.fileName != "" && hasName && hasVersion {
		if _, err := MatchFileName(f.fileName, name, version); err != nil {
			return errs.E(op, errs.Invalid, errs.Msg("400 Bad request - %s", err.Error()), err)
		}
	}
	return nil
}

// expect is what Ingest verifies while streaming: the digests announced
// before the file part.
func (f *uploadForm) expect() registry.Digests {
	return registry.Digests{SHA256: strings.ToLower(f.values["sha256_digest"]), MD5: strings.ToLower(f.values["md5_digest"])}
}

// metadata documents stored with the package (the version's, overwritten
// by each later file, as GitLab does) and with the file.
func (f *uploadForm) metadata() (pkg, file []byte) {
	v := f.values
	pm := map[string]string{"requires_python": v["requires_python"]}
	for _, k := range []string{"metadata_version", "summary", "description", "description_content_type", "keywords", "author_email"} {
		if s, ok := v[k]; ok {
			pm[k] = s
		}
	}
	fm := map[string]string{"requires_python": v["requires_python"]}
	for _, k := range []string{"filetype", "pyversion"} {
		if s, ok := v[k]; ok {
			fm[k] = s
		}
	}
	pkg, _ = json.Marshal(pm) // map of valid strings: cannot fail
	file, _ = json.Marshal(fm)
	return pkg, file
}

// contentFileName reads the content part's file name from its
// Content-Disposition as sent: multipart.Part.FileName would reduce
// "../x.whl" to "x.whl", hiding a bad name instead of refusing it.
func contentFileName(cd string) (string, bool) {
	_, params, err := mime.ParseMediaType(cd)
	if err != nil {
		return "", false
	}
	fn, ok := params["filename"]
	return fn, ok && fn != ""
}

// upload implements twine's upload (spec 4.7). The body is read with
// mime/multipart's streaming Reader: form fields are small and kept
// (truncated) in memory, the `content` part goes straight to the blob
// store while being hashed (never to memory or local disk). Fields that
// arrive after the file are validated once the body is complete, and the
// stored blob is discarded if they fail.
func (h *handler) upload(c *gin.Context) {
	const op = "pypi.Upload"
	ctx := c.Request.Context()
	acc := auth.AccessFrom(c)
	limit := h.d.Limits.PyPI
	if limit > 0 {
		if err := formats.CheckContentLength(c, limit+maxFormBytes+64<<10, tooLarge); err != nil {
			httpx.Abort(c, err)
			return
		}
	}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		httpx.Abort(c, errs.E(op, errs.Invalid, errs.Msg("400 Bad request - the body must be multipart/form-data"), err))
		return
	}
	form := &uploadForm{values: map[string]string{}}
	var staged *registry.Staged
	fail := func(err error) {
		if staged != nil {
			h.d.Registry.Discard(ctx, staged)
		}
		httpx.Abort(c, err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail(malformed(op, err))
			return
		}
		if part.FormName() != "content" {
			err := form.readField(part.FormName(), part)
			part.Close()
			if err != nil {
				fail(err)
				return
			}
			continue
		}
		if staged != nil {
			fail(errs.Param(op, "content is given more than once"))
			return
		}
		fn, ok := contentFileName(part.Header.Get("Content-Disposition"))
		if !ok {
			fail(errs.Param(op, "content is invalid"))
			return
		}
		form.fileName = fn
		if err := form.check(false); err != nil {
			fail(err)
			return
		}
		staged, err = h.d.Registry.Ingest(ctx, part, registry.IngestOptions{Limit: limit, TooLargeMsg: tooLarge, Expect: form.expect()})
		part.Close()
		if err != nil {
			fail(err)
			return
		}
	}
	if staged == nil {
		fail(errs.Param(op, "content is missing"))
		return
	}
	if err := form.check(true); err != nil {
		fail(err)
		return
	}
	// Digests announced after the file part could not be checked while
	// streaming; check them now.
	if want := form.expect(); want.SHA256 != "" && want.SHA256 != staged.SHA256 {
		fail(errs.New(op, errs.Invalid, "400 Bad request - sha256 mismatch"))
		return
	} else if want.MD5 != "" && want.MD5 != staged.MD5 {
		fail(errs.New(op, errs.Invalid, "400 Bad request - md5 mismatch"))
		return
	}
	if staged.Size == 0 {
		fail(errs.New(op, errs.Invalid, "400 Bad request - content is empty"))
		return
	}
	up := release{
		projectID: acc.Project.ID,
		name:      form.values["name"],
		version:   form.values["version"],
		fileName:  form.fileName,
	}
	up.pkgMeta, up.fileMeta = form.metadata()
	// Commit deletes the staged object itself on any failure.
	if err := h.d.Registry.Commit(ctx, staged, func(tx *meta.Tx) error { return up.commit(ctx, tx, staged) }); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"message": "201 Created"})
}

// release is one validated file upload.
type release struct {
	projectID         int64
	name, version     string
	fileName          string
	pkgMeta, fileMeta []byte
}

// commit files the upload under its release, in Commit's transaction.
//
// DECISION (spec 4.2 leaves it UNCONFIRMED): a release is identified by
// (normalised name, canonical version), not by the exact spellings:
// "Foo_Bar 1.0.0" and "foo-bar 1.0" are one release, as they are one
// project and one version to pip. The first upload's spelling is kept.
// Otherwise a wheel and an sdist uploaded by tools spelling the name
// differently would become two packages, and the index would list two
// same-named releases.
//
// Concurrency: an advisory lock on (project, normalised name) serialises
// every upload to one project name across all gateway nodes, so "find the
// release, check the file name is new, add the file" cannot interleave:
// of N parallel uploads of one file exactly one commits and the others see
// the file and get GitLab's 400 "has already been taken".
func (r *release) commit(ctx context.Context, tx *meta.Tx, st *registry.Staged) error {
	const op = "pypi.Upload"
	norm := Normalize(r.name)
	if err := tx.AdvisoryLock(ctx, fmt.Sprintf("pypi/%d/%s", r.projectID, norm)); err != nil {
		return err
	}
	existing, err := tx.PyPIReleases(ctx, r.projectID, norm)
	if err != nil {
		return err
	}
	cv, _ := CanonicalVersion(r.version)
	var pkg *meta.Package
	for i := range existing {
		if v, ok := CanonicalVersion(existing[i].VersionString()); ok && v == cv {
			pkg = &existing[i]
			break
		}
	}
	if pkg == nil {
		version := r.version
		pkg = &meta.Package{ProjectID: r.projectID, PackageType: "pypi", Name: r.name, Version: &version, Metadata: r.pkgMeta}
		if err := tx.CreatePackage(ctx, pkg); err != nil {
			return err
		}
	} else {
		taken, err := tx.HasFile(ctx, pkg.ID, r.fileName)
		if err != nil {
			return err
		}
		if taken {
			return errs.New(op, errs.Invalid, errTaken)
		}
		if err := tx.SetPackageMetadata(ctx, pkg.ID, r.pkgMeta); err != nil {
			return err
		}
	}
	return tx.AddFile(ctx, &meta.PackageFile{PackageID: pkg.ID, FileName: r.fileName, BlobSHA256: st.SHA256, Size: st.Size, Metadata: r.fileMeta})
}
