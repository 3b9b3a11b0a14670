// Command embed is a Go program with its own HTTP routes that serves a
// luaws script, hello.lua, at /ws on the same port, through
// luabind.NewHandler: the way to add Lua WebSocket endpoints to an
// existing Go web server. Run it from the repository root:
//
//	go run ./examples/embed
//
// Its routes: GET / (a line of text), GET /online (how many WebSocket
// clients are connected, read from the engine's registry), POST
// /announce (the body goes to every WebSocket client, from Go) and /ws
// (hello.lua).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/luabind"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	script := flag.String("script", "examples/embed/hello.lua", "the Lua script served at /ws")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	err := run(ctx, *listen, *script, log, func(addr net.Addr) {
		fmt.Printf("embed listening on http://%s/ (WebSocket at ws://%s/ws)\n", addr, addr)
	})
	if err != nil {
		log.Error("embed", "error", err)
		os.Exit(1)
	}
}

// maxAnnounce bounds the body of POST /announce.
const maxAnnounce = 4 << 10

// run serves the program's routes and the script on addr until ctx ends,
// calls ready with the listening address once it accepts, then shuts
// down: first the program's http.Server (no new requests), then the
// handler (WebSockets closed with 1001, close handlers run).
func run(ctx context.Context, addr, script string, log *slog.Logger, ready func(net.Addr)) error {
	ws, err := luabind.NewHandler(luabind.HandlerOptions{
		Options: luabind.Options{Script: script, Serializer: luabind.SerializerJSON},
		Mount:   engine.MountConfig{Path: "/ws"},
		Server:  engine.Config{Logger: log},
	})
	if err != nil {
		return err // names the script's file and line
	}
	mount := ws.Server().Mount("/ws")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "a Go program; its WebSocket endpoint at /ws is hello.lua\n")
	})
	mux.HandleFunc("GET /online", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int{"online": mount.Len()})
	})
	mux.HandleFunc("POST /announce", func(w http.ResponseWriter, r *http.Request) {
		text, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAnnounce))
		if err != nil {
			http.Error(w, fmt.Sprintf("announce: at most %d bytes", maxAnnounce), http.StatusRequestEntityTooLarge)
			return
		}
		msg, _ := json.Marshal(map[string]string{"announce": string(text)})
		n, err := mount.Broadcast(websocket.TextMessage, msg, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprintf(w, "sent to %d\n", n)
	})
	mux.Handle("/ws", ws)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = ws.Shutdown(context.Background())
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ready(ln.Addr())

	select {
	case <-ctx.Done():
	case err := <-served:
		_ = ws.Shutdown(context.Background())
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The http.Server does not track the WebSockets (they are hijacked):
	// its Shutdown stops new requests, the handler's closes the sockets.
	err = srv.Shutdown(sctx)
	if werr := ws.Shutdown(sctx); err == nil {
		err = werr
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
