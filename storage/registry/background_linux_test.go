package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/pkgate/pkgate/storage/blob"
)

// TestMain keeps the main thread to the main goroutine, as `gateway
// serve` does: a worker that started there would stay at the process's
// priority, and with one worker the test could not tell that from a
// failure.
func TestMain(m *testing.M) {
	runtime.LockOSThread()
	os.Exit(m.Run())
}

// threads maps this process's thread ids to their nice values.
func threads(t *testing.T) map[int]int {
	t.Helper()
	stats, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		tid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		// Fields after "(comm)": state is field 3, nice field 19.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		out[tid], _ = strconv.Atoi(f[19-3])
	}
	return out
}

func niced(ts map[int]int) int {
	n := 0
	for _, nice := range ts {
		if nice == 19 {
			n++
		}
	}
	return n
}

// Past its first part, an upload's digests go to workers on threads at
// nice 19, only with BackgroundDigests; there are at most GOMAXPROCS-1 of
// them, started once; and no thread of the process ever ends because of
// them (a child process started from a thread that ends is killed when it
// was started with a parent-death signal, as the tests start MinIO). The
// digests are the bytes', wherever they were computed.
func TestDigestsMoveToTheBackground(t *testing.T) {
	if niced(threads(t)) != 0 {
		t.Skip("this process already runs threads at nice 19")
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("with one P the digests are computed in place")
	}
	large := backgroundAfter + 3<<20 + 5
	// The workers, once started, stay: the cases that must not start
	// them come first.
	for _, tc := range []struct {
		name       string
		background bool
		size       int
		wantNiced  bool
	}{
		{"switched off", false, large, false},
		{"an upload of one part", true, backgroundAfter, false},
		{"large upload", true, large, true},
		{"another large upload", true, large, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := blob.NewFS(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			before := threads(t)
			data := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16+1)[:tc.size]
			r := &Registry{Blobs: fs, BackgroundDigests: tc.background}
			st, err := r.Ingest(context.Background(), bytes.NewReader(data), IngestOptions{SHA512: true})
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if st.SHA256 != hex.EncodeToString(sum[:]) || st.Size != int64(tc.size) {
				t.Errorf("digests %s/%d, want %x/%d", st.SHA256, st.Size, sum, tc.size)
			}
			after := threads(t)
			for tid := range before {
				if _, ok := after[tid]; !ok {
					t.Errorf("thread %d ended during the upload", tid)
				}
			}
			n := niced(after)
			if (n > 0) != tc.wantNiced || n > runtime.GOMAXPROCS(0)-1 {
				t.Errorf("%d threads at nice 19, want some (at most %d): %v", n, runtime.GOMAXPROCS(0)-1, tc.wantNiced)
			}
			if tc.wantNiced && niced(before) > 0 && n != niced(before) {
				t.Errorf("%d threads at nice 19 after the upload, %d before: the workers are not reused", n, niced(before))
			}
		})
	}
}
