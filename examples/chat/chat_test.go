package chat_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/examples/internal/exampletest"
)

// serveChat runs `luaws serve --serializer json chat.lua` through cli.Main
// on a free port, logging into the test, and returns the socket's URL and
// the server, which stops (as SIGINT does) in t.Cleanup or on srv.Stop.
func serveChat(t *testing.T) (url string, srv *exampletest.Server) {
	t.Helper()
	srv = exampletest.Serve(t, "--serializer", "json", "chat.lua")
	return srv.WS("/ws"), srv
}

// client is one chat user.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func join(t *testing.T, url, query string) *client {
	t.Helper()
	if query != "" {
		url += "?" + query
	}
	return &client{t: t, ws: enginetest.Dial(t, url)}
}

func (c *client) send(v string) {
	c.t.Helper()
	enginetest.WriteText(c.t, c.ws, v)
}

// expect reads the next message and compares it, as JSON, with want.
func (c *client) expect(want string) {
	c.t.Helper()
	_, data := enginetest.Read(c.t, c.ws)
	var got, w any
	if err := json.Unmarshal(data, &got); err != nil {
		c.t.Fatalf("got %s: %v", data, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		c.t.Fatalf("want %s: %v", want, err)
	}
	if !reflect.DeepEqual(got, w) {
		c.t.Fatalf("got %s, want %s", data, want)
	}
}

// expectError reads the next message and checks it is an error reply
// whose text starts with prefix.
func (c *client) expectError(prefix string) {
	c.t.Helper()
	_, data := enginetest.Read(c.t, c.ws)
	var got struct{ Type, Error string }
	if err := json.Unmarshal(data, &got); err != nil || got.Type != "error" || len(got.Error) < len(prefix) || got.Error[:len(prefix)] != prefix {
		c.t.Fatalf("got %s, want an error starting with %q", data, prefix)
	}
}

func TestChat(t *testing.T) {
	url, srv := serveChat(t)

	ann := join(t, url, "name=ann")
	ann.expect(`{"type":"welcome","id":1,"name":"ann","people":[{"id":1,"name":"ann"}],"room":"lobby"}`)

	bob := join(t, url, "name=bob")
	bob.expect(`{"type":"welcome","id":2,"name":"bob","people":[{"id":1,"name":"ann"},{"id":2,"name":"bob"}],"room":"lobby"}`)
	ann.expect(`{"type":"joined","id":2,"name":"bob","room":"lobby"}`)

	ann.send(`{"type":"say","text":"hello ✓"}`)
	for _, c := range []*client{ann, bob} {
		c.expect(`{"type":"said","id":1,"from":"ann","text":"hello ✓","room":"lobby"}`)
	}

	bob.send(`{"type":"name","name":"robert"}`)
	for _, c := range []*client{ann, bob} {
		c.expect(`{"type":"renamed","id":2,"from":"bob","name":"robert","room":"lobby"}`)
	}
	bob.send(`{"type":"say","text":"call me robert"}`)
	for _, c := range []*client{ann, bob} {
		c.expect(`{"type":"said","id":2,"from":"robert","text":"call me robert","room":"lobby"}`)
	}

	// Mistakes get an error reply, to the sender only.
	bob.send(`{"type":"say"`)
	bob.expectError("bad JSON: ")
	bob.send(`"just a string"`)
	bob.expectError("send a JSON object")
	bob.send(`{"type":"dance"}`)
	bob.expectError("unknown message type")

	// A guest without a name.
	guest := join(t, url, "")
	guest.expect(`{"type":"welcome","id":3,"name":"guest3","people":[{"id":1,"name":"ann"},{"id":2,"name":"robert"},{"id":3,"name":"guest3"}],"room":"lobby"}`)
	ann.expect(`{"type":"joined","id":3,"name":"guest3","room":"lobby"}`)
	bob.expect(`{"type":"joined","id":3,"name":"guest3","room":"lobby"}`)

	// Leaving: the others are told, with the name kept in conn.data.
	if err := bob.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	ann.expect(`{"type":"left","id":2,"name":"robert","room":"lobby"}`)
	guest.expect(`{"type":"left","id":2,"name":"robert","room":"lobby"}`)

	// Shutdown: the rest get 1001; luaws exits 0.
	codes := make(chan int, 2)
	for _, c := range []*client{ann, guest} {
		go func() {
			for {
				c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, _, err := c.ws.ReadMessage()
				if err == nil {
					continue // the other's "left"
				}
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					codes <- ce.Code
				} else {
					codes <- -1
				}
				return
			}
		}()
	}
	srv.Stop() // fails the test unless luaws exits 0
	for range 2 {
		if code := <-codes; code != websocket.CloseGoingAway {
			t.Errorf("client: got close %d, want 1001", code)
		}
	}
}

// TestChatManyClients has 20 clients say one thing each: every client
// hears all 20, each exactly once.
func TestChatManyClients(t *testing.T) {
	url, _ := serveChat(t)
	const n = 20
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = join(t, url, "")
	}
	heard := make(chan map[string]int, n)
	for _, c := range clients {
		go func() {
			seen := map[string]int{}
			defer func() { heard <- seen }()
			for said := 0; said < n; {
				c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, data, err := c.ws.ReadMessage()
				if err != nil {
					return
				}
				var m struct{ Type, Text string }
				if json.Unmarshal(data, &m) == nil && m.Type == "said" {
					seen[m.Text]++
					said++
				}
			}
		}()
	}
	for i, c := range clients {
		c.send(`{"type":"say","text":"from ` + string(rune('a'+i)) + `"}`)
	}
	for range n {
		seen := <-heard
		if len(seen) != n {
			t.Errorf("a client heard %d distinct messages, want %d: %v", len(seen), n, seen)
		}
		for text, k := range seen {
			if k != 1 {
				t.Errorf("a client heard %q %d times, want once", text, k)
			}
		}
	}
}
