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

// thread is what /proc tells of one of this process's threads.
type thread struct {
	nice  int
	ticks int // CPU time, user and system, in clock ticks
}

// threads maps this process's thread ids to their nice values and CPU.
func threads(t *testing.T) map[int]thread {
	t.Helper()
	stats, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]thread{}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		tid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		// Fields after "(comm)": state is field 3, utime 14, stime 15,
		// nice 19.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		field := func(n int) int { v, _ := strconv.Atoi(f[n-3]); return v }
		out[tid] = thread{nice: field(19), ticks: field(14) + field(15)}
	}
	return out
}

// niced counts the threads at nice 19 and the CPU they have used.
func niced(ts map[int]thread) (n, ticks int) {
	for _, th := range ts {
		if th.nice == 19 {
			n++
			ticks += th.ticks
		}
	}
	return n, ticks
}

// Past its first part, an upload's digests are computed on threads at
// nice 19 (their CPU time grows by the hashing), and only with
// BackgroundDigests and more than one P; there are at most GOMAXPROCS-1
// such threads, started once and reused; and no thread of the process
// ever ends because of them (a child process started from a thread that
// ends is killed when it was started with a parent-death signal, as the
// tests start MinIO). The digests are the bytes', wherever they were
// computed. Run with GOMAXPROCS=1 it checks that the digests stay in
// place.
func TestDigestsMoveToTheBackground(t *testing.T) {
	workers := runtime.GOMAXPROCS(0) - 1
	// sha256, sha1, md5 and sha512 of 40 MiB: some 170 ms of CPU here,
	// many clock ticks.
	large := 40 << 20
	for _, tc := range []struct {
		name       string
		background bool
		size       int
		wantNiced  bool
	}{
		{"switched off", false, large, false},
		{"an upload of one part", true, backgroundAfter, false},
		{"large upload", true, large, workers > 0},
		{"another large upload", true, large, workers > 0},
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
			n0, ticks0 := niced(before)
			n, ticks := niced(after)
			if worked := ticks > ticks0; worked != tc.wantNiced {
				t.Errorf("threads at nice 19 used %d clock ticks during the upload; want some: %v", ticks-ticks0, tc.wantNiced)
			}
			if n > workers {
				t.Errorf("%d threads at nice 19, want at most %d", n, workers)
			}
			if n0 > 0 && n != n0 {
				t.Errorf("%d threads at nice 19 after the upload, %d before: the workers are not reused", n, n0)
			}
		})
	}
}
