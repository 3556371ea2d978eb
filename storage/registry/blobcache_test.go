package registry

import (
	"bytes"
	"testing"
)

func TestBlobCacheBudgetAndLRU(t *testing.T) {
	c := NewBlobCache(10, 4)
	c.Put("a", []byte("aaaa"))
	c.Put("b", []byte("bbbb"))
	c.Put("big", []byte("too big"))
	if _, ok := c.Get("big"); ok {
		t.Error("item over maxItem cached")
	}
	c.Get("a") // a is now the most recent
	c.Put("c", []byte("cccc"))
	if _, ok := c.Get("b"); ok {
		t.Error("least recently used item survived over budget")
	}
	for _, k := range []string{"a", "c"} {
		if d, ok := c.Get(k); !ok || !bytes.Equal(d, bytes.Repeat([]byte(k), 4)) {
			t.Errorf("%s: %q %v", k, d, ok)
		}
	}
	if c.used != 8 {
		t.Errorf("used %d", c.used)
	}
	c.Drop("a") // its bytes came from an object found damaged
	if _, ok := c.Get("a"); ok || c.used != 4 {
		t.Errorf("after Drop: a cached %v, used %d", ok, c.used)
	}
	var nilCache *BlobCache
	nilCache.Put("x", []byte("x"))
	nilCache.Drop("x")
	if _, ok := nilCache.Get("x"); ok || NewBlobCache(0, 1) != nil {
		t.Error("nil cache stores")
	}
}

// TestBlobCacheAdmission: once full, the cache keeps a stable part of a
// cyclic scan larger than itself (plain LRU would hit nothing), and a
// popular newcomer still gets in.
func TestBlobCacheAdmission(t *testing.T) {
	c := NewBlobCache(10*4, 4) // room for 10 items of 4 bytes
	key := func(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }
	hits := 0
	for round := 0; round < 5; round++ {
		for i := 0; i < 20; i++ { // 20 items cycling through room for 10
			if _, ok := c.Get(key(i)); ok {
				hits++
				continue
			}
			if c.Admit(key(i), 4) {
				c.Put(key(i), []byte("data"))
			}
		}
	}
	if hits < 30 { // 4 later rounds × ~10 stable entries
		t.Errorf("cyclic scan: %d hits, the cache is thrashing", hits)
	}
	for i := 0; i < 8; i++ { // more requests than any cached entry had
		c.Admit("hot", 4)
	}
	if !c.Admit("hot", 4) {
		t.Error("a frequently requested newcomer is refused")
	}
}
