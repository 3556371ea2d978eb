package meta

import (
	"strings"
	"testing"
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
