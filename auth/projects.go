package auth

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

// projectCacheTTL bounds how long a project's settings (visibility,
// packages_enabled, namespace) may be served from memory on the package
// hot path. An edit through the API drops them at once on its node and,
// through a notification, on the others (ForgetProject, Invalidate), so
// the window matters only when a notification is lost. Projects are never
// moved or deleted through this gateway's API.
const projectCacheTTL = 5 * time.Second

type projectEntry struct {
	p       *meta.Project
	expires time.Time
}

type projectCache struct {
	mu sync.Mutex
	m  map[string]projectEntry
	// epoch counts ForgetProject calls: a lookup that began before one
	// may have read the settings it drops, and is not cached.
	epoch uint64
}

// cachedProject resolves a project through a short-lived cache (only hits
// are cached, so a project created on another node is found at once).
func (a *Authenticator) cachedProject(ctx context.Context, idOrPath string) (*meta.Project, error) {
	key := strings.ToLower(idOrPath)
	now := time.Now()
	pc := a.projectCache()
	if p := pc.get(key, now); p != nil {
		return p, nil
	}
	ticket := pc.ticket()
	p, err := FindProject(ctx, a.Store, idOrPath)
	if err != nil {
		return nil, err
	}
	pc.put(key, p, ticket, now)
	return p, nil
}

func (a *Authenticator) projectCache() *projectCache {
	a.projectsOnce.Do(func() { a.projects = &projectCache{m: map[string]projectEntry{}} })
	return a.projects
}

func (pc *projectCache) get(key string, now time.Time) *meta.Project {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if e, ok := pc.m[key]; ok && now.Before(e.expires) {
		return e.p
	}
	return nil
}

// ticket is taken before a lookup; put caches what it read only if no
// settings were forgotten since.
func (pc *projectCache) ticket() uint64 {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.epoch
}

func (pc *projectCache) put(key string, p *meta.Project, ticket uint64, now time.Time) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.epoch != ticket {
		return
	}
	if len(pc.m) > 10000 {
		pc.m = map[string]projectEntry{} // bounded memory; refills on demand
	}
	pc.m[key] = projectEntry{p: p, expires: now.Add(projectCacheTTL)}
}

func (pc *projectCache) forget(id int64) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.epoch++
	for k, e := range pc.m {
		if id == 0 || e.p.ID == id {
			delete(pc.m, k)
		}
	}
}

// ForgetProject drops the cached settings of project id, or of every
// project when id is 0 (a group's edit reaches the namespaces of all
// below it).
func (a *Authenticator) ForgetProject(id int64) { a.projectCache().forget(id) }

// Invalidate applies a notification from another node on the token
// channel: "project:<id>" or "project:*" drop cached project settings,
// anything else goes to the token cache (see Cache.Invalidate, which
// drops everything on a kind it does not know: a node older than this
// kind does so on it).
func (a *Authenticator) Invalidate(payload string) {
	kind, id, _ := strings.Cut(payload, ":")
	if kind != "project" {
		a.Cache.Invalidate(payload)
		if payload == "*" { // state unknown (a reconnect): drop everything
			a.ForgetProject(0)
		}
		return
	}
	n, _ := strconv.ParseInt(id, 10, 64) // "*" or anything unreadable: 0, every project
	a.ForgetProject(max(n, 0))
}
