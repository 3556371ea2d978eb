package auth

import (
	"crypto/sha256"
	"strconv"
	"strings"
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
	// Keyed by sha256 of the secret; the epoch keeps a token revoked
	// while its lookup was in flight from being cached after the
	// revocation dropped it (see ttlCache).
	m *ttlCache[[32]byte, *Identity]
}

// NewCache returns a cache whose entries live ttl (0: nil, no caching).
func NewCache(ttl time.Duration) *Cache {
	if ttl <= 0 {
		return nil
	}
	return &Cache{ttl: ttl, now: time.Now, m: newTTLCache[[32]byte, *Identity](100_000)}
}

// get returns the identity of secret while its entry lives and the token
// itself is still usable: expiry is checked on every hit.
func (c *Cache) get(secret string) *Identity {
	if c == nil {
		return nil
	}
	now := c.now()
	id, _ := c.m.get(sha256.Sum256([]byte(secret)), now, func(id *Identity) bool {
		return (id.Deploy == nil || id.Deploy.Usable(now)) && (id.PAT == nil || id.PAT.Active(now.UTC()))
	})
	return id
}

// ticket is what a lookup passes to put: the epoch before it read the
// database.
func (c *Cache) ticket() uint64 {
	if c == nil {
		return 0
	}
	return c.m.ticket()
}

func (c *Cache) put(secret string, id *Identity, ticket uint64) {
	if c == nil {
		return
	}
	c.m.put(sha256.Sum256([]byte(secret)), id, ticket, c.now().Add(c.ttl))
}

// ForgetDeployToken drops a deploy token (revoked or deleted).
func (c *Cache) ForgetDeployToken(id int64) {
	c.forget(func(i *Identity) bool { return i.Deploy != nil && i.Deploy.ID == id })
}

// ForgetDeployTokens drops several deploy tokens in one pass over the
// cache (a deletion of a project or group takes all of its tokens).
func (c *Cache) ForgetDeployTokens(ids []int64) {
	if len(ids) == 0 {
		return
	}
	set := idSet(ids)
	c.forget(func(i *Identity) bool { return i.Deploy != nil && set[i.Deploy.ID] })
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
// everything), which anything unreadable is taken for, as "deploy:*"
// (the tokens of a deletion too many to name). A node older than a kind
// clears its whole cache on it, which is safe, so new kinds need no
// coordinated upgrade.
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
	c.m.forget(match)
}
