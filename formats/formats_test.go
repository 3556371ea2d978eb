package formats

import (
	"mime"
	"net/http/httptest"
	"testing"
)

func TestContentDisposition(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"tool.bin", `attachment; filename="tool.bin"; filename*=UTF-8''tool.bin`},
		{"myfile@1.1.tar.gz", `attachment; filename="myfile@1.1.tar.gz"; filename*=UTF-8''myfile%401.1.tar.gz`},
		{"a b;c,d=e.txt", `attachment; filename="a b;c,d=e.txt"; filename*=UTF-8''a%20b%3Bc%2Cd%3De.txt`},
		{"~x_y-z", `attachment; filename="~x_y-z"; filename*=UTF-8''~x_y-z`},
		{`q"u\o.txt`, `attachment; filename="q_u_o.txt"; filename*=UTF-8''q%22u%5Co.txt`},
		{"café.txt", `attachment; filename="caf_.txt"; filename*=UTF-8''caf%C3%A9.txt`},
	} {
		got := ContentDisposition(c.name)
		if got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.name, got, c.want)
		}
		// A client that reads filename* gets the name back whole.
		if _, params, err := mime.ParseMediaType(got); err != nil || params["filename"] != c.name {
			t.Errorf("%q: parsed back as %q (%v)", c.name, params["filename"], err)
		}
	}
}

func TestAuthorizationFollows(t *testing.T) {
	const signed = "http://127.0.0.1:9000/bucket/blobs/k?X-Amz-Signature=x"
	for _, c := range []struct {
		name, host, auth, external, signed string
		want                               bool
	}{
		{"no Authorization header", "127.0.0.1:8080", "", "http://127.0.0.1:8080", signed, false},
		{"same host name, other port", "127.0.0.1:8080", "Bearer t", "http://127.0.0.1:8080", signed, true},
		{"same host name, any case", "Registry.Example:443", "Basic eDp5", "https://other.example", "https://registry.example:9000/b/k", true},
		{"other host name", "127.0.0.1:8080", "Bearer t", "http://127.0.0.1:8080", "http://localhost:9000/b/k", false},
		{"the external URL's host name behind a proxy", "10.0.0.5:8080", "Basic eDp5", "https://registry.example", "https://registry.example:9000/b/k", true},
		{"IPv6 host", "[::1]:8080", "Bearer t", "http://[::1]:8080", "http://[::1]:9000/b/k", true},
	} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Host = c.host
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if got := authorizationFollows(r, c.external, c.signed); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
