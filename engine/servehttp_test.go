package engine_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// A Go program's own http.Server serves its routes and hands /ws to the
// engine through Server.ServeHTTP: WebSockets work beside the program's
// handler, Shutdown closes them with 1001 and then every request the
// engine is given gets 503.
func TestServeHTTPInAnotherServer(t *testing.T) {
	rec := newRecorder()
	rec.onMessage = echo
	srv, err := engine.New(mountOf(rec))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello\n")) })
	mux.Handle("/ws", srv)
	mux.Handle("/chat/", http.StripPrefix("/chat", srv))
	host := httptest.NewServer(mux)
	defer host.Close()
	wsURL := "ws" + strings.TrimPrefix(host.URL, "http")

	if resp, body := enginetest.Get(t, host.URL+"/hello", nil); resp.StatusCode != http.StatusOK || body != "hello\n" {
		t.Errorf("GET /hello: got %d %q, want 200 %q", resp.StatusCode, body, "hello\n")
	}
	c := enginetest.Dial(t, wsURL+"/ws")
	enginetest.Echo(t, c, "one")
	under := enginetest.Dial(t, wsURL+"/chat/ws")
	enginetest.Echo(t, under, "under a prefix")
	if n := srv.Mounts()[0].Len(); n != 2 {
		t.Errorf("mount has %d connections, want 2", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), enginetest.Timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range []*websocket.Conn{c, under} {
		if ce, _ := enginetest.ReadClose(t, c); ce.Code != websocket.CloseGoingAway {
			t.Errorf("close: got %d, want %d", ce.Code, websocket.CloseGoingAway)
		}
	}
	for _, path := range []string{"/ws", "/chat/ws"} {
		_, resp, err := enginetest.DialWith(t, nil, wsURL+path, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("dial %s after Shutdown: got %v, %v; want 503", path, resp, err)
		}
		if body := enginetest.Body(t, resp); body != engine.ReasonShuttingDown+"\n" {
			t.Errorf("body: got %q, want %q", body, engine.ReasonShuttingDown+"\n")
		}
	}
	if resp, _ := enginetest.Get(t, host.URL+"/hello", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /hello after the engine's Shutdown: got %d, want 200 (the program's own route)", resp.StatusCode)
	}
}
