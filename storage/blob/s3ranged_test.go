package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rangeSource serves ranges of data as a store would, counting the GETs in
// flight at once and failing the range that starts at failAt.
type rangeSource struct {
	data     []byte
	failAt   int64
	short    bool // answer the failing range with fewer bytes instead of an error
	inFlight atomic.Int32
	peak     atomic.Int32
	opened   atomic.Int32
	closed   atomic.Int32
}

type sourceBody struct {
	io.Reader
	s    *rangeSource
	once sync.Once
}

func (b *sourceBody) Close() error {
	b.once.Do(func() { b.s.inFlight.Add(-1); b.s.closed.Add(1) })
	return nil
}

func (s *rangeSource) open(ctx context.Context, offset, length int64) (io.ReadCloser, error) {
	if offset == s.failAt && !s.short {
		return nil, fmt.Errorf("range at %d refused", offset)
	}
	n := s.inFlight.Add(1)
	s.opened.Add(1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	end := min(offset+length, int64(len(s.data)))
	if offset == s.failAt {
		end = offset + (end-offset)/2
	}
	// A little latency so that fetches overlap as they do against a store.
	time.Sleep(time.Millisecond)
	return &sourceBody{Reader: bytes.NewReader(s.data[offset:end]), s: s}, nil
}

func (s *rangeSource) reader(t *testing.T, chunk int64, conc int, offset, length int64) (*rangedReader, *atomic.Bool) {
	t.Helper()
	first, err := s.open(context.Background(), offset, min(chunk, length))
	if err != nil {
		t.Fatal(err)
	}
	var done atomic.Bool
	r := newRangedReader(context.Background(), s.open, chunk, conc, offset, length, first, func() {
		if done.Swap(true) {
			t.Error("budget given back twice")
		}
	})
	return r, &done
}

func TestRangedReader(t *testing.T) {
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	for _, tc := range []struct {
		name           string
		chunk          int64
		conc           int
		offset, length int64
		useRead        bool
		readSize       int
	}{
		{name: "whole, WriteTo", chunk: 100, conc: 3, offset: 0, length: 1000},
		{name: "whole, Read", chunk: 100, conc: 3, offset: 0, length: 1000, useRead: true, readSize: 37},
		{name: "span not on chunk bounds", chunk: 64, conc: 2, offset: 13, length: 900},
		{name: "last chunk short", chunk: 300, conc: 3, offset: 0, length: 1000},
		{name: "reads larger than a chunk", chunk: 50, conc: 4, offset: 100, length: 800, useRead: true, readSize: 128},
		{name: "one at a time", chunk: 100, conc: 1, offset: 0, length: 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &rangeSource{data: data, failAt: -1}
			r, done := src.reader(t, tc.chunk, tc.conc, tc.offset, tc.length)
			var got bytes.Buffer
			var err error
			if tc.useRead {
				buf := make([]byte, tc.readSize)
				_, err = io.CopyBuffer(struct{ io.Writer }{&got}, struct{ io.Reader }{r}, buf)
			} else {
				_, err = r.WriteTo(&got)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), data[tc.offset:tc.offset+tc.length]) {
				t.Fatalf("got %d bytes, not the span's %d", got.Len(), tc.length)
			}
			if p := src.peak.Load(); int(p) > tc.conc {
				t.Errorf("%d ranges in flight at once, allowed %d", p, tc.conc)
			}
			if want := (tc.length + tc.chunk - 1) / tc.chunk; int64(src.opened.Load()) != want {
				t.Errorf("%d ranges opened, want %d", src.opened.Load(), want)
			}
			r.Close()
			waitFor(t, done.Load)
			if o, c := src.opened.Load(), src.closed.Load(); o != c {
				t.Errorf("%d ranges opened, %d closed", o, c)
			}
		})
	}
}

func TestRangedReaderFailures(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100)
	for _, tc := range []struct {
		name    string
		short   bool
		want    error
		written int64
	}{
		{name: "a later range refused", written: 500},
		{name: "a later range cut short", short: true, want: io.ErrUnexpectedEOF, written: 550},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &rangeSource{data: data, failAt: 500, short: tc.short}
			r, done := src.reader(t, 100, 3, 0, 1000)
			var got bytes.Buffer
			n, err := r.WriteTo(&got)
			if err == nil {
				t.Fatal("a failed range ended the copy without an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if n != tc.written || !bytes.Equal(got.Bytes(), data[:tc.written]) {
				t.Errorf("wrote %d bytes before the failure, want the %d the store gave", n, tc.written)
			}
			if _, err := r.WriteTo(io.Discard); err == nil {
				t.Error("a second WriteTo after a failure succeeded")
			}
			r.Close()
			waitFor(t, done.Load)
			if o, c := src.opened.Load(), src.closed.Load(); o != c {
				t.Errorf("%d ranges opened, %d closed", o, c)
			}
		})
	}
}

// blockingWriter stalls every Write until released, as a client that stops
// reading does.
type blockingWriter struct{ release chan struct{} }

func (w blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return 0, errors.New("client gone")
}

func TestRangedReaderClosedWhileWriting(t *testing.T) {
	src := &rangeSource{data: make([]byte, 1000), failAt: -1}
	r, done := src.reader(t, 100, 3, 0, 1000)
	w := blockingWriter{release: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		_, err := r.WriteTo(w)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	r.Close()
	close(w.release)
	if err := <-errc; err == nil {
		t.Fatal("WriteTo succeeded after Close")
	}
	if _, err := r.WriteTo(io.Discard); !errors.Is(err, errRangedClosed) {
		t.Errorf("WriteTo after Close: %v, want %v", err, errRangedClosed)
	}
	waitFor(t, done.Load)
	waitFor(t, func() bool { return src.opened.Load() == src.closed.Load() })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
