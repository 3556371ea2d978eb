package registry

import (
	"container/list"
	"sync"
)

// BlobCache keeps the bytes of small, recently read blobs in memory. Blobs
// are content-addressed and never change, so an entry can never be stale
// (unless read from an object since found damaged: Drop): whether a file
// may be served is decided by its metadata row on every request, the
// cache only saves the round trip to the blob store (npm
// tarballs, poms and wheels of popular packages are read far more often
// than written). Memory is bounded by a byte budget with LRU eviction.
//
// When the cache is full, a newcomer is admitted only if it has been asked
// for more often than the entry it would evict (a TinyLFU-style admission
// with a small frequency table): a scan over more files than fit then
// keeps a stable part of them cached instead of evicting everything, and
// a read that will not be admitted is streamed instead of buffered.
type BlobCache struct {
	maxItem int64
	budget  int64

	mu    sync.Mutex
	used  int64
	order *list.List // front = most recent; values are *cacheItem
	items map[string]*list.Element
	freq  map[string]uint8 // recent request counts, halved when large
}

type cacheItem struct {
	sha  string
	data []byte
}

// NewBlobCache returns a cache holding up to budget bytes of blobs no larger
// than maxItem each; a zero budget returns nil (no caching).
func NewBlobCache(budget, maxItem int64) *BlobCache {
	if budget <= 0 {
		return nil
	}
	return &BlobCache{maxItem: maxItem, budget: budget, order: list.New(), items: map[string]*list.Element{}, freq: map[string]uint8{}}
}

// touch counts a request for sha; the table is halved (aged) when it
// outgrows the cache a few times over, so old popularity fades.
func (c *BlobCache) touch(sha string) uint8 {
	if len(c.freq) > 4*len(c.items)+1024 {
		for k, v := range c.freq {
			if v /= 2; v == 0 {
				delete(c.freq, k)
			} else {
				c.freq[k] = v
			}
		}
	}
	if n := c.freq[sha]; n < 255 {
		c.freq[sha] = n + 1
	}
	return c.freq[sha]
}

// Admit reports whether a blob of that size, not in the cache, would be
// kept if read now (it also counts the request).
func (c *BlobCache) Admit(sha string, size int64) bool {
	if c == nil || !c.Fits(size) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.touch(sha)
	if c.used+size <= c.budget {
		return true
	}
	victim := c.order.Back()
	return victim == nil || n > c.freq[victim.Value.(*cacheItem).sha]
}

// Fits reports whether a blob of that size would be cached.
func (c *BlobCache) Fits(size int64) bool { return c != nil && size <= c.maxItem && size <= c.budget }

// Get returns a cached blob.
func (c *BlobCache) Get(sha string) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[sha]; ok {
		c.touch(sha)
		c.order.MoveToFront(e)
		return e.Value.(*cacheItem).data, true
	}
	return nil, false
}

// Drop forgets a blob: bytes read from an object the digest backfill has
// since found damaged may be the damaged ones.
func (c *BlobCache) Drop(sha string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[sha]; ok {
		c.order.Remove(e)
		delete(c.items, sha)
		c.used -= int64(len(e.Value.(*cacheItem).data))
	}
}

// Put stores a blob, evicting the least recently used ones beyond the budget.
func (c *BlobCache) Put(sha string, data []byte) {
	if c == nil || !c.Fits(int64(len(data))) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[sha]; ok {
		return
	}
	c.items[sha] = c.order.PushFront(&cacheItem{sha: sha, data: data})
	c.used += int64(len(data))
	for c.used > c.budget {
		e := c.order.Back()
		it := e.Value.(*cacheItem)
		c.order.Remove(e)
		delete(c.items, it.sha)
		c.used -= int64(len(it.data))
	}
}
