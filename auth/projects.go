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
}

// cachedProject resolves a project through a short-lived cache (only hits
// are cached, so a project created on another node is found at once).
func (a *Authenticator) cachedProject(ctx context.Context, idOrPath string) (*meta.Project, error) {
	key := strings.ToLower(idOrPath)
	now := time.Now()
	a.projectsOnce.Do(func() { a.projects = &projectCache{m: map[string]projectEntry{}} })
	pc := a.projects
	pc.mu.Lock()
	e, ok := pc.m[key]
	pc.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.p, nil
	}
	p, err := FindProject(ctx, a.Store, idOrPath)
	if err != nil {
		return nil, err
	}
	pc.mu.Lock()
	if len(pc.m) > 10000 {
		pc.m = map[string]projectEntry{}
	}
	pc.m[key] = projectEntry{p: p, expires: now.Add(projectCacheTTL)}
	pc.mu.Unlock()
	return p, nil
}

// ForgetProject drops the cached settings of project id, or of every
// project when id is 0 (a group's edit reaches the namespaces of all
// below it).
func (a *Authenticator) ForgetProject(id int64) {
	a.projectsOnce.Do(func() { a.projects = &projectCache{m: map[string]projectEntry{}} })
	pc := a.projects
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for k, e := range pc.m {
		if id == 0 || e.p.ID == id {
			delete(pc.m, k)
		}
	}
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
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		n = 0
	}
	a.ForgetProject(n)
}
