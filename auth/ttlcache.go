package auth

import (
	"sync"
	"time"
)

// ttlCache is the memory behind the token and project caches: entries
// that expire, bounded in number, and an epoch that keeps a lookup racing
// an invalidation from caching what the invalidation dropped.
//
// The race it closes: a lookup reads the database, a revocation (or an
// edit) commits and forgets the entry, and then the lookup stores the
// row it read before the change, which would be served for the whole
// TTL. So a lookup takes a ticket (the epoch) before it reads, and put
// stores its answer only if no forget came in between.
type ttlCache[K comparable, V any] struct {
	max int // entries kept before the map is dropped (bounded memory; it refills on demand)

	mu    sync.Mutex
	m     map[K]ttlEntry[V]
	epoch uint64 // forgets so far
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[K comparable, V any](max int) *ttlCache[K, V] {
	return &ttlCache[K, V]{max: max, m: map[K]ttlEntry[V]{}}
}

// get returns k's value unless it expired by now or valid refuses it
// (nil: any value is valid); a refused or expired entry is dropped.
func (c *ttlCache[K, V]) get(k K, now time.Time, valid func(V) bool) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if ok && now.Before(e.expires) && (valid == nil || valid(e.v)) {
		return e.v, true
	}
	if ok {
		delete(c.m, k)
	}
	var zero V
	return zero, false
}

// ticket is taken before a lookup reads the database.
func (c *ttlCache[K, V]) ticket() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// put stores v until expires, unless something was forgotten since
// ticket was taken.
func (c *ttlCache[K, V]) put(k K, v V, ticket uint64, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != ticket {
		return
	}
	if len(c.m) >= c.max {
		c.m = map[K]ttlEntry[V]{}
	}
	c.m[k] = ttlEntry[V]{v: v, expires: expires}
}

// forget drops every entry match accepts, and fails the tickets of the
// lookups in flight.
func (c *ttlCache[K, V]) forget(match func(V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for k, e := range c.m {
		if match(e.v) {
			delete(c.m, k)
		}
	}
}
