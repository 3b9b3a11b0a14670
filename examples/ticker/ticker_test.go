package ticker_test

import (
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/examples/internal/exampletest"
)

// serveTicker serves ticker.lua the way its README does.
func serveTicker(t *testing.T) *exampletest.Server {
	t.Helper()
	return exampletest.Serve(t, "--serializer", "json", "ticker.lua")
}

func TestTicker(t *testing.T) {
	srv := serveTicker(t)
	ann := srv.Dial(t, "/ws", nil)
	bob := srv.Dial(t, "/ws", nil)

	exampletest.WriteJSON(t, ann, map[string]any{"type": "subscribe", "topic": "clock"})
	if m := exampletest.ReadJSON(t, ann); m["type"] != "subscribed" || m["topic"] != "clock" {
		t.Fatalf("got %v, want subscribed to clock", m)
	}
	exampletest.WriteJSON(t, bob, map[string]any{"type": "subscribe", "topic": "prices"})
	if m := exampletest.ReadJSON(t, bob); m["type"] != "subscribed" || m["topic"] != "prices" {
		t.Fatalf("got %v, want subscribed to prices", m)
	}

	// Ticks come by themselves, in order, each to its own subscribers.
	last := 0.0
	for range 2 {
		m := exampletest.ReadJSON(t, ann)
		if m["type"] != "tick" || m["topic"] != "clock" || m["time"] == nil {
			t.Fatalf("ann: got %v, want a clock tick", m)
		}
		n, _ := m["n"].(float64)
		if n <= last {
			t.Errorf("ann: tick n = %v after %v, want it to grow", n, last)
		}
		last = n
	}
	for range 3 {
		m := exampletest.ReadJSON(t, bob)
		if m["type"] != "tick" || m["topic"] != "prices" {
			t.Fatalf("bob: got %v, want a prices tick", m)
		}
		if p, _ := m["prices"].(map[string]any); p["LUA"] == nil {
			t.Errorf("bob: got %v, want a LUA price", m)
		}
	}

	// After unsubscribing from the clock and subscribing to prices, ann
	// gets prices only: eight of them span two clock periods.
	exampletest.WriteJSON(t, ann, map[string]any{"type": "unsubscribe", "topic": "clock"})
	exampletest.ReadType(t, ann, "unsubscribed")
	exampletest.WriteJSON(t, ann, map[string]any{"type": "subscribe", "topic": "prices"})
	exampletest.ReadType(t, ann, "subscribed")
	for range 8 {
		if m := exampletest.ReadJSON(t, ann); m["topic"] != "prices" {
			t.Fatalf("ann after unsubscribing: got %v, want prices only", m)
		}
	}
}

func TestTickerErrors(t *testing.T) {
	srv := serveTicker(t)
	c := srv.Dial(t, "/ws", nil)
	for _, send := range []string{`{"type":"subscribe","topic":"weather"}`, `{"type":"subscribe"}`, `{"type":"dance","topic":"clock"}`, `[]`} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(send)); err != nil {
			t.Fatal(err)
		}
		if m := exampletest.ReadJSON(t, c); m["type"] != "error" {
			t.Errorf("%s: got %v, want an error", send, m)
		}
	}
}
