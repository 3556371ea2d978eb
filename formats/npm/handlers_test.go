package npm

import "testing"

func TestIsDeprecate(t *testing.T) {
	for cmd, want := range map[string]bool{
		"deprecate":   true,
		"Deprecate":   true,
		"undeprecate": true, // npm 11's `npm undeprecate`: same body
		"publish":     false,
		"unpublish":   false,
		"star":        false,
		"":            false,
	} {
		if got := isDeprecate(cmd); got != want {
			t.Errorf("isDeprecate(%q) = %v, want %v", cmd, got, want)
		}
	}
}
