package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkgate/pkgate/gateway"
	"github.com/pkgate/pkgate/storage/blob"
)

// slowProxy stands between the gateway and Postgres and, while delay is
// set, holds each of Postgres's answers that long: a statement that has
// committed, and whose answer has not reached the gateway yet.
type slowProxy struct {
	ln    net.Listener
	delay atomic.Int64
}

func startSlowProxy(t *testing.T, target string) *slowProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				pg, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer pg.Close()
				go func() { _, _ = io.Copy(pg, c); pg.Close() }()
				buf := make([]byte, 64<<10)
				for {
					n, err := pg.Read(buf)
					if n > 0 {
						if d := p.delay.Load(); d > 0 {
							time.Sleep(time.Duration(d))
						}
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

// A client that hangs up while its upload's metadata statement is in
// flight must not leave committed rows naming an object the gateway then
// deleted as a failed upload's: the file is either there and downloadable
// or not there at all, never a 503 for missing bytes.
func TestDisconnectDuringCommit(t *testing.T) {
	var proxy *slowProxy
	e := NewEnv(t, func(c *gateway.Config) {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy = startSlowProxy(t, u.Host)
		u.Host = proxy.ln.Addr().String()
		c.DatabaseURL = u.String()
	})
	s := e.NewScenario()
	for i, body := range []string{"first bytes of the file", "second bytes of the file"} {
		path := fmt.Sprintf("/api/v4/projects/%d/packages/generic/dl/1.0/f%d.bin", s.ProjectID, i)
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: x\r\nDeploy-Token: %s\r\nContent-Length: %d\r\n\r\n%s", path, s.WriteToken, len(body), body[:len(body)-1])
		time.Sleep(500 * time.Millisecond) // the gateway is streaming the body
		proxy.delay.Store(int64(800 * time.Millisecond))
		conn.Write([]byte(body[len(body)-1:])) // the statement goes out, its answer is held
		time.Sleep(300 * time.Millisecond)
		conn.Close() // the client leaves before the answer
		time.Sleep(1500 * time.Millisecond)
		proxy.delay.Store(0)
		time.Sleep(500 * time.Millisecond)

		sum := sha256.Sum256([]byte(body))
		var key string
		err = e.Store.DB().Get(&key, `SELECT storage_key FROM blobs WHERE sha256 = $1`, hex.EncodeToString(sum[:]))
		if err != nil {
			// Not recorded at all is a clean outcome: nothing names anything.
			e.Must(404, e.Do("GET", path, nil, DeployHdr(s.ReadToken)))
			continue
		}
		if _, err := e.Server.Blobs.Stat(t.Context(), key); errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("upload %d: its row names %s, which was deleted", i, key)
		} else if err != nil {
			t.Fatal(err)
		}
		if r := e.Do("GET", path, nil, DeployHdr(s.ReadToken)); r.Status != 200 || string(r.Body) != body {
			t.Fatalf("upload %d: download %d %q", i, r.Status, r.Body)
		}
	}
}
