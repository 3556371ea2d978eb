// Package formats holds what every format package shares: its dependencies
// and the one way files are served. Each format lives in its own
// subpackage (generic, npm, maven, pypi) and none imports another.
package formats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/auth"
	"github.com/pkgate/pkgate/internal/bufpool"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/internal/httpx"
	"github.com/pkgate/pkgate/storage/blob"
	"github.com/pkgate/pkgate/storage/meta"
	"github.com/pkgate/pkgate/storage/registry"
)

// Limits are per-format maximum file sizes in bytes (0: unlimited).
type Limits struct {
	Generic int64
	NPM     int64
	Maven   int64
	PyPI    int64
}

// Deps is what a format's Register receives.
type Deps struct {
	Registry    *registry.Registry
	Auth        *auth.Authenticator
	ExternalURL string // no trailing slash
	Limits      Limits
	Log         *slog.Logger
	// RedirectDownloads answers downloads with a short-lived presigned URL
	// of the blob store (302), as GitLab does with direct download enabled,
	// when the driver supports it. Off by default: streaming keeps the
	// store private and works behind any network layout.
	RedirectDownloads bool
	RedirectTTL       time.Duration
	// Docs caches rendered metadata documents, shared by all formats.
	Docs *DocCache
}

// URL joins the external URL with a path.
func (d Deps) URL(path string) string { return d.ExternalURL + path }

// CheckContentLength refuses an upload whose declared size exceeds limit
// before a byte of the body is read (413).
func CheckContentLength(c *gin.Context, limit int64, msg string) error {
	if limit > 0 && c.Request.ContentLength > limit {
		return errs.New("formats.CheckContentLength", errs.TooLarge, msg)
	}
	return nil
}

// ServeOptions set the headers of a download.
type ServeOptions struct {
	ContentType string // default application/octet-stream
	FileName    string // for Content-Disposition; default the stored name
	Inline      bool   // no attachment disposition
	// Streamed keeps a download in the gateway when redirects are on:
	// the answer carries headers a redirect to S3 would lose.
	Streamed bool
	// HeadIsNoDownload leaves last_downloaded_at alone on HEAD. GitLab's
	// Maven download helper (download_package_file!) touches it only
	// `unless request.head?` (Gradle sends HEADs to check changing
	// modules); the other formats' helper (present_package_file!)
	// records every request, HEAD included.
	HeadIsNoDownload bool
}

// ContentDisposition builds an RFC 6266 attachment header value with both
// the plain and the UTF-8 encoded name.
func ContentDisposition(name string) string {
	plain := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, plain, extValue(name))
}

// extValue percent-encodes every byte but RFC 3986's unreserved
// characters, as Rails does for GitLab's downloads (ActionDispatch's
// ContentDisposition, ERB::Util.url_encode). RFC 8187 allows a few more
// (attr-char), but none of '@', ';', ',', '=' or a space: a path escape
// leaves some of them as they are, and a parser then reads a name cut
// short or an invalid header.
func extValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ServeFile streams a package file with Range, HEAD and conditional
// request support (http.ServeContent, as GitLab's Workhorse does), or
// redirects to a presigned URL when configured, unless the client's
// Authorization header would follow the redirect to the store (see
// authorizationFollows). A file whose blob the
// digest backfill found damaged is refused, whichever way it would be
// sent (and not counted as downloaded): its object holds other bytes than
// the file was published with, and a client would install them.
func ServeFile(c *gin.Context, d Deps, pkg *meta.Package, f *meta.PackageFile, o ServeOptions) {
	ctx := c.Request.Context()
	if f.Damaged {
		httpx.Abort(c, damaged(fmt.Errorf("blob %s is marked damaged", f.BlobSHA256)))
		return
	}
	if o.ContentType == "" {
		o.ContentType = "application/octet-stream"
	}
	if o.FileName == "" {
		o.FileName = f.FileName
	}
	disposition := ContentDisposition(o.FileName)
	if pkg != nil && !(o.HeadIsNoDownload && c.Request.Method == http.MethodHead) {
		id := pkg.ID
		go d.Registry.Meta.TouchDownload(context.WithoutCancel(ctx), id) //nolint:errcheck // best effort
	}
	if d.RedirectDownloads && !o.Streamed && c.Request.Method == http.MethodGet {
		ttl := d.RedirectTTL
		if ttl <= 0 {
			ttl = 5 * time.Minute
		}
		so := blob.SignOptions{ContentType: o.ContentType}
		if !o.Inline {
			so.ContentDisposition = disposition
		}
		if u, err := d.Registry.SignedURL(ctx, f, ttl, so); err == nil && !authorizationFollows(c.Request, d.ExternalURL, u) {
			c.Header("Cache-Control", "no-store")
			c.Redirect(http.StatusFound, u)
			return
		}
	}
	h := c.Writer.Header()
	h.Set("Content-Type", o.ContentType)
	if !o.Inline {
		h.Set("Content-Disposition", disposition)
	}
	h.Set("Content-Transfer-Encoding", "binary")
	h.Set("X-Checksum-SHA256", f.BlobSHA256)
	if f.SHA1 != "" {
		h.Set("X-Checksum-SHA1", f.SHA1)
	}
	if f.MD5 != "" {
		h.Set("X-Checksum-MD5", f.MD5)
	}
	if data, ok, err := d.Registry.Small(ctx, f); ok {
		if err != nil {
			httpx.Abort(c, storeError(err))
			return
		}
		http.ServeContent(c.Writer, c.Request, "", f.CreatedAt, bytes.NewReader(data))
		return
	}
	r := d.Registry.Open(ctx, f)
	defer r.Close()
	if c.Request.Method == http.MethodGet && c.Request.Header.Get("Range") == "" && f.Size > 0 {
		// Open now so a dead store is a clean 503, not a truncated 200.
		if err := r.Prime(); err != nil {
			httpx.Abort(c, storeError(err))
			return
		}
	}
	http.ServeContent(bigCopyWriter{c.Writer}, c.Request, "", f.CreatedAt, r)
}

// authorizationFollows reports whether a client following a redirect to
// the presigned URL signed may send the request's Authorization header
// along, so that the store would refuse the download: S3 answers a
// request carrying both a presigned query and an Authorization header with
// 400 (MinIO: "request has multiple authentication types"; AWS: "Only one
// auth mechanism allowed"). Such a download is streamed instead.
//
// Clients disagree on when they drop the header. curl (7.83 and later) and
// Python's requests (pip, twine, python-gitlab) drop it when the host or
// the port changes; npm's fetcher (make-fetch-happen) and Go's http.Client
// only when the host name changes, so `npm install` with its Bearer token
// failed against a store on the gateway's host name and another port (a
// MinIO next to the gateway). The host name alone is therefore compared,
// as those clients compare it, with the host the request addressed and
// with the external URL's (a proxy may rewrite Host). Credentials in
// other headers (PRIVATE-TOKEN, Deploy-Token, Job-Token) are not S3
// authentication: the store ignores them, and such downloads still
// redirect.
func authorizationFollows(r *http.Request, externalURL, signed string) bool {
	if r.Header.Get("Authorization") == "" {
		return false
	}
	su, err := url.Parse(signed)
	if err != nil {
		return true
	}
	host := su.Hostname()
	if strings.EqualFold((&url.URL{Host: r.Host}).Hostname(), host) {
		return true
	}
	eu, err := url.Parse(externalURL)
	return err == nil && strings.EqualFold(eu.Hostname(), host)
}

// damaged is the answer for a file whose object holds other bytes than
// the file was published with: a client would install them.
func damaged(cause error) error {
	return errs.E("formats.ServeFile", errs.Unavailable, errs.Msg("503 Service Unavailable - file data is damaged in blob storage"), cause)
}

func storeError(err error) error {
	if errors.Is(err, registry.ErrDamaged) {
		return damaged(err)
	}
	if errors.Is(err, blob.ErrNotFound) {
		return errs.E("formats.ServeFile", errs.Unavailable, errs.Msg("503 Service Unavailable - file data is missing from blob storage"), err)
	}
	return errs.E("formats.ServeFile", errs.Unavailable, errs.Msg("503 Service Unavailable - blob storage unavailable"), err)
}

var copyPool = bufpool.New(1<<20, 64)

// bigCopyWriter gives http.ServeContent's body copy a 1 MiB buffer instead
// of io.Copy's 32 KiB: a large download then costs a few hundred read and
// write calls per GiB rather than tens of thousands. ServeContent sends a
// body as io.CopyN from the Seeker, so ReadFrom sees it behind a
// LimitedReader and hands the span to the Seeker, which can send a large
// one from parallel ranges without copying it into this buffer.
type bigCopyWriter struct{ http.ResponseWriter }

// writerOnly hides ReadFrom so io.CopyBuffer uses the given buffer.
type writerOnly struct{ io.Writer }

func (w bigCopyWriter) ReadFrom(r io.Reader) (int64, error) {
	bp := copyPool.Get()
	defer copyPool.Put(bp)
	if lr, ok := r.(*io.LimitedReader); ok {
		if s, ok := lr.R.(*blob.Seeker); ok {
			n, err := s.WriteN(writerOnly{w.ResponseWriter}, lr.N, *bp)
			lr.N -= n
			return n, err
		}
	}
	return io.CopyBuffer(writerOnly{w.ResponseWriter}, r, *bp)
}
