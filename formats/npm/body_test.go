package npm

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pkgate/pkgate/internal/errs"
)

// publishBody builds an npm-shaped publish document around raw attachment
// data (already base64, possibly with JSON escapes).
func publishBody(data string) string {
	return `{"_id":"@acme/hello","name":"@acme/hello","description":"x","dist-tags":{"latest":"1.0.0"},` +
		`"versions":{"1.0.0":{"name":"@acme/hello","version":"1.0.0","dist":{"shasum":"x"}}},"access":null,` +
		`"_attachments":{"@acme/hello-1.0.0.tgz":{"content_type":"application/octet-stream","data":` + data + `,"length":5}}}`
}

type parseResult struct {
	doc   *PublishDoc
	data  []byte
	calls int
	err   error
}

func parse(t testing.TB, r io.Reader, lim ParseLimits) parseResult {
	var res parseResult
	res.doc, res.err = ParsePublish(r, lim, func(doc *PublishDoc, file string, data io.Reader) error {
		res.calls++
		b, err := io.ReadAll(data)
		res.data = append(res.data, b...)
		return err
	})
	return res
}

func TestParsePublish(t *testing.T) {
	hello := base64.StdEncoding.EncodeToString([]byte("hello"))
	escaped := strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte("\xff\xfe\xfd??>>")), "/", `\/`)
	tests := []struct {
		name    string
		body    string
		lim     ParseLimits
		data    string
		err     string
		kind    errs.Kind
		check   func(t *testing.T, d *PublishDoc)
		oneByte bool
	}{
		{name: "npm shape", body: publishBody(`"` + hello + `"`), data: "hello", check: func(t *testing.T, d *PublishDoc) {
			if d.Name != "@acme/hello" || d.ID != "@acme/hello" || !d.HasName || !d.HasVersions {
				t.Fatalf("%+v", d)
			}
			if len(d.Versions) != 1 || d.Versions[0].Version != "1.0.0" || !json.Valid(d.Versions[0].Manifest) {
				t.Fatalf("versions %+v", d.Versions)
			}
			if d.DistTags["latest"] != "1.0.0" {
				t.Fatalf("tags %v", d.DistTags)
			}
			if a := d.Tarball; a == nil || a.FileName != "@acme/hello-1.0.0.tgz" || a.Size != 5 || a.Length != 5 || a.ContentType != "application/octet-stream" {
				t.Fatalf("tarball %+v", d.Tarball)
			}
		}},
		{name: "one byte at a time", body: publishBody(`"` + hello + `"`), data: "hello", oneByte: true},
		{name: "escaped slashes", body: publishBody(`"` + escaped + `"`), data: "\xff\xfe\xfd??>>"},
		{name: "escaped newlines and unicode", body: publishBody(`"aGVs\nbG8=\r\n"`), data: "hello"},
		{name: "unicode escape", body: publishBody(`"\u0061GVsbG8="`), data: "hello"},
		{name: "whitespace around colon", body: strings.Replace(publishBody(`"`+hello+`"`), `"data":`, "\"data\" \n\t:  ", 1), data: "hello"},
		{name: "attachments first", body: `{"_attachments":{"@acme/hello-1.0.0.tgz":{"data":"` + hello + `"}},"name":"@acme/hello","versions":{"1.0.0":{}}}`,
			data: "hello", check: func(t *testing.T, d *PublishDoc) {
				if d.Name != "@acme/hello" || len(d.Versions) != 1 || d.Tarball.Length != -1 {
					t.Fatalf("%+v", d)
				}
			}},
		{name: "provenance attachment skipped", body: `{"name":"x","versions":{},"_attachments":{"x-1.0.0.sigstore":{"data":"{\"a\":1}","x":[1]},"x-1.0.0.tgz":{"data":"` + hello + `"},"y.sigstore":{"data":{"nested":["v"]},"z":1}}}`,
			data: "hello", check: func(t *testing.T, d *PublishDoc) {
				if strings.Join(d.Skipped, ",") != "x-1.0.0.sigstore,y.sigstore" {
					t.Fatalf("skipped %v", d.Skipped)
				}
			}},
		{name: "no attachments", body: `{"name":"x","versions":{"1.0.0":{}}}`, check: func(t *testing.T, d *PublishDoc) {
			if d.Tarball != nil {
				t.Fatal("tarball")
			}
		}},
		{name: "null fields", body: `{"name":null,"versions":null,"dist-tags":null,"_attachments":null}`, check: func(t *testing.T, d *PublishDoc) {
			if d.HasName || d.HasVersions {
				t.Fatalf("%+v", d)
			}
		}},
		{name: "unknown keys skipped", body: `{"readme":"` + strings.Repeat("r", 5000) + `","maintainers":[{"a":1}],"name":"x","versions":{}}`},
		{name: "empty data", body: publishBody(`""`), err: "Attachment data is empty.", kind: errs.Invalid},
		{name: "no data key", body: `{"_attachments":{"x-1.0.0.tgz":{"length":3}}}`, err: "Attachment data is empty.", kind: errs.Invalid},
		{name: "data not a string", body: publishBody(`123`), err: `400 Bad request - _attachments["@acme/hello-1.0.0.tgz"].data must be a base64 string`, kind: errs.Invalid},
		{name: "bad base64", body: publishBody(`"aGVsbG8=!!"`), err: "400 Bad request - attachment data is not valid base64", kind: errs.Invalid},
		{name: "truncated base64", body: publishBody(`"aGVsbG"`), err: "400 Bad request - attachment data is not valid base64", kind: errs.Invalid},
		{name: "not an object", body: `[1,2]`, err: "400 Bad request - the publish body must be a JSON object", kind: errs.Invalid},
		{name: "empty body", body: ``, err: "400 Bad request - malformed JSON: unexpected end of the document", kind: errs.Invalid},
		{name: "truncated in data", body: `{"_attachments":{"x-1.0.0.tgz":{"data":"aGVsbG8=`, err: "400 Bad request - malformed JSON: unexpected end of the document", kind: errs.Invalid},
		{name: "truncated after data", body: `{"_attachments":{"x-1.0.0.tgz":{"data":"aGVsbG8="`, err: "400 Bad request - malformed JSON: unexpected end of the document", kind: errs.Invalid},
		{name: "truncated metadata", body: `{"name":"x","versions":{"1.0.0":{"a":`, err: "400 Bad request - malformed JSON: unexpected end of the document", kind: errs.Invalid},
		{name: "syntax error", body: `{"name":"x",,}`, err: "400 Bad request - malformed JSON: invalid character ',' looking for beginning of object key string", kind: errs.Invalid},
		{name: "syntax error after data", body: `{"_attachments":{"x-1.0.0.tgz":{"data":"aGVsbG8=" "length":1}}}`, kind: errs.Invalid,
			err: "400 Bad request - malformed JSON: invalid character '\"' after object key:value pair"},
		{name: "missing colon before data", body: `{"_attachments":{"x-1.0.0.tgz":{"data" "aGVsbG8="}}}`, kind: errs.Invalid,
			err: "400 Bad request - malformed JSON: expected ':' after an object key"},
		{name: "control char in data", body: publishBody("\"aGVs\x01bG8=\""), err: "400 Bad request - malformed JSON: control character in a string", kind: errs.Invalid},
		{name: "bad escape in data", body: publishBody(`"aGVs\xbG8="`), err: "400 Bad request - malformed JSON: invalid escape in a string", kind: errs.Invalid},
		{name: "bad unicode escape", body: publishBody(`"aGVs\u00zzbG8="`), err: "400 Bad request - malformed JSON: invalid \\u escape", kind: errs.Invalid},
		{name: "trailing garbage", body: `{"name":"x"} {}`, err: "400 Bad request - malformed JSON: unexpected data after the document", kind: errs.Invalid},
		{name: "duplicate key", body: `{"name":"x","name":"y"}`, err: `400 Bad request - duplicate key "name"`, kind: errs.Invalid},
		{name: "two tarballs", body: `{"_attachments":{"a-1.tgz":{"data":"` + hello + `"},"b-1.tgz":{"data":"` + hello + `"}}}`,
			err: "400 Bad request - only one tarball attachment is allowed per publish", kind: errs.Invalid},
		{name: "duplicate data", body: `{"_attachments":{"a-1.tgz":{"data":"` + hello + `","data":"` + hello + `"}}}`,
			err: `400 Bad request - duplicate key "data" in attachment "a-1.tgz"`, kind: errs.Invalid},
		{name: "bad length", body: `{"_attachments":{"a-1.tgz":{"length":1.5,"data":"` + hello + `"}}}`,
			err: `400 Bad request - _attachments["a-1.tgz"].length must be a non-negative integer`, kind: errs.Invalid},
		{name: "versions not an object", body: `{"versions":[]}`, err: "versions is invalid", kind: errs.Invalid},
		{name: "version not an object", body: `{"versions":{"1.0.0":"x"}}`, err: `400 Bad request - versions["1.0.0"] must be a JSON object`, kind: errs.Invalid},
		{name: "name not a string", body: `{"name":{"a":1}}`, err: "400 Bad request - name must be a string", kind: errs.Invalid},
		{name: "tag not a string", body: `{"dist-tags":{"latest":1}}`, err: "400 Bad request - dist-tags.latest must be a string", kind: errs.Invalid},
		{name: "too many attachments", body: `{"_attachments":{"a":{},"b":{},"c":{}}}`, lim: ParseLimits{MaxAttachments: 2},
			err: "400 Bad request - too many attachments (at most 2)", kind: errs.Invalid},
		{name: "metadata too large", body: `{"readme":"` + strings.Repeat("r", 100000) + `"}`, lim: ParseLimits{MaxMeta: 10000},
			err: ErrMetaTooLarge.Msg, kind: errs.TooLarge},
		{name: "body too large", body: publishBody(`"` + base64.StdEncoding.EncodeToString(make([]byte, 300000)) + `"`), lim: ParseLimits{MaxBody: 100000, MaxMeta: 1000},
			err: ErrBodyTooLarge.Msg, kind: errs.TooLarge},
		{name: "big attachment within limits", body: publishBody(`"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("z"), 300000)) + `"`),
			lim: ParseLimits{MaxBody: 500000, MaxMeta: 70000}, data: strings.Repeat("z", 300000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = strings.NewReader(tc.body)
			if tc.oneByte {
				r = iotest.OneByteReader(r)
			}
			res := parse(t, r, tc.lim)
			if tc.err != "" {
				if res.err == nil || errText(res.err) != tc.err || errs.KindOf(res.err) != tc.kind {
					t.Fatalf("err = %v (kind %v), want %q (kind %v)", res.err, errs.KindOf(res.err), tc.err, tc.kind)
				}
				return
			}
			if res.err != nil {
				t.Fatalf("ParsePublish: %v", res.err)
			}
			if string(res.data) != tc.data {
				t.Fatalf("data = %q, want %q", res.data, tc.data)
			}
			if tc.check != nil {
				tc.check(t, res.doc)
			}
		})
	}
}

// TestParsePublishCallback checks what the callee sees and may do.
func TestParsePublishCallback(t *testing.T) {
	hello := base64.StdEncoding.EncodeToString([]byte("hello"))
	t.Run("doc so far", func(t *testing.T) {
		_, err := ParsePublish(strings.NewReader(publishBody(`"`+hello+`"`)), ParseLimits{}, func(doc *PublishDoc, file string, data io.Reader) error {
			if doc.Name != "@acme/hello" || len(doc.Versions) != 1 || file != "@acme/hello-1.0.0.tgz" {
				t.Fatalf("callback saw %+v, %q", doc, file)
			}
			return nil // reads nothing: the parser drains
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("partial read is drained and counted", func(t *testing.T) {
		doc, err := ParsePublish(strings.NewReader(publishBody(`"`+hello+`"`)), ParseLimits{}, func(doc *PublishDoc, file string, data io.Reader) error {
			_, err := data.Read(make([]byte, 2))
			return err
		})
		if err != nil || doc.Tarball.Size != 5 {
			t.Fatalf("%v %+v", err, doc)
		}
	})
	t.Run("callee error passes through", func(t *testing.T) {
		want := errs.New("x", errs.Forbidden, "Package already exists.")
		_, err := ParsePublish(strings.NewReader(publishBody(`"`+hello+`"`)), ParseLimits{}, func(*PublishDoc, string, io.Reader) error { return want })
		if err != want {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("read error is a 400", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader(`{"_attachments":{"a.tgz":{"data":"aGVs`), iotest.ErrReader(errors.New("connection reset")))
		_, err := ParsePublish(r, ParseLimits{}, func(_ *PublishDoc, _ string, data io.Reader) error {
			_, err := io.Copy(io.Discard, data)
			return err
		})
		if errs.KindOf(err) != errs.Invalid || errText(err) != "400 Bad request - upload body could not be read" {
			t.Fatalf("err = %v", err)
		}
	})
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// TestParsePublishStreams publishes a 64 MiB attachment and checks the
// parser allocated a small fraction of it: the tarball is never held.
func TestParsePublishStreams(t *testing.T) {
	const size = 64 << 20
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"name":"x","versions":{"1.0.0":{}},"_attachments":{"x-1.0.0.tgz":{"data":"`))
		enc := base64.NewEncoder(base64.StdEncoding, pw)
		io.Copy(enc, io.LimitReader(zeros{}, size))
		enc.Close()
		pw.Write([]byte(`","length":` + "67108864" + `}}}`))
		pw.Close()
	}()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var n int64
	doc, err := ParsePublish(pr, ParseLimits{}, func(_ *PublishDoc, _ string, data io.Reader) error {
		var err error
		n, err = io.CopyBuffer(io.Discard, data, make([]byte, 32<<10))
		return err
	})
	runtime.ReadMemStats(&after)
	if err != nil || n != size || doc.Tarball.Size != size || doc.Tarball.Length != size {
		t.Fatalf("err=%v n=%d doc=%+v", err, n, doc)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Fatalf("parsing a %d MiB attachment allocated %d bytes", size>>20, alloc)
	}
}

func FuzzParsePublish(f *testing.F) {
	hello := base64.StdEncoding.EncodeToString([]byte("hello"))
	f.Add([]byte(publishBody(`"` + hello + `"`)))
	f.Add([]byte(publishBody(`"aGVs\nbG8=\/"`)))
	f.Add([]byte(`{"_attachments":{"a.sigstore":{"data":{"x":1}},"a-1.0.0.tgz":{"data":"` + hello + `","length":5}},"name":"a","versions":{"1.0.0":{}}}`))
	f.Add([]byte(`{"name":"x","name":"y"}`))
	f.Add([]byte(`{"_attachments":{"a.tgz":{"data":"\u0061GVsbG8="}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got []byte
		doc, err := ParsePublish(bytes.NewReader(body), ParseLimits{MaxBody: 1 << 20, MaxMeta: 1 << 20}, func(_ *PublishDoc, _ string, data io.Reader) error {
			var err error
			// Alternate between full and partial reads by the callee.
			if len(body)%2 == 0 {
				got, err = io.ReadAll(data)
			} else {
				b := make([]byte, 3)
				k, _ := data.Read(b)
				got = b[:k]
			}
			return err
		})
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || (e.Kind != errs.Invalid && e.Kind != errs.TooLarge) {
				t.Fatalf("error is not a 400/413: %#v", err)
			}
			return
		}
		// Whatever the parser accepts, encoding/json must accept and read
		// the same way.
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var ref map[string]json.RawMessage
		if err := json.Unmarshal(body, &ref); err != nil {
			t.Fatalf("accepted %q but json.Unmarshal says %v", body, err)
		}
		var name *string
		json.Unmarshal(ref["name"], &name)
		if (name == nil && doc.Name != "") || (name != nil && *name != doc.Name) {
			t.Fatalf("name %q vs %v", doc.Name, name)
		}
		var atts map[string]map[string]json.RawMessage
		json.Unmarshal(ref["_attachments"], &atts)
		if doc.Tarball != nil {
			var data string
			if err := json.Unmarshal(atts[doc.Tarball.FileName]["data"], &data); err != nil {
				t.Fatalf("tarball data: %v", err)
			}
			want, err := base64.StdEncoding.DecodeString(data)
			if err != nil {
				t.Fatalf("parser decoded base64 %q that the stdlib refuses: %v", data, err)
			}
			if int64(len(want)) != doc.Tarball.Size || !bytes.HasPrefix(want, got) {
				t.Fatalf("decoded %q (size %d), stdlib %q", got, doc.Tarball.Size, want)
			}
		}
		var versions map[string]json.RawMessage
		json.Unmarshal(ref["versions"], &versions)
		for _, v := range doc.Versions {
			if _, ok := versions[v.Version]; !ok || !json.Valid(v.Manifest) {
				t.Fatalf("version %q", v.Version)
			}
			// The packument renderer's member scanner splits every
			// manifest exactly as encoding/json does.
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v.Manifest, &m); err != nil {
				t.Fatal(err)
			}
			var keys []string
			var vals [][]byte
			if err := eachMember(v.Manifest, func(k, val []byte) {
				var ks string
				if err := json.Unmarshal(k, &ks); err != nil {
					t.Fatalf("scanner key %q: %v", k, err)
				}
				keys, vals = append(keys, ks), append(vals, val)
			}); err != nil {
				t.Fatalf("eachMember(%q): %v", v.Manifest, err)
			}
			if len(keys) == len(m) { // no duplicate keys
				for i, k := range keys {
					var a, b bytes.Buffer
					json.Compact(&a, m[k])
					json.Compact(&b, vals[i])
					if a.String() != b.String() {
						t.Fatalf("member %q: scanner %q, encoding/json %q", k, vals[i], m[k])
					}
				}
			}
		}
	})
}

func FuzzPackageName(f *testing.F) {
	for _, s := range []string{"hello", "@acme/hello", "@acme%2fhello", "@acme/..", "@a.git/b", "%40acme%2Fhello/-/x.tgz", "-/package/@a%2fb/dist-tags/beta"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err == nil {
			// A valid name round-trips, is a safe path, and parses back
			// from every URL spelling.
			if n.String() != s || !validFilePath(s) || len(s) > MaxNameLength {
				t.Fatalf("ParseName(%q) = %+v", s, n)
			}
			for _, p := range []string{"/" + strings.Replace(s, "/", "%2f", 1), "/" + strings.Replace(s, "/", "%2F", 1), "/" + s} {
				r, err := ParsePath(p)
				if err != nil || r.Kind != RoutePackument || r.Name != n {
					t.Fatalf("ParsePath(%q) = %+v, %v", p, r, err)
				}
			}
		} else if errs.KindOf(err) != errs.Invalid {
			t.Fatalf("ParseName(%q): kind %v", s, errs.KindOf(err))
		}
		r, err := ParsePath("/" + s)
		if err != nil {
			if k := errs.KindOf(err); k != errs.Invalid && k != errs.NotFound {
				t.Fatalf("ParsePath(%q): kind %v", s, k)
			}
			return
		}
		if r.Name != (Name{}) {
			if _, err := ParseName(r.Name.String()); err != nil {
				t.Fatalf("ParsePath(%q) produced invalid name %+v", s, r.Name)
			}
		}
		if r.File != "" && !validFilePath(r.File) {
			t.Fatalf("ParsePath(%q) produced unsafe file %q", s, r.File)
		}
	})
}
