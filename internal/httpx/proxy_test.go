package httpx

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseProxies(t *testing.T) {
	for _, c := range []struct {
		in    []string
		trust []string // peers that must be trusted
		deny  []string // peers that must not
		bad   string   // expected in the error, if any
	}{
		{in: nil, deny: []string{"127.0.0.1:1", "[::1]:1"}},
		{in: []string{"10.0.0.1"}, trust: []string{"10.0.0.1:80"}, deny: []string{"10.0.0.2:80", "[::1]:80"}},
		{in: []string{"10.0.0.0/8", "::1"}, trust: []string{"10.9.8.7:1", "[::1]:1", "[::ffff:10.1.2.3]:1"}, deny: []string{"11.0.0.1:1", "[::2]:1"}},
		{in: []string{"fd00::/8"}, trust: []string{"[fd12::1]:443"}, deny: []string{"10.0.0.1:1"}},
		{in: []string{"10.0.0.0/8", "proxy.example"}, bad: `"proxy.example"`},
		{in: []string{" 10.0.0.1"}, bad: `" 10.0.0.1"`}, // as gin: no trimming, so both see the same list
		{in: []string{"10.0.0.0/33"}, bad: `"10.0.0.0/33"`},
	} {
		p, err := ParseProxies(c.in)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("%q: err %v, want one naming %s", c.in, err, c.bad)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		for _, peer := range c.trust {
			if !p.Trusts(&http.Request{RemoteAddr: peer}) {
				t.Errorf("%q does not trust %s", c.in, peer)
			}
		}
		for _, peer := range c.deny {
			if p.Trusts(&http.Request{RemoteAddr: peer}) {
				t.Errorf("%q trusts %s", c.in, peer)
			}
		}
	}
}

func TestProxiesHTTPS(t *testing.T) {
	trusted, _ := ParseProxies([]string{"10.0.0.0/8"})
	const proxy, client = "10.1.1.1:5555", "203.0.113.7:5555"
	cases := []struct {
		name    string
		proxies Proxies
		peer    string
		tls     bool
		header  [][2]string
		want    bool
	}{
		{"plain http", trusted, client, false, nil, false},
		{"tls, no proxies", nil, client, true, nil, true},
		{"tls from a proxy that says http", trusted, proxy, true, [][2]string{{"X-Forwarded-Proto", "http"}}, true},
		{"trusted proxy, no header", trusted, proxy, false, nil, false},
		{"trusted X-Forwarded-Proto https", trusted, proxy, false, [][2]string{{"X-Forwarded-Proto", "https"}}, true},
		{"trusted X-Forwarded-Proto HTTPS", trusted, proxy, false, [][2]string{{"X-Forwarded-Proto", " HTTPS "}}, true},
		{"trusted X-Forwarded-Proto http", trusted, proxy, false, [][2]string{{"X-Forwarded-Proto", "http"}}, false},
		{"trusted X-Forwarded-Proto other", trusted, proxy, false, [][2]string{{"X-Forwarded-Proto", "wss"}}, false},
		// The client wrote the first entry; the proxy appended the last.
		{"client https, proxy http", trusted, proxy, false, [][2]string{{"X-Forwarded-Proto", "https, http"}}, false},
		{"client https line, proxy http line", trusted, proxy, false, [][2]string{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Proto", "http"}}, false},
		{"appended https", trusted, proxy, false, [][2]string{{"X-Forwarded-Proto", "http,https"}}, true},
		{"trusted Forwarded", trusted, proxy, false, [][2]string{{"Forwarded", "for=203.0.113.7;proto=https"}}, true},
		{"trusted Forwarded quoted", trusted, proxy, false, [][2]string{{"Forwarded", `for="[2001:db8::1]:4711";Proto="HTTPS";by=x`}}, true},
		{"trusted Forwarded quoted separators", trusted, proxy, false, [][2]string{{"Forwarded", `for="a,b;c";proto=https`}}, true},
		{"trusted Forwarded http", trusted, proxy, false, [][2]string{{"Forwarded", "for=203.0.113.7;proto=http"}}, false},
		{"Forwarded: client https, proxy http", trusted, proxy, false, [][2]string{{"Forwarded", "proto=https, for=203.0.113.7;proto=http"}}, false},
		{"Forwarded: last element https", trusted, proxy, false, [][2]string{{"Forwarded", "proto=http, for=10.2.2.2;proto=https"}}, true},
		{"Forwarded without proto", trusted, proxy, false, [][2]string{{"Forwarded", "for=203.0.113.7"}}, false},
		{"Forwarded malformed", trusted, proxy, false, [][2]string{{"Forwarded", `proto="https`}}, false},
		{"either header says https", trusted, proxy, false, [][2]string{{"X-Forwarded-Proto", "http"}, {"Forwarded", "proto=https"}}, true},
		// From anyone else the headers are ignored.
		{"untrusted X-Forwarded-Proto", trusted, client, false, [][2]string{{"X-Forwarded-Proto", "https"}}, false},
		{"untrusted Forwarded", trusted, client, false, [][2]string{{"Forwarded", "proto=https"}}, false},
		{"no proxies configured", nil, proxy, false, [][2]string{{"X-Forwarded-Proto", "https"}, {"Forwarded", "proto=https"}}, false},
		{"unparsable peer", trusted, "10.1.1.1", false, [][2]string{{"X-Forwarded-Proto", "https"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://gw.example/-/ui/", nil)
			r.RemoteAddr = c.peer
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			for _, h := range c.header {
				r.Header.Add(h[0], h[1])
			}
			if got := c.proxies.HTTPS(r); got != c.want {
				t.Fatalf("HTTPS = %v, want %v", got, c.want)
			}
		})
	}
}
