package engine

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// closeRecorder hands the Close calls out on a channel.
type closeRecorder struct {
	opened chan *Conn
	closed chan [2]any // code, reason
}

func (h *closeRecorder) Open(c *Conn)           { h.opened <- c }
func (h *closeRecorder) Message(*Conn, Message) {}
func (h *closeRecorder) Close(_ *Conn, code int, reason string) {
	h.closed <- [2]any{code, reason}
}

// TestFailedWriteKeepsPeerCode pins an ordering the end-to-end tests hit
// only by chance: gorilla has sent a close frame by itself (its echo of the
// peer's close, or a 1009 or 1002), the writer's next write fails with
// ErrCloseSent before the reader has finished, and only then does the
// reader see the peer's close frame. Close must get the peer's code, not
// "1006 write failed".
func TestFailedWriteKeepsPeerCode(t *testing.T) {
	h := &closeRecorder{opened: make(chan *Conn, 1), closed: make(chan [2]any, 1)}
	ws, _, err := websocket.DefaultDialer.Dial(startServer(t, h), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var c *Conn
	select {
	case c = <-h.opened:
	case <-time.After(5 * time.Second):
		t.Fatal("no Open")
	}

	// Open runs before the 101: wait for the socket.
	var cws *websocket.Conn
	for cws == nil {
		c.mu.Lock()
		cws = c.ws
		c.mu.Unlock()
		if cws == nil {
			time.Sleep(time.Millisecond) // polling: the upgrade is done right after the 101
		}
	}
	// gorilla sends a close frame on its own, as its close handler does.
	if err := cws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, ""), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(websocket.TextMessage, []byte("too late")); err != nil {
		t.Fatalf("Send: got %v, want nil", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Open() { // the writer has failed once the conn is no longer open
		if time.Now().After(deadline) {
			t.Fatal("the writer did not fail on ErrCloseSent")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	// The reader may or may not see the peer's close before the writer's
	// socket close; either way the code must not be the writer's invention.
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
	select {
	case got := <-h.closed:
		if code := got[0].(int); code == websocket.CloseAbnormalClosure && got[1] == "write failed" {
			t.Errorf("Close: got %d %q, want the peer's code or a plain 1006", code, got[1])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Close")
	}
}

func TestCloseStatus(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantCode   int
		wantReason string
	}{
		{"peer close", &websocket.CloseError{Code: 4001, Text: "bye"}, 4001, "bye"},
		{"read limit", websocket.ErrReadLimit, websocket.CloseMessageTooBig, "message too big"},
		{"protocol error", errors.New("websocket: bad MASK"), websocket.CloseProtocolError, "bad MASK"},
		{"timeout", &net.OpError{Op: "read", Err: timeoutError{}}, websocket.CloseAbnormalClosure, "no pong within pong_timeout"},
		{"closed socket", &net.OpError{Op: "read", Err: net.ErrClosed}, websocket.CloseAbnormalClosure, ""},
		{"other", errors.New("boom"), websocket.CloseAbnormalClosure, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, reason := closeStatus(tt.err)
			if code != tt.wantCode || reason != tt.wantReason {
				t.Errorf("got %d %q, want %d %q", code, reason, tt.wantCode, tt.wantReason)
			}
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestCutReason(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int // bytes kept
	}{
		{"short", "bye", 3},
		{"exactly 123", strings.Repeat("a", 123), 123},
		{"ascii over", strings.Repeat("a", 200), 123},
		{"two-byte runes", strings.Repeat("é", 100), 122},
		{"four-byte runes", strings.Repeat("🙂", 40), 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cutReason(tt.in)
			if len(got) != tt.want || !utf8.ValidString(got) || !strings.HasPrefix(tt.in, got) {
				t.Errorf("got %d bytes (valid UTF-8 %v), want %d bytes of the prefix", len(got), utf8.ValidString(got), tt.want)
			}
		})
	}
}
