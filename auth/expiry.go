package auth

import (
	"regexp"
	"strings"
	"time"
)

// ParseExpiry reads a deploy token's expires_at (the REST API and the web
// page share it): a date alone means 00:00 UTC of that day; a datetime keeps
// its second and is normalised to UTC; "" means no expiry.
func ParseExpiry(v string) (*time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, true
	}
	layouts := []string{"2006-01-02", time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04:05 -0700",
		"2006-01-02T15:04:05-0700", "2006-01-02 15:04:05 MST", "2006-01-02T15:04Z07:00", "2006-01-02T15:04"}
	for _, l := range layouts {
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
