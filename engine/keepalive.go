package engine

import (
	"time"

	"github.com/gorilla/websocket"
)

// Keepalive: every PingInterval a connection gets a ping; its read
// deadline, PingInterval+PongTimeout ahead, moves with every pong, so a
// peer that stops answering is dropped. One goroutine per mount (tend,
// running while the mount has connections) finds the connections whose
// ping is due, and the writers idle for long enough to exit, instead of
// timers per connection: an idle connection should hold nothing it can do
// without, and a busy writer should wait on nothing but its queue.

// startKeepalive sets the first read deadline and the pong handler, and
// makes the first ping due. It runs before the reader starts.
func (c *Conn) startKeepalive() {
	interval, wait := c.mount.cfg.PingInterval, c.mount.cfg.PingInterval+c.mount.cfg.PongTimeout
	if interval < 0 {
		return
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(wait))
	c.ws.SetPongHandler(func(string) error {
		// Under mu, so that a pong cannot push the read deadline past the
		// CloseTimeout the writer sets once our close frame is out.
		c.mu.Lock()
		if c.state.Load() == stateOpen {
			_ = c.ws.SetReadDeadline(time.Now().Add(wait))
		}
		c.mu.Unlock()
		return nil
	})
	c.nextPing.Store(time.Now().Add(interval).UnixNano())
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
// whose ping is due, and stops the writers that have waited writerLinger
// for more. It also keeps the mount's clock, a coarse time the writers
// note when they start to wait, without reading the time themselves.
func (m *Mount) tend() {
	interval := m.cfg.PingInterval
	t := time.NewTicker(pingTick(interval))
	defer t.Stop()
	var pings, idle []*Conn
	var since []int64
	for now := range t.C {
		ns := now.UnixNano()
		m.clock.Store(ns)
		m.mu.RLock()
		for _, c := range m.conns {
			if next := c.nextPing.Load(); next != 0 && next <= ns && interval >= 0 {
				pings = append(pings, c)
			}
			if s := c.idleSince.Load(); s != 0 && ns-s >= int64(writerLinger) {
				idle, since = append(idle, c), append(since, s)
			}
		}
		m.mu.RUnlock()
		for _, c := range pings {
			c.nextPing.Store(ns + int64(interval))
			// A goroutine per ping, as a timer's would be: the write may
			// wait up to WriteTimeout for a full socket.
			go c.keepalive()
		}
		for i, c := range idle {
			c.stopIdleWriter(since[i])
		}
		clear(pings)
		clear(idle)
		pings, idle, since = pings[:0], idle[:0], since[:0]

		m.mu.Lock()
		if len(m.conns) == 0 {
			m.tending = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
	}
}

// keepalive sends one ping, past the send queue; a failed write closes
// the socket (the reader then ends the connection).
func (c *Conn) keepalive() {
	if c.state.Load() != stateOpen {
		return
	}
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.mount.cfg.WriteTimeout)); err != nil {
		c.closeSocket()
	}
}
