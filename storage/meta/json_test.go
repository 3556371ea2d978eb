package meta

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestJSONValueIsText(t *testing.T) {
	cases := []struct {
		in      JSON
		want    any
		wantErr bool
	}{
		{JSON(`{"a":1}`), `{"a":1}`, false},
		{JSON(`[]`), `[]`, false},
		{JSON(`{"a":`), nil, true},
		{nil, nil, true},
	}
	for _, c := range cases {
		got, err := c.in.Value()
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%q: got %v (%T), %v; want %v, error %v", c.in, got, got, err, c.want, c.wantErr)
		}
	}
}

func TestJSONScanCopies(t *testing.T) {
	src := []byte(`{"a":1}`)
	var j JSON
	if err := j.Scan(src); err != nil {
		t.Fatal(err)
	}
	src[2] = 'b' // the driver reuses its buffer
	if string(j) != `{"a":1}` {
		t.Errorf("scanned value changed with the driver's buffer: %s", j)
	}
	if err := j.Scan(`[1]`); err != nil || string(j) != `[1]` {
		t.Errorf("string: %s, %v", j, err)
	}
	if err := j.Scan(nil); err != nil || j != nil {
		t.Errorf("nil: %s, %v", j, err)
	}
	if err := j.Scan(42); err == nil {
		t.Error("an int scanned without error")
	}
	if b, _ := JSON(nil).MarshalJSON(); string(b) != "null" {
		t.Errorf("empty marshals as %s", b)
	}
}

func TestOneRoundTrip(t *testing.T) {
	cases := []struct{ in, want string }{
		{"postgres://u:secret@db:5432/reg?sslmode=disable", "binary_parameters=yes"},
		{"host=db user=u dbname=reg", "host=db user=u dbname=reg binary_parameters=yes"},
		{"host=db binary_parameters=no", "host=db binary_parameters=no binary_parameters=yes"}, // the last one wins in lib/pq
	}
	for _, c := range cases {
		got, err := oneRoundTrip(c.in)
		if err != nil || !strings.HasSuffix(got, c.want) {
			t.Errorf("%q: %q, %v; want suffix %q", c.in, got, err, c.want)
		}
	}
	if _, err := oneRoundTrip("postgres://u:secret@[bad"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL: %v (must fail without repeating the DSN)", err)
	}
}

// TestOpenSilentServerTimesOut: a server that accepts the connection and
// never answers the start-up message fails the ping within the connect
// timeout. lib/pq ignores the context during that handshake, so without a
// connect_timeout the gateway's start-up waited for good.
func TestOpenSilentServerTimesOut(t *testing.T) {
	old := DefaultConnectTimeout
	DefaultConnectTimeout = time.Second
	t.Cleanup(func() { DefaultConnectTimeout = old })
	t.Setenv("PGCONNECT_TIMEOUT", "") // restored after the test
	os.Unsetenv("PGCONNECT_TIMEOUT")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	s, err := Open("postgres://u@" + ln.Addr().String() + "/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() { done <- s.DB().PingContext(context.Background()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("ping of a silent server succeeded")
		}
		if !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("ping of a silent server: %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ping of a silent server still waiting after 5 s")
	}
}

func TestConnDSNConnectTimeout(t *testing.T) {
	t.Setenv("PGCONNECT_TIMEOUT", "")
	cases := []struct{ in, want string }{
		{"host=db user=u", "connect_timeout=10 host=db user=u"},
		{"host=db connect_timeout=3", "host=db connect_timeout=3"},
		{"host=db connect_timeout = 0", "host=db connect_timeout = 0"},
	}
	for _, c := range cases {
		if got, err := connDSN(c.in); err != nil || got != c.want {
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if got, _ := connDSN("postgres://u@db/reg?connect_timeout=4"); !strings.Contains(got, "connect_timeout='4'") || strings.Contains(got, "connect_timeout=10") {
		t.Errorf("URL with connect_timeout: %q", got)
	}
	t.Setenv("PGCONNECT_TIMEOUT", "7")
	if got, _ := connDSN("host=db"); got != "host=db" {
		t.Errorf("with PGCONNECT_TIMEOUT: %q", got)
	}
}
