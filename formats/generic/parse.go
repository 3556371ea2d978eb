// Package generic implements GitLab's generic package registry: raw files
// under a name and version, uploaded with PUT and downloaded with GET.
package generic

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/pkgate/pkgate/internal/errs"
)

var (
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)
	versionRE = regexp.MustCompile(`^[A-Za-z0-9_+.-]+$`)
	fileRE    = regexp.MustCompile(`^[A-Za-z0-9._+-]([A-Za-z0-9._+~@-]*[A-Za-z0-9._+-])?$`)
)

// Target is a parsed generic package path.
type Target struct {
	Name    string
	Version string
	// Dir is the optional directory path ("a/b"), FileName the last segment.
	Dir      string
	FileName string
}

// StoredName is how GitLab stores a file with directories: the relative
// path percent-encoded as one component (path/to/f -> path%2Fto%2Ff).
func (t Target) StoredName() string {
	if t.Dir == "" {
		return t.FileName
	}
	return strings.ReplaceAll(t.Dir, "/", "%2F") + "%2F" + t.FileName
}

// ErrRouteNotFound is returned for paths with fewer than three segments.
var ErrRouteNotFound = &errs.Error{Op: "generic.Parse", Kind: errs.NotFound, Msg: "404 Not Found", Shape: errs.ShapeError}

// ParsePath parses the escaped path after /packages/generic. It splits on
// literal slashes first and percent-decodes each segment exactly once, so an
// encoded slash (%2F) or dot-dot can never become a path separator.
// dirParam is the optional `path` query parameter (an alternative way to
// give the directory, on downloads as on uploads); an absolute one is
// refused, as GitLab's file_path validator does.
func ParsePath(escaped, dirParam string) (Target, error) {
	const op = "generic.ParsePath"
	raw := strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	if len(raw) < 3 {
		return Target{}, ErrRouteNotFound
	}
	segs := make([]string, len(raw))
	for i, r := range raw {
		s, err := url.PathUnescape(r)
		if err != nil {
			return Target{}, errs.Param(op, paramFor(i)+" is invalid")
		}
		segs[i] = s
	}
	t := Target{Name: segs[0], Version: segs[1], FileName: segs[len(segs)-1]}
	dirs := segs[2 : len(segs)-1]
	if dirParam != "" {
		// GitLab's file_path validator refuses an absolute path.
		if len(dirs) > 0 || strings.HasPrefix(dirParam, "/") {
			return Target{}, errs.Param(op, "path should be a valid file path")
		}
		dirs = strings.Split(strings.TrimSuffix(dirParam, "/"), "/")
	}
	if err := ValidateName(t.Name); err != nil {
		return Target{}, err
	}
	if err := ValidateVersion(t.Version); err != nil {
		return Target{}, err
	}
	for _, d := range dirs {
		if d == "." || d == ".." || d == "" {
			return Target{}, errs.Param(op, "file_name should be a valid file path")
		}
		if !fileRE.MatchString(d) {
			return Target{}, errs.Param(op, "file_name is invalid")
		}
	}
	t.Dir = strings.Join(dirs, "/")
	if err := ValidateFileName(t.FileName); err != nil {
		return Target{}, err
	}
	return t, nil
}

func paramFor(i int) string {
	switch i {
	case 0:
		return "package_name"
	case 1:
		return "package_version"
	}
	return "file_name"
}

// ValidateName checks a generic package name.
func ValidateName(s string) error {
	if s == "." || s == ".." || strings.Contains(s, "/") {
		return errs.Param("generic.ValidateName", "package_name should be a valid file path")
	}
	if !nameRE.MatchString(s) {
		return errs.Param("generic.ValidateName", "package_name is invalid")
	}
	return nil
}

// ValidateVersion checks a generic package version (no "..").
//
// DECISION: a version that is just "." is refused as a traversal, as the
// name "." is. GitLab's version pattern alone would let it through, but
// every HTTP client removes a "." path segment before sending (RFC 3986
// dot-segment removal: curl, requests and Go all do), so a package stored
// under it could be published by a raw request and never downloaded.
func ValidateVersion(s string) error {
	if s == "." || strings.Contains(s, "/") || strings.Contains(s, "..") {
		return errs.Param("generic.ValidateVersion", "package_version should be a valid file path")
	}
	if !versionRE.MatchString(s) {
		return errs.Param("generic.ValidateVersion", "package_version is invalid")
	}
	return nil
}

// ValidateFileName checks a file name: ~ and @ allowed, but not first or last.
func ValidateFileName(s string) error {
	if s == "." || s == ".." || strings.Contains(s, "/") {
		return errs.Param("generic.ValidateFileName", "file_name should be a valid file path")
	}
	if !fileRE.MatchString(s) {
		return errs.Param("generic.ValidateFileName", "file_name is invalid")
	}
	return nil
}
