package web

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/pkgate/pkgate/internal/httpx"
)

// Every cookie the pages set (session, sign-in, clearing) goes through
// setCookie, so its Secure flag follows the request as well as the
// external URL.
func TestSetCookieSecurePerRequest(t *testing.T) {
	proxies, err := httpx.ParseProxies([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	const proxy, client = "10.0.0.5:4000", "198.51.100.9:4000"
	cases := []struct {
		name     string
		external string
		proxies  httpx.Proxies
		peer     string
		tls      bool
		xfp      string
		want     bool
	}{
		{"http external, direct http", "http://127.0.0.1:8080", proxies, client, false, "", false},
		{"https external", "https://pkg.example.test", nil, client, false, "", true},
		{"https external, proxy says http", "https://pkg.example.test", proxies, proxy, false, "http", true},
		{"http external, direct tls", "http://127.0.0.1:8080", nil, client, true, "", true},
		{"http external, trusted proxy https", "http://127.0.0.1:8080", proxies, proxy, false, "https", true},
		{"http external, trusted proxy http", "http://127.0.0.1:8080", proxies, proxy, false, "http", false},
		{"http external, untrusted peer says https", "http://127.0.0.1:8080", proxies, client, false, "https", false},
		{"http external, no proxies configured", "http://127.0.0.1:8080", nil, proxy, false, "https", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := newUI(Deps{ExternalURL: c.external, TrustedProxies: c.proxies})
			w := httptest.NewRecorder()
			ctx, _ := gin.CreateTestContext(w)
			ctx.Request = httptest.NewRequest("GET", "/-/ui/sign_in", nil)
			ctx.Request.RemoteAddr = c.peer
			if c.tls {
				ctx.Request.TLS = &tls.ConnectionState{}
			}
			if c.xfp != "" {
				ctx.Request.Header.Set("X-Forwarded-Proto", c.xfp)
			}
			u.signinToken(ctx)
			u.clearCookie(ctx, sessionCookie)
			cookies := (&http.Response{Header: w.Header()}).Cookies()
			if len(cookies) != 2 {
				t.Fatalf("cookies %v", cookies)
			}
			for _, ck := range cookies {
				if ck.Secure != c.want || !ck.HttpOnly || ck.Path != uiPrefix {
					t.Errorf("%s: Secure=%v HttpOnly=%v Path=%q, want Secure=%v", ck.Name, ck.Secure, ck.HttpOnly, ck.Path, c.want)
				}
			}
		})
	}
}
