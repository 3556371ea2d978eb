package auth

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

// touchEvery is how often a node records a token's use (last_used_at and,
// in the same write, a first address), as meta.TouchPAT also throttles
// last_used_at across nodes.
const touchEvery = time.Minute

// useTracker decides, in memory, which uses of a personal access token
// are worth a write: the first in each minute of a token's use on this
// node (last_used_at), and the first use from each further address in that
// minute (GitLab's last_used_ips, gitlabhq
// app/services/personal_access_tokens/last_used_service.rb). A token
// answered from the cache must still note its address, since GitLab
// records a new one however recently the token was verified; deciding it
// here keeps that to a map lookup, and the write, when there is one, runs
// before an API request goes on and after a package request has been
// answered (see notePATUse). The database applies the same
// limits again for the whole cluster (meta.TouchPAT).
type useTracker struct {
	mu   sync.Mutex
	uses map[int64]tokenUses
}

// tokenUses is one token's current minute on this node: when it began and
// the addresses already sent to the database since.
type tokenUses struct {
	since time.Time
	n     int
	ips   [meta.LastUsedIPs]netip.Addr
}

// note reports whether the use of token id from ip (invalid: unknown)
// at now should be written.
func (u *useTracker) note(id int64, ip netip.Addr, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.uses[id]
	if !ok || now.Sub(t.since) >= touchEvery {
		if u.uses == nil || len(u.uses) > 100_000 {
			u.uses = map[int64]tokenUses{} // bounded memory: a forgotten token writes once more
		}
		t = tokenUses{since: now}
		if ip.IsValid() {
			t.ips[0], t.n = ip, 1
		}
		u.uses[id] = t
		return true
	}
	if !ip.IsValid() || t.n == len(t.ips) {
		return false
	}
	for _, seen := range t.ips[:t.n] {
		if seen == ip {
			return false
		}
	}
	t.ips[t.n] = ip
	t.n++
	u.uses[id] = t
	return true
}

// clientAddr parses the client address as the gateway determines it
// (gin's Context.ClientIP): IPv4-mapped IPv6 as IPv4 and without a zone,
// which Postgres's inet cannot hold. Anything unparsable is unknown.
func clientAddr(s string) netip.Addr {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap().WithZone("")
}

// notePATUse records, when useTracker says so, that pat was used from the
// request's client address. clientIP is asked only here, on requests a
// personal access token authenticated.
func (a *Authenticator) notePATUse(ctx context.Context, pat *meta.PAT, clientIP func() string) {
	var ip netip.Addr
	if clientIP != nil {
		ip = clientAddr(clientIP())
	}
	if !a.uses.note(pat.ID, ip, a.now()) {
		return
	}
	s := ""
	if ip.IsValid() {
		s = ip.String()
	}
	if inline, _ := ctx.Value(inlineUseKey{}).(bool); inline {
		// Before the request goes on, as GitLab's LastUsedService runs
		// in its authentication: GET .../personal_access_tokens/self then
		// shows this very use. Bounded, and its failure the request's
		// concern no more than in the background.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), inlineUseTimeout)
		defer cancel()
		a.Store.TouchPAT(ctx, pat.ID, s) //nolint:errcheck // best effort
		return
	}
	go a.Store.TouchPAT(context.WithoutCancel(ctx), pat.ID, s) //nolint:errcheck // best effort
}

// inlineUseKey marks, in a request's context, that a token's use is
// recorded before the request is served (the API routes) rather than
// after (the package routes, where the write would add to a download's
// latency). Either way it is at most one write a minute and address.
type inlineUseKey struct{}

// inlineUseTimeout bounds how long an API request waits on that write.
const inlineUseTimeout = 2 * time.Second
