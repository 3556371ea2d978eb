package formats

import (
	"regexp"

	"github.com/pkgate/pkgate/internal/errs"
)

// AnchorWhole returns re matching whole strings only, the way GitLab
// matches a duplicate exception regex (\A...\z), so "tool" excepts the
// package tool but not toolbox. nil stays nil (no exception).
func AnchorWhole(re *regexp.Regexp) *regexp.Regexp {
	if re == nil {
		return nil
	}
	return regexp.MustCompile(`\A(?:` + re.String() + `)\z`)
}

// ErrDuplicate is GitLab's answer, in every format with a duplicates
// setting, to an upload the setting refuses.
func ErrDuplicate(op string) error {
	return errs.New(op, errs.Invalid, "400 Bad request - Duplicate package is not allowed")
}
