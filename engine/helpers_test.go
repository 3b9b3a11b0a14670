package engine_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// echoHandler is the smallest useful Handler: it sends every message back.
type echoHandler struct{}

func (echoHandler) Open(*engine.Conn)                        {}
func (echoHandler) Message(c *engine.Conn, m engine.Message) { _ = c.Send(m.Type, m.Data) }
func (echoHandler) Close(*engine.Conn, int, string)          {}
func echo(c *engine.Conn, m engine.Message)                  { _ = c.Send(m.Type, m.Data) }
func mountOf(h engine.Handler, mods ...func(*engine.MountConfig)) engine.Config {
	mc := engine.MountConfig{Handler: h}
	for _, f := range mods {
		f(&mc)
	}
	return engine.Config{Mounts: []engine.MountConfig{mc}}
}

// event is one Handler call seen by a recorder.
type event struct {
	kind   string // "open", "message" or "close"
	id     uint64
	msg    engine.Message
	code   int
	reason string
	// inRegistry, for "close": whether Mount.Conn still found the conn.
	inRegistry bool
}

func (e event) String() string {
	switch e.kind {
	case "message":
		return fmt.Sprintf("message(%d,%q)", e.msg.Type, e.msg.Data)
	case "close":
		return fmt.Sprintf("close(%d,%q)", e.code, e.reason)
	}
	return e.kind
}

// recorder is a Handler that records every call, per connection and in
// order, and hands opens and closes out on channels. The hooks, set before
// the server starts, give it behaviour (echo, flood, close).
type recorder struct {
	onOpen    func(c *engine.Conn)
	onMessage func(c *engine.Conn, m engine.Message)

	opens  chan *engine.Conn
	closes chan event

	mu     sync.Mutex
	events map[uint64][]event
}

func newRecorder() *recorder {
	return &recorder{
		opens:  make(chan *engine.Conn, 1024),
		closes: make(chan event, 1024),
		events: make(map[uint64][]event),
	}
}

func (r *recorder) add(e event) {
	r.mu.Lock()
	r.events[e.id] = append(r.events[e.id], e)
	r.mu.Unlock()
}

func (r *recorder) Open(c *engine.Conn) {
	r.add(event{kind: "open", id: c.ID()})
	if r.onOpen != nil {
		r.onOpen(c)
	}
	r.opens <- c
}

func (r *recorder) Message(c *engine.Conn, m engine.Message) {
	r.add(event{kind: "message", id: c.ID(), msg: m})
	if r.onMessage != nil {
		r.onMessage(c, m)
	}
}

func (r *recorder) Close(c *engine.Conn, code int, reason string) {
	e := event{kind: "close", id: c.ID(), code: code, reason: reason, inRegistry: c.Mount().Conn(c.ID()) != nil}
	r.add(e)
	r.closes <- e
}

// eventsOf returns a copy of the calls seen for connection id.
func (r *recorder) eventsOf(id uint64) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events[id]...)
}

// closeCount returns how many times Close ran for id.
func (r *recorder) closeCount(id uint64) int {
	n := 0
	for _, e := range r.eventsOf(id) {
		if e.kind == "close" {
			n++
		}
	}
	return n
}

// waitOpen returns the next opened connection.
func (r *recorder) waitOpen(t testing.TB) *engine.Conn {
	t.Helper()
	select {
	case c := <-r.opens:
		return c
	case <-time.After(enginetest.Timeout):
		t.Fatalf("no Open within %v", enginetest.Timeout)
		return nil
	}
}

// waitClose returns the Close call for id, waiting for it.
func (r *recorder) waitClose(t testing.TB, id uint64) event {
	t.Helper()
	var got event
	waitFor(t, fmt.Sprintf("Close of conn %d", id), func() bool {
		for _, e := range r.eventsOf(id) {
			if e.kind == "close" {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

// handshaker adds a Handshaker to a recorder.
type handshaker struct {
	*recorder
	handshake func(req *engine.Request) (engine.HandshakeReply, error)
}

func (h handshaker) Handshake(req *engine.Request) (engine.HandshakeReply, error) {
	return h.handshake(req)
}

// errorReplier adds an ErrorReplier to a handshaker.
type errorReplier struct {
	handshaker
	reply func(req *engine.Request, e *engine.HandshakeError) (engine.ErrorReply, bool)
}

func (h errorReplier) HandshakeFailed(req *engine.Request, e *engine.HandshakeError) (engine.ErrorReply, bool) {
	return h.reply(req, e)
}

// waitFor and dial are the short forms of [enginetest.WaitFor] and
// [enginetest.Dial] that the tests and benchmarks use.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	enginetest.WaitFor(t, what, cond)
}

func dial(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	return enginetest.Dial(t, url)
}
