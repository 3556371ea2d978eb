package auth

import (
	"fmt"
	"testing"
	"time"

	"github.com/pkgate/pkgate/storage/meta"
)

// A lookup that began before a token was forgotten does not cache what it
// read: the revocation would otherwise be undone for the whole TTL.
func TestCacheForgetDuringLookup(t *testing.T) {
	tok := &Identity{Deploy: &meta.DeployToken{ID: 7}}
	other := &Identity{Deploy: &meta.DeployToken{ID: 8}}
	cases := []struct {
		name   string
		during func(c *Cache) // between the ticket and the put
		cached bool
	}{
		{"nothing forgotten", func(*Cache) {}, true},
		{"this token forgotten", func(c *Cache) { c.ForgetDeployToken(7) }, false},
		{"another token forgotten", func(c *Cache) { c.ForgetDeployToken(8) }, false},
		{"a user forgotten", func(c *Cache) { c.ForgetUser(1) }, false},
		{"everything cleared", func(c *Cache) { c.Clear() }, false},
		{"a notification", func(c *Cache) { c.Invalidate("deploy:7") }, false},
		{"among others forgotten", func(c *Cache) { c.ForgetDeployTokens([]int64{3, 7}) }, false},
		{"every deploy token, by notification", func(c *Cache) { c.Invalidate("deploy:*") }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache(time.Minute)
			c.put("other", other, c.ticket())
			ticket := c.ticket()
			tc.during(c)
			c.put("secret", tok, ticket)
			if got := c.get("secret") != nil; got != tc.cached {
				t.Errorf("cached = %v, want %v", got, tc.cached)
			}
			// A lookup that starts afterwards caches again.
			c.put("secret", tok, c.ticket())
			if c.get("secret") == nil {
				t.Error("a later lookup was not cached")
			}
		})
	}
}

// A cached PAT stops working at its expiry date's midnight, as an
// uncached one does, not when its cache entry runs out.
func TestCachePATExpiry(t *testing.T) {
	c := NewCache(time.Hour)
	now := time.Date(2026, 11, 25, 23, 59, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	exp := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	c.put("pat", &Identity{User: &meta.User{ID: 1}, PAT: &meta.PAT{ExpiresAt: &exp}}, c.ticket())
	if c.get("pat") == nil {
		t.Fatal("not cached the day before its expiry")
	}
	now = exp.Add(time.Second)
	if c.get("pat") != nil {
		t.Fatal("an expired PAT still served from the cache")
	}
}

// A revoked PAT leaves the cache by its id, on this node (ForgetPAT) and
// on the others (the "pat:<id>" notification), while the user's other
// tokens stay cached.
func TestCacheForgetPAT(t *testing.T) {
	u := &meta.User{ID: 1}
	cases := []struct {
		name   string
		forget func(c *Cache)
	}{
		{"on this node", func(c *Cache) { c.ForgetPAT(7) }},
		{"by notification", func(c *Cache) { c.Invalidate("pat:7") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache(time.Minute)
			c.put("revoked", &Identity{User: u, PAT: &meta.PAT{ID: 7, UserID: 1}}, c.ticket())
			c.put("kept", &Identity{User: u, PAT: &meta.PAT{ID: 8, UserID: 1}}, c.ticket())
			tc.forget(c)
			if c.get("revoked") != nil {
				t.Error("the revoked PAT is still cached")
			}
			if c.get("kept") == nil {
				t.Error("another PAT of the same user was dropped")
			}
		})
	}
}

// The cache behind both: entries go at their expiry or when valid refuses
// them, and the map is dropped whole when it reaches its bound.
func TestTTLCache(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name  string
		at    time.Time
		valid func(int) bool
		want  bool
	}{
		{"alive", now, nil, true},
		{"alive and valid", now, func(v int) bool { return v == 1 }, true},
		{"refused", now, func(int) bool { return false }, false},
		{"at its expiry", now.Add(time.Second), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTTLCache[string, int](3)
			c.put("k", 1, c.ticket(), now.Add(time.Second))
			if _, ok := c.get("k", tc.at, tc.valid); ok != tc.want {
				t.Fatalf("got %v, want %v", ok, tc.want)
			}
			if _, ok := c.get("k", now, nil); ok != tc.want {
				t.Errorf("a refused or expired entry was kept, or a good one dropped")
			}
		})
	}
	c := newTTLCache[int, int](3)
	for i := range 4 {
		c.put(i, i, c.ticket(), now.Add(time.Hour))
	}
	if n := len(c.m); n != 1 {
		t.Errorf("%d entries after four puts into a cache of three, want the map dropped and refilled with one", n)
	}
}

// BenchmarkCacheHit is the token cache's share of every authenticated
// download: a hit must not allocate (the issue's ≤ 5 % for authentication
// leaves no room for garbage per request).
func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(time.Hour)
	c.put("secret", &Identity{Deploy: &meta.DeployToken{ID: 7}}, c.ticket())
	b.ReportAllocs()
	for b.Loop() {
		if c.get("secret") == nil {
			b.Fatal("miss")
		}
	}
}

// ForgetDeployTokens and ForgetProjects drop exactly the ids they are
// given, whatever else the caches hold.
func TestForgetSeveral(t *testing.T) {
	c := NewCache(time.Hour)
	a := &Authenticator{}
	pc := a.projectCache()
	for _, id := range []int64{3, 7, 8} {
		c.put(fmt.Sprint("secret", id), &Identity{Deploy: &meta.DeployToken{ID: id}}, c.ticket())
		pc.put(fmt.Sprint("acme/p", id), &meta.Project{ID: id}, pc.ticket(), time.Now().Add(time.Hour))
	}
	c.ForgetDeployTokens([]int64{3, 7, 99})
	a.ForgetProjects([]int64{3, 7, 99})
	for _, tc := range []struct {
		id   int64
		kept bool
	}{{3, false}, {7, false}, {8, true}} {
		if got := c.get(fmt.Sprint("secret", tc.id)) != nil; got != tc.kept {
			t.Errorf("token %d cached = %v, want %v", tc.id, got, tc.kept)
		}
		if _, got := pc.get(fmt.Sprint("acme/p", tc.id), time.Now(), nil); got != tc.kept {
			t.Errorf("project %d cached = %v, want %v", tc.id, got, tc.kept)
		}
	}
}
