package tests

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
)

// A client that announces more bytes than it sends and closes its side
// has not uploaded a file: 400, and no package file of the bytes that
// came. With the fs driver nothing else stops it (an S3 commit may fail
// on the request's cancelled context first); past one part the cut
// upload would also have had its md5 and sha1 backfilled from the
// truncated bytes.
func TestGenericTruncatedBodyFS(t *testing.T) {
	dir := t.TempDir()
	e := NewEnv(t, func(c *gateway.Config) { c.BlobDriver, c.FSRoot = "fs", dir })
	s := e.NewScenario()
	host := strings.TrimPrefix(e.URL, "http://")
	for i, tc := range []struct {
		announced, sent int
	}{
		{100_000, 50_000},
		{10 << 20, 9 << 20},
	} {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		path := fmt.Sprintf("/api/v4/projects/%d/packages/generic/cut/1/f%d.bin", s.ProjectID, i)
		fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nDeploy-Token: %s\r\nContent-Length: %d\r\n\r\n", path, host, s.WriteToken, tc.announced)
		if _, err := conn.Write(randomBytes(uint64(i), tc.sent)); err != nil {
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%d of %d bytes: %v", tc.sent, tc.announced, err)
		}
		res.Body.Close()
		conn.Close()
		if res.StatusCode != 400 {
			t.Errorf("%d of %d bytes: status %d, want 400", tc.sent, tc.announced, res.StatusCode)
		}
	}
	var n int
	if err := e.Store.DB().QueryRow(`SELECT count(*) FROM package_files`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("cut uploads left %d package files", n)
	}
	assertNoOrphanObjects(t, e)
}
