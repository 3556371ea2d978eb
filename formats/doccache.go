package formats

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/singleflight"

	"github.com/pkgate/pkgate/storage/meta"
)

// Doc is a rendered metadata document, kept with its gzip form and an ETag.
type Doc struct {
	Body     []byte // nil: the builder found nothing to render
	Modified time.Time
	Gzip     []byte
	ETag     string
	// GzipETag is the gzip form's ETag: a strong validator names one
	// representation's bytes (RFC 9110 8.8.3), and the compressed body is
	// another representation, so a cache or a range request holding one
	// can never be told it holds the other.
	GzipETag    string
	ContentType string
	generation  int64
	expires     time.Time
}

// DocCache keeps rendered documents (packuments, simple indexes,
// maven-metadata.xml) so that a read costs one primary-key query instead of
// a rebuild from every version row. A cached copy is used only while the
// package generation of its projects and type is the one it was built at
// (see migrations/0006_generations.sql; generic packages, which have no
// document, keep none: 0018), so a publish or delete on any node is seen by
// the very next request. Concurrent misses for one key build the document
// once.
type DocCache struct {
	Store *meta.Store
	TTL   time.Duration // upper bound on an entry's life (memory hygiene)
	Max   int           // entries kept before the cache is reset

	mu    sync.Mutex
	m     map[string]*Doc
	group singleflight.Group
}

// NewDocCache returns a cache over store.
func NewDocCache(store *meta.Store) *DocCache {
	return &DocCache{Store: store, TTL: 10 * time.Minute, Max: 20000, m: map[string]*Doc{}}
}

// Get returns the document for key, built by build when the cached copy is
// missing or stale. projectIDs and typ name what the document depends on.
func (dc *DocCache) Get(ctx context.Context, key string, projectIDs []int64, typ, contentType string, build func() ([]byte, time.Time, error)) (*Doc, error) {
	gen, err := dc.Store.Generation(ctx, projectIDs, typ)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	dc.mu.Lock()
	d, ok := dc.m[key]
	dc.mu.Unlock()
	if ok && d.generation == gen && now.Before(d.expires) {
		return d, nil
	}
	v, err, _ := dc.group.Do(key+"\x00"+strconv.FormatInt(gen, 10), func() (any, error) {
		body, modified, err := build()
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		d := &Doc{Body: body, Modified: modified, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`, ContentType: contentType, generation: gen, expires: now.Add(dc.TTL)}
		if len(body) > 1024 {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
			zw.Write(body)
			zw.Close()
			d.Gzip = buf.Bytes()
			d.GzipETag = strings.TrimSuffix(d.ETag, `"`) + `-gzip"`
		}
		dc.mu.Lock()
		if len(dc.m) >= dc.Max {
			dc.m = map[string]*Doc{}
		}
		if cur, ok := dc.m[key]; !ok || cur.generation <= gen {
			dc.m[key] = d
		}
		dc.mu.Unlock()
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Doc), nil
}

// Serve writes a document with ETag/If-None-Match (304) and gzip when the
// client accepts it; each form has its own ETag, and a 304 answers only a
// validator of the form this request would get. HEAD gets the headers
// only.
func (d *Doc) Serve(c *gin.Context, status int) {
	h := c.Writer.Header()
	body, etag, gz := d.Body, d.ETag, d.Gzip != nil && AcceptsGzip(c.GetHeader("Accept-Encoding"))
	if gz {
		body, etag = d.Gzip, d.GzipETag
	}
	h.Set("ETag", etag)
	h.Set("Vary", "Accept, Accept-Encoding")
	h.Set("Cache-Control", "private, no-cache")
	if status == http.StatusOK && ETagMatch(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", d.ContentType)
	if c.Request.Method == http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(body)))
		c.Status(status)
		return
	}
	c.Data(status, d.ContentType, body)
}
