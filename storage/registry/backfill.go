package registry

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/storage/meta"
)

// The digest backfill computes the md5 and sha1 that large uploads left out
// (IngestOptions.DeferDigests) from the stored object, after the upload is
// committed: GitLab's package file API reports both (the spec's decision:
// compute them), and computed with the upload they would take the CPU that
// moves its bytes. Until the backfill reaches a file, the API reports them
// as null, which GitLab's API allows.
//
// One node at a time runs it (a Postgres session advisory lock, freed with
// its connection if that node dies), walking the rows that lack digests
// oldest first. It starts on this node when an upload here defers digests,
// and every backfillEvery on every node, which also covers rows written by
// an older version and a node that died mid-pass. Its hashing runs on the
// lowest-priority digest threads (BackgroundDigests), so it takes only the
// CPU that uploads and downloads leave; it also checks the object's sha256
// and size against the row, and fills nothing from bytes that do not match
// (an error in the log for the operator: that object is not what its
// package was published with). Such a row it marks damaged
// (meta.MarkBlobDamaged): no pass reads the object again, downloads of its
// files are refused rather than served corrupt, and an upload of the same
// bytes heals the row (meta.UpsertBlob). An object it could not read, or
// that is missing, it leaves unmarked, for backfillRetry: that may pass.

// backfillEvery is how often each node looks for work it was not told of.
const backfillEvery = time.Minute

// Backfilled is what one backfill pass did.
type Backfilled struct {
	Blobs   int   // rows filled
	Bytes   int64 // bytes read to fill them
	Failed  int   // rows left for a later pass (unreadable or missing objects)
	Damaged int   // rows marked damaged (objects holding other bytes)
}

// The results OnBackfill hears of (pkgate_digest_backfill_blobs_total's
// result label).
const (
	BackfillFilled  = "filled"
	BackfillFailed  = "failed"
	BackfillDamaged = "damaged"
)

// backfillWake is how a commit on this node starts the backfill at once.
type backfillWake struct {
	once sync.Once
	c    chan struct{}
}

func (w *backfillWake) ch() chan struct{} {
	w.once.Do(func() { w.c = make(chan struct{}, 1) })
	return w.c
}

// deferredDigests wakes the backfill when s left digests to it.
func (r *Registry) deferredDigests(s *Staged) {
	if s.MD5 != "" && s.SHA1 != "" {
		return
	}
	select {
	case r.wake.ch() <- struct{}{}:
	default: // a pass is due already and will find the row
	}
}

// RunBackfill runs backfill passes until ctx ends: at once, whenever a
// commit here defers digests, and every backfillEvery.
func (r *Registry) RunBackfill(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake.ch():
		case <-t.C:
		}
		done, err := r.BackfillDigests(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && r.Log != nil:
			r.Log.Warn("digest backfill: pass failed; retrying later", "err", err)
		case done.Blobs+done.Failed+done.Damaged > 0 && r.Log != nil:
			r.Log.Info("digest backfill: pass done", "blobs", done.Blobs, "bytes", done.Bytes, "failed", done.Failed, "damaged", done.Damaged)
		}
		t.Reset(backfillEvery)
	}
}

// BackfillDigests runs one pass, unless another node is running one (then
// it does nothing: that node's pass will reach every row there is).
func (r *Registry) BackfillDigests(ctx context.Context) (Backfilled, error) {
	var done Backfilled
	_, err := r.Meta.WithBackfillLock(ctx, func() error {
		r.forgetOldFailures()
		var at time.Time
		var after string
		for {
			rows, err := r.Meta.BlobsLackingDigests(ctx, at, after, 100)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				return nil
			}
			for i := range rows {
				b := &rows[i]
				at, after = b.CreatedAt, b.SHA256
				if r.failedRecently(b.SHA256) {
					continue
				}
				err := r.fillDigests(ctx, b)
				switch {
				case ctx.Err() != nil:
					return ctx.Err()
				case errors.Is(err, ErrDamaged):
					if r.markDamagedByBackfill(ctx, b, err) {
						done.Damaged++
					}
				case errors.Is(err, errFilledMeanwhile), err != nil && r.gone(ctx, b):
					// Filled by an upload of the same bytes, or freed by
					// gc or a delete since the query (perhaps while being
					// read): nothing to fill. A missing object whose row
					// still names it is no such case (gc deletes the row
					// first): that is storage lost, a failure like a
					// damaged object, logged, counted and left for
					// backfillRetry.
				case err != nil:
					done.Failed++
					r.observeBackfill(BackfillFailed, 0)
					r.recordFailure(b.SHA256)
					if r.Log != nil {
						r.Log.Error("digest backfill: could not fill a blob's digests", "sha256", b.SHA256, "key", b.StorageKey, "err", err)
					}
				default:
					done.Blobs++
					done.Bytes += b.Size
					r.observeBackfill(BackfillFilled, b.Size)
				}
			}
		}
	})
	return done, err
}

// gone reports that b's row no longer names b's object (a gc or a
// delete freed it); an error reading the row says it is not known to be.
func (r *Registry) gone(ctx context.Context, b *meta.Blob) bool {
	now, err := r.Meta.BlobBySHA256(ctx, b.SHA256)
	if err != nil {
		return errs.Is(err, errs.NotFound)
	}
	return now.StorageKey != b.StorageKey
}

// markDamagedByBackfill marks b damaged after fillDigests found its
// object holding other bytes (cause), and reports whether it did: a row
// that names another object by now (healed by an upload, freed by gc) is
// left as it is. A failure to mark leaves b for backfillRetry, as an
// unreadable one.
func (r *Registry) markDamagedByBackfill(ctx context.Context, b *meta.Blob, cause error) bool {
	marked, err := r.markDamaged(ctx, b.SHA256, b.StorageKey, cause, "digest backfill")
	if err != nil {
		r.observeBackfill(BackfillFailed, 0)
		r.recordFailure(b.SHA256)
		return false
	}
	if marked {
		r.observeBackfill(BackfillDamaged, 0)
	}
	return marked
}

// markDamaged marks blob sha damaged while its row still names key, the
// object found holding other bytes (cause) by the digest backfill or a
// download's read (by), and reports whether it did. Downloads of its files
// are refused from then on, on every node, until an upload of the same
// bytes heals the row.
func (r *Registry) markDamaged(ctx context.Context, sha, key string, cause error, by string) (bool, error) {
	marked, projects, err := r.Meta.MarkBlobDamaged(ctx, sha, key)
	if err != nil {
		if r.Log != nil {
			r.Log.Error("could not mark a damaged blob", "by", by, "sha256", sha, "key", key, "cause", cause, "err", err)
		}
		return false, err
	}
	if !marked {
		return false, nil
	}
	if r.Log != nil {
		r.Log.Error("a blob's object is damaged; its downloads are refused until its bytes are uploaded again", "by", by, "sha256", sha, "key", key, "err", cause)
	}
	// Lookups cached here and on other nodes say the blob is intact.
	r.Cache.Drop(sha)
	r.Meta.ProjectsChanged(projects)
	return true, nil
}

func (r *Registry) observeBackfill(result string, size int64) {
	if r.OnBackfill != nil {
		r.OnBackfill(result, size)
	}
}

// backfillRetry is how long a node leaves a blob it could not fill (an
// unreadable or missing object, which may be back) before reading it
// again, rather than every minute. A damaged object is marked instead,
// and not read again.
const backfillRetry = time.Hour

// forgetOldFailures drops the failures whose retry is due: a blob that a
// gc or a delete freed since is never asked about again, and would stay.
func (r *Registry) forgetOldFailures() {
	r.failedMu.Lock()
	defer r.failedMu.Unlock()
	for sha, t := range r.failedAt {
		if time.Since(t) >= backfillRetry {
			delete(r.failedAt, sha)
		}
	}
}

func (r *Registry) recordFailure(sha string) {
	r.failedMu.Lock()
	defer r.failedMu.Unlock()
	if r.failedAt == nil {
		r.failedAt = map[string]time.Time{}
	}
	r.failedAt[sha] = time.Now()
}

// failedRecently reports a failure of sha within backfillRetry (older ones
// forgetOldFailures drops at the start of each pass).
func (r *Registry) failedRecently(sha string) bool {
	r.failedMu.Lock()
	defer r.failedMu.Unlock()
	t, ok := r.failedAt[sha]
	return ok && time.Since(t) < backfillRetry
}

// backfillStall is how long a backfill read may wait for its next chunk
// before it gives the blob up (left for backfillRetry). The S3 client
// bounds the wait for a response's headers, not for its body: a GET whose
// body stopped flowing held the pass, and with it the lock every node's
// pass waits on, until the process ended.
var backfillStall = 2 * time.Minute

// errBackfillStalled is the cause of a read given up after backfillStall.
var errBackfillStalled = errors.New("the object's bytes stopped coming")

// ErrDamaged is the cause of a read that ended with other bytes than the
// row's: the object is damaged (not a failure to read it).
var ErrDamaged = errors.New("registry: the object does not hold its blob's bytes")

// errFilledMeanwhile: the row had its digests, or was gone, by the time
// the backfill had computed them.
var errFilledMeanwhile = errors.New("registry: blob filled or freed meanwhile")

// fillDigests reads b's object once, computing md5 and sha1 and checking
// sha256 and size, and records the digests.
//
// The read runs under a context that a stalled read (backfillStall) or
// the end of ctx cancels, which stops a driver's read that honours it
// (S3's); the loop also checks it between chunks, which stops a driver
// whose reads ignore it (fs): a shutdown went on reading and hashing a
// large object to its end.
func (r *Registry) fillDigests(ctx context.Context, b *meta.Blob) error {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Armed around each read only; Open is bounded by the store's client
	// (its response-header timeout and retries).
	stalled := time.AfterFunc(backfillStall, func() { cancel(errBackfillStalled) })
	stalled.Stop()
	defer stalled.Stop()
	rc, err := r.Blobs.Open(rctx, b.StorageKey, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	sum256, sum1, sum5 := sha256.New(), sha1.New(), md5.New()
	// One job per digest rather than one for all three: an upload's
	// digests share the background threads, and each of its chunks then
	// waits behind at most one digest of a backfill chunk.
	jobs := []digestJob{{d: sum256}, {d: sum1}, {d: sum5}}
	for i := range jobs {
		jobs[i].done = make(chan struct{}, 1)
	}
	bp := chunkPool.Get()
	defer chunkPool.Put(bp)
	var size int64
	for {
		if rctx.Err() != nil {
			return context.Cause(rctx)
		}
		// Only the read is timed: the hashing at the lowest priority
		// may wait for CPU as long as the machine is busy. readAtLeast,
		// not io.ReadFull, which reports a driver's io.ErrUnexpectedEOF
		// (a response cut short) as it reports the object ending within
		// a chunk: a good object read short would be marked damaged.
		stalled.Reset(backfillStall)
		n, err := readAtLeast(rc, *bp, len(*bp))
		stalled.Stop()
		if n > 0 {
			size += int64(n)
			for i := range jobs {
				jobs[i].data = (*bp)[:n]
				if r.BackgroundDigests {
					hashInBackground(&jobs[i])
				} else {
					jobs[i].d.Write(jobs[i].data)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if cause := context.Cause(rctx); cause != nil {
				return cause
			}
			return fmt.Errorf("reading the object: %w", err)
		}
	}
	if got := hex.EncodeToString(sum256.Sum(nil)); size != b.Size || got != b.SHA256 {
		return fmt.Errorf("%w: it holds %d bytes of sha256 %s, not the row's %d bytes", ErrDamaged, size, got, b.Size)
	}
	filled, projects, err := r.Meta.FillBlobDigests(ctx, b.SHA256, hex.EncodeToString(sum5.Sum(nil)), hex.EncodeToString(sum1.Sum(nil)))
	if err != nil {
		return err
	}
	if !filled {
		return errFilledMeanwhile
	}
	// File lookups cached here and on other nodes carry the empty digests
	// (the download's X-Checksum headers).
	r.Meta.ProjectsChanged(projects)
	return nil
}
