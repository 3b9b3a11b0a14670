package engine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Batched writes: gorilla writes every frame with its own Write on the
// socket, one system call per message. A connection's writer drains its
// whole queue at once, so the socket under the websocket.Conn is a
// batchConn: between hold and flush the frames gorilla writes collect in a
// buffer, and flush sends them with one Write.

const (
	// batchMax is the most a batch buffers before it writes what it has.
	batchMax = 64 << 10
	// batchBuf is the size of a pooled batch buffer.
	batchBuf = 16 << 10
	// maxFrameHeader is the longest header of a server frame.
	maxFrameHeader = 10
	// minOwnReadBuffer: gorilla reads through the hijacked bufio.Reader
	// only if it is larger than this.
	minOwnReadBuffer = 256
)

// closedChan is a closed channel.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, batchBuf); return &b }}

// batchConn is a net.Conn whose writes may be held and sent together.
// Its methods may be called concurrently: gorilla serializes the frames,
// and mu orders them with the flush.
type batchConn struct {
	net.Conn

	mu      sync.Mutex
	holding bool
	framing bool // the 101 is out: what is written now is frames
	// frameRest is how much of the last frame started by a Write is still
	// to come in later Writes: gorilla writes a long frame's payload with
	// a Write of its own on a conn that is not a *net.TCPConn (TLS).
	frameRest int64
	closeSent bool // a close frame went out: see Write
	deflate   bool // the 101 agreed on permessage-deflate
	// closeCh is closed once the close frame is written (closeWrote);
	// made by closeWritten.
	closeCh    chan struct{}
	closeWrote bool
	closeSentA atomic.Bool // closeSent, for the reader without mu
	// The reader's raw read (rawread.go), in what would be padding: reading
	// is set while the reader is in it; fd is the reader's own.
	reading  atomic.Bool
	fd       int32   // the socket, while reading
	buf      *[]byte // pooled while holding, or bytes a tryFlush left
	deadline int64   // last write deadline given to Conn, in Unix ns; 0 for none

	// The socket's file descriptor (nil for TLS), for tryFlush.
	raw syscall.RawConn
}

// rawWriter is a write on a file descriptor that never waits, made once
// (per Flusher) so that a write allocates nothing.
type rawWriter struct {
	fn    func(fd uintptr) bool
	buf   []byte
	n     int
	errno error
}

func (w *rawWriter) write(raw syscall.RawConn, p []byte) (int, error) {
	if w.fn == nil {
		w.fn = func(fd uintptr) bool {
			w.n, w.errno = syscall.Write(int(fd), w.buf)
			return true // done, even on EAGAIN: never wait
		}
	}
	w.buf = p
	err := raw.Write(w.fn)
	w.buf = nil
	if err != nil {
		return 0, err
	}
	return max(w.n, 0), w.errno
}

func newBatchConn(nc net.Conn) *batchConn {
	b := &batchConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			b.raw = raw
		}
	}
	return b
}

// canTry reports whether tryFlush can write without blocking.
func (b *batchConn) canTry() bool { return b.raw != nil }

// pending reports whether bytes wait for a flush.
func (b *batchConn) pending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf != nil
}

// tryFlush writes what hold kept without blocking and ends the hold. What
// the socket does not take at once stays for the next flush (or Write);
// done reports whether everything went out. w makes the writes.
func (b *batchConn) tryFlush(w *rawWriter) (done bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.holding = false
	return b.tryFlushLocked(w)
}

// tryWrite writes batch, data frames of size bytes at most with their
// headers, after anything pending, without waiting: neither for the
// socket nor for b.mu, which a write blocked on a full socket holds
// (another goroutine's control frame). written reports whether the frames
// were taken: false, with a nil error, when b is busy or its buffer too
// full to take them without a blocking write. What the socket does not
// take at once stays for the next flush; done reports whether everything
// went out.
func (b *batchConn) tryWrite(w *rawWriter, batch []frame, size int) (written, done bool, err error) {
	if !b.mu.TryLock() {
		return false, false, nil
	}
	defer b.mu.Unlock()
	if b.closeSent {
		return false, false, websocket.ErrCloseSent
	}
	if b.buf != nil && len(*b.buf)+size > batchMax {
		return false, false, nil
	}
	if b.buf == nil {
		b.buf = batchPool.Get().(*[]byte)
	}
	for i := range batch {
		f := &batch[i]
		*b.buf = append(frameHeader(*b.buf, f.typ, len(f.data)), f.data...)
	}
	done, err = b.tryFlushLocked(w)
	return true, done, err
}

// tryFlushLocked is tryFlush with b.mu held and no hold to end.
func (b *batchConn) tryFlushLocked(w *rawWriter) (done bool, err error) {
	if b.buf == nil {
		return true, nil
	}
	out := *b.buf
	for len(out) > 0 {
		n, err := w.write(b.raw, out)
		out = out[n:]
		switch err {
		case nil, syscall.EINTR:
			continue
		case syscall.EAGAIN:
		default:
			return false, &net.OpError{Op: "write", Net: "tcp", Addr: b.RemoteAddr(), Err: err}
		}
		break
	}
	if len(out) == 0 {
		b.release()
		return true, nil
	}
	*b.buf = (*b.buf)[:copy(*b.buf, out)]
	return false, nil
}

// Outcomes of tryControl.
const (
	controlNotWritten = iota
	controlWritten
	controlPartly // the rest waits in the buffer, for the writer's flush
)

// tryControl writes a whole control frame p at once, without waiting, if
// the socket is between frames: nothing is pending from an earlier write
// and no close frame went out. When the socket takes only part of it, the
// rest waits as tryFlush's leftovers do.
func (b *batchConn) tryControl(w *rawWriter, p []byte) int {
	if b.raw == nil || !b.mu.TryLock() { // held by a write that may be blocked: the caller's goroutine sends p
		return controlNotWritten
	}
	defer b.mu.Unlock()
	if !b.framing || b.closeSent || b.buf != nil || b.frameRest != 0 {
		return controlNotWritten
	}
	switch n, _ := w.write(b.raw, p); {
	case n == len(p):
		return controlWritten
	case n > 0:
		b.buf = batchPool.Get().(*[]byte)
		*b.buf = append(*b.buf, p[n:]...)
		return controlPartly
	}
	return controlNotWritten // a full socket, or a failed one, which gorilla's write then finds
}

// release gives the buffer back to the pool. b.mu must be held.
func (b *batchConn) release() {
	if cap(*b.buf) <= batchMax {
		*b.buf = (*b.buf)[:0]
		batchPool.Put(b.buf)
	}
	b.buf = nil
}

// hold makes the following writes wait in a buffer until flush.
func (b *batchConn) hold() {
	b.mu.Lock()
	b.holding = true
	b.mu.Unlock()
}

// flush writes what hold kept, in one Write, and ends the hold.
func (b *batchConn) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.holding = false
	return b.flushLocked()
}

func (b *batchConn) flushLocked() error {
	if b.buf == nil {
		return nil
	}
	_, err := b.Conn.Write(*b.buf)
	b.release()
	return err
}

// Write buffers p while holding, else writes it (after anything held). A
// control frame is never held: it may come from another goroutine than
// the writer (a pong, the close frame that answers the peer's, a
// keepalive ping), which counts on it being sent when Write returns, e.g.
// before it closes the socket. Write follows the frames gorilla writes
// (see frames), so it knows which Write starts a control frame and when
// a close frame went out, whichever code sent it.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	control := false
	switch {
	case b.framing:
		var closing bool
		control, closing = b.frames(p)
		if closing && !b.closeSent {
			b.closeSent = true
			b.closeSentA.Store(true)
			defer b.closeDone() // once written
		}
	case bytes.Contains(p, []byte("\r\nSec-WebSocket-Extensions: permessage-deflate")):
		b.deflate = true // gorilla writes the 101 with one Write
	}
	if b.holding && !control {
		if b.buf != nil && len(*b.buf)+len(p) > batchMax {
			if err := b.flushLocked(); err != nil {
				return 0, err
			}
		}
		if len(p) <= batchMax/2 {
			if b.buf == nil {
				b.buf = batchPool.Get().(*[]byte)
			}
			*b.buf = append(*b.buf, p...)
			return len(p), nil
		}
	}
	if err := b.flushLocked(); err != nil {
		return 0, err
	}
	return b.Conn.Write(p)
}

// frames follows the server frames in p, one Write of gorilla's: the
// rest of the payload of a frame an earlier Write started, then whole
// frames, the last of which may go on in the next Write. gorilla writes a
// frame's header in one Write, with the payload or before it. control
// reports whether p starts a control frame; closing, whether a close
// frame starts in p.
func (b *batchConn) frames(p []byte) (control, closing bool) {
	rest := b.frameRest
	if rest >= int64(len(p)) {
		b.frameRest = rest - int64(len(p))
		return false, false
	}
	for i := int(rest); i < len(p); {
		op, head, n, ok := parseServerHeader(p[i:])
		if !ok {
			b.frameRest = 0 // a cut header: never written by gorilla
			return control, closing
		}
		if i == 0 {
			control = op >= websocket.CloseMessage
		}
		closing = closing || op == websocket.CloseMessage
		end := int64(i) + int64(head) + n
		if end > int64(len(p)) {
			b.frameRest = end - int64(len(p))
			return control, closing
		}
		i = int(end)
	}
	b.frameRest = 0
	return control, closing
}

// closeWritten returns a channel that is closed once a close frame has
// been written.
func (b *batchConn) closeWritten() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closeWrote {
		return closedChan
	}
	if b.closeCh == nil {
		b.closeCh = make(chan struct{})
	}
	return b.closeCh
}

// closeWasSent reports whether a close frame went out.
func (b *batchConn) closeWasSent() bool { return b.closeSentA.Load() }

// closeDone closes closeCh, if made: the close frame is written. b.mu
// must be held.
func (b *batchConn) closeDone() {
	if b.closeCh != nil {
		close(b.closeCh)
		b.closeCh = nil
	}
	b.closeWrote = true
}

// upgraded tells b that the handshake's response is written: from now on
// what is written is frames (see Write).
func (b *batchConn) upgraded() {
	b.mu.Lock()
	b.framing = true
	b.mu.Unlock()
}

// writeData writes one data frame, unmasked as a server's are, itself
// rather than through gorilla's writer (which takes its lock and a pooled
// buffer, and allocates to give the buffer back, for every message): held
// like Write's, or written at once. Only uncompressed frames are written
// this way; every other frame goes through gorilla and Write, which
// follows the frames and knows when a close frame went out (gorilla's,
// answering the peer's, or ours): after it, writeData fails with
// websocket.ErrCloseSent, as gorilla's writes do.
func (b *batchConn) writeData(typ int, data []byte) error {
	var hb [maxFrameHeader]byte
	head := frameHeader(hb[:0], typ, len(data))
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closeSent {
		return websocket.ErrCloseSent
	}
	if !b.holding || len(data) > batchMax/2 {
		if err := b.flushLocked(); err != nil {
			return err
		}
		bufs := net.Buffers{head, data}
		_, err := bufs.WriteTo(b.Conn) // one writev on a TCP socket
		return err
	}
	if b.buf != nil && len(*b.buf)+len(head)+len(data) > batchMax {
		if err := b.flushLocked(); err != nil {
			return err
		}
	}
	if b.buf == nil {
		b.buf = batchPool.Get().(*[]byte)
	}
	*b.buf = append(append(*b.buf, head...), data...)
	return nil
}

// frameHeader appends the header of a final, unmasked frame of type typ
// with an n-byte payload (RFC 6455, 5.2).
func frameHeader(dst []byte, typ, n int) []byte {
	dst = append(dst, 0x80|byte(typ))
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n < 1<<16:
		return append(dst, 126, byte(n>>8), byte(n))
	}
	return append(dst, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// parseServerHeader reads the header of the unmasked frame at the start
// of p: its opcode, the header's length and the payload's; ok is false if
// p holds only part of a header.
func parseServerHeader(p []byte) (op, head int, n int64, ok bool) {
	if len(p) < 2 {
		return 0, 0, 0, false
	}
	op, head, n = int(p[0]&0x0f), 2, int64(p[1]&0x7f)
	switch n {
	case 126:
		head += 2
	case 127:
		head += 8
	}
	if p[1]&0x80 != 0 {
		head += 4 // masked: never from a server, but the length stays right
	}
	if len(p) < head {
		return 0, 0, 0, false
	}
	switch n {
	case 126:
		n = int64(binary.BigEndian.Uint16(p[2:]))
	case 127:
		n = int64(binary.BigEndian.Uint64(p[2:]) & (1<<63 - 1))
	}
	return op, head, n, true
}

// SetWriteDeadline passes t on unless it is the deadline already set:
// gorilla sets it before every frame, and the writer uses one per batch.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := unixNano(t)
	if d == b.deadline {
		return nil
	}
	b.deadline = d
	return b.Conn.SetWriteDeadline(t)
}

// unixNano is t in Unix ns, 0 for the zero time (no deadline).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// SetDeadline sets both deadlines.
func (b *batchConn) SetDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deadline = unixNano(t)
	return b.Conn.SetDeadline(t)
}

// batchWriter is the ResponseWriter handed to gorilla's Upgrader, so that
// the socket it hijacks is a batchConn. With readSize > 256 it also hands
// over a read buffer of that size, which gorilla then reads through (as it
// does with the HTTP server's own when Upgrader.ReadBufferSize is 0): the
// connection can see whether bytes wait in it.
type batchWriter struct {
	http.ResponseWriter
	readSize int
	bc       *batchConn
	br       *bufio.Reader // nil if gorilla makes its own
}

// Hijack implements http.Hijacker.
func (w *batchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("engine: the ResponseWriter does not implement http.Hijacker")
	}
	nc, rw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.bc = newBatchConn(nc)
	if w.readSize > minOwnReadBuffer && rw.Reader.Buffered() == 0 {
		// (With bytes buffered, gorilla refuses the upgrade: leave them to it.)
		w.br = bufio.NewReaderSize(w.bc, w.readSize)
		rw = bufio.NewReadWriter(w.br, rw.Writer)
	}
	return w.bc, rw, nil
}
