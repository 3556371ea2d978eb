package auth

import (
	"net/netip"
	"testing"
	"time"
)

// TestUseTrackerNote: a token's use is written on its first use in a
// minute and on the first use from each further address in that minute,
// at most meta.LastUsedIPs addresses; repeats are not written.
func TestUseTrackerNote(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	type use struct {
		token int64
		ip    netip.Addr
		at    time.Duration
		write bool
	}
	cases := []struct {
		name string
		uses []use
	}{
		{"first use writes, a repeat does not", []use{
			{1, ip("192.0.2.1"), 0, true}, {1, ip("192.0.2.1"), time.Second, false},
		}},
		{"a new address in the minute writes", []use{
			{1, ip("192.0.2.1"), 0, true}, {1, ip("192.0.2.2"), time.Second, true}, {1, ip("192.0.2.2"), 2 * time.Second, false},
			{1, ip("192.0.2.1"), 3 * time.Second, false},
		}},
		{"the next minute writes again", []use{
			{1, ip("192.0.2.1"), 0, true}, {1, ip("192.0.2.1"), 59 * time.Second, false}, {1, ip("192.0.2.1"), time.Minute, true},
			{1, ip("192.0.2.1"), time.Minute + time.Second, false},
		}},
		{"unknown address: once a minute", []use{
			{1, netip.Addr{}, 0, true}, {1, netip.Addr{}, time.Second, false}, {1, ip("192.0.2.1"), 2 * time.Second, true},
		}},
		{"tokens are apart", []use{
			{1, ip("192.0.2.1"), 0, true}, {2, ip("192.0.2.1"), time.Second, true}, {1, ip("192.0.2.1"), 2 * time.Second, false},
		}},
		{"at most five addresses a minute", []use{
			{1, ip("192.0.2.1"), 0, true}, {1, ip("192.0.2.2"), 1, true}, {1, ip("192.0.2.3"), 2, true},
			{1, ip("192.0.2.4"), 3, true}, {1, ip("192.0.2.5"), 4, true}, {1, ip("192.0.2.6"), 5, false},
			{1, ip("192.0.2.6"), time.Minute, true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var u useTracker
			for i, x := range tc.uses {
				if got := u.note(x.token, x.ip, t0.Add(x.at)); got != x.write {
					t.Errorf("use %d (token %d from %v at +%v): write = %v, want %v", i, x.token, x.ip, x.at, got, x.write)
				}
			}
		})
	}
}

// TestClientAddr: what Postgres's inet stores, in one spelling per
// address, so that the same client is not listed twice.
func TestClientAddr(t *testing.T) {
	cases := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:DB8::1", "2001:db8::1"},
		{"fe80::1%eth0", "fe80::1"},
		{"", ""},
		{"not an address", ""},
		{"192.0.2.1:8080", ""},
	}
	for _, tc := range cases {
		got := ""
		if a := clientAddr(tc.in); a.IsValid() {
			got = a.String()
		}
		if got != tc.want {
			t.Errorf("clientAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
