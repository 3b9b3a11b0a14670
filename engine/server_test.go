package engine_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// newTestServer starts a server for cfg on 127.0.0.1:0 and returns it with
// the ws:// URL of its first mount. It logs to the test (unless cfg.Logger
// is set) and shuts down in t.Cleanup, checking that Serve returned nil.
func newTestServer(t testing.TB, cfg engine.Config) (*engine.Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	srv, err := engine.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return srv, enginetest.Serve(t, srv)
}

// testLogger logs every level to t.Output().
func testLogger(t testing.TB) *slog.Logger { return testLoggerAt(t, slog.LevelDebug) }

// testLoggerAt logs level and above to t.Output().
func testLoggerAt(t testing.TB, level slog.Level) *slog.Logger { return enginetest.Logger(t, level) }

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  engine.Config
		want string
	}{
		{"no mounts", engine.Config{}, "no mounts"},
		{"no handler", engine.Config{Mounts: []engine.MountConfig{{Path: "/ws"}}}, "no handler"},
		{"relative path", mountOf(echoHandler{}, func(mc *engine.MountConfig) { mc.Path = "ws" }), "must start with /"},
		{"twice", engine.Config{Mounts: []engine.MountConfig{{Handler: echoHandler{}}, {Path: "/ws", Handler: echoHandler{}}}}, "mounted twice"},
		{"bad pattern", mountOf(echoHandler{}, func(mc *engine.MountConfig) { mc.Path = "/ws{" }), "bad path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := engine.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got (%v, %v), want an error containing %q", srv, err, tt.want)
			}
		})
	}
}

func TestShutdown(t *testing.T) { run(t, testShutdown) }

func testShutdown(t *testing.T, md mode) {
	rec := newRecorder()
	rec.onMessage = echo
	srv := md.serve(t, mountOf(rec))

	type result struct {
		ce  *websocket.CloseError
		err error
	}
	var ids []uint64
	var results []chan result
	for range 2 {
		ws := srv.dial(t)
		ids = append(ids, rec.waitOpen(t).ID())
		ch := make(chan result, 1)
		results = append(results, ch)
		go func() {
			// Read as a live client does, answering the server's close frame.
			_ = ws.SetReadDeadline(time.Now().Add(enginetest.Timeout))
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					errors.As(err, &ce)
					ch <- result{ce, err}
					return
				}
			}
		}()
	}

	ctx, cancel := context.WithTimeout(context.Background(), enginetest.Timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: got %v, want nil", err)
	}
	// Every Close handler has run by now: no waiting.
	for _, id := range ids {
		var closes []event
		for _, e := range rec.eventsOf(id) {
			if e.kind == "close" {
				closes = append(closes, e)
			}
		}
		if len(closes) != 1 || closes[0].code != websocket.CloseGoingAway {
			t.Errorf("conn %d: got Close calls %v when Shutdown returned, want one with 1001", id, closes)
		}
	}
	for i, ch := range results {
		select {
		case r := <-ch:
			if r.ce == nil || r.ce.Code != websocket.CloseGoingAway {
				t.Errorf("client %d: got %v, want close 1001", i, r.err)
			}
		case <-time.After(enginetest.Timeout):
			t.Fatalf("client %d: no close frame", i)
		}
	}
	if ws, _, err := srv.dialer(false).Dial(srv.url, nil); err == nil {
		ws.Close()
		t.Errorf("dial after Shutdown: got a connection, want an error")
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: got %v, want nil", err)
	}
	if n := srv.Mount("/ws").Len(); n != 0 {
		t.Errorf("Len after Shutdown: got %d, want 0", n)
	}
}

// TestShutdownCutsUnresponsive: a client that never answers our close frame
// is cut before the deadline, and its Close handler still runs.
func TestShutdownCutsUnresponsive(t *testing.T) {
	rec := newRecorder()
	cfg := mountOf(rec)
	srv, url := newTestServer(t, cfg)
	dial(t, url) // never reads
	id := rec.waitOpen(t).ID()

	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: got %v, want nil", err)
	}
	if got := rec.closeCount(id); got != 1 {
		t.Fatalf("Close calls when Shutdown returned: got %d, want 1", got)
	}
	if e := rec.waitClose(t, id); e.code != websocket.CloseGoingAway {
		t.Errorf("Close code: got %d, want 1001", e.code)
	}
}

// TestShutdownConcurrent: Shutdown called from several goroutines at once
// returns nil everywhere, after the close handlers.
func TestShutdownConcurrent(t *testing.T) {
	rec := newRecorder()
	srv, url := newTestServer(t, mountOf(rec))
	ws := dial(t, url)
	id := rec.waitOpen(t).ID()
	go func() { // a live client: read, so our close frame is answered
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown: got %v, want nil", err)
			}
			if got := rec.closeCount(id); got != 1 {
				t.Errorf("Close calls when Shutdown returned: got %d, want 1", got)
			}
		})
	}
	wg.Wait()
}

func TestAddr(t *testing.T) {
	srv, err := engine.New(mountOf(echoHandler{}))
	if err != nil {
		t.Fatal(err)
	}
	if a := srv.Addr(); a != nil {
		t.Errorf("Addr before Serve: got %v, want nil", a)
	}
	srv2, url := newTestServer(t, mountOf(echoHandler{}))
	waitFor(t, "Serve to start", func() bool { return srv2.Addr() != nil }) // Serve runs in a goroutine
	if a := srv2.Addr(); !strings.Contains(url, a.String()) {
		t.Errorf("Addr: got %v, want the address in %s", a, url)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of a server never served: got %v, want nil", err)
	}
}

// TestTLS: with Config.TLSConfig set, Serve speaks wss://.
func TestTLS(t *testing.T) {
	cert := enginetest.SelfSigned(t)
	rec := newRecorder()
	rec.onMessage = echo
	cfg := mountOf(rec)
	cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	_, url := newTestServer(t, cfg)
	url = "wss" + strings.TrimPrefix(url, "ws")

	if _, _, err := enginetest.DialWith(t, websocket.DefaultDialer, url, nil); err == nil {
		t.Fatalf("dial without trusting the certificate: got a connection, want an error")
	}
	d := *websocket.DefaultDialer
	d.TLSClientConfig = &tls.Config{RootCAs: cert.Pool}
	ws, _, err := enginetest.DialWith(t, &d, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	enginetest.Write(t, ws, websocket.TextMessage, []byte("over tls"))
	if got := enginetest.ReadText(t, ws); got != "over tls" {
		t.Errorf("echo: got %q, want %q", got, "over tls")
	}
}
