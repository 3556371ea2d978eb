package auth

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Cache remembers verified tokens for a short TTL so that a download does
// not pay a database round trip for authentication. Entries are keyed by a
// digest of the secret (the secret itself is never kept).
//
// Revocation bound: the node that deletes or revokes a token drops it at
// once; every other node drops it when the Postgres NOTIFY sent in the same
// operation arrives (milliseconds). If a node's notification connection is
// down it clears its whole cache on reconnect, so in the worst case a revoked
// token works on another node for at most the TTL (GATEWAY_TOKEN_CACHE_TTL).
// Expiry is re-checked on every hit. A nil *Cache is valid and caches
// nothing.
type Cache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[[32]byte]cacheEntry
	// epoch counts the forgets. A lookup takes it (ticket) before it
	// reads the database and stores its answer only if no forget came
	// in between: a token revoked while its lookup was in flight would
	// otherwise be cached after the revocation dropped it, and work on
	// for the whole TTL.
	epoch uint64
}

type cacheEntry struct {
	id      *Identity
	expires time.Time
}

// NewCache returns a cache whose entries live ttl (0: nil, no caching).
func NewCache(ttl time.Duration) *Cache {
	if ttl <= 0 {
		return nil
	}
	return &Cache{ttl: ttl, now: time.Now, entries: map[[32]byte]cacheEntry{}}
}

func (c *Cache) get(secret string) *Identity {
	if c == nil {
		return nil
	}
	k := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil
	}
	now := c.now()
	if now.After(e.expires) || (e.id.Deploy != nil && !e.id.Deploy.Usable(now)) || (e.id.PAT != nil && !e.id.PAT.Active(now.UTC())) {
		delete(c.entries, k)
		return nil
	}
	return e.id
}

// ticket is what a lookup passes to put: the epoch before it read the
// database.
func (c *Cache) ticket() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

func (c *Cache) put(secret string, id *Identity, ticket uint64) {
	if c == nil {
		return
	}
	k := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != ticket {
		return // something was forgotten since the lookup began
	}
	if len(c.entries) > 100_000 {
		c.entries = map[[32]byte]cacheEntry{} // bounded memory; refills on demand
	}
	c.entries[k] = cacheEntry{id: id, expires: c.now().Add(c.ttl)}
}

// ForgetDeployToken drops a deploy token (revoked or deleted).
func (c *Cache) ForgetDeployToken(id int64) {
	c.forget(func(i *Identity) bool { return i.Deploy != nil && i.Deploy.ID == id })
}

// ForgetPAT drops a personal access token (revoked).
func (c *Cache) ForgetPAT(id int64) {
	c.forget(func(i *Identity) bool { return i.PAT != nil && i.PAT.ID == id })
}

// ForgetUser drops every token of a user.
func (c *Cache) ForgetUser(id int64) {
	c.forget(func(i *Identity) bool { return i.User != nil && i.User.ID == id })
}

// Invalidate applies a notification payload from another node:
// "deploy:<id>", "pat:<id>", "user:<id>", or "*" (state unknown: drop
// everything). A node older than a kind clears its whole cache on it,
// which is safe, so new kinds need no coordinated upgrade.
func (c *Cache) Invalidate(payload string) {
	kind, id, _ := strings.Cut(payload, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	switch {
	case kind == "deploy" && err == nil:
		c.ForgetDeployToken(n)
	case kind == "pat" && err == nil:
		c.ForgetPAT(n)
	case kind == "user" && err == nil:
		c.ForgetUser(n)
	default:
		c.Clear()
	}
}

// Clear drops everything.
func (c *Cache) Clear() { c.forget(func(*Identity) bool { return true }) }

func (c *Cache) forget(match func(*Identity) bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for k, e := range c.entries {
		if match(e.id) {
			delete(c.entries, k)
		}
	}
}
