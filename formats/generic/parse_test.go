package generic

import (
	"strings"
	"testing"

	"github.com/pkgate/pkgate/internal/errs"
)

func TestParsePath(t *testing.T) {
	cases := []struct {
		path, dir string
		want      Target
		stored    string
		kind      errs.Kind // Internal = success
		msg       string
	}{
		{path: "/tool/1.2.3/tool.bin", want: Target{Name: "tool", Version: "1.2.3", FileName: "tool.bin"}, stored: "tool.bin"},
		{path: "/tool/1.2.3/a/b/tool.bin", want: Target{Name: "tool", Version: "1.2.3", Dir: "a/b", FileName: "tool.bin"}, stored: "a%2Fb%2Ftool.bin"},
		{path: "/tool/1.2.3/tool.bin", dir: "x/y/", want: Target{Name: "tool", Version: "1.2.3", Dir: "x/y", FileName: "tool.bin"}, stored: "x%2Fy%2Ftool.bin"},
		{path: "/to%6Fl/1%2E0/f%2Bg.txt", want: Target{Name: "tool", Version: "1.0", FileName: "f+g.txt"}, stored: "f+g.txt"},
		{path: "/my+pkg/1.0/my+file.tar.gz", want: Target{Name: "my+pkg", Version: "1.0", FileName: "my+file.tar.gz"}, stored: "my+file.tar.gz"},
		{path: "/tool/1.0", kind: errs.NotFound},
		{path: "/tool", kind: errs.NotFound},
		{path: "/my-package%2f%2e%2e%2f/1.0/f", kind: errs.Invalid, msg: "package_name should be a valid file path"},
		{path: "/p/1.0/%2e%2e%2f.ssh%2fauthorized_keys", kind: errs.Invalid, msg: "file_name should be a valid file path"},
		{path: "/p/..1.2.3/f", kind: errs.Invalid, msg: "package_version should be a valid file path"},
		{path: "/p/%2e%2e%2f1.2.3/f", kind: errs.Invalid},
		{path: "/p/%2e/f", kind: errs.Invalid, msg: "package_version should be a valid file path"},
		{path: "/p/.1/f", want: Target{Name: "p", Version: ".1", FileName: "f"}, stored: "f"},
		{path: "/p/1.0/~f", kind: errs.Invalid, msg: "file_name is invalid"},
		{path: "/p/1.0/f@", kind: errs.Invalid, msg: "file_name is invalid"},
		{path: "/p/1.0/a%20b", kind: errs.Invalid},
		{path: "/p/1.0/a%zz", kind: errs.Invalid, msg: "file_name is invalid"},
		{path: "/p/1.0/a/../f", kind: errs.Invalid},
		{path: "/p/1.0/a//f", kind: errs.Invalid},
		{path: "/../1.0/f", kind: errs.Invalid},
		{path: "/p/1.0/%00", kind: errs.Invalid},
		{path: "/p/1.0/a/f", dir: "b", kind: errs.Invalid, msg: "path should be a valid file path"},
		{path: "/p/1.0/f", dir: "../etc", kind: errs.Invalid},
		{path: "/p/1.0/f", dir: "/etc", kind: errs.Invalid, msg: "path should be a valid file path"},
		{path: "/p/1.0/f", dir: "//x", kind: errs.Invalid, msg: "path should be a valid file path"},
	}
	for _, c := range cases {
		t.Run(c.path+"?"+c.dir, func(t *testing.T) {
			got, err := ParsePath(c.path, c.dir)
			if c.kind == errs.Internal {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if got != c.want || got.StoredName() != c.stored {
					t.Fatalf("got %+v (%s), want %+v (%s)", got, got.StoredName(), c.want, c.stored)
				}
				return
			}
			if errs.KindOf(err) != c.kind {
				t.Fatalf("err %v, want kind %d", err, c.kind)
			}
			if c.msg != "" && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err %q lacks %q", err, c.msg)
			}
		})
	}
}

// FuzzParsePath: no input panics, and anything accepted is safe to store:
// no segment is a traversal and no decoded part contains a separator.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/a/1/f", "/a/1/d/f", "/%2e%2e/1/f", "/a/1.0/%2F", "/a/b", "/a/1/~x~", "/a/1/x@y"} {
		f.Add(s, "")
	}
	f.Add("/a/1/f", "x/y")
	f.Fuzz(func(t *testing.T, path, dir string) {
		got, err := ParsePath(path, dir)
		if err != nil {
			if errs.KindOf(err) != errs.Invalid && errs.KindOf(err) != errs.NotFound {
				t.Fatalf("unexpected kind for %q: %v", path, err)
			}
			return
		}
		for _, part := range append(strings.Split(got.Dir, "/"), got.Name, got.Version, got.FileName) {
			if part == ".." || part == "." || strings.ContainsAny(part, "\\\x00") {
				t.Fatalf("unsafe part %q accepted from %q", part, path)
			}
		}
		if strings.Contains(got.Name, "/") || strings.Contains(got.Version, "/") || strings.Contains(got.FileName, "/") {
			t.Fatalf("separator accepted from %q: %+v", path, got)
		}
	})
}
