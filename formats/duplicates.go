package formats

import (
	"regexp"

	"github.com/pkgate/pkgate/internal/errs"
)

// Duplicates is one format's duplicate setting: GitLab's namespace package
// settings <format>_duplicates_allowed and <format>_duplicate_exception_regex.
// The zero value refuses every duplicate; AllowDuplicates is GitLab's
// default.
type Duplicates struct {
	allowed   bool
	exception *regexp.Regexp // anchored to whole strings; nil: none
}

// AllowDuplicates is GitLab's default: re-uploading a file name appends a
// file row, and downloads serve the newest.
var AllowDuplicates = Duplicates{allowed: true}

// NewDuplicates builds a setting. exception ("" for none) names packages
// (by name or version) that may take duplicates even when they are
// refused; it has no effect when they are allowed, as in GitLab. It is
// matched against whole strings, the way GitLab does (\A...\z), so "tool"
// excepts the package tool but not toolbox.
func NewDuplicates(allowed bool, exception string) (Duplicates, error) {
	d := Duplicates{allowed: allowed}
	if exception == "" {
		return d, nil
	}
	if _, err := regexp.Compile(exception); err != nil {
		return Duplicates{}, err
	}
	// Grouped before anchoring, so an alternation cannot escape the anchors.
	d.exception = regexp.MustCompile(`\A(?:` + exception + `)\z`)
	return d, nil
}

// Allow reports whether a package with this name and version may take a
// file name it already holds.
func (d Duplicates) Allow(name, version string) bool {
	if d.allowed {
		return true
	}
	return d.exception != nil && (d.exception.MatchString(name) || d.exception.MatchString(version))
}

// ErrDuplicate is GitLab's answer, in every format with a duplicates
// setting, to an upload the setting refuses.
func ErrDuplicate(op string) error {
	return errs.New(op, errs.Invalid, "400 Bad request - Duplicate package is not allowed")
}
