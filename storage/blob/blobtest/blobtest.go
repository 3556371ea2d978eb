// Package blobtest is the conformance suite every blob driver must pass.
// It fails if a test leaves objects behind.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/blob"
)

// Run exercises d. prefix isolates this run's keys.
func Run(t *testing.T, d blob.Driver, prefix string) {
	ctx := context.Background()
	key := func(name string) string { return prefix + "/" + name }
	put := func(t *testing.T, k string, data []byte) {
		t.Helper()
		w, err := d.Writer(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		// Write in odd-sized pieces to cross any internal buffer boundary.
		for len(data) > 0 {
			n := min(len(data), 777_777)
			if _, err := w.Write(data[:n]); err != nil {
				t.Fatal(err)
			}
			data = data[n:]
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	read := func(t *testing.T, k string, off, n int64) []byte {
		t.Helper()
		rc, err := d.Open(ctx, k, off, n)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// copied reads through io.Copy, which lets a reader that can write
	// itself (io.WriterTo) do so, as a download does.
	copied := func(t *testing.T, k string, off, n int64) []byte {
		t.Helper()
		rc, err := d.Open(ctx, k, off, n)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var b bytes.Buffer
		if _, err := io.Copy(&b, rc); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}

	t.Run("sizes round-trip", func(t *testing.T) {
		for _, n := range []int{0, 1, 4096, 1 << 20, 1<<20 + 1, 5<<20 - 1, 5 << 20, 8 << 20, 8<<20 + 3, 16 << 20, 19 << 20} {
			data := random(n)
			k := key("size")
			put(t, k, data)
			if got := read(t, k, 0, -1); !bytes.Equal(got, data) {
				t.Fatalf("size %d: got %d bytes back", n, len(got))
			}
			// Spans of a known length: a driver may read a large one
			// in parallel ranges (S3), through Read or WriteTo.
			if got := read(t, k, 0, int64(n)); !bytes.Equal(got, data) {
				t.Fatalf("size %d, whole span: got %d bytes back", n, len(got))
			}
			if got := copied(t, k, 0, int64(n)); !bytes.Equal(got, data) {
				t.Fatalf("size %d, whole span copied: got %d bytes back", n, len(got))
			}
			if off, l := int64(n/5), int64(n-n/5-n/7); l > 0 {
				if got := copied(t, k, off, l); !bytes.Equal(got, data[off:off+l]) {
					t.Fatalf("size %d, span %d+%d copied: got %d bytes back", n, off, l, len(got))
				}
			}
			info, err := d.Stat(ctx, k)
			if err != nil || info.Size != int64(n) {
				t.Fatalf("stat size %d: %+v %v", n, info, err)
			}
			if err := d.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	})
	// Keys are sent in a URL path and signed as sent: every character S3
	// escapes must reach the same object through every call.
	t.Run("keys that need escaping", func(t *testing.T) {
		for _, name := range []string{"a b", "a+b", "100%", "é/ü ß", "a=b&c;d", "q?x#y", "tilde~ and 'quotes'", "a/b/c.tar.gz"} {
			k := key("esc/" + name)
			data := []byte("bytes of " + name)
			put(t, k, data)
			if got := read(t, k, 0, -1); !bytes.Equal(got, data) {
				t.Errorf("%q: read back %q", name, got)
			}
			var listed bool
			if err := d.List(ctx, k, func(i blob.Info) error { listed = listed || i.Key == k; return nil }); err != nil || !listed {
				t.Errorf("%q: not listed under its own key (%v)", name, err)
			}
			if err := d.Delete(ctx, k); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("ranges", func(t *testing.T) {
		data := random(1 << 20)
		k := key("range")
		put(t, k, data)
		defer d.Delete(ctx, k)
		cases := []struct{ off, n int64 }{{0, 10}, {100, 1}, {1<<20 - 5, 5}, {500_000, -1}, {0, 1 << 20}}
		for _, c := range cases {
			got := read(t, k, c.off, c.n)
			end := int64(len(data))
			if c.n >= 0 {
				end = c.off + c.n
			}
			if !bytes.Equal(got, data[c.off:end]) {
				t.Errorf("range %d+%d: %d bytes, mismatch", c.off, c.n, len(got))
			}
		}
		s := blob.NewSeeker(ctx, d, k, int64(len(data)))
		defer s.Close()
		s.Seek(1000, io.SeekStart)
		buf := make([]byte, 10)
		io.ReadFull(s, buf)
		s.Seek(-10, io.SeekEnd)
		tail, _ := io.ReadAll(s)
		if !bytes.Equal(buf, data[1000:1010]) || !bytes.Equal(tail, data[len(data)-10:]) {
			t.Error("seeker reads the wrong bytes")
		}
	})
	t.Run("not found", func(t *testing.T) {
		if _, err := d.Open(ctx, key("missing"), 0, -1); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("open: %v", err)
		}
		if _, err := d.Stat(ctx, key("missing")); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("stat: %v", err)
		}
		if err := d.Delete(ctx, key("missing")); err != nil {
			t.Errorf("delete of a missing key: %v", err)
		}
	})
	t.Run("cancel leaves nothing", func(t *testing.T) {
		for _, n := range []int{10, 12 << 20} {
			w, err := d.Writer(ctx, key("cancelled"))
			if err != nil {
				t.Fatal(err)
			}
			w.Write(random(n))
			if err := w.Cancel(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Stat(ctx, key("cancelled")); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("cancelled %d-byte write is visible: %v", n, err)
			}
		}
	})
	t.Run("list", func(t *testing.T) {
		put(t, key("list/a"), []byte("a"))
		put(t, key("list/b"), []byte("bb"))
		defer d.Delete(ctx, key("list/a"))
		defer d.Delete(ctx, key("list/b"))
		seen := map[string]int64{}
		err := d.List(ctx, key("list/"), func(i blob.Info) error { seen[i.Key] = i.Size; return nil })
		if err != nil || len(seen) != 2 || seen[key("list/b")] != 2 {
			t.Errorf("list: %v %v", seen, err)
		}
	})
	t.Run("signed url", func(t *testing.T) {
		k := key("signed")
		put(t, k, []byte("presigned body"))
		defer d.Delete(ctx, k)
		u, err := d.SignedURL(ctx, k, time.Minute, blob.SignOptions{ContentDisposition: `attachment; filename="x.bin"`})
		if errors.Is(err, blob.ErrUnsupported) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(b) != "presigned body" || !strings.Contains(res.Header.Get("Content-Disposition"), "x.bin") {
			t.Errorf("presigned GET: %d %q %q", res.StatusCode, b, res.Header.Get("Content-Disposition"))
		}
	})
	t.Run("unfinished uploads swept", func(t *testing.T) {
		// Under blobs/, where the registry writes and the janitor looks.
		k := "blobs/" + strings.ReplaceAll(prefix, "/", "-") + "-unfinished"
		w, err := d.Writer(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Cancel(ctx) //nolint:errcheck // the sweep already aborted it
		if _, err := w.Write(random(12 << 20)); err != nil {
			t.Fatal(err)
		}
		sweep := func(cutoff time.Time, dry bool) int {
			t.Helper()
			u, err := d.SweepUnfinished(ctx, cutoff, dry)
			if err != nil {
				t.Fatal(err)
			}
			return u.Uploads
		}
		if n := sweep(time.Now().Add(-time.Hour), false); n != 0 {
			t.Errorf("swept %d uploads younger than the cutoff", n)
		}
		if n := sweep(time.Now().Add(time.Hour), true); n < 1 {
			t.Errorf("dry run found %d unfinished uploads", n)
		}
		if n := sweep(time.Now().Add(time.Hour), false); n < 1 {
			t.Errorf("swept %d unfinished uploads", n)
		}
		if n := sweep(time.Now().Add(time.Hour), true); n != 0 {
			t.Errorf("%d unfinished uploads left after the sweep", n)
		}
		if _, err := d.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("an unfinished upload is visible: %v", err)
		}
	})
	t.Run("ping", func(t *testing.T) {
		if err := d.Ping(ctx); err != nil {
			t.Error(err)
		}
	})
	t.Run("nothing left behind", func(t *testing.T) {
		var left []string
		d.List(ctx, prefix+"/", func(i blob.Info) error { left = append(left, i.Key); return nil })
		if len(left) > 0 {
			t.Errorf("objects left behind: %v", left)
		}
	})
}
