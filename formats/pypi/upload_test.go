package pypi

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pkgate/pkgate/internal/errs"
)

// FuzzUploadForm: whatever twine-shaped fields arrive (any name, any
// value, any file name in the content part's header), reading and
// checking them answers a client error or nothing, and the metadata kept
// from a form that passes is valid JSON that Postgres's jsonb accepts
// (valid UTF-8, no NUL) with every value within GitLab's lengths.
func FuzzUploadForm(f *testing.F) {
	for _, s := range [][4]string{
		{"name", "acme-hello", "version", "0.1.0"},
		{"summary", "a \x00 b \xff", "description", strings.Repeat("é", 4100)},
		{":action", "remove_pkg", "sha256_digest", "zz"},
		{"requires_python", ">=3.8\x00", "md5_digest", "0123456789abcdef0123456789ABCDEF"},
		{"name", "x", "version", strings.Repeat("1", 300)},
		{"keywords", "k", "author_email", "a@b"},
	} {
		f.Add(s[0], s[1], s[2], s[3], `form-data; name="content"; filename="acme_hello-0.1.0-py3-none-any.whl"`)
	}
	f.Add("name", "a", "version", "1", `form-data; name="content"; filename="../a-1.tar.gz"`)
	f.Add("name", "a", "version", "1", `form-data; filename*=UTF-8''a-1.zip`)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, disposition string) {
		form := &uploadForm{values: map[string]string{}}
		// A valid name and version follow, counted only where the fuzzed
		// fields did not name them (the first occurrence counts), so most
		// forms pass and their kept metadata is judged.
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}, {"name", "acme-hello"}, {"version", "0.1.0"}} {
			if err := form.readField(kv[0], strings.NewReader(kv[1])); err != nil {
				if k := errs.KindOf(err); k != errs.Invalid && k != errs.TooLarge {
					t.Fatalf("readField(%q): error kind %v: %v", kv[0], k, err)
				}
				return
			}
		}
		if fn, ok := contentFileName(disposition); ok {
			form.fileName = fn
		}
		var err error
		for _, final := range []bool{false, true} {
			if err = form.check(final); err != nil && errs.KindOf(err) != errs.Invalid {
				t.Fatalf("check(%v): error kind %v: %v", final, errs.KindOf(err), err)
			}
		}
		if err != nil {
			return // refused: nothing is stored
		}
		pkg, file := form.metadata()
		for _, doc := range [][]byte{pkg, file} {
			var m map[string]string
			if err := json.Unmarshal(doc, &m); err != nil {
				t.Fatalf("metadata %s: %v", doc, err)
			}
			for key, v := range m {
				spec := fields[key]
				if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
					t.Fatalf("%s = %q: not storable in jsonb", key, v)
				}
				if spec.runes > 0 && utf8.RuneCountInString(v) > spec.runes {
					t.Fatalf("%s has %d characters, GitLab keeps %d", key, utf8.RuneCountInString(v), spec.runes)
				}
			}
		}
	})
}
