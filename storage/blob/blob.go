// Package blob is the byte store under the registry: a deliberately small
// driver interface (streaming write with commit/cancel, ranged read, stat,
// delete, list, presign) with filesystem and S3 implementations. It knows
// nothing about packages or digests; storage/registry builds content
// addressing on top of it.
package blob

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

var (
	// ErrNotFound is returned when a key does not exist.
	ErrNotFound = errors.New("blob: not found")
	// ErrUnsupported is returned by optional operations a driver lacks.
	ErrUnsupported = errors.New("blob: unsupported")
)

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Writer streams one object. Nothing is visible under the key until Commit
// succeeds; Cancel releases everything written so far (an S3 multipart
// upload is aborted). Exactly one of Commit or Cancel must be called.
type Writer interface {
	io.Writer
	Commit(ctx context.Context) error
	Cancel(ctx context.Context) error
}

// Lender is a Writer that lends its own buffer: the caller reads the body
// straight into it, where through Write it would read into a buffer of its
// own that Write then copies, one more pass over every byte.
type Lender interface {
	Writer
	// Lend returns free space in the buffer the next bytes go to, at most
	// max bytes and never empty. Before the writer lets go of bytes lent
	// earlier (sends a part, or moves them to a larger buffer) it calls
	// settle, which must return only when the caller is done reading them.
	Lend(max int, settle func()) ([]byte, error)
	// Filled records that the caller wrote n bytes at the start of the
	// space Lend returned last.
	Filled(n int)
}

// StoreMD5 is a Driver whose store computes the md5 of an object it takes
// in one request and answers it (S3's ETag of a PUT, which S3 and MinIO
// compute whether anyone reads it or not): the registry can take a small
// upload's md5 from there instead of computing it a second time on the
// same machine's CPU (md5 has no instruction of its own and was a seventh
// of the gateway's CPU per 64 KiB upload).
type StoreMD5 interface {
	// ProbeStoredMD5 finds out whether the store's answers carry the md5
	// of what it stored (it stores a small object and compares); until it
	// has answered true, StoredMD5Max is 0. false without an error is a
	// decision: the store's ETags are something else, or the driver was
	// configured not to trust them.
	ProbeStoredMD5(ctx context.Context) (bool, error)
	// StoredMD5Max is the largest body whose md5 a Writer of the driver
	// reports once committed (MD5Reporter); 0: none.
	StoredMD5Max() int64
}

// MD5Reporter is a Writer that, once committed, may know the md5 the
// store computed of the object.
type MD5Reporter interface {
	// StoredMD5 is that md5 in lowercase hex, or "" when the store did
	// not answer one that can be trusted (a multipart upload, or an
	// answer whose encryption differs from the probe's).
	StoredMD5() string
}

// SignOptions are response overrides baked into a presigned download URL.
type SignOptions struct {
	ContentType        string
	ContentDisposition string
}

// Unfinished is what SweepUnfinished found: uploads and, where the store
// says, their bytes.
type Unfinished struct {
	Uploads int
	Bytes   int64
}

// Driver is implemented by every blob store.
type Driver interface {
	// Name is "fs" or "s3", used in logs and metrics.
	Name() string
	Writer(ctx context.Context, key string) (Writer, error)
	// Open reads length bytes from offset (length < 0: to the end).
	Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	Stat(ctx context.Context, key string) (Info, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// SweepUnfinished frees what uploads started before cutoff and never
	// committed or cancelled left behind (a process that died mid-upload,
	// an abort that failed): S3's incomplete multipart uploads, whose
	// parts are stored and billed but listed nowhere else, and the
	// filesystem's temporary files. With dryRun it only counts them.
	SweepUnfinished(ctx context.Context, cutoff time.Time, dryRun bool) (Unfinished, error)
	// SignedURL returns a short-lived direct download URL, or ErrUnsupported.
	SignedURL(ctx context.Context, key string, ttl time.Duration, opts SignOptions) (string, error)
	// Ping checks that the store is reachable and usable.
	Ping(ctx context.Context) error
}

// Seeker adapts a Driver object of known size to io.ReadSeeker so that
// http.ServeContent can answer Range and conditional requests. Seeking only
// records a position; a Read at a position the open stream is not at opens
// one ranged GET from there, so a range request costs one store request.
//
// One goroutine reads and seeks; Close may come from another (see Close).
type Seeker struct {
	ctx  context.Context
	d    Driver
	key  string
	size int64

	mu     sync.Mutex
	pos    int64
	rc     io.ReadCloser
	rcPos  int64 // where rc's next byte is
	rcEnd  int64 // one past rc's last byte
	closed bool
}

// errSeekerClosed is what reading a closed Seeker gives.
var errSeekerClosed = errors.New("blob: read after close")

// NewSeeker returns a lazily opened reader over key.
func NewSeeker(ctx context.Context, d Driver, key string, size int64) *Seeker {
	return &Seeker{ctx: ctx, d: d, key: key, size: size}
}

// Prime opens the stream from the current position to the end now, so
// that a store failure surfaces before any response header is written.
// Opened with its length, a large rest is read in parallel ranges (see
// S3.Open) when WriteN then sends it.
func (s *Seeker) Prime() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prime(s.size - s.pos)
}

// prime makes rc a stream at pos: the one open if it is there and has
// bytes left, else a new one of length bytes (< 0: to the end).
func (s *Seeker) prime(length int64) error {
	if s.closed {
		return errSeekerClosed
	}
	if s.rc != nil && (s.rcPos != s.pos || s.rcPos >= s.rcEnd) {
		s.rc.Close()
		s.rc = nil
	}
	if s.rc != nil || s.pos >= s.size {
		return nil
	}
	rc, err := s.d.Open(s.ctx, s.key, s.pos, length)
	if err != nil {
		return err
	}
	s.rc, s.rcPos, s.rcEnd = rc, s.pos, s.size
	if length >= 0 {
		s.rcEnd = s.pos + length
	}
	return nil
}

// WriteN sends the next n bytes (at most to the end) to w. A stream open
// at the position for exactly that span (Prime's, for a whole download)
// is used, else one is opened for it; a stream that can write itself
// (io.WriterTo: parallel ranges) does, else it is copied through buf.
// http.ServeContent copies a response body with io.CopyN, which hides
// these from it; the response writer's ReadFrom brings it here.
func (s *Seeker) WriteN(w io.Writer, n int64, buf []byte) (int64, error) {
	s.mu.Lock()
	n = min(n, s.size-s.pos)
	if n <= 0 {
		s.mu.Unlock()
		return 0, nil
	}
	if s.rc != nil && s.rcEnd != s.pos+n {
		s.rc.Close()
		s.rc = nil
	}
	if err := s.prime(n); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	rc := s.rc
	s.mu.Unlock()
	var written int64
	var err error
	if wt, ok := rc.(io.WriterTo); ok {
		written, err = wt.WriteTo(w)
	} else {
		written, err = io.CopyBuffer(w, io.LimitReader(rc, n), buf)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return written, errSeekerClosed
	}
	s.pos += written
	s.rcPos = s.pos
	if err == nil && written < n {
		err = io.ErrUnexpectedEOF
	}
	return written, err
}

// Read reads from the open stream without holding the lock, so that Close
// can interrupt it by closing the stream.
func (s *Seeker) Read(p []byte) (int, error) {
	s.mu.Lock()
	if err := s.prime(-1); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if s.pos >= s.size {
		s.mu.Unlock()
		return 0, io.EOF
	}
	rc := s.rc
	s.mu.Unlock()
	n, err := rc.Read(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return n, errSeekerClosed
	}
	s.pos += int64(n)
	s.rcPos = s.pos
	if err == io.EOF && s.pos < s.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (s *Seeker) Seek(offset int64, whence int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = s.pos + offset
	case io.SeekEnd:
		abs = s.size + offset
	}
	if abs < 0 {
		return 0, errors.New("blob: negative seek")
	}
	s.pos = abs
	return abs, nil
}

// Close releases the open stream, if any, and makes every later Read fail
// without opening another. It may run while a Read is under way in another
// goroutine, and then makes that Read fail: http.ServeContent answers a
// request for several ranges from a goroutine of its own, which can still
// be reading, or about to open the next range, when the handler has
// returned (a client gone mid-answer) and its deferred Close runs. Before,
// that Read raced Close for the stream, could call a nil one, and could
// open a new GET nobody would close.
func (s *Seeker) Close() error {
	s.mu.Lock()
	s.closed = true
	rc := s.rc
	s.rc = nil
	s.mu.Unlock()
	if rc != nil {
		return rc.Close()
	}
	return nil
}
