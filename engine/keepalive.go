package engine

import (
	"time"

	"github.com/gorilla/websocket"
)

// Keepalive: every PingInterval a connection gets a ping, and a pong must
// come within PongTimeout of it (any pong will do), or the connection is
// dropped as dead. One goroutine per mount (tend, running while the mount
// has connections) sends the pings, finds the connections whose pong is
// overdue, and ends the writers idle for long enough, instead of timers
// per connection: an idle connection should hold nothing it can do
// without, and a busy writer should wait on nothing but its queue. The
// reader only notes that a pong came: moving its read deadline on every
// pong would take it through the runtime's timers, a call deep enough to
// double an idle connection's stack.

// startKeepalive sets the pong handler and makes the first ping due. It
// runs before the reader starts.
func (c *Conn) startKeepalive() {
	interval := c.mount.cfg.PingInterval
	if interval < 0 {
		return
	}
	c.ws.SetPongHandler(func(string) error { c.pong(); return nil })
	c.nextPing.Store(time.Now().Add(interval).UnixNano())
}

// pong notes a pong (gorilla's, or readRaw's): none is awaited now.
func (c *Conn) pong() { c.pongDue.Store(0) }

// dropDead ends a connection whose pong is overdue: its reader's wait
// fails at once with a timeout, which ends the connection with 1006 "no
// pong within pong_timeout". A closing connection is left to the
// CloseTimeout its writer set.
func (c *Conn) dropDead() {
	c.mu.Lock()
	if c.state.Load() == stateOpen {
		c.activeAt.Store(0) // no respawn: the reader is to fail
		_ = c.ws.SetReadDeadline(time.Unix(1, 0))
	}
	c.mu.Unlock()
}

// pingTick is how often tend runs: an eighth of the ping interval,
// between a millisecond and half of writerLinger. A ping is late, and an
// idle writer lingers, by at most that much.
func pingTick(interval time.Duration) time.Duration {
	tick := writerLinger / 2
	if interval >= 0 {
		tick = min(max(interval/8, time.Millisecond), tick)
	}
	return tick
}

// tend is the mount's housekeeping, run while it has connections (add
// starts it, it returns when none is left): it pings the connections
// whose ping is due, drops those whose pong is overdue, stops the writers
// that have waited writerLinger for more, and has the readers of
// connections quiet for respawnIdle start afresh (respawn.go). It also keeps the mount's clock, a coarse time the writers
// note when they start to wait, without reading the time themselves.
func (m *Mount) tend() {
	interval := m.cfg.PingInterval
	t := time.NewTicker(pingTick(interval))
	defer t.Stop()
	var pings, dead, idle, quiet []*Conn
	var since, active []int64
	respawnIdle := int64(m.cfg.respawnIdle)
	var w rawWriter // for the pings tend writes itself
	for now := range t.C {
		ns := now.UnixNano()
		m.clock.Store(ns)
		m.mu.RLock()
		for _, c := range m.conns {
			if next := c.nextPing.Load(); next != 0 && next <= ns && interval >= 0 {
				pings = append(pings, c)
			}
			if due := c.pongDue.Load(); due != 0 && due <= ns {
				dead = append(dead, c)
			}
			if s := c.idleSince.Load(); s != 0 && ns-s >= int64(writerLinger) {
				idle, since = append(idle, c), append(since, s)
			}
			if a := c.activeAt.Load(); a > 0 && ns-a >= respawnIdle {
				quiet, active = append(quiet, c), append(active, a)
			}
		}
		m.mu.RUnlock()
		for _, c := range pings {
			c.nextPing.Store(ns + int64(interval))
			c.pongDue.CompareAndSwap(0, ns+int64(m.cfg.PongTimeout)) // an earlier one still awaited stays
			c.ping(&w)
		}
		for _, c := range dead {
			c.pongDue.Store(0)
			c.dropDead()
		}
		for i, c := range idle {
			c.stopIdleWriter(since[i])
		}
		for i, c := range quiet {
			c.askRespawn(active[i])
		}
		clear(pings)
		clear(dead)
		clear(idle)
		clear(quiet)
		pings, dead, idle, quiet = pings[:0], dead[:0], idle[:0], quiet[:0]
		since, active = since[:0], active[:0]

		m.mu.Lock()
		if len(m.conns) == 0 {
			m.tending = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
	}
}

// pingFrame is a keepalive ping as a server sends it: final, no payload.
var pingFrame = []byte{0x80 | websocket.PingMessage, 0}

// ping sends one keepalive ping, past the send queue. tend writes it
// itself when the socket takes it at once, as it nearly always does;
// otherwise (a full socket, TLS, or a mount that compresses, whose frames
// gorilla may write in pieces) a goroutine of its own sends it, as a
// timer's would, since that write may wait up to WriteTimeout. Not a
// goroutine per ping: a goroutine that ends leaves its stack cached until
// the next collection, which an idle server may not run for long, so ten
// thousand idle connections would each hold a second one.
func (c *Conn) ping(w *rawWriter) {
	if c.state.Load() != stateOpen {
		return
	}
	if !c.mount.cfg.Compression {
		switch c.bc.tryControl(w, pingFrame) {
		case controlWritten:
			return
		case controlPartly:
			c.mu.Lock()
			if c.state.Load() != stateClosed {
				c.kickLocked() // the writer sends the rest first
			}
			c.mu.Unlock()
			return
		}
	}
	go c.keepalive()
}

// keepalive sends one ping through gorilla, past the send queue; a failed
// write closes the socket (the reader then ends the connection).
func (c *Conn) keepalive() {
	if c.state.Load() != stateOpen {
		return
	}
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.mount.cfg.WriteTimeout)); err != nil {
		c.closeSocket()
	}
}
