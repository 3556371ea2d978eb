package auth

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

// projectCacheTTL bounds how long a project's settings (visibility,
// packages_enabled, namespace) may be served from memory on the package
// hot path. An edit through the API drops them at once on its node and,
// through a notification, on the others (ForgetProject, Invalidate), so
// the window matters only when a notification is lost. A deletion drops
// them the same way; projects are never moved.
const projectCacheTTL = 5 * time.Second

// projectCache holds project settings by lower-cased id or path; its
// epoch keeps a lookup that began before a ForgetProject from caching
// the settings it drops (see ttlCache).
type projectCache = ttlCache[string, *meta.Project]

// cachedProject resolves a project through a short-lived cache (only hits
// are cached, so a project created on another node is found at once).
func (a *Authenticator) cachedProject(ctx context.Context, idOrPath string) (*meta.Project, error) {
	key := strings.ToLower(idOrPath)
	now := time.Now()
	pc := a.projectCache()
	if p, ok := pc.get(key, now, nil); ok {
		return p, nil
	}
	ticket := pc.ticket()
	p, err := FindProject(ctx, a.Store, idOrPath)
	if err != nil {
		return nil, err
	}
	pc.put(key, p, ticket, now.Add(projectCacheTTL))
	return p, nil
}

func (a *Authenticator) projectCache() *projectCache {
	a.projectsOnce.Do(func() { a.projects = newTTLCache[string, *meta.Project](10000) })
	return a.projects
}

// ForgetProject drops the cached settings of project id, or of every
// project when id is 0 (a group's edit reaches the namespaces of all
// below it).
func (a *Authenticator) ForgetProject(id int64) {
	a.projectCache().forget(func(p *meta.Project) bool { return id == 0 || p.ID == id })
}

// ForgetProjects drops the cached settings of several projects in one
// pass over the cache (a group's deletion takes all of its projects).
func (a *Authenticator) ForgetProjects(ids []int64) {
	if len(ids) == 0 {
		return
	}
	set := idSet(ids)
	a.projectCache().forget(func(p *meta.Project) bool { return set[p.ID] })
}

// idSet is ids as a set, for one pass over a cache that forgets several.
func idSet(ids []int64) map[int64]bool {
	set := make(map[int64]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set
}

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
