package ticker_test

import (
	"os"
	"path/filepath"
	"strings"
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

// A hot reload replaces the timers: once the new version ticks, the old
// one never does again, and the count goes on from luaws.shared.
func TestTickerReload(t *testing.T) {
	src, err := os.ReadFile("ticker.lua")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "ticker.lua")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exampletest.Serve(t, "--serializer", "json", script)
	c := srv.Dial(t, "/ws", nil)
	exampletest.WriteJSON(t, c, map[string]any{"type": "subscribe", "topic": "prices"})
	exampletest.ReadType(t, c, "subscribed")
	before := exampletest.ReadType(t, c, "tick")["n"].(float64)

	const mark = "      msg.topic = topic\n"
	if !strings.Contains(string(src), mark) {
		t.Fatalf("ticker.lua has no line %q; update this test", mark)
	}
	v2 := strings.Replace(string(src), mark, mark+"      msg.version = 2\n", 1)
	if err := os.WriteFile(script, []byte(v2), 0o644); err != nil {
		t.Fatal(err)
	}

	// Old ticks until the reload (40 ticks: 10 s), then new ones only.
	last, reloaded := before, false
	for i := 0; i < 40 && !reloaded; i++ {
		m := exampletest.ReadType(t, c, "tick")
		if n := m["n"].(float64); n <= last {
			t.Fatalf("tick n = %v after %v, want it to grow across the reload", n, last)
		} else {
			last = n
		}
		reloaded = m["version"] == 2.0
	}
	if !reloaded {
		t.Fatal("no tick from the new version within 40 ticks: the script was not reloaded")
	}
	for range 8 {
		m := exampletest.ReadType(t, c, "tick")
		if m["version"] != 2.0 {
			t.Fatalf("got %v after the new version ticked, want version 2 only", m)
		}
		if n := m["n"].(float64); n <= last {
			t.Fatalf("tick n = %v after %v, want it to grow", n, last)
		} else {
			last = n
		}
	}
}
