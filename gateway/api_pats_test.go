package gateway

import (
	"errors"
	"testing"
	"time"

	"github.com/pkgate/pkgate/internal/errs"
)

// TestRotatedPATExpiry covers the rotated token's expiry: a week from
// today by default, the day as written otherwise, GitLab's maximum
// lifetime and its messages.
func TestRotatedPATExpiry(t *testing.T) {
	today := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in, want, msg string // want: the date; msg: the refusal
	}{
		{in: "", want: "2026-03-08"},
		{in: "  ", want: "2026-03-08"},
		{in: "2026-04-01", want: "2026-04-01"},
		{in: "2026-04-01T23:30:00-05:00", want: "2026-04-01"}, // the day as written
		{in: "2020-01-01", want: "2020-01-01"},                // the past is taken, as GitLab does
		{in: "2027-03-01", want: "2027-03-01"},                // today + 365 days
		{in: "2027-03-02", msg: "400 Bad request - Expiration date must be before 2027-03-01"},
		{in: "tomorrow", msg: "expires_at is invalid"},
		{in: "2026-02-30", msg: "expires_at is invalid"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := rotatedPATExpiry("test", c.in, today)
			if c.msg != "" {
				var e *errs.Error
				if !errors.As(err, &e) || e.Kind != errs.Invalid || e.Msg != c.msg {
					t.Fatalf("got %v, %v; want the refusal %q", got, err, c.msg)
				}
				return
			}
			if err != nil || got == nil || got.Format(time.DateOnly) != c.want {
				t.Fatalf("got %v, %v; want %s", got, err, c.want)
			}
		})
	}
}
