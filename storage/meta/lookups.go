package meta

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// PackagesChannel carries package-change notifications (sent by the
// generation trigger, migrations/0008) between gateway nodes.
const PackagesChannel = "pkgate_packages"

// lookupTTL bounds how long a cached file lookup may live even if a change
// notification were lost.
const lookupTTL = 10 * time.Second

// lookups caches the hottest read of the registry — "which file row serves
// this download" — so a download of a popular file costs no database round
// trip. Any package change anywhere drops every entry: this node calls
// InvalidateLookups before it answers a write, and every node does when the
// Postgres notification of a change arrives (milliseconds); lookupTTL bounds
// the rest. Only hits are cached, so a new file is visible at once.
type lookups struct {
	epoch atomic.Uint64
	mu    sync.Mutex
	m     map[string]lookupEntry
}

type lookupEntry struct {
	pkg     *Package
	file    *PackageFile
	epoch   uint64
	expires time.Time
}

// InvalidateLookups drops every cached file lookup.
func (s *Store) InvalidateLookups() {
	s.lookups.epoch.Add(1)
	s.lookups.mu.Lock()
	s.lookups.m = nil
	s.lookups.mu.Unlock()
}

// cachedLookup returns the cached result for key or runs fn and caches a
// successful result. Callers must treat the results as read-only.
func (s *Store) cachedLookup(ctx context.Context, key string, fn func() (*Package, *PackageFile, error)) (*Package, *PackageFile, error) {
	l := &s.lookups
	epoch := l.epoch.Load()
	now := time.Now()
	l.mu.Lock()
	e, ok := l.m[key]
	l.mu.Unlock()
	if ok && e.epoch == epoch && now.Before(e.expires) {
		return e.pkg, e.file, nil
	}
	p, f, err := fn()
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	if l.epoch.Load() == epoch { // no change raced with the query
		if l.m == nil || len(l.m) > 50000 {
			l.m = map[string]lookupEntry{}
		}
		l.m[key] = lookupEntry{pkg: p, file: f, epoch: epoch, expires: now.Add(lookupTTL)}
	}
	l.mu.Unlock()
	return p, f, nil
}
