// Command baseline is a plain gorilla/websocket server, the yardstick that
// `luaws bench` figures are compared with: no luaws, no Lua, just what a Go
// programmer would write by hand.
//
// Usage:
//
//	go build -o /tmp/baseline ./cmd/luaws/cli/loadgen/baseline
//	/tmp/baseline --mode echo|json-echo|broadcast [--listen 127.0.0.1:0] [--cpu-profile FILE]
//
// It prints "baseline listening on ws://ADDR/ws (pid N)" and serves every
// path until SIGINT or SIGTERM. The modes match these luaws servers:
//
//	echo       luaws serve scripts/echo.lua
//	json-echo  luaws serve --serializer json scripts/echo.lua
//	broadcast  luaws serve --serializer json scripts/bench_broadcast.lua
//
// echo is gorilla's echo example: one goroutine per connection reads a
// message and writes it back. json-echo also decodes each message with
// encoding/json into an interface{} and encodes it back. broadcast is
// gorilla's chat example with prepared messages: a message
// {"broadcast": v} has v encoded once and queued to every other
// connection, each drained by its own writer goroutine; any other message
// is echoed as in json-echo.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	mode := flag.String("mode", "echo", "echo, json-echo or broadcast")
	cpuProfile := flag.String("cpu-profile", "", "write a CPU profile (for go tool pprof) to this file, from start to exit")
	flag.Parse()
	var h http.Handler
	switch *mode {
	case "echo":
		h = echoHandler{}
	case "json-echo":
		h = echoHandler{json: true}
	case "broadcast":
		h = newHub()
	default:
		fmt.Fprintf(os.Stderr, "baseline: --mode %q: want echo, json-echo or broadcast\n", *mode)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "baseline: %v\n", err)
		os.Exit(2)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "baseline: --cpu-profile: %v\n", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("baseline listening on ws://%s/ws (pid %d)\n", ln.Addr(), os.Getpid())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintf(os.Stderr, "baseline: %v\n", err)
		os.Exit(1)
	}
}

// upgrader is gorilla's default: 4 KiB read and write buffers, reused
// from the HTTP server's.
var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// echoHandler sends every message back, decoded and encoded again with
// encoding/json when json is set.
type echoHandler struct{ json bool }

func (e echoHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		if e.json && typ == websocket.TextMessage {
			if msg, err = reencode(msg); err != nil {
				return
			}
		}
		if err := c.WriteMessage(typ, msg); err != nil {
			return
		}
	}
}

func reencode(msg []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(msg, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// hub is gorilla's chat example with prepared messages.
type hub struct {
	mu      sync.Mutex
	clients map[*client]bool
}

type client struct {
	ws   *websocket.Conn
	send chan *websocket.PreparedMessage
}

func newHub() *hub { return &hub{clients: map[*client]bool{}} }

func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		b, ok := v["broadcast"]
		var out any = v
		if ok {
			out = b
		}
		data, err := json.Marshal(out)
		if err != nil {
			return
		}
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
		if err != nil {
			return
		}
		if !ok {
			h.queue(c, pm)
			continue
		}
		h.mu.Lock()
		for other := range h.clients {
			if other != c {
				h.queueLocked(other, pm)
			}
		}
		h.mu.Unlock()
	}
}

func (h *hub) queue(c *client, pm *websocket.PreparedMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.clients[c] {
		h.queueLocked(c, pm)
	}
}

// queueLocked queues pm for c, or drops c if its queue is full, as the
// chat example does.
func (h *hub) queueLocked(c *client, pm *websocket.PreparedMessage) {
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
	// The hub closed the queue: the client left, or was too slow.
	_ = c.ws.WriteMessage(websocket.CloseMessage, []byte{})
}
