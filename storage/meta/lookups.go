package meta

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// lookupTTL bounds how long a cached file lookup may live even if a change
// notification were lost.
const lookupTTL = 10 * time.Second

// lookups caches the hottest read of the registry — "which file row serves
// this download" — so a download of a popular file costs no database round
// trip. A change to a project's packages drops that project's entries: this
// node drops them before it answers the write, and every node does when the
// Postgres notification of the change arrives (milliseconds; it names the
// project); lookupTTL bounds the rest. Before 2026-11-25 any change dropped
// every project's entries, so on a registry taking a publish a second the
// cache held almost nothing. Only hits are cached, so a new file is visible
// at once.
type lookups struct {
	epoch atomic.Uint64 // moves on every invalidation
	mu    sync.Mutex
	m     map[int64]map[string]lookupEntry // project -> key -> entry
	n     int
}

type lookupEntry struct {
	pkg     *Package
	file    *PackageFile
	expires time.Time
}

// maxLookups bounds the cache; past it, it starts over.
const maxLookups = 50000

// InvalidateLookups drops every cached file lookup.
func (s *Store) InvalidateLookups() {
	s.lookups.epoch.Add(1)
	s.lookups.mu.Lock()
	s.lookups.m, s.lookups.n = nil, 0
	s.lookups.mu.Unlock()
}

// InvalidateProjectLookups drops the cached file lookups of one project.
func (s *Store) InvalidateProjectLookups(projectID int64) {
	l := &s.lookups
	l.epoch.Add(1)
	l.mu.Lock()
	l.n -= len(l.m[projectID])
	delete(l.m, projectID)
	l.mu.Unlock()
}

// ProjectsChanged drops the cached file lookups of these projects here at
// once and, through PackagesChanged, on the other nodes: what a change
// made outside a request's own invalidation (the digest backfill, a heal)
// owes every node's caches.
func (s *Store) ProjectsChanged(projectIDs []int64) {
	for _, p := range projectIDs {
		s.InvalidateProjectLookups(p)
		s.PackagesChanged(p)
	}
}

// cachedLookup returns the cached result for key, which must name a lookup
// within projectID, or runs fn and caches a successful result. A result is
// not cached when any invalidation ran while fn did: fn may have read rows
// that the invalidation was meant to drop. Callers must treat the results
// as read-only.
func (s *Store) cachedLookup(ctx context.Context, projectID int64, key string, fn func() (*Package, *PackageFile, error)) (*Package, *PackageFile, error) {
	l := &s.lookups
	epoch := l.epoch.Load()
	now := time.Now()
	l.mu.Lock()
	e, ok := l.m[projectID][key]
	l.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.pkg, e.file, nil
	}
	p, f, err := fn()
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	if l.epoch.Load() == epoch {
		if l.n >= maxLookups {
			l.m, l.n = nil, 0
		}
		if l.m == nil {
			l.m = map[int64]map[string]lookupEntry{}
		}
		pm := l.m[projectID]
		if pm == nil {
			pm = map[string]lookupEntry{}
			l.m[projectID] = pm
		}
		if _, had := pm[key]; !had {
			l.n++
		}
		pm[key] = lookupEntry{pkg: p, file: f, expires: now.Add(lookupTTL)}
	}
	l.mu.Unlock()
	return p, f, nil
}
