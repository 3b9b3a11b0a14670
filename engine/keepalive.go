package engine

import (
	"time"

	"github.com/gorilla/websocket"
)

// Keepalive: every PingInterval a connection gets a ping; its read
// deadline, PingInterval+PongTimeout ahead, moves with every pong, so a
// peer that stops answering is dropped. One goroutine per mount (pingLoop,
// running while the mount has connections) finds the connections whose
// ping is due, instead of a timer per connection: an idle connection
// should hold nothing it can do without.

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

// pingTick is how often pingLoop looks for due pings: an eighth of the
// interval, between a millisecond and a second. A ping is late by at most
// that much.
func pingTick(interval time.Duration) time.Duration {
	return min(max(interval/8, time.Millisecond), time.Second)
}

// pingLoop pings the mount's connections as their pings fall due. It
// returns when the mount has no connection left; add starts it again.
func (m *Mount) pingLoop() {
	interval := m.cfg.PingInterval
	t := time.NewTicker(pingTick(interval))
	defer t.Stop()
	var due []*Conn
	for now := range t.C {
		ns := now.UnixNano()
		m.mu.RLock()
		for _, c := range m.conns {
			if next := c.nextPing.Load(); next != 0 && next <= ns {
				due = append(due, c)
			}
		}
		m.mu.RUnlock()
		for _, c := range due {
			c.nextPing.Store(ns + int64(interval))
			// A goroutine per ping, as a timer's would be: the write may
			// wait up to WriteTimeout for a full socket.
			go c.keepalive()
		}
		clear(due)
		due = due[:0]

		m.mu.Lock()
		if len(m.conns) == 0 {
			m.pinging = false
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
		_ = c.ws.NetConn().Close()
	}
}
