package meta

import (
	"context"
	"strconv"
	"strings"
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
	fills uint64 // numbers each fill (lookupEntry.fill)
}

// A lookup across several projects (a group or instance endpoint) is kept
// under each of them, as copies of one fill: a change to any of them drops
// its copy, and a lookup counts as a hit only when every copy is there.
type lookupEntry struct {
	pkg     *Package
	file    *PackageFile
	expires time.Time
	fill    uint64
}

// maxSetLookup is the largest project set whose lookups are cached: an
// instance-level endpoint of a large registry would keep a copy of each
// entry per project.
const maxSetLookup = 64

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
	return s.cachedSetLookup(ctx, []int64{projectID}, key, fn)
}

// cachedSetLookup is cachedLookup for a lookup across projectIDs, whose
// key must name the set too (the same key under one project may belong to
// another set).
func (s *Store) cachedSetLookup(ctx context.Context, projectIDs []int64, key string, fn func() (*Package, *PackageFile, error)) (*Package, *PackageFile, error) {
	if len(projectIDs) == 0 || len(projectIDs) > maxSetLookup {
		return fn()
	}
	l := &s.lookups
	epoch := l.epoch.Load()
	now := time.Now()
	l.mu.Lock()
	e, ok := l.m[projectIDs[0]][key]
	for _, id := range projectIDs[1:] {
		if !ok {
			break
		}
		c, had := l.m[id][key]
		ok = had && c.fill == e.fill
	}
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
		if l.n+len(projectIDs) > maxLookups {
			l.m, l.n = nil, 0
		}
		if l.m == nil {
			l.m = map[int64]map[string]lookupEntry{}
		}
		l.fills++
		e := lookupEntry{pkg: p, file: f, expires: now.Add(lookupTTL), fill: l.fills}
		for _, id := range projectIDs {
			pm := l.m[id]
			if pm == nil {
				pm = map[string]lookupEntry{}
				l.m[id] = pm
			}
			if _, had := pm[key]; !had {
				l.n++
			}
			pm[key] = e
		}
	}
	l.mu.Unlock()
	return p, f, nil
}

// setKey names a project set in a lookup key.
func setKey(projectIDs []int64) string {
	var b strings.Builder
	for i, id := range projectIDs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}
