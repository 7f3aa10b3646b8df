package webhook

import (
	"sync"
	"time"
)

// ttlCache is a map whose entries expire, bounded to max entries: when it
// is full, expired entries are dropped first, then the oldest. It is safe
// for concurrent use.
type ttlCache[V any] struct {
	max int

	mu      sync.Mutex
	seq     uint64
	entries map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	value   V
	expires time.Time
	// seq orders entries by when they were put.
	seq uint64
}

func newTTLCache[V any](maxEntries int) *ttlCache[V] {
	return &ttlCache[V]{max: maxEntries, entries: map[string]ttlEntry[V]{}}
}

// get is the value of key if it has not expired at now.
func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		var zero V
		return zero, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, key)
		var zero V
		return zero, false
	}
	return e.value, true
}

// put keeps value under key until now+ttl.
func (c *ttlCache[V]) put(key string, value V, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		for len(c.entries) >= c.max {
			oldest, first := "", true
			var oldestSeq uint64
			for k, e := range c.entries {
				if first || e.seq < oldestSeq {
					oldest, oldestSeq, first = k, e.seq, false
				}
			}
			delete(c.entries, oldest)
		}
	}
	c.seq++
	c.entries[key] = ttlEntry[V]{value: value, expires: now.Add(ttl), seq: c.seq}
}

// len is the number of entries, expired ones included.
func (c *ttlCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
