package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pkgate/pkgate/storage/blob"
	"github.com/pkgate/pkgate/storage/meta"
)

// openFunc is a blob driver whose Open the test decides: err, or open's
// reader.
type openFunc struct {
	blob.Driver
	open func(ctx context.Context) io.ReadCloser
	err  error
}

func (d openFunc) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if d.err != nil {
		return nil, d.err
	}
	return d.open(ctx), nil
}

// stallingBody sends one chunk, then nothing until its request's
// context ends, as an S3 GET whose body stops flowing.
type stallingBody struct {
	ctx  context.Context
	sent bool
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return len(p), nil
	}
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b *stallingBody) Close() error { return nil }

// endless reads zeros for ever and ignores any context, as a file read
// does; cancel, when set, is called at its first read.
type endless struct{ cancel func() }

func (e *endless) Read(p []byte) (int, error) {
	if e.cancel != nil {
		e.cancel()
		e.cancel = nil
	}
	clear(p)
	return len(p), nil
}

func (e *endless) Close() error { return nil }

// fillWithin runs fillDigests and fails the test if it has not returned
// within d.
func fillWithin(t *testing.T, r *Registry, ctx context.Context, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.fillDigests(ctx, &meta.Blob{SHA256: "00", Size: 1 << 40, StorageKey: "blobs/x"}) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("fillDigests still running after %s", d)
		return nil
	}
}

// A read that stops bringing bytes is given up after backfillStall: it
// held the pass, and the lock all nodes' passes wait on, for ever.
func TestFillDigestsStalledRead(t *testing.T) {
	defer func(d time.Duration) { backfillStall = d }(backfillStall)
	backfillStall = 100 * time.Millisecond
	r := &Registry{Blobs: openFunc{open: func(ctx context.Context) io.ReadCloser { return &stallingBody{ctx: ctx} }}}
	err := fillWithin(t, r, context.Background(), 10*time.Second)
	if !errors.Is(err, errBackfillStalled) {
		t.Fatalf("err %v, want the stall", err)
	}
}

// The end of the pass's context (shutdown) stops a read between chunks
// even when the driver's reads ignore it (fs): it went on to the end of
// the object.
func TestFillDigestsStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &Registry{Blobs: openFunc{open: func(context.Context) io.ReadCloser { return &endless{cancel: cancel} }}}
	if err := fillWithin(t, r, ctx, 10*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// A failure is remembered for backfillRetry and then forgotten, whether or
// not its blob is asked about again (gc may have freed it).
func TestBackfillFailuresForgotten(t *testing.T) {
	now := time.Now()
	r := &Registry{failedAt: map[string]time.Time{
		"old":    now.Add(-backfillRetry - time.Minute),
		"recent": now.Add(-backfillRetry / 2),
	}}
	if !r.failedRecently("recent") || r.failedRecently("never") {
		t.Fatal("failedRecently: a recent failure must count, an unknown blob must not")
	}
	r.forgetOldFailures()
	if _, ok := r.failedAt["old"]; ok {
		t.Error("a failure past backfillRetry was kept")
	}
	if _, ok := r.failedAt["recent"]; !ok {
		t.Error("a recent failure was forgotten")
	}
}

// failingAfter reads data, then fails with err.
func failingAfter(data string, err error) func(context.Context) io.ReadCloser {
	return func(context.Context) io.ReadCloser {
		return io.NopCloser(io.MultiReader(strings.NewReader(data), iotest.ErrReader(err)))
	}
}

// Only an object that holds other bytes than its row's is damaged (and so
// marked, never read again): one that could not be read, or only in part,
// is left for backfillRetry, as it may be whole when read again. A read
// cut short (the driver's io.ErrUnexpectedEOF) was taken for the object's
// end, and so for a damaged object of fewer bytes.
func TestFillDigestsDamagedOnlyOnMismatch(t *testing.T) {
	defer func(d time.Duration) { backfillStall = d }(backfillStall)
	backfillStall = 100 * time.Millisecond
	hello := sha256.Sum256([]byte("hello"))
	row := &meta.Blob{SHA256: hex.EncodeToString(hello[:]), Size: 5, StorageKey: "blobs/x"}
	cases := []struct {
		name    string
		driver  openFunc
		row     meta.Blob
		damaged bool
		cause   error // for the others
	}{
		{"other bytes", openFunc{open: failingAfter("jello", io.EOF)}, *row, true, nil},
		{"fewer bytes", openFunc{open: failingAfter("hell", io.EOF)}, *row, true, nil},
		{"more bytes", openFunc{open: failingAfter("hello!", io.EOF)}, *row, true, nil},
		{"cut short", openFunc{open: failingAfter("hel", io.ErrUnexpectedEOF)}, *row, false, io.ErrUnexpectedEOF},
		{"read fails", openFunc{open: failingAfter("he", errors.New("connection reset"))}, *row, false, nil},
		{"stalled", openFunc{open: func(ctx context.Context) io.ReadCloser { return &stallingBody{ctx: ctx} }}, *row, false, errBackfillStalled},
		{"missing", openFunc{err: blob.ErrNotFound}, *row, false, blob.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Registry{Blobs: tc.driver}
			err := r.fillDigests(context.Background(), &tc.row)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrDamaged) != tc.damaged {
				t.Fatalf("err %v: damaged %v, want %v", err, errors.Is(err, ErrDamaged), tc.damaged)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Fatalf("err %v, want %v", err, tc.cause)
			}
		})
	}
}
