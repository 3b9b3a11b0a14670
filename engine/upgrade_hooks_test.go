package engine_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// TestHandshaker checks what a Handshaker's reply does: subprotocol only
// if offered, extra headers but not the reserved ones, Data and Attach
// handed to the connection, and a Rejection's status and body.
func TestHandshakerReply(t *testing.T) {
	rec := newRecorder()
	h := handshaker{recorder: rec, handshake: func(req *engine.Request) (engine.HandshakeReply, error) {
		switch req.Query().Get("do") {
		case "reject":
			return engine.HandshakeReply{}, &engine.Rejection{Status: http.StatusNotFound, Body: "no such room"}
		case "fail":
			return engine.HandshakeReply{}, errors.New("database down")
		}
		return engine.HandshakeReply{
			Subprotocol: req.Query().Get("sp"),
			Header: http.Header{"X-Room": {"lobby"}, "Upgrade": {"h2c"},
				"Sec-Websocket-Extensions": {"x-evil"}},
			Data:   map[string]any{"user": "ann"},
			Attach: "from the handshake",
		}, nil
	}}
	_, url := newTestServer(t, mountOf(h))

	d := &websocket.Dialer{Subprotocols: []string{"a", "b"}, HandshakeTimeout: enginetest.Timeout}
	ws, resp, err := enginetest.DialWith(t, d, url+"?sp=b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ws.Subprotocol(); got != "b" {
		t.Errorf("subprotocol: got %q, want b", got)
	}
	if got := resp.Header.Get("X-Room"); got != "lobby" {
		t.Errorf("X-Room: got %q, want lobby", got)
	}
	if got := resp.Header.Get("Upgrade"); got != "websocket" {
		t.Errorf("Upgrade: got %q, want websocket", got)
	}
	c := rec.waitOpen(t)
	if v, _ := c.Data().Get("user"); v != "ann" {
		t.Errorf("data user: got %v, want ann", v)
	}
	if got := c.Attached(); got != "from the handshake" {
		t.Errorf("Attached: got %v, want the handshake's Attach", got)
	}

	if ws, _, err := enginetest.DialWith(t, d, url+"?sp=c", nil); err != nil || ws.Subprotocol() != "" {
		t.Errorf("not offered: got %v %q, want no subprotocol", err, ws.Subprotocol())
	}
	for _, tc := range []struct {
		query  string
		status int
		body   string
	}{
		{"do=reject", 404, "no such room"},
		{"do=fail", 403, "rejected\n"}, // the error's text is for the log only
	} {
		_, resp, err := enginetest.DialWith(t, d, url+"?"+tc.query, nil)
		if err == nil {
			t.Fatalf("%s: connected, want %d", tc.query, tc.status)
		}
		if got := enginetest.Body(t, resp); resp.StatusCode != tc.status || got != tc.body {
			t.Errorf("%s: got %d %q, want %d %q", tc.query, resp.StatusCode, got, tc.status, tc.body)
		}
	}
}

// TestErrorReplierKeepsHeaders: a custom error reply keeps the headers
// the protocol needs (Sec-WebSocket-Version on 426).
func TestErrorReplierKeepsHeaders(t *testing.T) {
	h := errorReplier{
		handshaker: handshaker{recorder: newRecorder(), handshake: func(*engine.Request) (engine.HandshakeReply, error) {
			return engine.HandshakeReply{}, nil
		}},
		reply: func(_ *engine.Request, e *engine.HandshakeError) (engine.ErrorReply, bool) {
			return engine.ErrorReply{Body: []byte("custom " + e.Reason)}, true
		},
	}
	_, url := newTestServer(t, mountOf(h))
	resp, body := enginetest.Get(t, enginetest.HTTPURL(url), http.Header{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Version": {"8"},
	})
	status, header := resp.StatusCode, resp.Header
	if status != http.StatusUpgradeRequired || body != "custom invalid request" || header.Get("Sec-Websocket-Version") != "13" {
		t.Errorf("got %d %q Sec-WebSocket-Version %q, want 426, the custom body and 13", status, body, header.Get("Sec-Websocket-Version"))
	}
}
