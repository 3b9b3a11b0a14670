package scripttest

import (
	"sync"
	"time"

	"github.com/luaws/luaws/luabind"
)

// virtualClock is the time of a t.server's timers: it stands still until
// srv:advance moves it, firing the timers due one at a time, in order.
// It is safe for concurrent use.
type virtualClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64 // orders timers due at the same time by when they were armed
	timers map[*virtualTimer]struct{}
}

// epoch is where a virtual clock starts.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newVirtualClock() *virtualClock {
	return &virtualClock{now: epoch, timers: map[*virtualTimer]struct{}{}}
}

type virtualTimer struct {
	c   *virtualClock
	due time.Time
	seq uint64
	f   func()
}

// Now implements luabind.Clock.
func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements luabind.Clock.
func (c *virtualClock) AfterFunc(d time.Duration, f func()) luabind.ClockTimer {
	t := &virtualTimer{c: c, f: f}
	t.Reset(d)
	return t
}

// Stop implements luabind.ClockTimer.
func (t *virtualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t]
	delete(t.c.timers, t)
	return ok
}

// Reset implements luabind.ClockTimer.
func (t *virtualTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t]
	t.c.seq++
	t.due, t.seq = t.c.now.Add(d), t.c.seq
	t.c.timers[t] = struct{}{}
	return ok
}

// advance moves the clock d ahead. Each timer due on the way fires at
// its time, earliest first, and settle (which waits until the workers
// ran what the timer posted, re-arming it) returns before the next one
// is looked for. It returns how many timers fired.
func (c *virtualClock) advance(d time.Duration, settle func()) int {
	c.mu.Lock()
	target := c.now.Add(d)
	fired := 0
	for {
		var next *virtualTimer
		for t := range c.timers {
			if !t.due.After(target) && (next == nil || t.due.Before(next.due) || t.due.Equal(next.due) && t.seq < next.seq) {
				next = t
			}
		}
		if next == nil {
			break
		}
		delete(c.timers, next)
		if next.due.After(c.now) {
			c.now = next.due
		}
		c.mu.Unlock()
		next.f()
		settle()
		fired++
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
	return fired
}
