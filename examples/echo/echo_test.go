package echo_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/examples/internal/exampletest"
)

func TestEcho(t *testing.T) {
	srv := exampletest.Serve(t, "echo.lua")
	c := srv.Dial(t, "/ws", nil)
	for _, tc := range []struct {
		name string
		typ  int
		data []byte
	}{
		{"text", websocket.TextMessage, []byte("hello")},
		{"unicode", websocket.TextMessage, []byte("héllo, 世界 👋")},
		{"empty text", websocket.TextMessage, []byte{}},
		{"JSON is just text", websocket.TextMessage, []byte(`{"not":"decoded"}`)},
		{"binary", websocket.BinaryMessage, []byte{0, 1, 2, 0xff, 0xfe}},
		{"empty binary", websocket.BinaryMessage, []byte{}},
		{"64 KiB", websocket.BinaryMessage, bytes.Repeat([]byte{0xab}, 64<<10)},
		{"long text", websocket.TextMessage, []byte(strings.Repeat("luaws ", 10000))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.WriteMessage(tc.typ, tc.data); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(exampletest.ReadTimeout))
			typ, data, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if typ != tc.typ || !bytes.Equal(data, tc.data) {
				t.Errorf("got type %d, %d bytes %.40q; want type %d, %d bytes %.40q", typ, len(data), data, tc.typ, len(tc.data), tc.data)
			}
		})
	}
}

// Each client gets its own messages back, in order, and only those.
func TestEchoManyClients(t *testing.T) {
	srv := exampletest.Serve(t, "echo.lua")
	const clients, messages = 10, 50
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = srv.Dial(t, "/ws", nil)
	}
	for n := range messages {
		for i, c := range conns {
			if err := c.WriteMessage(websocket.TextMessage, []byte(key(i, n))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(exampletest.ReadTimeout))
		for n := range messages {
			_, data, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("client %d, message %d: %v", i, n, err)
			}
			if string(data) != key(i, n) {
				t.Fatalf("client %d: got %q, want %q", i, data, key(i, n))
			}
		}
	}
}

func key(client, n int) string { return fmt.Sprintf("client %d message %d", client, n) }
