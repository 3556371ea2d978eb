package registry

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/pkgate/pkgate/internal/errs"
	"github.com/pkgate/pkgate/storage/blob"
)

func hexSum(sum []byte) string { return hex.EncodeToString(sum) }

// With DeferDigests, md5 and sha1 come with an upload of up to one part
// and are left to the backfill past it, whether the size was announced or
// found at the end; a digest the client announced is always computed (and
// checked). sha256, the blob's identity, always is.
func TestIngestDeferDigests(t *testing.T) {
	fs, err := blob.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), (backgroundAfter+1<<20)/16)
	cases := []struct {
		name       string
		size       int
		hint       int64
		deferred   bool
		expectMD5  bool
		wantMD5    bool
		wantSHA1   bool
		background bool
	}{
		{"not deferred, large", backgroundAfter + 1, -1, false, false, true, true, false},
		{"small, announced", 1000, 1000, true, false, true, true, false},
		{"small, unknown size", 1000, -1, true, false, true, true, false},
		{"exactly one part, announced", backgroundAfter, backgroundAfter, true, false, true, true, false},
		{"exactly one part, unknown size", backgroundAfter, -1, true, false, true, true, true},
		{"one byte past a part, announced", backgroundAfter + 1, backgroundAfter + 1, true, false, false, false, false},
		{"one byte past a part, unknown size", backgroundAfter + 1, -1, true, false, false, false, true},
		{"a MiB past, unknown size, background digests", backgroundAfter + 1<<20, -1, true, false, false, false, true},
		{"past a part, md5 announced", backgroundAfter + 1<<20, backgroundAfter + 1<<20, true, true, true, false, false},
		{"empty", 0, 0, true, false, true, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Registry{Blobs: fs, BackgroundDigests: tc.background}
			body := data[:tc.size]
			m, s1, s256 := md5.Sum(body), sha1.Sum(body), sha256.Sum256(body)
			opt := IngestOptions{DeferDigests: tc.deferred, SizeHint: tc.hint}
			if tc.expectMD5 {
				opt.Expect.MD5 = hexSum(m[:])
			}
			st, err := r.Ingest(context.Background(), struct{ io.Reader }{bytes.NewReader(body)}, opt)
			if err != nil {
				t.Fatal(err)
			}
			if st.SHA256 != hexSum(s256[:]) || st.Size != int64(tc.size) {
				t.Fatalf("sha256 %s size %d, want %x %d", st.SHA256, st.Size, s256, tc.size)
			}
			if got := st.MD5 != ""; got != tc.wantMD5 || (got && st.MD5 != hexSum(m[:])) {
				t.Errorf("md5 %q, want it computed: %v", st.MD5, tc.wantMD5)
			}
			if got := st.SHA1 != ""; got != tc.wantSHA1 || (got && st.SHA1 != hexSum(s1[:])) {
				t.Errorf("sha1 %q, want it computed: %v", st.SHA1, tc.wantSHA1)
			}
		})
	}
}

// An announced md5 that does not match fails the upload even when md5
// would otherwise be left to the backfill.
func TestIngestDeferDigestsChecksAnnounced(t *testing.T) {
	fs, err := blob.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{Blobs: fs}
	body := bytes.Repeat([]byte{7}, backgroundAfter+1)
	opt := IngestOptions{DeferDigests: true, SizeHint: int64(len(body))}
	opt.Expect.MD5 = "00000000000000000000000000000000"
	if _, err := r.Ingest(context.Background(), bytes.NewReader(body), opt); err == nil {
		t.Fatal("a wrong announced md5 was accepted")
	}
}

// cutBody reads like net/http's request body when the client sends fewer
// bytes than its Content-Length: the bytes it got, then
// io.ErrUnexpectedEOF once (with the last bytes, when withLast), then
// io.EOF.
type cutBody struct {
	r        io.Reader
	withLast bool
	failed   bool
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.failed {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	if err == io.EOF || (b.withLast && n > 0 && b.r.(*bytes.Reader).Len() == 0) {
		b.failed = true
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// A body cut short is a failed upload (400, nothing stored), not a
// complete file of the bytes that came, whether the cut comes within a
// read's minimum or with the byte that completes it.
func TestIngestTruncatedBody(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		withLast bool
	}{
		{"small, error alone", 1000, false},
		{"small, error with the last bytes", 1000, true},
		{"a chunk's minimum, error with the last bytes", chunkSize / 4, true},
		{"past a part, error alone", backgroundAfter + 1<<20, false},
		{"past a part, error with the last bytes", backgroundAfter + chunkSize/2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fs, err := blob.NewFS(dir)
			if err != nil {
				t.Fatal(err)
			}
			r := &Registry{Blobs: fs}
			body := &cutBody{r: bytes.NewReader(make([]byte, tc.size)), withLast: tc.withLast}
			st, err := r.Ingest(context.Background(), body, IngestOptions{DeferDigests: true, SizeHint: int64(tc.size) * 2})
			if err == nil {
				t.Fatalf("a body cut short was stored as a complete %d-byte file", st.Size)
			}
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("err %v, want a 400", err)
			}
			err = fs.List(context.Background(), "", func(i blob.Info) error {
				t.Errorf("object %s left behind", i.Key)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// storedMD5s is a driver whose store reports, for bodies up to max bytes,
// md5 as the md5 of every object committed (blob.StoreMD5).
type storedMD5s struct {
	blob.Driver
	max int64
	md5 string
}

func (s storedMD5s) ProbeStoredMD5(context.Context) (bool, error) { return s.max > 0, nil }
func (s storedMD5s) StoredMD5Max() int64                          { return s.max }
func (s storedMD5s) Writer(ctx context.Context, key string) (blob.Writer, error) {
	w, err := s.Driver.Writer(ctx, key)
	return reportingWriter{w, s.md5}, err
}

type reportingWriter struct {
	blob.Writer
	md5 string
}

func (w reportingWriter) StoredMD5() string { return w.md5 }

// An upload whose md5 may be left to the backfill takes the store's when
// the store reports one for its size, and computes it otherwise; what the
// store could not vouch for is left empty, for the backfill.
func TestIngestStoredMD5(t *testing.T) {
	fs, err := blob.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("abc"), 1000)
	sum := md5.Sum(body)
	real := hexSum(sum[:])
	const fromStore = "0123456789abcdef0123456789abcdef"
	cases := []struct {
		name     string
		max      int64
		stored   string
		hint     int64
		deferred bool
		announce bool
		want     string
	}{
		{"the store's", 4096, fromStore, 3000, true, false, fromStore},
		{"size unknown", 4096, fromStore, -1, true, false, real},
		{"larger than the store reports", 2000, fromStore, 3000, true, false, real},
		{"not deferred", 4096, fromStore, 3000, false, false, real},
		{"md5 announced", 4096, fromStore, 3000, true, true, real},
		{"the store reports none", 4096, "", 3000, true, false, ""},
		{"the store's ETags are not md5s", 0, fromStore, 3000, true, false, real},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Registry{Blobs: storedMD5s{fs, tc.max, tc.stored}}
			opt := IngestOptions{DeferDigests: tc.deferred, SizeHint: tc.hint}
			if tc.announce {
				opt.Expect.MD5 = real
			}
			st, err := r.Ingest(context.Background(), bytes.NewReader(body), opt)
			if err != nil {
				t.Fatal(err)
			}
			if st.MD5 != tc.want {
				t.Errorf("md5 %q, want %q", st.MD5, tc.want)
			}
			if s1 := sha1.Sum(body); st.SHA1 != hexSum(s1[:]) {
				t.Errorf("sha1 %q, want it computed", st.SHA1)
			}
		})
	}
}
