package generic

import (
	"testing"

	"github.com/pkgate/pkgate/formats"
)

// The duplicate rule itself is tested in formats (TestDuplicatesAllow) and
// end to end in tests/generic_test.go.
func TestDefaultOptionsAllowDuplicates(t *testing.T) {
	if o := DefaultOptions(); o.Duplicates != formats.AllowDuplicates {
		t.Errorf("DefaultOptions() = %+v, want GitLab's default (allowed, no exception)", o)
	}
}
