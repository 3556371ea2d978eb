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
	var nilCache *BlobCache
	nilCache.Put("x", []byte("x"))
	if _, ok := nilCache.Get("x"); ok || NewBlobCache(0, 1) != nil {
		t.Error("nil cache stores")
	}
}
