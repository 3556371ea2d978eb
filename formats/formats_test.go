package formats

import (
	"mime"
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
