package engine

import (
	"errors"
	"runtime"
	"time"

	"github.com/gorilla/websocket"
)

// writerLinger is how long an idle writer goroutine waits for more before it
// exits, so that a busy connection keeps its writer and an idle one holds none.
// The mount's housekeeping (tend, in keepalive.go) ends writers that have
// waited that long, a tick or so late.
const writerLinger = time.Second

// writeLoop is the connection's writer: it sends everything queued, in
// order, then waits for more. At most one runs per connection. It waits on
// c.wake alone, without a timer of its own: tend stops it once it has
// waited writerLinger.
func (c *Conn) writeLoop() {
	if c.bc.pending() {
		// What a writeNow left: the socket was full.
		_ = c.bc.SetWriteDeadline(time.Now().Add(c.mount.cfg.WriteTimeout))
		if err := c.bc.flush(); err != nil {
			c.mu.Lock()
			c.writeFailed(err)
			return
		}
	}
	for {
		c.mu.Lock()
		if c.state.Load() == stateClosed {
			c.writing, c.writerStop = false, false
			c.idleSince.Store(0)
			c.mu.Unlock()
			return
		}
		batch := c.queue
		if len(batch) == 0 {
			if c.writerStop {
				c.writing, c.writerStop = false, false
				c.idleSince.Store(0)
				c.mu.Unlock()
				return
			}
			c.idleSince.Store(c.mount.clock.Load())
			c.mu.Unlock()
			<-c.wake
			continue
		}
		c.queue = c.spare[:0]
		c.flightBytes, c.queuedBytes = c.queuedBytes, 0
		c.writerStop = false
		c.idleSince.Store(0)
		c.mu.Unlock()

		err := c.writeBatch(batch)
		clear(batch)
		c.mu.Lock()
		c.spare = batch[:0]
		c.flightBytes = 0
		if err != nil {
			c.writeFailed(err)
			return
		}
		c.mu.Unlock()
	}
}

// stopIdleWriter ends the writer if it still waits with nothing queued,
// as it did at idle (a clock reading, see tend).
func (c *Conn) stopIdleWriter(idle int64) {
	c.mu.Lock()
	if c.writing && len(c.queue) == 0 && c.idleSince.Load() == idle {
		c.writerStop = true
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
}

// writeFailed ends the writer after a failed write: the socket is closed,
// and the reader, failing too, ends the connection. c.mu must be held; it
// is released.
func (c *Conn) writeFailed(err error) {
	// The reader decides the close code: a failed write leaves closeCode
	// alone, so that a close frame the peer sent (or a 1009 or 1002
	// gorilla sent, which fails our later writes with ErrCloseSent) still
	// reaches Handler.Close.
	c.writing = false
	wasOpen := c.state.Load() == stateOpen
	if wasOpen {
		c.state.Store(stateClosing)
	}
	c.queue, c.queuedBytes, c.flightBytes = nil, 0, 0
	c.mu.Unlock()
	if wasOpen && !errors.Is(err, websocket.ErrCloseSent) {
		c.logger().Warn("write failed", LogKeyError, err)
	}
	c.closeSocket()
}

// writeNow writes the queued messages from the calling goroutine, without
// blocking and without waking a writer goroutine, when it can: no writer
// is running, the queue holds only data messages (no prepared ones), the
// mount does not compress, and the socket has a
// file descriptor (not TLS). It never waits for the socket, nor for a lock
// that a write blocked on a full socket holds (a keepalive ping's, the
// reader's pong): a Flusher writes for many connections, and one slow
// client must not delay the others. What the socket does not take at
// once, and what can not be written this way, goes to a writer goroutine.
func (c *Conn) writeNow(w *rawWriter) {
	c.mu.Lock()
	c.flusher = nil
	if c.writing || len(c.queue) == 0 || c.state.Load() == stateClosed {
		c.mu.Unlock()
		return
	}
	inline := c.bc.canTry() && !c.mount.cfg.Compression
	size := 0
	for i := range c.queue {
		f := &c.queue[i]
		switch {
		case f.typ != websocket.TextMessage && f.typ != websocket.BinaryMessage:
			inline = false // a control frame: the writer sets deadlines for it
		case f.pm != nil:
			inline = false // a prepared frame, which gorilla writes
		default:
			size += len(f.data) + maxFrameHeader
		}
	}
	if size > batchMax/2 {
		inline = false // a batch that would not fit the buffer would block
	}
	if !inline {
		c.kickLocked()
		c.mu.Unlock()
		return
	}
	batch := c.queue
	c.queue = c.spare[:0]
	c.flightBytes, c.queuedBytes = c.queuedBytes, 0
	c.writing = true
	c.mu.Unlock()

	written, done, err := c.bc.tryWrite(w, batch, size)
	if written {
		var bytes uint64
		for i := range batch {
			bytes += uint64(len(batch[i].data))
		}
		c.mount.stats.msgsOut.Add(uint64(len(batch)))
		c.mount.stats.bytesOut.Add(bytes)
	}
	c.mu.Lock()
	if !written && err == nil {
		// The socket is busy (a blocked write holds it): the writer
		// writes the batch, before what came meanwhile.
		c.queue = append(batch, c.queue...)
		c.queuedBytes += c.flightBytes
		c.flightBytes = 0
		c.startWriterLocked()
		c.mu.Unlock()
		return
	}
	clear(batch)
	c.spare = batch[:0]
	c.flightBytes = 0
	switch {
	case err != nil:
		c.writeFailed(err)
		return
	case done && len(c.queue) == 0:
		c.writing = false
	default:
		c.startWriterLocked() // for the rest, and what came meanwhile
	}
	c.mu.Unlock()
}

// writeBatch writes frames in order under one write deadline, with one
// write on the socket for all of them (up to batchMax bytes each). A close
// frame ends the batch: nothing may follow it.
func (c *Conn) writeBatch(batch []frame) error {
	// A deadline at least half a WriteTimeout away stays: moving it on
	// every batch costs more than the batch (the runtime's timers).
	now, timeout := time.Now(), c.mount.cfg.WriteTimeout
	if time.Duration(c.writeDeadline-now.UnixNano()) < timeout/2 {
		c.writeDeadline = now.Add(timeout).UnixNano()
		if err := c.ws.SetWriteDeadline(time.Unix(0, c.writeDeadline)); err != nil {
			return err
		}
	}
	deadline := time.Unix(0, c.writeDeadline)
	if err := c.bc.SetWriteDeadline(deadline); err != nil { // for writeData; gorilla sets it for its frames
		return err
	}
	c.bc.hold()
	err := c.writeFrames(batch, deadline)
	if ferr := c.bc.flush(); err == nil {
		err = ferr
	}
	return err
}

// writeFrames writes frames: data frames by themselves (writeData) unless
// the mount compresses them, the others with gorilla; control frames get
// deadline.
func (c *Conn) writeFrames(batch []frame, deadline time.Time) error {
	cfg := c.mount.cfg
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
		case cfg.Compression:
			err = c.ws.WriteMessage(f.typ, f.data)
			msgs, bytes = msgs+1, bytes+uint64(len(f.data))
		default:
			err = c.bc.writeData(f.typ, f.data)
			msgs, bytes = msgs+1, bytes+uint64(len(f.data))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Flusher holds back the writes of the messages a goroutine sends through
// it until its Flush, so that a goroutine that sends many messages in a
// row (a Lua worker between two waits for events) has all the messages of
// one connection written together, by itself when the socket takes them
// at once: no writer goroutine is woken, and there is one write for many
// messages. A connection whose writer goroutine is running gets its
// messages through it, as with [Conn.Send].
//
// A Flusher belongs to one goroutine; its zero value is ready to use.
// Messages wait until Flush, so call it before the goroutine waits.
type Flusher struct {
	conns     []*Conn
	raw       rawWriter
	broadcast bool // a Broadcast since the last Flush
}

// Send queues a data message for c like [Conn.Send]; Flush writes it.
func (fl *Flusher) Send(c *Conn, messageType int, data []byte) error {
	return c.enqueue(frame{typ: messageType, data: data}, fl)
}

// Flush writes the messages sent through fl since the last Flush. It does
// not block on the network: what a socket does not take at once is left
// to the connection's writer goroutine. After a broadcast to many
// connections, the calling goroutine writes its share, one per CPU, and
// the connections' writers the rest, on the other CPUs meanwhile. (Only
// then: a connection that has a writer keeps it while it is busy, and its
// messages no longer go out the shorter way.)
func (fl *Flusher) Flush() {
	conns := fl.conns
	if fl.broadcast && len(conns) > flushAlone { // (GOMAXPROCS takes a lock: not for every Flush)
		if p := runtime.GOMAXPROCS(0); p > 1 {
			own := max(flushAlone, len(conns)/p)
			for _, c := range conns[own:] {
				c.kick()
			}
			conns = conns[:own]
		}
	}
	for _, c := range conns {
		c.writeNow(&fl.raw)
	}
	clear(fl.conns)
	fl.conns = fl.conns[:0]
	fl.broadcast = false
}

// flushAlone is the most connections a Flush writes by itself, without
// sharing the work with their writers.
const flushAlone = 32

// kick hands what fl left queued to the connection's writer goroutine.
func (c *Conn) kick() {
	c.mu.Lock()
	c.flusher = nil
	if !c.writing && len(c.queue) > 0 && c.state.Load() != stateClosed {
		c.kickLocked()
	}
	c.mu.Unlock()
}
