package blob

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// etagS3 stores nothing; it answers each PUT with an ETag that is the
// md5 of its body (or, with uuids, something of the same shape that is
// not), with sse as its encryption header, and multipart requests as S3
// does.
type etagS3 struct {
	mu    sync.Mutex
	uuids bool
	sse   string
	fail  bool
	puts  atomic.Int32
}

func (f *etagS3) set(uuids bool, sse string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uuids, f.sse = uuids, sse
}

func (f *etagS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	uuids, sse, fail := f.uuids, f.sse, f.fail
	f.mu.Unlock()
	q := r.URL.Query()
	switch {
	case fail:
		w.WriteHeader(http.StatusServiceUnavailable)
	case r.Method == http.MethodPost && q.Has("uploads"):
		io.WriteString(w, `<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPost:
		io.WriteString(w, `<CompleteMultipartUploadResult><ETag>"0123456789abcdef0123456789abcdef-2"</ETag></CompleteMultipartUploadResult>`)
	case r.Method == http.MethodPut:
		f.puts.Add(1)
		sum := md5.Sum(b)
		etag := hex.EncodeToString(sum[:])
		if uuids {
			etag = strings.Repeat("ab", 16)
		}
		if sse != "" {
			w.Header().Set("X-Amz-Server-Side-Encryption", sse)
		}
		w.Header().Set("ETag", `"`+etag+`"`)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// store writes body through d's writer and answers what the writer
// reports as the store's md5.
func store(t *testing.T, d *S3, body []byte) string {
	t.Helper()
	ctx := context.Background()
	w, err := d.Writer(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return w.(MD5Reporter).StoredMD5()
}

// The driver reports the md5 in a PUT's ETag only after a probe found the
// store's ETags to be md5s, only for bodies sent in one PUT, and only for
// answers that name the probe's encryption: S3 under SSE-KMS, SSE-C or a
// MinIO started with --no-compat answers ETags of the same shape that are
// not md5s, and a wrong md5 would be published as the file's.
func TestStoredMD5FromETag(t *testing.T) {
	small := []byte(strings.Repeat("small body ", 100))
	sum := md5.Sum(small)
	want := hex.EncodeToString(sum[:])
	cases := []struct {
		name       string
		off        bool   // S3Config.ETagMD5 false
		uuids      bool   // the store's ETags are not md5s
		probeSSE   string // encryption named when probed
		laterSSE   string // and when the body is stored
		failProbe  bool
		wantProbe  bool
		wantMax    bool
		wantStored bool
	}{
		{name: "md5 ETags", wantProbe: true, wantMax: true, wantStored: true},
		{name: "md5 ETags under SSE-S3", probeSSE: "AES256", laterSSE: "AES256", wantProbe: true, wantMax: true, wantStored: true},
		{name: "turned off", off: true},
		{name: "ETags that are not md5s", uuids: true},
		{name: "KMS turned on after the probe", laterSSE: "aws:kms", wantProbe: true, wantMax: true},
		{name: "the probe failed", failProbe: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &etagS3{uuids: tc.uuids, sse: tc.probeSSE}
			d := newS3For(t, f)
			d.cfg.ETagMD5 = !tc.off
			if max := d.StoredMD5Max(); max != 0 {
				t.Fatalf("StoredMD5Max %d before any probe, want 0", max)
			}
			if got := store(t, d, small); got != "" {
				t.Fatalf("StoredMD5 %q before any probe, want none", got)
			}
			f.mu.Lock()
			f.fail = tc.failProbe
			f.mu.Unlock()
			ok, err := d.ProbeStoredMD5(context.Background())
			if (err != nil) != tc.failProbe || ok != tc.wantProbe {
				t.Fatalf("ProbeStoredMD5: %v, %v; want %v, failed %v", ok, err, tc.wantProbe, tc.failProbe)
			}
			if tc.off && f.puts.Load() != 1 { // the store before the probe
				t.Errorf("turned off, the probe sent %d PUTs, want none", f.puts.Load()-1)
			}
			if max := d.StoredMD5Max(); (max == int64(d.cfg.PartSize)) != tc.wantMax || (max != 0 && !tc.wantMax) {
				t.Errorf("StoredMD5Max %d, want the part size: %v", max, tc.wantMax)
			}
			f.mu.Lock()
			f.fail = false
			f.mu.Unlock()
			f.set(tc.uuids, tc.laterSSE)
			if got := store(t, d, small); (got == want) != tc.wantStored || (got != "" && got != want) {
				t.Errorf("StoredMD5 %q, want %q: %v", got, want, tc.wantStored)
			}
			// A body past one part goes as a multipart upload, whose
			// ETag is no md5 of the object.
			if got := store(t, d, make([]byte, d.cfg.PartSize+1)); got != "" {
				t.Errorf("StoredMD5 of a multipart upload %q, want none", got)
			}
		})
	}
}

// The metrics decorator keeps both sides of StoreMD5.
func TestObservedKeepsStoredMD5(t *testing.T) {
	f := &etagS3{}
	d := newS3For(t, f)
	d.cfg.ETagMD5 = true
	o := WithObserver(d, func(string, string, time.Duration, error) {}).(StoreMD5)
	if ok, err := o.ProbeStoredMD5(context.Background()); !ok || err != nil {
		t.Fatalf("ProbeStoredMD5 through the decorator: %v, %v", ok, err)
	}
	if o.StoredMD5Max() != int64(d.cfg.PartSize) {
		t.Fatalf("StoredMD5Max through the decorator: %d", o.StoredMD5Max())
	}
	w, err := o.(Driver).Writer(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abc"))
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := w.(MD5Reporter).StoredMD5(), "900150983cd24fb0d6963f7d28e17f72"; got != want {
		t.Errorf("StoredMD5 through the decorator %q, want %q", got, want)
	}
	fs, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := WithObserver(fs, func(string, string, time.Duration, error) {}).(StoreMD5).ProbeStoredMD5(context.Background()); ok || err != nil {
		t.Errorf("the fs driver through the decorator: %v, %v; want false", ok, err)
	}
}
