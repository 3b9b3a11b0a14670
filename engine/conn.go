package engine

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Errors returned by [Conn] methods.
var (
	// ErrClosed means the connection is closing or closed; nothing was queued.
	ErrClosed = errors.New("engine: connection closed")
	// ErrSlowConsumer means the send queue was full; the connection is being
	// closed with 1008.
	ErrSlowConsumer = errors.New("engine: send queue full")
)

const (
	stateOpen int32 = iota
	stateClosing
	stateClosed
)

// Conn is one WebSocket connection. It is safe to call Conn's methods
// concurrently from any goroutine; none of them block on the network.
type Conn struct {
	id          uint64
	mount       *Mount
	ws          *websocket.Conn // nil until the upgrade is done; set under mu
	bc          *batchConn      // the socket under ws; set with ws
	br          *bufio.Reader   // what ws reads through, if ours (batchWriter); set with ws
	req         *Request
	subprotocol string
	data        *Data
	log         atomic.Pointer[slog.Logger] // made on first use: see logger
	opened      int64                       // UnixNano; a time.Time would take the struct to the next size class
	attached    atomic.Pointer[attachment]
	filters     []MessageFilter // from the mount's middleware; reader goroutine only
	state       atomic.Int32    // changed only with mu held

	mu    sync.Mutex
	queue []frame // waiting for the writer
	spare []frame // the writer's last batch, reused
	// queuedBytes is the payload bytes in queue, flightBytes those of the
	// batch being written (the writer's or writeNow's): together they are
	// what SendQueueBytes bounds.
	queuedBytes, flightBytes int64
	writing                  bool         // a writer goroutine (or writeNow) is writing
	writerStop               bool         // tend asks the idle writer to exit
	idleSince                atomic.Int64 // the mount clock when the writer began to wait for more; 0 if it does not
	// writeDeadline is the writer's deadline (UnixNano); the writer
	// goroutine's own.
	writeDeadline int64
	flusher       *Flusher      // lists this connection for a writeNow; nil if none
	wake          chan struct{} // wakes the writer; made with the first (startWriterLocked)
	closeCode     int           // set when the server starts the close (Close, abort); 0 otherwise
	closeReason   string
	nextPing      atomic.Int64 // UnixNano of the next keepalive ping; 0 before the first is due (keepalive.go)
	pongDue       atomic.Int64 // UnixNano by which a pong must come; 0 when none is awaited
	idleTimer     *time.Timer  // IdleTimeout; set before the first read, guarded by mu after
	lastMessage   atomic.Int64 // UnixNano of the last data message, with IdleTimeout
	activeAt      atomic.Int64 // the mount clock when the reader last ran Message; 0 or respawnAsked (respawn.go)
	waiting       atomic.Bool  // the reader waits in waitReadable (respawn.go)

	topics map[string]struct{} // guarded by mount.topics.mu
}

// frame is one queued outgoing message.
type frame struct {
	typ  int
	data []byte
	pm   *websocket.PreparedMessage
	size int // payload bytes of pm, for metrics and SendQueueBytes; 0 if unknown
}

// bytes is what f counts against SendQueueBytes.
func (f *frame) bytes() int64 {
	if f.pm != nil {
		return int64(f.size)
	}
	return int64(len(f.data))
}

// ID returns the connection id: 1 for the server's first connection, never reused.
func (c *Conn) ID() uint64 { return c.id }

// Request returns the upgrade request. Once Open has returned, its HTTP
// field is nil: a long-lived connection does not keep the http.Request
// (its context, URL and the rest) alive.
func (c *Conn) Request() *Request { return c.req }

// Subprotocol returns the negotiated subprotocol, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Data returns the connection's key/value store.
func (c *Conn) Data() *Data { return c.data }

// Mount returns the mount the connection belongs to.
func (c *Conn) Mount() *Mount { return c.mount }

// Logger returns the connection's logger (mount and conn attributes set).
func (c *Conn) Logger() *slog.Logger { return c.logger() }

// logger makes the connection's logger when it is first needed: most
// connections log only their open and close lines, written through the
// mount's logger, so an idle one does not hold a logger of its own.
func (c *Conn) logger() *slog.Logger {
	if l := c.log.Load(); l != nil {
		return l
	}
	c.log.CompareAndSwap(nil, c.mount.log.With(LogKeyConn, c.id))
	return c.log.Load()
}

// Attach stores a value for the handler's own use (e.g. its per-connection
// state). Attach before or in Open; read with [Conn.Attached].
func (c *Conn) Attach(v any) { c.attached.Store(&attachment{v}) }

// Attached returns the value given to [Conn.Attach], or nil.
func (c *Conn) Attached() any {
	if a := c.attached.Load(); a != nil {
		return a.v
	}
	return nil
}

// attachment boxes an attached value, which may change type.
type attachment struct{ v any }

// Open reports whether the connection is open: not closing, not closed.
func (c *Conn) Open() bool { return c.state.Load() == stateOpen }

// Send queues a data message (websocket.TextMessage or BinaryMessage).
// It returns [ErrClosed] if the connection is closing, and
// [ErrSlowConsumer] if the queue is full, in which case the connection is
// closed with 1008.
func (c *Conn) Send(messageType int, data []byte) error {
	return c.enqueue(frame{typ: messageType, data: data}, nil)
}

// SendPrepared queues a prepared message, as a broadcast on a mount that
// compresses does: the frame is encoded once for every recipient. Its
// bytes are not counted in [MountStats.BytesOut] nor against
// MountConfig.SendQueueBytes (a PreparedMessage does not tell its size);
// use [Mount.Broadcast] where that matters.
func (c *Conn) SendPrepared(pm *websocket.PreparedMessage) error {
	return c.enqueue(frame{pm: pm}, nil)
}

// Queued returns how many messages and payload bytes wait for the
// connection's writer, counting those it is writing: what
// MountConfig.SendQueueSize and SendQueueBytes bound.
func (c *Conn) Queued() (messages int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue), c.queuedBytes + c.flightBytes
}

// Ping queues a ping; the payload is cut to 125 bytes.
func (c *Conn) Ping(payload []byte) error {
	if len(payload) > 125 {
		payload = payload[:125]
	}
	return c.enqueue(frame{typ: websocket.PingMessage, data: payload}, nil)
}

// Close starts the close handshake: messages already queued are sent, then
// a close frame with code and reason (cut to 123 bytes). The handler's Close
// runs when the peer answers or after MountConfig.CloseTimeout. Closing a
// closing connection does nothing.
func (c *Conn) Close(code int, reason string) {
	reason = cutReason(reason)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != stateOpen {
		return
	}
	c.state.Store(stateClosing)
	c.closeCode, c.closeReason = code, reason
	c.queue = append(c.queue, frame{typ: websocket.CloseMessage, data: websocket.FormatCloseMessage(code, reason)})
	c.kickLocked()
}

// abort closes the connection without waiting for queued messages: the
// close frame is tried once, briefly, then the socket is closed.
func (c *Conn) abort(code int, reason string) {
	c.mu.Lock()
	if c.state.Load() != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state.Store(stateClosing)
	c.closeCode, c.closeReason = code, cutReason(reason)
	c.queue, c.queuedBytes = nil, 0
	c.mu.Unlock()
	// A write blocked on a full socket (the writer's, a ping's) holds the
	// socket and gorilla's lock until its deadline: have it fail within
	// the second the close frame is given, not after WriteTimeout.
	_ = c.bc.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	go func() {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		c.closeSocket()
	}()
}

// enqueue queues f. With a Flusher fl, a connection without a running
// writer is listed in fl instead of getting one: fl.Flush writes.
func (c *Conn) enqueue(f frame, fl *Flusher) error {
	c.mu.Lock()
	if c.state.Load() != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	// Before the upgrade is done (c.ws == nil) nothing can drain the queue
	// yet: it is not a slow consumer.
	cfg := &c.mount.cfg
	n := f.bytes()
	if c.ws != nil && (len(c.queue) >= cfg.SendQueueSize ||
		c.queuedBytes+c.flightBytes > 0 && c.queuedBytes+c.flightBytes+n > cfg.SendQueueBytes) {
		msgs, bytes := len(c.queue), c.queuedBytes+c.flightBytes
		c.mu.Unlock()
		c.logger().Warn("slow consumer", LogKeyError, ErrSlowConsumer, "queued_messages", msgs, "queued_bytes", bytes)
		c.mount.stats.slowCloses.Add(1)
		c.abort(websocket.ClosePolicyViolation, "send queue full")
		return ErrSlowConsumer
	}
	c.queue = append(c.queue, f)
	c.queuedBytes += n
	switch {
	case fl == nil || c.writing:
		c.kickLocked()
	case c.flusher == nil:
		c.flusher = fl
		fl.conns = append(fl.conns, c)
	case c.flusher != fl:
		// Listed by another goroutine's Flusher: do not wait for it.
		c.kickLocked()
	}
	c.mu.Unlock()
	return nil
}

// cut closes the socket now, without a close frame; a connection whose
// upgrade is not done yet has none to close.
func (c *Conn) cut() {
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		c.closeSocket()
	}
}

// kickLocked makes sure a writer will see the queue. c.mu must be held.
func (c *Conn) kickLocked() {
	if !c.writing {
		c.writing = true
		c.startWriterLocked()
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// startWriterLocked starts the writer goroutine; c.writing must be set and
// c.mu held. The channel that wakes it is made with the first one: a
// connection that never sends has none.
func (c *Conn) startWriterLocked() {
	if c.wake == nil {
		c.wake = make(chan struct{}, 1)
	}
	go c.writeLoop()
}

// serve is the connection's reader goroutine: Open, every Message, Close.
// It is all an idle connection runs, so it does little else: its stack
// stays at the smallest size (what the upgrade needs, logging included,
// runs on the HTTP server's goroutine).
func (c *Conn) serve() {
	h := c.mount.cfg.Handler
	idler, _ := h.(ReadIdler)
	raw := c.canReadRaw()
	more := false // a whole message waits in the read buffer
	for {
		if raw && !more {
			c.readRaw(h, idler)
			if c.leaveRaw() {
				go c.serve()
				return
			}
		}
		if !more {
			c.readIdle(idler)
		}
		if c.br != nil && c.br.Buffered() == 0 {
			c.waiting.Store(true)
			c.waitReadable()
			if c.leaveWait() {
				go c.serve()
				return
			}
		}
		typ, data, err := c.readMessage()
		if err != nil && errors.Is(err, errTooBig) {
			c.tooBig()
			continue
		}
		if err == errInvalidUTF8 {
			c.invalidUTF8()
			continue
		}
		if err != nil {
			if pe, ok := err.(*protocolError); ok {
				c.failProtocol(h, idler, pe)
			}
			c.finish(err)
			c.mount.srv.release(hostOf(c.req.RemoteAddr)) // admitted by upgrade
			return
		}
		more = c.messageBuffered()
		c.message(h, Message{Type: typ, Data: data, More: more}, true)
	}
}

// waitReadable returns when the next message has begun to arrive (or the
// read failed: the read that follows fails the same way). An idle
// connection without the raw read (TLS) waits here, in a read of one byte
// through the connection's buffer, with a call stack much shallower than a
// read through gorilla's frame parser: its goroutine then fits the
// smallest stack, as it does waiting in readRaw. When the bytes
// are there already, it costs no more than that read, which it does for
// the parser. It must be inlined in serve: a frame more, and an idle
// connection needs the next stack size.
func (c *Conn) waitReadable() { _, _ = c.br.Peek(1) }

// message hands one message to the handler. It is not inlined, so that
// serve's own frame stays small while it waits.
//
//go:noinline
func (c *Conn) message(h Handler, msg Message, checked bool) {
	if c.state.Load() != stateOpen {
		return // closing: drain until the peer's close frame
	}
	c.mount.stats.msgsIn.Add(1)
	c.mount.stats.bytesIn.Add(uint64(len(msg.Data)))
	c.noteActive()
	if c.idleTimer != nil {
		c.lastMessage.Store(time.Now().UnixNano())
	}
	if msg.Type == websocket.TextMessage && !checked && !utf8.Valid(msg.Data) {
		c.invalidUTF8()
		return
	}
	if !c.filter(msg) {
		return
	}
	c.guard("Message", func() { h.Message(c, msg) })
}

// invalidUTF8 closes the connection with 1007 after a text message that
// is not valid UTF-8; the rest of the message, if any, is drained unread.
func (c *Conn) invalidUTF8() {
	if c.state.Load() == stateOpen {
		c.logger().Warn("invalid utf-8 in text message")
		c.Close(websocket.CloseInvalidFramePayloadData, "invalid UTF-8 in text message")
	}
}

// tooBig closes the connection with 1009 after readMessage's errTooBig.
func (c *Conn) tooBig() {
	if c.state.Load() == stateOpen {
		c.logger().Warn("message too big", "max_message_size", c.mount.cfg.MaxMessageSize)
		c.Close(websocket.CloseMessageTooBig, "message too big")
	}
}

// errTooBig is a message over MountConfig.MaxMessageSize.
var errTooBig = errors.New("engine: message too big")

// readBufPool lends the reader a buffer to read a message into; the
// message is then copied out at its exact size, instead of the 512 bytes
// and up that io.ReadAll allocates for the smallest one.
var readBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledRead is the largest read buffer kept in readBufPool; a message
// that outgrows it is handed over as it is, without a copy.
const maxPooledRead = 64 << 10

// readMessage reads the next data message. Its size is checked as it is
// read, after permessage-deflate: gorilla's read limit counts the bytes on
// the wire, which a compressed message can multiply without bound. A
// message over the limit is errTooBig; the rest of it is skipped unread.
func (c *Conn) readMessage() (int, []byte, error) {
	if err := c.checkAhead(); err != nil {
		return 0, nil, err
	}
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	var u8 utf8Check
	text := typ == websocket.TextMessage && c.state.Load() == stateOpen
	limit := c.mount.cfg.MaxMessageSize
	bp := readBufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := cap(buf)
		if rest := limit + 1 - int64(len(buf)); rest < int64(end-len(buf)) {
			end = len(buf) + int(rest) // no more than one byte over the limit
		}
		var n int
		n, err = r.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if text && n > 0 && !u8.check(buf) {
			err = errInvalidUTF8 // at the fragment that made it invalid
		}
		if err != nil {
			break
		}
	}
	if err == io.EOF && text && !u8.done(buf) {
		err = errInvalidUTF8 // ends in a cut character
	}
	var data []byte
	switch {
	case int64(len(buf)) > limit:
		err = errTooBig
	case err != io.EOF:
	case cap(buf) > maxPooledRead:
		return typ, buf, nil // handed over: not back to the pool
	default:
		data = make([]byte, len(buf))
		copy(data, buf)
		err = nil
	}
	if cap(buf) <= maxPooledRead {
		*bp = buf[:0]
		readBufPool.Put(bp)
	}
	if err != nil {
		return typ, nil, err
	}
	return typ, data, nil
}

// filter runs the middleware's message filters; false drops m.
func (c *Conn) filter(m Message) bool {
	for _, f := range c.filters {
		if !f(m) {
			return false
		}
	}
	return true
}

// guard runs a handler method. A panic is logged and closes the connection
// with 1011, as net/http recovers a panicking handler: the server and every
// other connection go on.
func (c *Conn) guard(method string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			c.logger().Error("handler panicked", "method", method, LogKeyError, v, "stack", string(debug.Stack()))
			c.Close(websocket.CloseInternalServerErr, "internal server error")
		}
	}()
	f()
}

// finish ends the connection after the reader stopped with err.
func (c *Conn) finish(err error) {
	c.mu.Lock()
	c.state.Store(stateClosed)
	code, reason := c.closeCode, c.closeReason
	c.queue, c.queuedBytes = nil, 0
	select {
	case c.wake <- struct{}{}:
	default:
	}
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	c.mu.Unlock()

	if code == 0 {
		// The server did not start the close (a failed write does not
		// count): the peer's close frame or the read error decides.
		code, reason = closeStatus(err)
	}
	_ = c.ws.NetConn().Close()
	c.mount.remove(c)
	c.mount.log.Info("connection closed", LogKeyConn, c.id, LogKeyCode, code, LogKeyReason, reason,
		LogKeyDuration, time.Duration(time.Now().UnixNano()-c.opened).Round(time.Millisecond))
	c.closeHandler(code, reason)
}

// closeHandler calls the handler's Close; a panic in it is logged.
func (c *Conn) closeHandler(code int, reason string) {
	defer func() {
		if v := recover(); v != nil {
			c.logger().Error("handler panicked", "method", "Close", LogKeyError, v, "stack", string(debug.Stack()))
		}
	}()
	c.mount.cfg.Handler.Close(c, code, reason)
}

// closeStatus maps the reader's final error to a close code and reason
// when the server did not start the close.
func closeStatus(err error) (int, string) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return ce.Code, ce.Text
	case errors.Is(err, websocket.ErrReadLimit):
		return websocket.CloseMessageTooBig, "message too big"
	case errors.As(err, &ne):
		if ne.Timeout() {
			return websocket.CloseAbnormalClosure, "no pong within pong_timeout"
		}
	case strings.HasPrefix(err.Error(), "websocket: "):
		// gorilla's protocol errors (bad frame, bad close frame) are plain
		// errors, after it has sent a 1002 close frame itself.
		return websocket.CloseProtocolError, cutReason(strings.TrimPrefix(err.Error(), "websocket: "))
	}
	return websocket.CloseAbnormalClosure, ""
}

// cutReason cuts a close reason to the 123 bytes a close frame can carry,
// on a rune boundary so that the frame stays valid UTF-8.
func cutReason(reason string) string {
	const maxReason = 123 // 125-byte control payload minus the 2-byte code
	if len(reason) <= maxReason {
		return reason
	}
	reason = reason[:maxReason]
	for len(reason) > 0 && !utf8.ValidString(reason) {
		reason = reason[:len(reason)-1]
	}
	return reason
}

// startIdleTimer arms IdleTimeout. The timer is not reset per message:
// when it fires it checks lastMessage and sleeps again for the rest.
func (c *Conn) startIdleTimer() {
	idle := c.mount.cfg.IdleTimeout
	if idle <= 0 {
		return
	}
	c.lastMessage.Store(time.Now().UnixNano())
	c.mu.Lock()
	c.idleTimer = time.AfterFunc(idle, c.checkIdle)
	c.mu.Unlock()
}

func (c *Conn) checkIdle() {
	idle := c.mount.cfg.IdleTimeout
	quiet := time.Since(time.Unix(0, c.lastMessage.Load()))
	if quiet < idle {
		c.mu.Lock()
		if c.state.Load() == stateOpen {
			c.idleTimer.Reset(idle - quiet)
		}
		c.mu.Unlock()
		return
	}
	if c.state.Load() != stateOpen {
		return
	}
	c.logger().Info("idle timeout", "idle_timeout", idle)
	c.mount.stats.idleCloses.Add(1)
	c.Close(websocket.CloseGoingAway, "idle timeout")
}
