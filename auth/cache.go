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
	if now.After(e.expires) || (e.id.Deploy != nil && !e.id.Deploy.Usable(now)) {
		delete(c.entries, k)
		return nil
	}
	return e.id
}

func (c *Cache) put(secret string, id *Identity) {
	if c == nil {
		return
	}
	k := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) > 100_000 {
		c.entries = map[[32]byte]cacheEntry{} // bounded memory; refills on demand
	}
	c.entries[k] = cacheEntry{id: id, expires: c.now().Add(c.ttl)}
}

// ForgetDeployToken drops a deploy token (revoked or deleted).
func (c *Cache) ForgetDeployToken(id int64) {
	c.forget(func(i *Identity) bool { return i.Deploy != nil && i.Deploy.ID == id })
}

// ForgetUser drops every token of a user.
func (c *Cache) ForgetUser(id int64) {
	c.forget(func(i *Identity) bool { return i.User != nil && i.User.ID == id })
}

// Invalidate applies a notification payload from another node:
// "deploy:<id>", "user:<id>", or "*" (state unknown: drop everything).
func (c *Cache) Invalidate(payload string) {
	kind, id, _ := strings.Cut(payload, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	switch {
	case kind == "deploy" && err == nil:
		c.ForgetDeployToken(n)
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
	for k, e := range c.entries {
		if match(e.id) {
			delete(c.entries, k)
		}
	}
}
