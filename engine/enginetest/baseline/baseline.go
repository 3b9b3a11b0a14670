// Package baseline is the plain gorilla/websocket server that luaws is
// measured against: no luaws, no Lua, just what a Go programmer would write
// by hand from gorilla's own examples. Every benchmark with a baseline in
// the same run (engine, luabind, `luaws bench` through
// cmd/luaws/cli/loadgen/baseline) uses these handlers, so that each ratio
// has the same denominator.
//
// The handlers match these luaws servers:
//
//	Echo(nil)        luaws serve examples/echo/echo.lua
//	Echo(Reencode)   luaws serve --serializer json examples/echo/echo.lua
//	NewHub()         luaws serve --serializer json scripts/bench_broadcast.lua
package baseline

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// upgrader is gorilla's default: 4 KiB read and write buffers, reused from
// the HTTP server's; any origin.
var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// Echo is gorilla's echo example: one goroutine per connection reads a
// message and writes back reply(message), or the message itself when
// reply is nil.
func Echo(reply func([]byte) ([]byte, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if reply != nil && typ == websocket.TextMessage {
				if msg, err = reply(msg); err != nil {
					return
				}
			}
			if err := c.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	})
}

// Reencode decodes a JSON message with encoding/json into an interface{}
// and encodes it again: the JSON echo's reply.
func Reencode(msg []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(msg, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// Hub is gorilla's chat example with prepared messages, on the protocol
// of scripts/bench_broadcast.lua: a message {"broadcast": v} has v encoded
// once and queued to every other connection, each drained by its own
// writer goroutine; any other message is echoed as by Echo(Reencode). A
// connection whose queue of 1,024 is full is dropped, as the chat example
// does.
type Hub struct {
	mu      sync.Mutex
	clients map[*client]bool
}

type client struct {
	ws   *websocket.Conn
	send chan *websocket.PreparedMessage
}

// NewHub returns an empty Hub.
func NewHub() *Hub { return &Hub{clients: map[*client]bool{}} }

// ServeHTTP upgrades r and serves the connection until it ends.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{ws: ws, send: make(chan *websocket.PreparedMessage, 1024)}
	h.mu.Lock()
	h.clients[c] = true
	h.mu.Unlock()
	go c.writePump()
	defer func() {
		h.mu.Lock()
		if h.clients[c] {
			delete(h.clients, c)
			close(c.send)
		}
		h.mu.Unlock()
		ws.Close()
	}()
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var v map[string]any
		if err := json.Unmarshal(msg, &v); err != nil {
			return
		}
		inner, isBroadcast := v["broadcast"]
		var out any = v
		if isBroadcast {
			out = inner
		}
		data, err := json.Marshal(out)
		if err != nil {
			return
		}
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
		if err != nil {
			return
		}
		h.mu.Lock()
		for other := range h.clients {
			if isBroadcast && other != c || !isBroadcast && other == c {
				h.queueLocked(other, pm)
			}
		}
		h.mu.Unlock()
	}
}

// queueLocked queues pm for c, or drops c if its queue is full.
func (h *Hub) queueLocked(c *client, pm *websocket.PreparedMessage) {
	select {
	case c.send <- pm:
	default:
		delete(h.clients, c)
		close(c.send)
	}
}

func (c *client) writePump() {
	defer c.ws.Close()
	for pm := range c.send {
		_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := c.ws.WritePreparedMessage(pm); err != nil {
			return
		}
	}
}

// Holder keeps every connection it upgrades, reading each only to answer
// control frames, for a benchmark that writes to them itself (a naive
// broadcast loop calling WriteMessage on each).
type Holder struct {
	mu    sync.Mutex
	conns []*websocket.Conn
}

// ServeHTTP upgrades r and holds the connection until it ends.
func (h *Holder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	h.mu.Lock()
	h.conns = append(h.conns, ws)
	h.mu.Unlock()
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			return
		}
	}
}

// Conns returns the connections held so far.
func (h *Holder) Conns() []*websocket.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*websocket.Conn(nil), h.conns...)
}
