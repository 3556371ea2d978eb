package auth

import (
	"regexp"
	"strings"
	"time"
)

// expiryLayouts are the forms of expires_at read, a time without a zone
// as UTC. GitLab coerces it with Ruby's DateTime.parse, which reads
// nearly anything; these are the forms a client sends: ISO 8601 in its
// extended and basic forms, with a space for the T (Python's str() of a
// datetime, with or without its zone), Ruby's and Go's default renderings
// and the HTTP date. Fractions of a second are read where the layout has
// none (time.Parse allows them after the seconds) and then dropped.
var expiryLayouts = []string{
	"2006-01-02", "20060102", "2006/01/02",
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02T15:04",
	"2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 -0700 MST",
	"2006-01-02 15:04:05 MST", "20060102T150405Z0700", "20060102T150405",
	time.RFC1123, time.RFC1123Z,
}

// ParseExpiry reads a deploy token's expires_at (the REST API and the web
// page share it): a date alone means 00:00 UTC of that day; a datetime keeps
// its second and is normalised to UTC; "" means no expiry.
func ParseExpiry(v string) (*time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, true
	}
	for _, l := range expiryLayouts {
		if t, err := time.Parse(l, v); err == nil {
			t = t.UTC().Truncate(time.Second)
			return &t, true
		}
	}
	return nil, false
}

var deployUsernameRE = regexp.MustCompile(`^[A-Za-z0-9_+.-]+$`)

// ValidDeployUsername applies GitLab's rule for custom deploy-token
// usernames: ASCII letters, digits, '_', '-', '+' and '.'.
func ValidDeployUsername(s string) bool { return deployUsernameRE.MatchString(s) }
