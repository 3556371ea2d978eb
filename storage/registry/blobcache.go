package registry

import (
	"container/list"
	"sync"
)

// BlobCache keeps the bytes of small, recently read blobs in memory. Blobs
// are content-addressed and never change, so an entry can never be stale:
// whether a file may be served is decided by its metadata row on every
// request, the cache only saves the round trip to the blob store (npm
// tarballs, poms and wheels of popular packages are read far more often
// than written). Memory is bounded by a byte budget with LRU eviction.
type BlobCache struct {
	maxItem int64
	budget  int64

	mu    sync.Mutex
	used  int64
	order *list.List // front = most recent; values are *cacheItem
	items map[string]*list.Element
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
	return &BlobCache{maxItem: maxItem, budget: budget, order: list.New(), items: map[string]*list.Element{}}
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
		c.order.MoveToFront(e)
		return e.Value.(*cacheItem).data, true
	}
	return nil, false
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
