package tests

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/tests/harness"
)

// TestFaultS3KilledMidUpload: S3 dies while a large upload streams. The
// client gets a clear 5xx within a bounded time, no row points at a missing
// blob, readiness turns false, small uploads and downloads fail as cleanly,
// and everything works again when S3 is back — without restarting the
// gateway.
func TestFaultS3KilledMidUpload(t *testing.T) {
	ctx := context.Background()
	m, err := harness.StartMinIO(ctx)
	if err != nil {
		t.Fatalf("minio: %v", err)
	}
	defer m.Close()
	e := NewEnvOn(t, adminDSN, m.S3())
	s := e.NewScenario()
	url := fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/big/1.0/big.bin", e.URL, s.ProjectID)
	// A file above the small-blob cache's 1 MiB, so every download of it
	// is a GET from S3.
	pre := fmt.Sprintf("/api/v4/projects/%d/packages/generic/pre/1.0/pre.bin", s.ProjectID)
	preBody := strings.Repeat("0123456789abcdef", 2<<16)
	e.Must(201, e.Do("PUT", pre, preBody, DeployHdr(s.WriteToken)))

	// A body that streams 1 MiB chunks until the test stops it.
	pr, pw := io.Pipe()
	chunk := make([]byte, 1<<20)
	sent := make(chan int64, 1)
	go func() {
		var n int64
		defer func() { sent <- n }()
		for i := 0; i < 2048; i++ { // at most 2 GiB
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			n += int64(len(chunk))
			if n == 64<<20 { // well into the multipart upload
				m.Stop()
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("PUT", url, pr)
	req.Header.Set("Deploy-Token", s.WriteToken)
	start := time.Now()
	res, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	elapsed := time.Since(start)
	pr.CloseWithError(io.ErrClosedPipe)
	<-sent
	if err != nil {
		t.Fatalf("client error instead of a 5xx answer after %v: %v", elapsed, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 {
		t.Fatalf("status %d after %v: %s", res.StatusCode, elapsed, body)
	}
	ErrBody(t, &Resp{Status: res.StatusCode, Body: body}, "message", "503 Service Unavailable - blob storage unavailable")
	var rows int
	e.Store.DB().Get(&rows, "SELECT count(*) FROM package_files WHERE file_name <> 'pre.bin'")
	if rows != 0 {
		t.Errorf("%d file rows after a failed upload", rows)
	}
	e.Store.DB().Get(&rows, "SELECT count(*) FROM blobs")
	if rows != 1 {
		t.Errorf("%d blob rows after a failed upload, want the one stored before", rows)
	}
	r := e.Do("GET", "/-/readiness", nil, nil)
	if r.Status != 503 {
		t.Errorf("readiness %d while S3 is down: %s", r.Status, r.Body)
	}
	// A small upload (one signed PUT, not multipart) fails the same way,
	// after the retryer's few attempts.
	small := e.Do("PUT", fmt.Sprintf("/api/v4/projects/%d/packages/generic/small/1.0/f.txt", s.ProjectID), "while S3 is down", DeployHdr(s.WriteToken))
	if small.Status != 503 {
		t.Fatalf("small upload while S3 is down: %d %s", small.Status, small.Body)
	}
	ErrBody(t, small, "message", "503 Service Unavailable - blob storage unavailable")
	e.Store.DB().Get(&rows, "SELECT count(*) FROM package_files WHERE file_name <> 'pre.bin'")
	if rows != 0 {
		t.Errorf("%d file rows after a failed small upload", rows)
	}
	// A download needs S3 too: a clean 503, not a truncated 200.
	down := e.Do("GET", pre, nil, DeployHdr(s.ReadToken))
	if down.Status != 503 {
		t.Fatalf("download while S3 is down: %d (%d bytes)", down.Status, len(down.Body))
	}
	ErrBody(t, down, "message", "503 Service Unavailable - blob storage unavailable")
	if err := m.Start(ctx); err != nil {
		t.Fatalf("restart minio: %v", err)
	}
	e.Must(200, e.Do("GET", "/-/readiness", nil, nil))
	e.Must(201, e.Do("PUT", url, "after recovery", DeployHdr(s.WriteToken)))
	got := e.Must(200, e.Do("GET", url, nil, DeployHdr(s.ReadToken)))
	if string(got.Body) != "after recovery" {
		t.Fatalf("download after recovery: %q", got.Body)
	}
	if got := e.Must(200, e.Do("GET", pre, nil, DeployHdr(s.ReadToken))); string(got.Body) != preBody {
		t.Fatalf("download of the file stored before the outage: %d bytes back", len(got.Body))
	}
	assertNoOrphanObjects(t, e)
}

// TestFaultPostgresRestart: under a steady load of downloads and uploads,
// requests fail cleanly (503, never a 500 or a hang) while Postgres is
// down and succeed after it returns, without restarting the gateway.
func TestFaultPostgresRestart(t *testing.T) {
	ctx := context.Background()
	pg, err := harness.StartPostgres(ctx)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer pg.Close()
	e := NewEnvOn(t, pg.DSN(), s3svc)
	s := e.NewScenario()
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/f.txt", s.ProjectID)
	e.Must(201, e.Do("PUT", url, "before", DeployHdr(s.WriteToken)))

	// Load: readers and writers until told to stop, recording every status.
	var mu sync.Mutex
	seen := map[int]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	lc := &http.Client{Timeout: 20 * time.Second}
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var r *http.Request
				if w%2 == 0 {
					r, _ = http.NewRequest("GET", e.URL+url, nil)
				} else {
					r, _ = http.NewRequest("PUT", fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/load/%d.%d/f.txt", e.URL, s.ProjectID, w, i), strings.NewReader("x"))
				}
				r.Header.Set("Deploy-Token", s.WriteToken)
				status := -1
				if res, err := lc.Do(r); err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					status = res.StatusCode
				}
				mu.Lock()
				seen[status]++
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}(w)
	}
	time.Sleep(200 * time.Millisecond)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	e.Must(503, e.Do("GET", "/-/readiness", nil, nil))
	r := e.Do("GET", fmt.Sprintf("/api/v4/projects/%d/packages/generic/p/1.0/missing.txt", s.ProjectID), nil, DeployHdr(s.ReadToken))
	if r.Status != 503 {
		t.Fatalf("while down: %d %s", r.Status, r.Body)
	}
	ErrBody(t, r, "message", "")
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = e.Do("GET", url, nil, DeployHdr(s.ReadToken))
		if (r.Status == 200 && e.Do("GET", "/-/readiness", nil, nil).Status == 200) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // some load after recovery
	close(stop)
	wg.Wait()
	if r.Status != 200 || string(r.Body) != "before" {
		t.Fatalf("after restart: %d %s", r.Status, r.Body)
	}
	e.Must(201, e.Do("PUT", url, "after", DeployHdr(s.WriteToken)))
	for status, n := range seen {
		if status != 200 && status != 201 && status != 503 {
			t.Errorf("%d requests answered %d under the restart", n, status)
		}
	}
	if seen[503] == 0 || seen[201] == 0 {
		t.Errorf("load did not cover the outage and the recovery: %v", seen)
	}
}

// TestGracefulShutdownFinishesUploads: a shutdown that starts while an
// upload streams lets that upload finish and commit.
func TestGracefulShutdownFinishesUploads(t *testing.T) {
	e := NewEnv(t)
	s := e.NewScenario()
	url := fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/p/1.0/slow.bin", e.URL, s.ProjectID)
	// Expect: 100-continue proves the handler is running (the server sends
	// 100 only when the handler starts reading the body); shutting down
	// before that would test an unaccepted connection instead.
	pr, pw := io.Pipe()
	stopped := make(chan struct{})
	got100 := make(chan struct{})
	go func() {
		<-got100
		chunk := make([]byte, 256<<10)
		for i := 0; i < 40; i++ {
			if i == 8 {
				go func() { e.Stop(); close(stopped) }()
				time.Sleep(200 * time.Millisecond) // shutdown is now in progress
			}
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	trace := &httptrace.ClientTrace{Got100Continue: func() { close(got100) }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "PUT", url, pr)
	req.Header.Set("Deploy-Token", s.WriteToken)
	req.Header.Set("Expect", "100-continue")
	req.ContentLength = 40 * 256 << 10
	tr := &http.Transport{ExpectContinueTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("upload during shutdown: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("status %d", res.StatusCode)
	}
	<-stopped
	db, err := sqlx.Open("postgres", e.Cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var size int64
	if err := db.Get(&size, "SELECT size FROM package_files"); err != nil || size != 40*256<<10 {
		t.Fatalf("committed file: size %d, err %v", size, err)
	}
	if _, err := http.Get(e.URL + "/-/health"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}

// TestStalledUploadIsDropped: a client that stops sending its body in the
// middle of an upload does not hold the request: the gateway gives up after
// the idle timeout and nothing is committed.
func TestStalledUploadIsDropped(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.BodyIdleTimeout = time.Second })
	s := e.NewScenario()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /api/v4/projects/%d/packages/generic/stall/1.0/f.bin HTTP/1.1\r\nHost: x\r\nDeploy-Token: %s\r\nContent-Length: 1000000\r\n\r\n", s.ProjectID, s.WriteToken)
	conn.Write(make([]byte, 1000)) // then stall
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, _ := io.ReadAll(conn) // returns when the gateway answers and closes
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("stalled upload held for %v", waited)
	}
	if len(resp) > 0 && !strings.Contains(string(resp), " 400 ") {
		t.Errorf("unexpected answer: %q", resp)
	}
	var rows int
	e.Store.DB().Get(&rows, "SELECT count(*) FROM package_files")
	if rows != 0 {
		t.Errorf("%d file rows after a stalled upload", rows)
	}
	// The gateway still serves.
	e.Must(200, e.Do("GET", "/-/health", nil, nil))
}

// TestStalledDownloadIsDropped: a client that stops reading a large
// download does not hold the request: after the idle timeout the gateway
// gives up and closes the connection.
func TestStalledDownloadIsDropped(t *testing.T) {
	e := NewEnv(t, func(c *gateway.Config) { c.BodyIdleTimeout = time.Second })
	s := e.NewScenario()
	const size = 64 << 20
	path := fmt.Sprintf("/api/v4/projects/%d/packages/generic/big/1.0/f.bin", s.ProjectID)
	req, _ := http.NewRequest("PUT", e.URL+path, io.LimitReader(zeroes{}, size))
	req.ContentLength = size
	req.Header.Set("Deploy-Token", s.WriteToken)
	if res, err := client.Do(req); err != nil || res.StatusCode != 201 {
		t.Fatalf("upload: %v %v", res, err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(64 << 10)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nDeploy-Token: %s\r\n\r\n", path, s.ReadToken)
	time.Sleep(4 * time.Second) // stall well past the idle timeout
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, _ := io.Copy(io.Discard, conn)
	if got >= size {
		t.Fatalf("the stalled download was completed (%d bytes): the gateway kept waiting", got)
	}
	e.Must(200, e.Do("GET", "/-/health", nil, nil))
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
