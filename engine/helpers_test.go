package engine_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
)

// testTimeout bounds every wait in the tests.
const testTimeout = 5 * time.Second

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
	case <-time.After(testTimeout):
		t.Fatalf("no Open within %v", testTimeout)
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

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", testTimeout, what)
		}
		time.Sleep(2 * time.Millisecond) // polling with a deadline
	}
}

// dial opens a client connection, closed in t.Cleanup.
func dial(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := dialWith(t, websocket.DefaultDialer, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return ws
}

// dialWith dials with d and header; on a failed handshake it returns the
// response with its body read into a string-able reader.
func dialWith(t testing.TB, d *websocket.Dialer, url string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ws, resp, err := d.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws, resp, nil
}

// bodyOf reads a response body.
func bodyOf(t testing.TB, resp *http.Response) string {
	t.Helper()
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// readMsg reads one message, bounded by testTimeout.
func readMsg(t testing.TB, ws *websocket.Conn) (int, []byte) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	typ, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, data
}

// readText reads one message and wants a text frame.
func readText(t testing.TB, ws *websocket.Conn) string {
	t.Helper()
	typ, data := readMsg(t, ws)
	if typ != websocket.TextMessage {
		t.Fatalf("got message type %d, want text (%d)", typ, websocket.TextMessage)
	}
	return string(data)
}

// readClose reads until the connection ends and returns the close frame
// the server sent; data messages before it are returned too.
func readClose(t testing.TB, ws *websocket.Conn) (*websocket.CloseError, []string) {
	t.Helper()
	var msgs []string
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	for {
		_, data, err := ws.ReadMessage()
		if err == nil {
			msgs = append(msgs, string(data))
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read: got %v, want a close frame", err)
		}
		return ce, msgs
	}
}

// writeMsg writes one message, bounded by testTimeout.
func writeMsg(t testing.TB, ws *websocket.Conn, typ int, data []byte) {
	t.Helper()
	_ = ws.SetWriteDeadline(time.Now().Add(testTimeout))
	if err := ws.WriteMessage(typ, data); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// httpURL turns ws://host/path into http://host/path.
func httpURL(wsURL string) string { return "http" + strings.TrimPrefix(wsURL, "ws") }

// httpGet does a plain GET with header and returns status, headers and body.
func httpGet(t testing.TB, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	maps := req.Header
	for k, vs := range header {
		maps[k] = vs
	}
	client := &http.Client{Timeout: testTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header, bodyOf(t, resp)
}
