package formats

import (
	"regexp"
	"testing"
)

func TestAnchorWhole(t *testing.T) {
	cases := []struct {
		re, s string
		want  bool
	}{
		{"tool", "tool", true},
		{"tool", "toolbox", false},
		{"tool", "my-tool", false},
		{"1\\.0|2\\.0", "2.0", true},
		{"1\\.0|2\\.0", "1.0.1", false}, // the alternation is grouped before anchoring
		{".*-SNAPSHOT", "1.0-SNAPSHOT", true},
		{"(?m)^a$", "a\nb", false}, // flags inside cannot unanchor the whole
	}
	for _, c := range cases {
		if got := AnchorWhole(regexp.MustCompile(c.re)).MatchString(c.s); got != c.want {
			t.Errorf("%q on %q: %v, want %v", c.re, c.s, got, c.want)
		}
	}
	if AnchorWhole(nil) != nil {
		t.Error("nil is not kept")
	}
}
