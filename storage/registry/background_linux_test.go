package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/blob"
)

// TestMain keeps the main thread to the main goroutine: a digest
// goroutine that ran there would stay at the process's priority
// (toBackground), and the test could not tell that from a failure.
func TestMain(m *testing.M) {
	runtime.LockOSThread()
	os.Exit(m.Run())
}

// nicedThreads counts this process's threads whose nice value is 19.
func nicedThreads(t *testing.T) int {
	t.Helper()
	stats, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		// Fields after "(comm)": state is field 3, nice field 19.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if nice, _ := strconv.Atoi(f[19-3]); nice == 19 {
			n++
		}
	}
	return n
}

// until polls cond for up to d.
func until(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// body is an upload that, before its last byte, looks for a thread at
// nice 19 while the digests run.
type body struct {
	t      *testing.T
	r      io.Reader
	left   int
	expect bool
	saw    bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.left == 1 {
		// The digests are a few chunks behind the reads at most.
		wait := 200 * time.Millisecond
		if b.expect {
			wait = 5 * time.Second
		}
		b.saw = until(wait, func() bool { return nicedThreads(b.t) > 0 })
	}
	if len(p) > b.left-1 && b.left > 1 {
		p = p[:b.left-1]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

// An upload's digests move to a thread of the lowest priority past its
// first part, only with BackgroundDigests, and that thread ends with the
// upload: no other goroutine may ever run at that priority. The digests
// are those of the bytes, wherever they were computed.
func TestDigestsMoveToTheBackground(t *testing.T) {
	if os.Geteuid() != 0 && nicedThreads(t) != 0 {
		t.Skip("this process already runs threads at nice 19")
	}
	for _, tc := range []struct {
		name       string
		background bool
		size       int
		wantNiced  bool
	}{
		{"large upload", true, backgroundAfter + 3<<20 + 5, true},
		{"an upload of one part", true, backgroundAfter - 1, false},
		{"switched off", false, backgroundAfter + 3<<20 + 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := blob.NewFS(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16+1)[:tc.size]
			src := &body{t: t, r: bytes.NewReader(data), left: tc.size, expect: tc.wantNiced}
			r := &Registry{Blobs: fs, BackgroundDigests: tc.background}
			st, err := r.Ingest(context.Background(), src, IngestOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if st.SHA256 != hex.EncodeToString(sum[:]) || st.Size != int64(tc.size) {
				t.Errorf("digests %s/%d, want %x/%d", st.SHA256, st.Size, sum, tc.size)
			}
			if src.saw != tc.wantNiced {
				t.Errorf("a thread at nice 19 during the upload: %v, want %v", src.saw, tc.wantNiced)
			}
			if !until(5*time.Second, func() bool { return nicedThreads(t) == 0 }) {
				t.Error("a thread at nice 19 outlived the upload")
			}
		})
	}
}
