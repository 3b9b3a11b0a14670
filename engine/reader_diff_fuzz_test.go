package engine_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// FuzzReaderVsGorilla sends the same client bytes, as frames after a real
// handshake, to a server that reads with the engine's own reader (tcp
// mode) and to one that reads with gorilla's (small-read-buffer mode),
// then half-closes the socket. Both must hand the handler the same
// messages, in order, and end the connection with the same close code:
// our reader is gorilla's, faster, and not a different protocol.
//
// Reasons may differ ("unmasked client frame" against gorilla's "bad
// MASK"), and so may what the client reads back: replies the engine
// writes before a protocol error's close frame are its own addition.
func FuzzReaderVsGorilla(f *testing.F) {
	for _, seed := range [][]byte{
		clientFrame(0x81, []byte("hello"), -1),
		append(clientFrame(0x01, []byte("hel"), -1), clientFrame(0x80, []byte("lo"), -1)...),
		append(clientFrame(0x81, []byte("a"), -1), clientFrame(0x89, []byte("ping"), -1)...),
		append(clientFrame(0x81, []byte("a"), -1), clientFrame(0xc1, []byte("rsv1"), -1)...),
		append(clientFrame(0x82, []byte{0, 1, 2}, -1), clientFrame(0x83, nil, -1)...),
		append(clientFrame(0x81, []byte("x"), -1), clientFrame(0x88, []byte{0x03, 0xe8, 'b', 'y', 'e'}, -1)...),
		clientFrame(0x88, []byte{0x03}, -1),
		clientFrame(0x88, []byte{0x03, 0xec}, -1),
		clientFrame(0x81, []byte("a\xffb"), -1),
		append(clientFrame(0x01, []byte("κόσμε\xf4"), -1), clientFrame(0x80, []byte("\x90"), -1)...),
		clientFrame(0x81, bytes.Repeat([]byte("y"), 300), -1),
		bigFrame(1 << 63),
		{0x81, 0x02, 'h', 'i'}, // unmasked
		clientFrame(0x81, []byte("cut"), -1)[:5],
		append(clientFrame(0x09, nil, -1), clientFrame(0x81, []byte("z"), -1)...),
	} {
		f.Add(seed)
	}
	type side struct {
		rec *recorder
		srv *modeServer
	}
	var sides [2]side
	for i, m := range []mode{modes[0], modes[2]} { // tcp, small-read-buffer
		rec := newRecorder()
		sides[i] = side{rec, m.serve(f, mountOf(rec, func(mc *engine.MountConfig) { mc.MaxMessageSize = 64 << 10 }))}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var got [2][]event
		for i, s := range sides {
			ws := s.srv.dial(t)
			id := s.rec.waitOpen(t).ID()
			nc := ws.NetConn()
			if _, err := nc.Write(raw); err != nil {
				t.Fatalf("%s: write: %v", s.srv.mode.name, err)
			}
			_ = nc.(*net.TCPConn).CloseWrite() // the server reads EOF after raw
			go drain(ws)                       // pongs and echoes; the server's close frame
			select {
			case <-s.rec.closes: // this connection's: one at a time
			case <-time.After(enginetest.Timeout):
				t.Fatalf("%s: no Close within %v of the end of the stream", s.srv.mode.name, enginetest.Timeout)
			}
			got[i] = s.rec.forget(id)
			ws.Close()
		}
		if !sameEvents(got[0], got[1]) && !stricter(got[0], got[1]) {
			t.Fatalf("engine's reader: %v\ngorilla's reader: %v", got[0], got[1])
		}
	})
}

// stricterThanGorilla are the frames the engine's reader fails with 1002,
// as RFC 6455 asks (and Autobahn checks), where gorilla's ends otherwise:
// by reason, the code gorilla ends with.
var stricterThanGorilla = map[string]int{
	"close frame with a 1-byte payload":                websocket.CloseNoStatusReceived,
	"payload length with the most significant bit set": websocket.CloseMessageTooBig,
}

// stricter reports whether ours and gorilla's differ only where the
// engine is stricter: the same calls up to a close, ours a 1002 listed in
// stricterThanGorilla, gorilla's the code listed.
func stricter(ours, gorillas []event) bool {
	if len(ours) == 0 || len(ours) != len(gorillas) || !sameEvents(ours[:len(ours)-1], gorillas[:len(gorillas)-1]) {
		return false
	}
	o, g := ours[len(ours)-1], gorillas[len(gorillas)-1]
	code, ok := stricterThanGorilla[o.reason]
	return ok && o.kind == "close" && o.code == websocket.CloseProtocolError && g.kind == "close" && g.code == code
}

// drain reads ws until it fails.
func drain(ws *websocket.Conn) {
	for {
		if _, _, err := ws.NextReader(); err != nil {
			return
		}
	}
}

// forget returns the calls seen for connection id and drops them.
func (r *recorder) forget(id uint64) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events[id]
	delete(r.events, id)
	return e
}
