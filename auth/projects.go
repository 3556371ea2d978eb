package auth

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

// projectCacheTTL bounds how long a project's settings (visibility,
// packages_enabled, namespace) may be served from memory on the package
// hot path. Projects are never renamed, moved or deleted through this
// gateway's API, so the window only delays a visibility change.
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
