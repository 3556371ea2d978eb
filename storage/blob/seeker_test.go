package blob

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// stallingDriver opens streams whose Read, past their first bytes, waits
// until the stream is closed: a store that is slow to send.
type stallingDriver struct {
	Driver
	opens   atomic.Int32
	reading chan struct{} // a Read is waiting
}

func (d *stallingDriver) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	d.opens.Add(1)
	return &stallingStream{head: strings.NewReader("0123456789"), closed: make(chan struct{}), reading: d.reading}, nil
}

type stallingStream struct {
	head    *strings.Reader
	closed  chan struct{}
	reading chan struct{}
	done    atomic.Bool
}

func (s *stallingStream) Read(p []byte) (int, error) {
	if s.head.Len() > 0 {
		return s.head.Read(p)
	}
	s.reading <- struct{}{}
	<-s.closed
	return 0, errors.New("stream closed")
}

func (s *stallingStream) Close() error {
	if s.done.CompareAndSwap(false, true) {
		close(s.closed)
	}
	return nil
}

// Close from another goroutine ends a Read that is waiting on the store,
// and nothing reads or opens the object after it: http.ServeContent's
// multi-range goroutine may still be reading when the handler's deferred
// Close runs.
func TestSeekerClosedWhileReading(t *testing.T) {
	d := &stallingDriver{reading: make(chan struct{}, 1)}
	s := NewSeeker(context.Background(), d, "k", 100)
	buf := make([]byte, 64)
	if n, err := s.Read(buf); n != 10 || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Read(buf)
		done <- err
	}()
	<-d.reading
	s.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a Read interrupted by Close reported success")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the Read waiting on the store")
	}
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"read", func() error { _, err := s.Read(buf); return err }},
		{"read after a seek", func() error { s.Seek(50, io.SeekStart); _, err := s.Read(buf); return err }},
		{"prime", s.Prime},
	} {
		if err := op.do(); err == nil {
			t.Errorf("%s after Close succeeded", op.name)
		}
	}
	if n := d.opens.Load(); n != 1 {
		t.Errorf("%d opens, want 1: a stream was opened after Close, and nobody would close it", n)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
