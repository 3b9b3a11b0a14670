package engine

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Reading in place. A connection whose socket has a file descriptor, and
// which reads through its own buffer, stays in one syscall.RawConn.Read for
// as long as its messages arrive whole: the engine unmasks each whole data
// frame from the read buffer itself and runs its message there, on the
// reader goroutine, and the keepalive's pongs are taken there; anything
// else (a ping or close frame, a fragment, a message longer than the read
// buffer, a failed socket) goes back to serve's reads, through gorilla,
// which then come back here.
//
// A read that came back short is followed by one more, which finds
// nothing (EAGAIN) before the reader waits, as Go's own net.Conn does: the
// peer's FIN may have come with its last bytes, and the runtime's
// edge-triggered poller reports the two as one readiness, so waiting
// without that read would miss the end of the stream (nginx learns of it
// from EPOLLRDHUP, which Go's poller does not pass on).

// errWouldBlock is a raw read that found nothing: the reader waits.
var errWouldBlock = errors.New("engine: read would block")

// Kinds of frame at the front of the read buffer (bufferedFrame).
const (
	frameMore    = iota // nothing, or the start of a frame that fits the buffer
	frameMessage        // a whole unfragmented data message
	framePong           // a whole pong
	frameOther          // another control frame, a fragment, or a frame longer than the buffer
)

// bufferedFrame tells what the read buffer holds at its front; it never
// reads. Without our own read buffer it is frameOther. For a whole frame
// (frameMessage, framePong) it also gives the lengths of its header (mask
// key included) and of its payload.
func (c *Conn) bufferedFrame() (kind, head, size int) {
	if c.br == nil {
		return frameOther, 0, 0
	}
	n := c.br.Buffered()
	if n < 2 {
		return frameMore, 0, 0
	}
	h, _ := c.br.Peek(min(n, 14)) // the longest header; within the buffer: no read
	if h[0]&0x80 == 0 {
		return frameOther, 0, 0 // a fragment: the message may not be whole
	}
	kind = frameMessage
	switch h[0] & 0x0f {
	case 1, 2: // text, binary
	case 0x0a:
		// A pong, answering the keepalive ping: taken here, so that an
		// idle connection goes back to wait in the raw read, not in
		// gorilla's frame parser (a bigger stack). A bad one is gorilla's.
		if h[0] != 0x8a || h[1]&0x80 == 0 || h[1]&0x7f > 125 {
			return frameOther, 0, 0
		}
		kind = framePong
	default:
		return frameOther, 0, 0 // a control frame: gorilla answers it itself
	}
	size, head = int(h[1]&0x7f), 2
	switch size {
	case 126:
		if len(h) < 4 {
			return frameMore, 0, 0
		}
		size, head = int(h[2])<<8|int(h[3]), 4
	case 127:
		if len(h) < 10 {
			return frameMore, 0, 0
		}
		return frameOther, 0, 0 // a 64-bit length: longer than any read buffer
	}
	if h[1]&0x80 != 0 {
		head += 4 // the mask key
	}
	switch {
	case size <= n-head:
		return kind, head, size
	case size > c.br.Size()-head:
		return frameOther, 0, 0
	}
	return frameMore, 0, 0
}

// takeMessage reads the whole data message at the front of the read
// buffer by itself, without gorilla's reader, which is between frames and
// stays so: the payload is unmasked into a slice of its own size and the
// frame consumed. It leaves to readMessage (ok false) what gorilla must
// see: a compressed frame (or one with other reserved bits), an unmasked
// one (a protocol error) and one over MaxMessageSize. head and size are
// bufferedFrame's, which must have said frameMessage.
func (c *Conn) takeMessage(head, size int) (typ int, data []byte, ok bool) {
	frame, _ := c.br.Peek(head + size) // within the buffer: no read
	if frame[0]&0x70 != 0 || frame[1]&0x80 == 0 || int64(size) > c.mount.cfg.MaxMessageSize {
		return 0, nil, false
	}
	data = make([]byte, size)
	unmask(data, frame[head:], frame[head-4:head])
	_, _ = c.br.Discard(len(frame))
	return int(frame[0] & 0x0f), data, true
}

// unmask writes src XOR the 4-byte mask key to dst (RFC 6455, 5.3).
func unmask(dst, src, key []byte) {
	k := uint64(binary.LittleEndian.Uint32(key))
	k |= k << 32
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k)
	}
	for ; i < len(dst); i++ {
		dst[i] = src[i] ^ key[i&3]
	}
}

// messageBuffered reports whether the next frame in the read buffer is a
// whole data message: one unfragmented text or binary frame, all of it
// read. Without our own read buffer (TLS, or a small ReadBufferSize) it
// reports false.
func (c *Conn) messageBuffered() bool {
	kind, _, _ := c.bufferedFrame()
	return kind == frameMessage
}

// canReadRaw reports whether the connection can use readRaw: a socket with
// a file descriptor (not TLS) and our own read buffer.
func (c *Conn) canReadRaw() bool { return c.br != nil && c.bc.raw != nil }

// readRaw hands the handler the messages that arrive whole, inside one raw
// read of the socket (see above). It returns when the next frame needs
// serve's read, or the socket failed or was closed, or its read deadline
// passed: serve's read then meets that again and ends the connection,
// unless tend asked the reader to start afresh (respawn.go). The caller
// ends the raw read with leaveRaw.
func (c *Conn) readRaw(h Handler, idler ReadIdler) {
	c.bc.reading.Store(true)
	_ = c.bc.raw.Read(func(fd uintptr) bool {
		c.bc.fd = int32(fd)
		return c.readBuffered(h, idler)
	})
}

// readBuffered runs readRaw's read function: it hands over the whole
// messages in the read buffer, refills it, and tells readRaw to wait
// (false) or to return (true).
func (c *Conn) readBuffered(h Handler, idler ReadIdler) bool {
	kind, head, size := c.bufferedFrame()
	for {
		switch kind {
		case frameMessage:
			typ, data, ok := c.takeMessage(head, size)
			var err error
			if !ok {
				typ, data, err = c.readMessage() // all of it is in the buffer: no read
			}
			if err != nil {
				switch {
				case errors.Is(err, errTooBig):
					c.tooBig() // serve's read skips the rest of it
				case err == errInvalidUTF8:
					c.invalidUTF8()
				}
				// (A protocolError consumed nothing: serve's read meets it again.)
				return true
			}
			kind, head, size = c.bufferedFrame()
			c.message(h, Message{Type: typ, Data: data, More: kind == frameMessage}, !ok)
			continue
		case framePong:
			_, _ = c.br.Discard(head + size)
			c.pong()
			kind, head, size = c.bufferedFrame()
			continue
		case frameOther:
			return true
		}
		// One read(2), in batchConn.Read, also after a read that took all
		// the socket held: the end of the stream (FIN) may have come with
		// those bytes, in the same readiness event, and the runtime's
		// edge-triggered poller would not report it again.
		_, err := c.br.Peek(c.br.Buffered() + 1)
		switch {
		case err == errWouldBlock:
			c.readIdle(idler)
			return false
		case err != nil:
			return true
		}
		kind, head, size = c.bufferedFrame()
	}
}

// readIdle calls the handler's ReadIdle, if it has one: the reader is
// about to wait.
func (c *Conn) readIdle(idler ReadIdler) {
	if idler != nil {
		c.guard("ReadIdle", func() { idler.ReadIdle(c) })
	}
}

// Read reads from the socket: inside readRaw with one system call that
// never waits, else as the net.Conn does.
func (b *batchConn) Read(p []byte) (int, error) {
	if !b.reading.Load() {
		return b.Conn.Read(p)
	}
	for {
		n, err := syscall.Read(int(b.fd), p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, errWouldBlock
		case err != nil:
			return 0, &net.OpError{Op: "read", Net: "tcp", Source: b.LocalAddr(), Addr: b.RemoteAddr(), Err: os.NewSyscallError("read", err)}
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// closeSocket closes the socket. While the reader is in readRaw, running a
// handler, the socket's Close would wait for it to come out: then the
// close happens on a goroutine of its own.
func (c *Conn) closeSocket() {
	nc := c.ws.NetConn()
	if c.bc != nil && c.bc.reading.Load() {
		go nc.Close()
		return
	}
	_ = nc.Close()
}
