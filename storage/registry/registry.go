// Package registry is the core every format publishes through: it streams a
// body into the blob store while hashing it, and commits metadata only after
// the bytes are durable, in one Postgres transaction.
//
// Content addressing lives in the database, not in object names: each upload
// is written once, straight to a fresh key (blobs/<uuid>), and the blobs row
// (sha256 primary key) records which object holds those bytes. A second
// upload of the same bytes finds the row and drops its own object. This
// avoids the stage-then-server-side-copy step of registries that name
// objects by digest, which would make S3 write every byte twice (a 1 GiB
// upload would cost 2 GiB of writes and a full extra pass of latency).
//
// Order, and why nothing is orphaned:
//  1. stream to blobs/<uuid> while hashing (sha256, sha1, md5, optional sha512);
//  2. verify size limit and any digest the client announced; on failure the
//     object is ours alone and is deleted;
//  3. commit the object (S3 CompleteMultipartUpload / fsync+rename);
//  4. one transaction: upsert the blob row, then the format's package and
//     file rows. If the existing row's object is gone (storage loss), the row
//     is healed to point at ours (Gitea #39215's lesson); if the digest
//     backfill marked it damaged, the upsert itself points it at ours;
//  5. after commit, if the row kept another object, ours is deleted. If the
//     transaction failed, ours is deleted too: no row can name it.
//
// Objects of other uploads are never deleted on a request's failure path;
// unreferenced blobs are freed by the janitor after a grace period.
package registry

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/pkgate/pkgate/internal/bufpool"
	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/storage/blob"
	"github.com/pkgate/pkgate/storage/meta"
)

// Registry joins the metadata store and the blob store.
type Registry struct {
	Meta  *meta.Store
	Blobs blob.Driver
	Log   *slog.Logger
	Cache *BlobCache // optional: small hot blobs in memory
	// BackgroundDigests computes the digests of an upload past its first
	// backgroundAfter bytes at the lowest scheduling priority (see
	// Ingest).
	BackgroundDigests bool
	// OnBackfill, if set, hears of each blob the digest backfill read
	// (metrics): BackfillFilled (with its size), BackfillFailed or
	// BackfillDamaged.
	OnBackfill func(result string, size int64)

	wake     backfillWake
	failedMu sync.Mutex
	failedAt map[string]time.Time // blobs the backfill could not fill, when
}

// backgroundAfter is where an upload's digests move to the background:
// one part, so a small upload's digests never wait for a worker.
const backgroundAfter = 8 << 20

// A digestJob is one chunk for one digest (hashInBackground); done is the
// digest's own, reused for each of its chunks.
type digestJob struct {
	d    io.Writer
	data []byte
	done chan struct{}
}

// Digests of one blob, lowercase hex.
type Digests struct {
	SHA256 string
	SHA1   string
	MD5    string
	SHA512 string // empty unless requested
	Size   int64
}

// IngestOptions tune one upload.
type IngestOptions struct {
	// Limit is the maximum size in bytes (0: unlimited). Exceeding it is a
	// TooLarge error and nothing is kept.
	Limit int64
	// TooLargeMsg overrides the client-facing text for the size error.
	TooLargeMsg string
	// SHA512 also computes sha512 (npm integrity, Maven checksum files).
	SHA512 bool
	// DeferDigests computes md5 and sha1 with the upload only while it fits
	// in one part (backgroundAfter bytes); a larger upload leaves them empty
	// and the backfill (RunBackfill) fills them from the stored object once
	// the upload is committed. Either is computed anyway when Expect names
	// it. Each costs a core-second per 0.7-1.6 GB; on a machine whose cores
	// the object store shares, computed with the upload they would cap it
	// well below the store's speed.
	DeferDigests bool
	// SizeHint is the size the client announced (Content-Length; < 0:
	// unknown). With DeferDigests, a larger hint than one part skips md5
	// and sha1 from the first byte instead of from the part boundary.
	SizeHint int64
	// Expect holds digests the client announced; a mismatch is Invalid.
	Expect Digests
}

// Staged is a blob durable in the store but not yet referenced by metadata.
// Pass it to Commit, or Discard it.
type Staged struct {
	Digests
	key string
}

// chunkSize is the unit the body is read, hashed and written in.
const chunkSize = 1 << 20

// hasher computes the digests of a stream, each digest in its own
// goroutine: on a 2-core machine sha256, sha1 and md5 in one goroutine would
// cap an upload at about 350 MiB/s before any I/O. sha256 is always
// computed: it is the blob's identity.
type hasher struct {
	sha256, sha1, md5, sha512 hash.Hash
	all                       []hash.Hash
}

func newHasher(withSHA1, withMD5, withSHA512 bool) *hasher {
	h := &hasher{sha256: sha256.New()}
	h.all = []hash.Hash{h.sha256}
	if withSHA1 {
		h.sha1 = sha1.New()
		h.all = append(h.all, h.sha1)
	}
	if withMD5 {
		h.md5 = md5.New()
		h.all = append(h.all, h.md5)
	}
	if withSHA512 {
		h.sha512 = sha512.New()
		h.all = append(h.all, h.sha512)
	}
	return h
}

func (h *hasher) digests(size int64) Digests {
	d := Digests{SHA256: hex.EncodeToString(h.sha256.Sum(nil)), Size: size}
	if h.sha1 != nil {
		d.SHA1 = hex.EncodeToString(h.sha1.Sum(nil))
	}
	if h.md5 != nil {
		d.MD5 = hex.EncodeToString(h.md5.Sum(nil))
	}
	if h.sha512 != nil {
		d.SHA512 = hex.EncodeToString(h.sha512.Sum(nil))
	}
	return d
}

// ErrTooLarge is wrapped by size-limit errors.
var ErrTooLarge = errors.New("registry: body exceeds limit")

var chunkPool = bufpool.New(chunkSize, 64)

// Ingest streams src into a new object, hashing as it goes. Hashing runs in
// its own goroutine per digest on the chunk just read, while the request
// goroutine reads the next chunk: on a large upload the digests (the
// gateway's main CPU cost) overlap with network I/O instead of adding to
// it. When the store's writer lends its own buffer (blob.Lender, the S3
// driver) the body is read straight into it; otherwise into pooled chunks
// that the writer copies. Memory is a few chunks plus the driver's part
// buffers, whatever the size.
//
// With BackgroundDigests, the digests of an upload past its first part
// run on threads of the lowest priority (hashInBackground). They are the
// one piece of an upload nobody waits for byte by byte: the body goes to the store as it
// comes, and only a part's sending and the commit wait for the digests
// to catch up. Where the object store shares the machine (MinIO beside
// the gateway, the single-box install), the store is what bounds an
// upload, and at equal priority the hash took CPU from it; given the
// idle time between its bursts instead, the gateway's 1 GiB uploads ran
// at 1.10× (rounds 1.03–1.15) and 1.05× (0.94–0.97 the other way round)
// the speed of the same build without it, alternating (2026-11-26; nice
// 10 and 5 gained nothing measurable). On a machine of its own the
// digests yield only to the gateway's other work, and only when that
// keeps every core busy. The price: where other processes saturate the
// machine, a large upload's digests get what CPU they leave.
func (r *Registry) Ingest(ctx context.Context, src io.Reader, opt IngestOptions) (*Staged, error) {
	const op = "registry.Ingest"
	key := "blobs/" + uuid.NewString()
	w, err := r.Blobs.Writer(ctx, key)
	if err != nil {
		return nil, storeErr(op, err)
	}
	deferLarge := opt.DeferDigests && opt.SizeHint > backgroundAfter
	storeMD5 := r.storeMD5(opt, deferLarge)
	h := newHasher(!deferLarge || opt.Expect.SHA1 != "", (!deferLarge || opt.Expect.MD5 != "") && !storeMD5, opt.SHA512 || opt.Expect.SHA512 != "")
	// dropped[i] says digest i gave up at the part boundary (DeferDigests);
	// each goroutine writes its own, read after hashing.Wait.
	dropped := make([]bool, len(h.all))
	deferrable := func(d hash.Hash) bool {
		return opt.DeferDigests && ((d == h.md5 && opt.Expect.MD5 == "") || (d == h.sha1 && opt.Expect.SHA1 == ""))
	}
	const inFlight = 3
	// Each chunk goes to every digest goroutine, and each calls release
	// when it is done with it.
	type chunk struct {
		data    []byte
		release func()
	}
	work := make([]chan chunk, len(h.all))
	var hashing sync.WaitGroup
	for i, d := range h.all {
		work[i] = make(chan chunk, inFlight)
		hashing.Add(1)
		go func(i int, d hash.Hash, in <-chan chunk) {
			defer hashing.Done()
			var seen int
			deferred := deferrable(d)
			job := digestJob{d: d, done: make(chan struct{}, 1)}
			for c := range in {
				if deferred && seen+len(c.data) > backgroundAfter { // and so every chunk after it
					dropped[i] = true
				} else if r.BackgroundDigests && seen >= backgroundAfter {
					job.data = c.data
					hashInBackground(&job)
				} else {
					d.Write(c.data)
				}
				seen += len(c.data)
				c.release()
			}
		}(i, d, work[i])
	}
	send := func(data []byte, release func()) {
		for _, w := range work {
			w <- chunk{data, release}
		}
	}

	// Where the body is read to. A lent buffer's bytes stay the writer's:
	// before it sends them on or moves them (settle), the digests must be
	// done with them. Pooled chunks go back to the pool when the last
	// digest is done.
	lender, lends := w.(blob.Lender)
	var lent sync.WaitGroup
	var free chan *[]byte
	if !lends {
		free = make(chan *[]byte, inFlight)
		for i := 0; i < inFlight; i++ {
			free <- chunkPool.Get()
		}
	}
	next := func() ([]byte, func(n int) error, error) {
		if lends {
			p, err := lender.Lend(chunkSize, lent.Wait)
			if err != nil {
				return nil, nil, err
			}
			return p, func(n int) error {
				if n == 0 {
					return nil
				}
				lender.Filled(n)
				lent.Add(len(work))
				send(p[:n], lent.Done)
				return nil
			}, nil
		}
		bp := <-free
		return *bp, func(n int) error {
			if n == 0 {
				free <- bp
				return nil
			}
			if _, err := w.Write((*bp)[:n]); err != nil {
				free <- bp
				return err
			}
			left := new(atomic.Int32)
			left.Store(int32(len(work)))
			send((*bp)[:n], func() {
				if left.Add(-1) == 0 {
					free <- bp
				}
			})
			return nil
		}, nil
	}
	finish := func() {
		for _, w := range work {
			close(w)
		}
		hashing.Wait()
		for i := 0; i < cap(free); i++ {
			chunkPool.Put(<-free)
		}
	}
	fail := func(err error) (*Staged, error) {
		finish()
		_ = w.Cancel(ctx)
		return nil, err
	}
	var size int64
	for {
		p, done, err := next()
		if err != nil {
			return fail(storeErr(op, err))
		}
		n, rerr := readAtLeast(src, p, min(len(p), chunkSize/4))
		size += int64(n)
		if opt.Limit > 0 && size > opt.Limit {
			_ = done(0)
			msg := opt.TooLargeMsg
			if msg == "" {
				msg = "413 Request Entity Too Large"
			}
			return fail(errs.E(op, errs.TooLarge, errs.Msg("%s", msg), ErrTooLarge))
		}
		if err := done(n); err != nil {
			return fail(storeErr(op, err))
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			var e *errs.Error
			if errors.As(rerr, &e) {
				return fail(rerr)
			}
			return fail(errs.E(op, errs.Invalid, errs.Msg("400 Bad request - upload body could not be read"), rerr))
		}
	}
	finish()
	for i, gone := range dropped {
		switch {
		case !gone:
		case h.all[i] == h.md5:
			h.md5 = nil
		case h.all[i] == h.sha1:
			h.sha1 = nil
		}
	}
	d := h.digests(size)
	if err := verify(d, opt.Expect); err != nil {
		_ = w.Cancel(ctx)
		return nil, errs.E(op, err)
	}
	if err := w.Commit(ctx); err != nil {
		return nil, storeErr(op, err)
	}
	if m, ok := w.(blob.MD5Reporter); ok && storeMD5 {
		d.MD5 = m.StoredMD5() // or "", for the backfill
	}
	return &Staged{Digests: d, key: key}, nil
}

// storeMD5 says whether an upload takes its md5 from the store
// (blob.StoreMD5) rather than computing it: only where it may be left to
// the backfill anyway (DeferDigests, none announced), so that an answer
// the store's writer cannot vouch for leaves it empty for the backfill,
// as a large upload does; and only for an announced size the store
// reports md5s of. A body of unknown size may turn out larger, and one
// that fills a part exactly goes out as a multipart upload when read
// into the writer's buffer (it cannot tell the end from a pause), so
// those compute md5 as before. A 64 KiB upload's md5 was a seventh of
// the gateway's CPU per upload; without it, small uploads ran at 1.04×
// (rounds 0.98–1.08) the rate, alternating (2026-11-27).
func (r *Registry) storeMD5(opt IngestOptions, deferLarge bool) bool {
	if !opt.DeferDigests || opt.Expect.MD5 != "" || deferLarge {
		return false
	}
	s, ok := r.Blobs.(blob.StoreMD5)
	if !ok {
		return false
	}
	max := s.StoredMD5Max()
	return max > 0 && opt.SizeHint >= 0 && opt.SizeHint <= max
}

// readAtLeast reads into p until it holds min bytes or src fails, like
// io.ReadAtLeast, but answers src's own error: only io.EOF ends an upload.
// io.ReadAtLeast reports a clean end before min bytes as
// io.ErrUnexpectedEOF, and drops an error that comes with the min-th byte;
// net/http's request body answers io.ErrUnexpectedEOF for a body cut short
// of its Content-Length (or an unterminated chunked one), once, and io.EOF
// after it. Ingest read both as a clean end, and stored a client's
// truncated upload as a complete file, with digests of the truncated
// bytes (with the fs driver every time; with S3 unless the request's
// context was cancelled before the commit).
func readAtLeast(src io.Reader, p []byte, min int) (n int, err error) {
	for n < min && err == nil {
		var nn int
		nn, err = src.Read(p[n:])
		n += nn
	}
	return n, err
}

func verify(got, want Digests) error {
	check := func(name, g, w string) error {
		if w != "" && !strings.EqualFold(g, w) {
			return errs.New("registry.verify", errs.Invalid, fmt.Sprintf("400 Bad request - %s mismatch", name))
		}
		return nil
	}
	if err := check("sha256", got.SHA256, want.SHA256); err != nil {
		return err
	}
	if want.SHA1 != "" && got.SHA1 != "" {
		if err := check("sha1", got.SHA1, want.SHA1); err != nil {
			return err
		}
	}
	if want.MD5 != "" && got.MD5 != "" {
		if err := check("md5", got.MD5, want.MD5); err != nil {
			return err
		}
	}
	if want.SHA512 != "" && got.SHA512 != "" {
		if err := check("sha512", got.SHA512, want.SHA512); err != nil {
			return err
		}
	}
	if want.Size > 0 && got.Size != want.Size {
		return errs.New("registry.verify", errs.Invalid, "400 Bad request - size mismatch")
	}
	return nil
}

// storeErr maps a blob-store failure to 503 with a clear message.
func storeErr(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return errs.E(op, errs.Invalid, errs.Msg("400 Bad request - upload cancelled"), err)
	}
	return errs.E(op, errs.Unavailable, errs.Msg("503 Service Unavailable - blob storage unavailable"), err)
}

// Discard deletes a staged object that will not be committed.
func (r *Registry) Discard(ctx context.Context, s *Staged) {
	if s == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.Blobs.Delete(dctx, s.key); err != nil && r.Log != nil {
		r.Log.Warn("could not delete unreferenced upload; the janitor will", "key", s.key, "err", err)
	}
}

// metaTimeout bounds the metadata write of an upload whose bytes are
// stored, which no longer follows the client's context (see detach).
const metaTimeout = 30 * time.Second

// detach returns the context an upload's metadata write runs under: the
// request's values (its audit event) without its cancellation. A client
// that hangs up once every byte is stored would otherwise cancel the
// statement in flight, and database/sql reports "canceled" for a
// statement Postgres may already have committed; the object, deleted as
// a failed upload's, would then be named by committed rows.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), metaTimeout)
}

// failed drops s after a failed metadata write, unless the write may have
// been committed (meta.ErrOutcomeUnknown): then the object stays, and the
// janitor frees it after its grace period if no row names it.
func (r *Registry) failed(ctx context.Context, s *Staged, err error) {
	if errors.Is(err, meta.ErrOutcomeUnknown) {
		if r.Log != nil {
			r.Log.Warn("upload's metadata write has an unknown outcome; keeping its object", "key", s.key, "err", err)
		}
		return
	}
	r.Discard(ctx, s)
}

// Commit makes s the blob for its sha256 and runs fn in the same
// transaction, which adds the format's package and file rows. Whatever
// happens, no row ends up naming a missing object.
func (r *Registry) Commit(ctx context.Context, s *Staged, fn func(tx *meta.Tx) error) error {
	const op = "registry.Commit"
	ctx, cancel := detach(ctx)
	defer cancel()
	var row meta.KeptBlob
	err := r.Meta.Tx(ctx, func(tx *meta.Tx) error {
		var err error
		if row, err = tx.UpsertBlob(ctx, s.blobRow()); err != nil {
			return err
		}
		k := row.Key
		if k != s.key {
			// These bytes were stored before. Trust the row only if its
			// object still exists; otherwise point the row at ours (the
			// row is locked by the upsert, so this cannot race).
			if _, err := r.Blobs.Stat(ctx, k); errors.Is(err, blob.ErrNotFound) {
				if r.Log != nil {
					r.Log.Warn("blob row pointed at a missing object; healing", "sha256", s.SHA256, "key", k)
				}
				if err := tx.SetBlobKey(ctx, s.SHA256, s.key); err != nil {
					return err
				}
				row.Key = s.key
			} else if err != nil {
				return storeErr(op, err)
			}
		}
		return fn(tx)
	})
	switch {
	case err != nil:
		r.failed(ctx, s, err)
		return err
	case row.Key != s.key:
		r.Discard(ctx, s)
	case row.Healed:
		r.healedDamaged(ctx, s)
	}
	s.adopt(row)
	r.deferredDigests(s)
	return nil
}

// adopt takes the md5 and sha1 an upload left to the backfill from the
// blob row, when an earlier upload of the same bytes filled them: the
// upload's answer then shows them, and no backfill pass is woken for a
// row that has them.
func (s *Staged) adopt(row meta.KeptBlob) {
	if s.MD5 == "" {
		s.MD5 = row.MD5
	}
	if s.SHA1 == "" {
		s.SHA1 = row.SHA1
	}
}

// Publish records s as file f of package p in one statement
// (meta.PublishFile), for publishes that need no checks inside a
// transaction. It keeps Commit's guarantee: no row names a missing object.
// When the bytes were stored before, the blob row keeps the older object;
// only if that object turns out to be gone is the row pointed at ours. The
// row then names a missing object between the statement and that repair,
// as it did before this upload; a failed repair fails the upload, and the
// client's retry repeats it.
func (r *Registry) Publish(ctx context.Context, s *Staged, p *meta.Package, f *meta.PackageFile) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	row, err := r.Meta.PublishFile(ctx, s.blobRow(), p, f)
	if err != nil {
		r.failed(ctx, s, err)
		return err
	}
	s.adopt(row)
	r.deferredDigests(s)
	if row.Healed {
		r.healedDamaged(ctx, s)
	}
	kept := row.Key
	if kept == s.key {
		return nil
	}
	_, err = r.Blobs.Stat(ctx, kept)
	switch {
	case err == nil:
		r.Discard(ctx, s)
		return nil
	case errors.Is(err, blob.ErrNotFound):
		if r.Log != nil {
			r.Log.Warn("blob row pointed at a missing object; healing", "sha256", s.SHA256, "key", kept)
		}
		replaced, err := r.Meta.ReplaceBlobKey(ctx, s.SHA256, kept, s.key)
		if err != nil {
			return err // ours stays unreferenced: the janitor collects it
		}
		if !replaced { // a concurrent upload of the same bytes repaired it
			r.Discard(ctx, s)
		}
		return nil
	default:
		// The statement committed: the upload is recorded, on the blob
		// row's older object, which could not be checked just now. Ours
		// stays for the janitor (it frees it once it sees the row keep
		// the other), and the client is told the truth, that it worked;
		// a 503 would make it upload again for nothing.
		if r.Log != nil {
			r.Log.Warn("could not check the stored copy of an upload's bytes; keeping ours for the janitor", "sha256", s.SHA256, "key", kept, "err", err)
		}
		return nil
	}
}

// healedDamaged follows an upload that healed a blob row marked damaged
// (see meta.UpsertBlob): the lookups other projects cached of files naming
// the blob still carry the damaged object, refused, until dropped (the
// uploading project's the request drops itself), and this node's cache
// may hold bytes read from that object before it was marked. The damaged
// object no row names now, and gc frees it.
func (r *Registry) healedDamaged(ctx context.Context, s *Staged) {
	if r.Log != nil {
		r.Log.Info("an upload of a damaged blob's bytes healed its row", "sha256", s.SHA256, "key", s.key)
	}
	r.Cache.Drop(s.SHA256)
	projects, err := r.Meta.BlobProjects(ctx, s.SHA256)
	if err != nil {
		if r.Log != nil {
			r.Log.Warn("could not list the projects of a healed blob; their file lookups expire on their own", "sha256", s.SHA256, "err", err)
		}
		return
	}
	r.Meta.ProjectsChanged(projects)
}

func (s *Staged) blobRow() *meta.Blob {
	b := &meta.Blob{SHA256: s.SHA256, Size: s.Size, MD5: s.MD5, SHA1: s.SHA1, StorageKey: s.key}
	if s.SHA512 != "" {
		b.SHA512 = &s.SHA512
	}
	return b
}

// Open returns a seekable reader over a file's bytes for http.ServeContent.
func (r *Registry) Open(ctx context.Context, f *meta.PackageFile) *blob.Seeker {
	return blob.NewSeeker(ctx, r.Blobs, f.StorageKey, f.Size)
}

// Small returns the whole content of a file small enough for the blob
// cache, from the cache or (once) from the store; ok is false for files the
// cache does not take, which should be streamed with Open.
func (r *Registry) Small(ctx context.Context, f *meta.PackageFile) (data []byte, ok bool, err error) {
	if !r.Cache.Fits(f.Size) {
		return nil, false, nil
	}
	if data, ok := r.Cache.Get(f.BlobSHA256); ok {
		return data, true, nil
	}
	if !r.Cache.Admit(f.BlobSHA256, f.Size) {
		return nil, false, nil // stream it instead of buffering bytes the cache would drop
	}
	rc, err := r.Blobs.Open(ctx, f.StorageKey, 0, -1)
	if err != nil {
		return nil, true, err
	}
	defer rc.Close()
	data = make([]byte, f.Size)
	if _, err := io.ReadFull(rc, data); err != nil {
		return nil, true, err
	}
	// The whole object is in hand before a byte is sent: check it, so
	// that no node keeps and serves damaged bytes from memory (a sha256
	// per cache fill, 40 µs for 64 KiB). A byte past the row's size or
	// another sha256 is a damaged object, marked as the backfill marks
	// one; a read cut short is only a failed read (above).
	var more [1]byte
	extra, _ := io.ReadFull(rc, more[:])
	if sum := sha256.Sum256(data); extra > 0 || hex.EncodeToString(sum[:]) != f.BlobSHA256 {
		cause := fmt.Errorf("%w: the object read for a download is not the row's %d bytes of sha256 %s", ErrDamaged, f.Size, f.BlobSHA256)
		_, _ = r.markDamaged(ctx, f.BlobSHA256, f.StorageKey, cause, "download")
		return nil, true, cause
	}
	r.Cache.Put(f.BlobSHA256, data)
	return data, true, nil
}

// SignedURL returns a presigned direct download URL when the driver supports it.
func (r *Registry) SignedURL(ctx context.Context, f *meta.PackageFile, ttl time.Duration, opts blob.SignOptions) (string, error) {
	return r.Blobs.SignedURL(ctx, f.StorageKey, ttl, opts)
}

// Ping checks both stores.
func (r *Registry) Ping(ctx context.Context) error {
	if err := r.Meta.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if err := r.Blobs.Ping(ctx); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	return nil
}
