package meta

import (
	"testing"
	"time"
)

// A PAT expires on its date at 00:00 UTC, as GitLab's do: usable through
// the day before, not on the day itself.
func TestPATActive(t *testing.T) {
	day := func(s string) *time.Time {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		p    PAT
		want bool
	}{
		{"no expiry", PAT{}, true},
		{"expires tomorrow", PAT{ExpiresAt: day("2026-11-27")}, true},
		{"expires today", PAT{ExpiresAt: day("2026-11-26")}, false},
		{"expired yesterday", PAT{ExpiresAt: day("2026-11-25")}, false},
		{"revoked", PAT{Revoked: true, ExpiresAt: day("2027-01-01")}, false},
	}
	for _, c := range cases {
		if got := c.p.Active(now); got != c.want {
			t.Errorf("%s: Active = %v, want %v", c.name, got, c.want)
		}
	}
	// The last instant before the expiry date's midnight still works.
	if p := (PAT{ExpiresAt: day("2026-11-27")}); !p.Active(time.Date(2026, 11, 26, 23, 59, 59, 0, time.UTC)) {
		t.Error("a PAT stopped working before its expiry date")
	}
}
