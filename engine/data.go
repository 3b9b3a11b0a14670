package engine

import (
	"maps"
	"sync"
)

// Data is a connection's key/value store (Kelp's $conn->data). Values are
// plain Go values: nil, bool, float64, int64, string, []any and
// map[string]any; callers store copies, never values they keep changing.
//
// It is safe to call Data's methods concurrently: every worker may read any
// connection's data.
type Data struct {
	mu sync.RWMutex
	m  map[string]any // nil until the first key: most connections have none
}

// NewData returns a Data holding a copy of the top level of seed.
func NewData(seed map[string]any) *Data {
	d := &Data{}
	if len(seed) > 0 {
		d.m = maps.Clone(seed)
	}
	return d
}

// Get returns the value under key.
func (d *Data) Get(key string) (any, bool) {
	d.mu.RLock()
	v, ok := d.m[key]
	d.mu.RUnlock()
	return v, ok
}

// Set stores v under key; a nil v deletes the key.
func (d *Data) Set(key string, v any) {
	d.mu.Lock()
	switch {
	case v == nil:
		delete(d.m, key)
	case d.m == nil:
		d.m = map[string]any{key: v}
	default:
		d.m[key] = v
	}
	d.mu.Unlock()
}

// Len returns the number of keys.
func (d *Data) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.m)
}

// Snapshot returns a shallow copy of the whole map.
func (d *Data) Snapshot() map[string]any {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.m == nil {
		return map[string]any{}
	}
	return maps.Clone(d.m)
}

// Update runs f with the map locked for writing, for read-modify-write.
func (d *Data) Update(f func(m map[string]any)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]any{}
	}
	f(d.m)
}
