package npm

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"path"
	"strings"

	"github.com/pkgate/pkgate/internal/errs"
)

// MaxPackageJSON is GitLab's bound on the package.json inside a tarball.
const MaxPackageJSON = 4 << 20

// TarballManifest is the identity found in a tarball's package.json.
type TarballManifest struct {
	Found   bool
	Name    string
	Version string
}

// InspectTarball reads a gzip-compressed tar stream and returns the name
// and version of its package.json: the last entry named
// "<top-dir>/package.json", as GitLab's tarball check takes it (npm uses
// "package/" as the top directory; other packers use other names).
//
// maxUnpacked bounds the decompressed bytes examined (0: unlimited), so a
// gzip bomb costs bounded CPU: when the bound is hit the last package.json
// seen so far is used. Everything after the archive's end is ignored.
func InspectTarball(r io.Reader, maxUnpacked int64) (TarballManifest, error) {
	const op = "npm.InspectTarball"
	invalid := func(cause error) error {
		return errs.E(op, errs.Invalid, errs.Msg("400 Bad request - the tarball is not a valid gzip-compressed tar archive"), cause)
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return TarballManifest{}, invalid(err)
	}
	defer zr.Close()
	var src io.Reader = zr
	if maxUnpacked > 0 {
		src = &capReader{r: zr, left: maxUnpacked}
	}
	tr := tar.NewReader(src)
	var m TarballManifest
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, errCapped) {
			return m, nil
		}
		if err != nil {
			return TarballManifest{}, invalid(err)
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != 0 { // 0: pre-POSIX regular file
			continue
		}
		if !isTopPackageJSON(h.Name) {
			continue
		}
		if h.Size > MaxPackageJSON {
			return TarballManifest{}, errs.New(op, errs.Invalid, "400 Bad request - package.json in the tarball is larger than 4 MiB")
		}
		data, err := io.ReadAll(io.LimitReader(tr, MaxPackageJSON+1))
		if errors.Is(err, errCapped) {
			return m, nil
		}
		if err != nil {
			return TarballManifest{}, invalid(err)
		}
		var pj struct {
			Name    any `json:"name"`
			Version any `json:"version"`
		}
		if err := json.Unmarshal(data, &pj); err != nil {
			return TarballManifest{}, errs.New(op, errs.Invalid, "400 Bad request - package.json in the tarball is not valid JSON")
		}
		name, _ := pj.Name.(string)
		version, _ := pj.Version.(string)
		m = TarballManifest{Found: true, Name: name, Version: version}
	}
	return m, nil
}

func isTopPackageJSON(name string) bool {
	name = strings.TrimPrefix(name, "./")
	dir, file := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	return file == "package.json" && dir != "" && !strings.Contains(dir, "/")
}

var errCapped = errors.New("npm: unpacked size cap reached")

type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCapped
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

// CheckTarballManifest compares a tarball's package.json with the
// published name and version (SemVer-equal: "v1.0.0" or "1.0.0+build"
// in package.json match "1.0.0"), GitLab's post-publish check done
// synchronously so that a bad tarball is refused instead of silently
// never appearing.
func CheckTarballManifest(m TarballManifest, name Name, version string) error {
	const op = "npm.CheckTarballManifest"
	if !m.Found {
		return errs.New(op, errs.Invalid, "400 Bad request - the tarball has no <dir>/package.json")
	}
	if m.Name != name.String() {
		return errs.New(op, errs.Invalid, "400 Bad request - package.json in the tarball names "+quote(m.Name)+", not "+quote(name.String()))
	}
	want, ok1 := ParseSemver(version)
	got, ok2 := ParseLooseSemver(m.Version)
	if !ok1 || !ok2 || want.Compare(got) != 0 {
		return errs.New(op, errs.Invalid, "400 Bad request - package.json in the tarball has version "+quote(m.Version)+", not "+quote(version))
	}
	return nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
