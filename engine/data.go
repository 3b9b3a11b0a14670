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
	// A few keys, the common case, live in kv (a map costs some 300 bytes
	// even for one key, and every idle connection keeps its Data); from
	// smallData keys on, or after Update, they live in m.
	kv []dataEntry
	m  map[string]any
}

type dataEntry struct {
	key string
	val any
}

// smallData is the most keys kept in a Data's slice.
const smallData = 8

// NewData returns a Data holding a copy of the top level of seed.
func NewData(seed map[string]any) *Data {
	d := &Data{}
	switch {
	case len(seed) > smallData:
		d.m = maps.Clone(seed)
	case len(seed) > 0:
		d.kv = make([]dataEntry, 0, len(seed))
		for k, v := range seed {
			d.kv = append(d.kv, dataEntry{k, v})
		}
	}
	return d
}

// Get returns the value under key.
func (d *Data) Get(key string) (any, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.m != nil {
		v, ok := d.m[key]
		return v, ok
	}
	if i := d.index(key); i >= 0 {
		return d.kv[i].val, true
	}
	return nil, false
}

// index returns the position of key in d.kv, or -1.
func (d *Data) index(key string) int {
	for i := range d.kv {
		if d.kv[i].key == key {
			return i
		}
	}
	return -1
}

// Set stores v under key; a nil v deletes the key.
func (d *Data) Set(key string, v any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m != nil {
		if v == nil {
			delete(d.m, key)
		} else {
			d.m[key] = v
		}
		return
	}
	i := d.index(key)
	switch {
	case v == nil && i >= 0:
		d.kv = append(d.kv[:i], d.kv[i+1:]...)
		d.kv[len(d.kv):cap(d.kv)][0] = dataEntry{} // let go of the value
	case v == nil:
	case i >= 0:
		d.kv[i].val = v
	case len(d.kv) < smallData:
		d.kv = append(d.kv, dataEntry{key, v})
	default:
		d.toMap()
		d.m[key] = v
	}
}

// toMap moves the keys from the slice into a map. d.mu must be held.
func (d *Data) toMap() {
	d.m = make(map[string]any, len(d.kv)+1)
	for _, e := range d.kv {
		d.m[e.key] = e.val
	}
	d.kv = nil
}

// Len returns the number of keys.
func (d *Data) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.m != nil {
		return len(d.m)
	}
	return len(d.kv)
}

// Snapshot returns a shallow copy of the whole map.
func (d *Data) Snapshot() map[string]any {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.m != nil {
		return maps.Clone(d.m)
	}
	m := make(map[string]any, len(d.kv))
	for _, e := range d.kv {
		m[e.key] = e.val
	}
	return m
}

// Replace swaps the whole map for a copy of the top level of m (nil
// empties it), as one step: a reader on another worker sees the old keys
// or the new ones, never a mix.
func (d *Data) Replace(m map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.kv, d.m = nil, nil
	switch {
	case len(m) > smallData:
		d.m = maps.Clone(m)
	case len(m) > 0:
		d.kv = make([]dataEntry, 0, len(m))
		for k, v := range m {
			d.kv = append(d.kv, dataEntry{k, v})
		}
	}
}

// Update runs f with the map locked for writing, for read-modify-write.
func (d *Data) Update(f func(m map[string]any)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.toMap()
	}
	f(d.m)
}
