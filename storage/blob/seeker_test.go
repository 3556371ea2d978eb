package blob

import (
	"context"
	"errors"
	"fmt"
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

// spanDriver serves one object from memory, records each Open's span, and
// answers the spans of a given length with a stream that writes itself,
// as S3's parallel ranges do.
type spanDriver struct {
	Driver
	data      []byte
	short     int // bytes each stream leaves out at its end
	opens     [][2]int64
	writerLen int64
	wroteTo   int
}

type writingStream struct {
	io.Reader
	d *spanDriver
}

func (s writingStream) WriteTo(w io.Writer) (int64, error) {
	s.d.wroteTo++
	return io.Copy(w, s.Reader)
}

func (d *spanDriver) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	d.opens = append(d.opens, [2]int64{offset, length})
	end := int64(len(d.data))
	if length >= 0 {
		end = offset + length
	}
	r := strings.NewReader(string(d.data[offset : end-int64(d.short)]))
	if length == d.writerLen {
		return io.NopCloser(writingStream{Reader: r, d: d}), nil
	}
	return io.NopCloser(r), nil
}

func TestSeekerWriteN(t *testing.T) {
	data := []byte("abcdefghijklmnopqrstuvwxyz0123456789")
	size := int64(len(data))
	for _, tc := range []struct {
		name      string
		prep      func(s *Seeker) error
		n         int64
		writerLen int64
		short     int
		want      string
		opens     [][2]int64
		wroteTo   int
		err       error
	}{
		{
			name: "a primed whole download is sent from the stream Prime opened",
			prep: func(s *Seeker) error { return s.Prime() }, n: size, writerLen: size,
			want: string(data), opens: [][2]int64{{0, size}}, wroteTo: 1,
		},
		{
			name: "a range opens exactly its span",
			prep: func(s *Seeker) error { _, err := s.Seek(10, io.SeekStart); return err }, n: 5, writerLen: -2,
			want: "klmno", opens: [][2]int64{{10, 5}},
		},
		{
			name: "a span past the end is cut at the end",
			prep: func(s *Seeker) error { _, err := s.Seek(30, io.SeekStart); return err }, n: 100, writerLen: 6,
			want: "456789", opens: [][2]int64{{30, 6}}, wroteTo: 1,
		},
		{
			name: "after a Read the open stream goes on to the end",
			prep: func(s *Seeker) error { _, err := s.Read(make([]byte, 4)); return err }, n: size - 4, writerLen: -2,
			want: string(data[4:]), opens: [][2]int64{{0, -1}},
		},
		{
			name: "a primed stream of another span is not used",
			prep: func(s *Seeker) error { return s.Prime() }, n: 3, writerLen: -2,
			want: "abc", opens: [][2]int64{{0, size}, {0, 3}},
		},
		{
			name: "a store that answers less is an unexpected EOF",
			prep: func(s *Seeker) error { return nil }, n: 10, writerLen: 10, short: 2,
			want: "abcdefgh", opens: [][2]int64{{0, 10}}, wroteTo: 1, err: io.ErrUnexpectedEOF,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &spanDriver{data: data, writerLen: tc.writerLen, short: tc.short}
			s := NewSeeker(context.Background(), d, "k", size)
			defer s.Close()
			if err := tc.prep(s); err != nil {
				t.Fatal(err)
			}
			start, _ := s.Seek(0, io.SeekCurrent)
			var got strings.Builder
			n, err := s.WriteN(&got, tc.n, make([]byte, 7))
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if got.String() != tc.want || n != int64(len(tc.want)) {
				t.Errorf("wrote %d bytes %q, want %q", n, got.String(), tc.want)
			}
			if pos, _ := s.Seek(0, io.SeekCurrent); pos != start+n {
				t.Errorf("position %d after writing %d bytes from %d", pos, n, start)
			}
			if fmt.Sprint(d.opens) != fmt.Sprint(tc.opens) {
				t.Errorf("opened %v, want %v", d.opens, tc.opens)
			}
			if d.wroteTo != tc.wroteTo {
				t.Errorf("the stream wrote itself %d times, want %d", d.wroteTo, tc.wroteTo)
			}
		})
	}
}
