package engine

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Protocol errors. gorilla answers a bad frame by writing its 1002 close
// frame at once, from the reader, ahead of the replies the handler has
// queued for the messages before it: those would be lost. So before
// gorilla reads the next message, the connection looks at the frames
// waiting in its read buffer itself (checkAhead): a bad one is a
// [protocolError], and failProtocol lets the handler finish the messages
// before it, then closes through the send queue, so that the close frame
// follows the replies. checkAhead also catches what gorilla lets through
// or answers wrongly: a 64-bit length with the top bit set (gorilla drops
// the connection without a close frame) and a close frame with a 1-byte
// payload (gorilla answers it with an empty close).

// protocolError is a frame that breaks RFC 6455: the connection is failed
// with Code (websocket.CloseProtocolError, or CloseInvalidFramePayloadData
// for invalid UTF-8).
type protocolError struct {
	Code   int
	Reason string
}

func (e *protocolError) Error() string { return "engine: protocol error: " + e.Reason }

// errInvalidUTF8 is a text message that is not valid UTF-8; readMessage
// finds it at the fragment that makes it invalid.
var errInvalidUTF8 = errors.New("engine: invalid utf-8 in text message")

func protoErr(reason string) *protocolError {
	return &protocolError{Code: websocket.CloseProtocolError, Reason: reason}
}

// checkAhead checks the frames in the read buffer before gorilla reads the
// next message: the first data frame's header and, before it, any whole
// control frames. It reads (and may wait) only to complete a frame header,
// or a close frame, that has begun to arrive, as gorilla's read would; it
// consumes nothing. It returns nil when what is there is fine, or too
// little to tell (gorilla then reads it and fails by itself). Without our
// own read buffer it checks nothing.
func (c *Conn) checkAhead() error {
	if c.br == nil || c.state.Load() != stateOpen || c.bc.closeWasSent() {
		// Closing: what follows is drained, not checked. (gorilla sends a
		// 1009 itself, leaving the rest of the frame unread.)
		return nil
	}
	off := 0
	for range 16 { // a run of pings, bounded
		var perr *protocolError
		n, ok := c.peekFrame(off, &perr)
		if perr != nil {
			return perr
		}
		if !ok || n == 0 {
			return nil
		}
		off += n
	}
	return nil
}

// peekFrame checks the frame at offset off of the read buffer. It returns
// the frame's whole length when it is a whole control frame that gorilla
// handles by itself inside NextReader (a ping or pong), so that the next
// one is checked too; 0 when it is a data frame or a close frame (the
// checks stop there); ok false when the buffer does not hold enough.
func (c *Conn) peekFrame(off int, perr **protocolError) (n int, ok bool) {
	need := func(k int) ([]byte, bool) {
		if off+k > c.br.Size() {
			return nil, false
		}
		if off > 0 && c.br.Buffered() < off+k {
			return nil, false // past the first frame: only what is there
		}
		p, err := c.br.Peek(off + k)
		if err != nil {
			return nil, false
		}
		return p[off:], true
	}
	h, ok := need(2)
	if !ok {
		return 0, false
	}
	b0, b1 := h[0], h[1]
	op := int(b0 & 0x0f)
	control := op >= 8
	switch {
	case b0&0x20 != 0:
		*perr = protoErr("RSV2 set")
	case b0&0x10 != 0:
		*perr = protoErr("RSV3 set")
	case b0&0x40 != 0 && (!c.bc.deflate || control):
		*perr = protoErr("RSV1 set")
	case op == 0:
		*perr = protoErr("continuation frame without a message to continue")
	case op != websocket.TextMessage && op != websocket.BinaryMessage && op != websocket.CloseMessage &&
		op != websocket.PingMessage && op != websocket.PongMessage:
		*perr = protoErr("bad opcode " + strconv.Itoa(op))
	case control && b0&0x80 == 0:
		*perr = protoErr("fragmented control frame")
	case control && b1&0x7f > 125:
		*perr = protoErr("control frame longer than 125 bytes")
	case b1&0x80 == 0:
		*perr = protoErr("unmasked client frame")
	}
	if *perr != nil {
		return 0, true
	}
	size, head := int(b1&0x7f), 2
	switch size {
	case 126:
		return 0, true // a data frame: nothing more to check in it
	case 127:
		h, ok := need(10)
		if !ok {
			return 0, false
		}
		if binary.BigEndian.Uint64(h[2:10])>>63 != 0 {
			*perr = protoErr("payload length with the most significant bit set")
		}
		return 0, true
	}
	if !control {
		return 0, true
	}
	head += 4 // the mask key
	f, ok := need(head + size)
	if !ok {
		return 0, false
	}
	if op != websocket.CloseMessage {
		return head + size, true
	}
	switch {
	case size == 1:
		*perr = protoErr("close frame with a 1-byte payload")
	case size >= 2:
		var p [125]byte
		unmask(p[:size], f[head:], f[head-4:head])
		if code := int(binary.BigEndian.Uint16(p[:2])); !validCloseCode(code) {
			*perr = protoErr("bad close code " + strconv.Itoa(code))
		} else if !utf8.Valid(p[2:size]) {
			*perr = &protocolError{Code: websocket.CloseInvalidFramePayloadData, Reason: "invalid UTF-8 in close reason"}
		}
	}
	return 0, true
}

// validCloseCode reports whether a peer may send code in a close frame,
// as gorilla decides.
func validCloseCode(code int) bool {
	switch code {
	case websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseProtocolError,
		websocket.CloseUnsupportedData, websocket.CloseInvalidFramePayloadData, websocket.ClosePolicyViolation,
		websocket.CloseMessageTooBig, websocket.CloseMandatoryExtension, websocket.CloseInternalServerErr,
		websocket.CloseServiceRestart, websocket.CloseTryAgainLater:
		return true
	}
	return code >= 3000 && code <= 4999
}

// failProtocol fails the connection after a protocol error: the handler
// first finishes the messages before it (ReadIdle, then Syncer's Sync),
// then the close frame is queued after their replies, and the reader waits
// (up to WriteTimeout) until it is written. The caller then ends the
// connection with finish.
func (c *Conn) failProtocol(h Handler, idler ReadIdler, e *protocolError) {
	c.logger().Warn("protocol error", LogKeyReason, e.Reason, LogKeyCode, e.Code)
	c.readIdle(idler)
	if s, ok := h.(Syncer); ok {
		c.guard("Sync", func() { s.Sync(c) })
	}
	c.Close(e.Code, e.Reason)
	t := time.NewTimer(c.mount.cfg.WriteTimeout)
	defer t.Stop()
	select {
	case <-c.bc.closeWritten():
	case <-t.C:
	}
}

// utf8Check validates a text message as it arrives, so that invalid UTF-8
// is found at the fragment that makes it so. A character cut at the end of
// what has arrived is fine as long as it can still be completed.
type utf8Check struct{ from int }

// check validates p[u.from:], p being all of the message so far; the
// bytes of a cut character at its end are checked again with the next.
func (u *utf8Check) check(p []byte) bool {
	q := p[u.from:]
	if utf8.Valid(q) {
		u.from = len(p)
		return true
	}
	// A cut character at the end: at most 3 bytes from a leading byte.
	for i := len(q) - 1; i >= 0 && i >= len(q)-3; i-- {
		if !utf8.RuneStart(q[i]) {
			continue
		}
		if !utf8.Valid(q[:i]) || !completable(q[i:]) {
			return false
		}
		u.from += i
		return true
	}
	return false
}

// done reports whether the whole message checked has no cut character.
func (u *utf8Check) done(p []byte) bool { return u.from == len(p) }

// completable reports whether tail, the start of a character and shorter
// than it, can still become a valid one: it tries the smallest second
// bytes that each leading byte allows, then continuation bytes.
func completable(tail []byte) bool {
	if utf8.FullRune(tail) {
		return false // whole, and not valid, or we would not be here
	}
	var r [utf8.UTFMax]byte
	for _, second := range []byte{0x80, 0x90, 0xa0} {
		n := copy(r[:], tail)
		if n == 1 {
			r[1], n = second, 2
		}
		for !utf8.FullRune(r[:n]) && n < utf8.UTFMax {
			r[n] = 0x80
			n++
		}
		if utf8.Valid(r[:n]) {
			return true
		}
	}
	return false
}
