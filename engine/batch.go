package engine

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
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
)

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, batchBuf); return &b }}

// batchConn is a net.Conn whose writes may be held and sent together.
// Its methods may be called concurrently: gorilla serializes the frames,
// and mu orders them with the flush.
type batchConn struct {
	net.Conn

	mu       sync.Mutex
	holding  bool
	buf      *[]byte   // pooled while holding, or bytes a tryFlush left
	deadline time.Time // last write deadline given to Conn

	// For tryFlush: the socket's file descriptor (nil for TLS), and the
	// write it runs on it, made once so that a write allocates nothing.
	raw      syscall.RawConn
	rawWrite func(fd uintptr) bool
	rawBuf   []byte
	rawN     int
	rawErrno error
}

func newBatchConn(nc net.Conn) *batchConn {
	b := &batchConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			b.raw = raw
			b.rawWrite = func(fd uintptr) bool {
				b.rawN, b.rawErrno = syscall.Write(int(fd), b.rawBuf)
				return true // done, even on EAGAIN: never wait
			}
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
// done reports whether everything went out.
func (b *batchConn) tryFlush() (done bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.holding = false
	if b.buf == nil {
		return true, nil
	}
	out := *b.buf
	for len(out) > 0 {
		b.rawBuf = out
		if err := b.raw.Write(b.rawWrite); err != nil {
			b.rawBuf = nil
			return false, err
		}
		b.rawBuf = nil
		switch b.rawErrno {
		case nil:
			out = out[b.rawN:]
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
		default:
			return false, &net.OpError{Op: "write", Net: "tcp", Addr: b.RemoteAddr(), Err: b.rawErrno}
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

// abandon ends a hold and drops what it kept: the connection is failing.
func (b *batchConn) abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.holding = false
	if b.buf != nil {
		b.release()
	}
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

// Write buffers p while holding, else writes it (after anything held).
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holding {
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

// SetWriteDeadline passes t on unless it is the deadline already set:
// gorilla sets it before every frame, and the writer uses one per batch.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.Equal(b.deadline) {
		return nil
	}
	b.deadline = t
	return b.Conn.SetWriteDeadline(t)
}

// SetDeadline sets both deadlines.
func (b *batchConn) SetDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deadline = t
	return b.Conn.SetDeadline(t)
}

// batchWriter is the ResponseWriter handed to gorilla's Upgrader, so that
// the socket it hijacks is a batchConn.
type batchWriter struct {
	http.ResponseWriter
	bc *batchConn
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
	return w.bc, rw, nil
}
