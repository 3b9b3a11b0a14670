package engine

import (
	"time"
)

// Respawning the reader. A connection's reader runs its messages' handler
// (luabind: a Lua call), which grows its goroutine's stack from the
// smallest size to 8 KiB; the collector halves a stack at most once per
// cycle, and never below twice what the goroutine uses, so a connection
// that once had a message would keep 4 KiB of stack for as long as it is
// idle, twice what it waits on. So when a connection whose reader ran a
// handler has been quiet for respawnIdle, tend makes its raw read return
// (a read deadline in the past), and the reader goes on in a new
// goroutine, on the smallest stack, and ends: the old stack is freed.
// Only readers in the raw read, or waiting for the next message in
// waitReadable (a TLS connection's wait, whose goroutine also ran the
// handshake), do this: there the read buffer, whatever it holds, carries
// over, and no read error reaches gorilla (crypto/tls, too, takes a
// passed deadline as a temporary error, and its records carry over).

// respawnIdle is how long a connection whose reader ran a handler must be
// quiet before its reader starts afresh.
const respawnIdle = 5 * time.Second

// respawnAsked in Conn.activeAt: tend has asked the reader to start afresh.
const respawnAsked = -1

// noteActive notes, for tend, that the reader is about to run a handler.
// It writes only when the mount's clock has moved since the last time,
// and never over a request to respawn (which the reader takes first).
func (c *Conn) noteActive() {
	if c.br == nil { // gorilla's own buffer: its reads cannot be undone
		return
	}
	now := c.mount.clock.Load()
	if v := c.activeAt.Load(); v >= 0 && v != now {
		c.activeAt.CompareAndSwap(v, now)
	}
}

// askRespawn is tend's request to the reader of a connection quiet since
// the mount clock read active: if the reader is in the raw read or in
// waitReadable, its wait fails at once. (Anywhere else, gorilla could see
// the failed read, which it takes as the end of the connection.)
func (c *Conn) askRespawn(active int64) {
	c.mu.Lock()
	waits := c.bc.reading.Load() || c.waiting.Load()
	if c.state.Load() == stateOpen && waits && c.activeAt.CompareAndSwap(active, respawnAsked) {
		_ = c.ws.SetReadDeadline(time.Unix(1, 0))
	}
	c.mu.Unlock()
}

// leaveRaw ends the raw read, after readRaw: the socket's reads wait
// again. It reports whether tend asked the reader to start afresh; then
// the request is taken and the read deadline that made the wait fail is
// undone (a closing connection's put back to the CloseTimeout its writer
// sets).
func (c *Conn) leaveRaw() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bc.reading.Store(false)
	return c.takeRespawnLocked()
}

// leaveWait is leaveRaw for waitReadable's wait.
func (c *Conn) leaveWait() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waiting.Store(false)
	return c.takeRespawnLocked()
}

// takeRespawnLocked takes tend's request to start afresh, if it made one,
// and undoes the read deadline that made the wait fail. c.mu must be held.
func (c *Conn) takeRespawnLocked() bool {
	if !c.activeAt.CompareAndSwap(respawnAsked, 0) {
		return false
	}
	deadline := time.Time{}
	if c.state.Load() != stateOpen {
		deadline = time.Now().Add(c.mount.cfg.CloseTimeout)
	}
	_ = c.ws.SetReadDeadline(deadline)
	return true
}
