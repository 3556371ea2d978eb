package auth

import (
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

// A project lookup that began before an edit dropped the project's
// settings does not cache what it read: the edit would otherwise be
// undone on this node for the cache's 5 s.
func TestProjectCacheForgetDuringLookup(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name   string
		during func(a *Authenticator) // between the ticket and the put
		cached bool
	}{
		{"nothing forgotten", func(*Authenticator) {}, true},
		{"this project forgotten", func(a *Authenticator) { a.ForgetProject(7) }, false},
		{"another project forgotten", func(a *Authenticator) { a.ForgetProject(8) }, false},
		{"every project forgotten", func(a *Authenticator) { a.ForgetProject(0) }, false},
		{"among others forgotten", func(a *Authenticator) { a.ForgetProjects([]int64{3, 7}) }, false},
		{"a notification", func(a *Authenticator) { a.Invalidate("project:7") }, false},
		{"a reconnect", func(a *Authenticator) { a.Invalidate("*") }, false},
		{"a token notification", func(a *Authenticator) { a.Invalidate("pat:3") }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &Authenticator{}
			pc := a.projectCache()
			p := &meta.Project{ID: 7}
			ticket := pc.ticket()
			tc.during(a)
			pc.put("acme/app", p, ticket, now.Add(projectCacheTTL))
			if _, got := pc.get("acme/app", now, nil); got != tc.cached {
				t.Errorf("cached = %v, want %v", got, tc.cached)
			}
			// A lookup that starts afterwards caches again, until a forget
			// of its project or its TTL.
			cached := func(at time.Time) bool { _, ok := pc.get("acme/app", at, nil); return ok }
			pc.put("acme/app", p, pc.ticket(), now.Add(projectCacheTTL))
			if !cached(now) {
				t.Error("a later lookup was not cached")
			}
			a.ForgetProject(7)
			if cached(now) {
				t.Error("the project's settings survived ForgetProject")
			}
			pc.put("acme/app", p, pc.ticket(), now.Add(projectCacheTTL))
			if cached(now.Add(projectCacheTTL)) || cached(now) {
				t.Error("the project's settings outlived their TTL")
			}
		})
	}
}
