package engine

import (
	"errors"
	"time"

	"github.com/gorilla/websocket"
)

// writerLinger is how long an idle writer goroutine waits for more before it
// exits, so that a busy connection keeps its writer and an idle one holds none.
const writerLinger = 2 * time.Second

// writeLoop is the connection's writer: it sends everything queued, in
// order, then waits a little for more. At most one runs per connection.
func (c *Conn) writeLoop() {
	var idle *time.Timer
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()
	for {
		c.mu.Lock()
		if c.state.Load() == stateClosed {
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch := c.queue
		if len(batch) == 0 {
			c.mu.Unlock()
			if idle == nil {
				idle = time.NewTimer(writerLinger)
			} else {
				idle.Reset(writerLinger)
			}
			select {
			case <-c.wake:
				continue
			case <-idle.C:
			}
			c.mu.Lock()
			if len(c.queue) == 0 {
				c.writing = false
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			continue
		}
		c.queue = c.spare[:0]
		c.mu.Unlock()

		err := c.writeBatch(batch)
		clear(batch)
		c.mu.Lock()
		c.spare = batch[:0]
		if err != nil {
			// The reader decides the close code: a failed write leaves
			// closeCode alone, so that a close frame the peer sent (or a
			// 1009 or 1002 gorilla sent, which fails our later writes with
			// ErrCloseSent) still reaches Handler.Close.
			c.writing = false
			wasOpen := c.state.Load() == stateOpen
			if wasOpen {
				c.state.Store(stateClosing)
			}
			c.queue = nil
			c.mu.Unlock()
			if wasOpen && !errors.Is(err, websocket.ErrCloseSent) {
				c.log.Warn("write failed", LogKeyError, err)
			}
			_ = c.ws.NetConn().Close()
			return
		}
		c.mu.Unlock()
	}
}

// writeBatch writes frames in order under one write deadline. A close frame
// ends the batch: nothing may follow it.
func (c *Conn) writeBatch(batch []frame) error {
	cfg := c.mount.cfg
	deadline := time.Now().Add(cfg.WriteTimeout)
	if err := c.ws.SetWriteDeadline(deadline); err != nil {
		return err
	}
	var msgs, bytes uint64
	defer func() {
		c.mount.stats.msgsOut.Add(msgs)
		c.mount.stats.bytesOut.Add(bytes)
	}()
	for _, f := range batch {
		var err error
		switch {
		case f.pm != nil:
			err = c.ws.WritePreparedMessage(f.pm)
			msgs, bytes = msgs+1, bytes+uint64(f.size)
		case f.typ == websocket.CloseMessage:
			err = c.ws.WriteControl(websocket.CloseMessage, f.data, deadline)
			if err == nil {
				_ = c.ws.SetReadDeadline(time.Now().Add(cfg.CloseTimeout))
			}
			return err
		case f.typ == websocket.PingMessage:
			err = c.ws.WriteControl(websocket.PingMessage, f.data, deadline)
		default:
			err = c.ws.WriteMessage(f.typ, f.data)
			msgs, bytes = msgs+1, bytes+uint64(len(f.data))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
