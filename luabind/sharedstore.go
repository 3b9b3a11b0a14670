package luabind

import (
	"errors"
	"sync"
	"time"
)

// ErrNotNumber is returned by [Shared.Incr] when the key holds a value that
// is not a number.
var ErrNotNumber = errors.New("luabind: not a number")

// Shared is a key/value store shared by every handler of a process, like
// OpenResty's ngx.shared.DICT: luaws.shared, seen by the workers of every
// mount. Values are plain Go values (nil, bool, float64, string, []any,
// map[string]any); a value is never changed once stored, so callers store
// copies and must not modify what [Shared.Get] returns.
//
// A key may carry a time to live; an expired key reads as absent and its
// memory is reclaimed by later writes.
//
// It is safe to call Shared's methods concurrently.
type Shared struct {
	mu      sync.Mutex
	m       map[string]sharedEntry
	writes  int // since the last sweep of expired keys
	sweepAt int // writes that trigger the next sweep
	now     func() time.Time
}

type sharedEntry struct {
	v       any
	expires int64 // unix nanoseconds; 0 means never
}

// NewShared returns an empty store.
func NewShared() *Shared {
	return &Shared{m: make(map[string]sharedEntry), now: time.Now}
}

func (s *Shared) live(e sharedEntry) bool {
	return e.expires == 0 || s.now().UnixNano() < e.expires
}

// Get returns the value under key, if it is there and has not expired.
func (s *Shared) Get(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return nil, false
	}
	if !s.live(e) {
		delete(s.m, key)
		return nil, false
	}
	return e.v, true
}

// Set stores v under key. A ttl above zero makes the key expire after it;
// zero or less keeps it until it is deleted. A nil v deletes the key.
func (s *Shared) Set(key string, v any, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		delete(s.m, key)
		return
	}
	var exp int64
	if ttl > 0 {
		exp = s.now().Add(ttl).UnixNano()
	}
	s.m[key] = sharedEntry{v: v, expires: exp}
	s.wrote()
}

// Incr adds by to the number under key and returns the result. A missing
// or expired key counts as 0 and is stored without expiry; an existing key
// keeps its expiry. A key that holds anything but a number is left alone
// and the error is [ErrNotNumber].
func (s *Shared) Incr(key string, by float64) (float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || !s.live(e) {
		e = sharedEntry{v: 0.0}
	}
	var n float64
	switch v := e.v.(type) {
	case float64:
		n = v
	case int:
		n = float64(v)
	case int64:
		n = float64(v)
	default:
		return 0, ErrNotNumber
	}
	n += by
	e.v = n
	s.m[key] = e
	s.wrote()
	return n, nil
}

// Delete removes key.
func (s *Shared) Delete(key string) {
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// Len returns the number of keys, counting expired ones not yet reclaimed.
func (s *Shared) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// wrote counts a write and, once there have been as many writes as there
// were keys after the last sweep, drops the expired keys: a sweep costs
// O(1) per write on average. Called with s.mu held.
func (s *Shared) wrote() {
	s.writes++
	if s.writes < max(s.sweepAt, 64) {
		return
	}
	s.writes = 0
	defer func() { s.sweepAt = len(s.m) }()
	now := s.now().UnixNano()
	for k, e := range s.m {
		if e.expires != 0 && now >= e.expires {
			delete(s.m, k)
		}
	}
}
