package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// Observer is told how long each store operation took and whether it failed.
type Observer func(driver, op string, d time.Duration, err error)

// WithObserver decorates a driver with timing, leaving behaviour unchanged
// (metrics stay out of the drivers themselves).
func WithObserver(d Driver, obs Observer) Driver {
	if obs == nil {
		return d
	}
	return &observed{Driver: d, obs: obs}
}

type observed struct {
	Driver
	obs Observer
}

func (o *observed) note(op string, start time.Time, err error) {
	o.obs(o.Driver.Name(), op, time.Since(start), err)
}

type observedWriter struct {
	Writer
	o *observed
}

func (w observedWriter) Commit(ctx context.Context) error {
	start := time.Now()
	err := w.Writer.Commit(ctx)
	w.o.note("commit", start, err)
	return err
}

// StoredMD5 keeps a decorated MD5Reporter one.
func (w observedWriter) StoredMD5() string {
	if m, ok := w.Writer.(MD5Reporter); ok {
		return m.StoredMD5()
	}
	return ""
}

// ProbeStoredMD5 and StoredMD5Max keep a decorated StoreMD5 one; for
// another driver they answer false and 0.
func (o *observed) ProbeStoredMD5(ctx context.Context) (bool, error) {
	if s, ok := o.Driver.(StoreMD5); ok {
		return s.ProbeStoredMD5(ctx)
	}
	return false, nil
}

func (o *observed) StoredMD5Max() int64 {
	if s, ok := o.Driver.(StoreMD5); ok {
		return s.StoredMD5Max()
	}
	return 0
}

// observedLender keeps a decorated Lender one.
type observedLender struct {
	observedWriter
	l Lender
}

func (w observedLender) Lend(max int, settle func()) ([]byte, error) { return w.l.Lend(max, settle) }
func (w observedLender) Filled(n int)                                { w.l.Filled(n) }

func (o *observed) Writer(ctx context.Context, key string) (Writer, error) {
	w, err := o.Driver.Writer(ctx, key)
	if err != nil {
		return nil, err
	}
	ow := observedWriter{Writer: w, o: o}
	if l, ok := w.(Lender); ok {
		return observedLender{observedWriter: ow, l: l}, nil
	}
	return ow, nil
}

// rangeNoteKey carries, in the context of an Open, how a driver that reads
// the object as several requests reports each one after the first.
type rangeNoteKey struct{}

// noteRange is that report, or nil when nobody observes.
func noteRange(ctx context.Context) func(start time.Time, err error) {
	f, _ := ctx.Value(rangeNoteKey{}).(func(time.Time, error))
	return f
}

// Open is timed to the first byte being available (the store's latency).
// A download the driver reads as parallel ranged requests (S3.Open) has
// each later range timed the same way, as op "range": the ranges are
// opened while the first is read, and a store slow to answer them slows
// the download as much as a slow first byte.
func (o *observed) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	start := time.Now()
	ctx = context.WithValue(ctx, rangeNoteKey{}, func(start time.Time, err error) {
		if errors.Is(err, context.Canceled) {
			err = nil // the download was given up, not failed by the store
		}
		o.note("range", start, err)
	})
	rc, err := o.Driver.Open(ctx, key, offset, length)
	if err == ErrNotFound {
		o.note("open", start, nil)
	} else {
		o.note("open", start, err)
	}
	return rc, err
}

func (o *observed) Stat(ctx context.Context, key string) (Info, error) {
	start := time.Now()
	i, err := o.Driver.Stat(ctx, key)
	if err == ErrNotFound {
		o.note("stat", start, nil)
	} else {
		o.note("stat", start, err)
	}
	return i, err
}

func (o *observed) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := o.Driver.Delete(ctx, key)
	o.note("delete", start, err)
	return err
}
