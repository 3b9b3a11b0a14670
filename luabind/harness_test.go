package luabind_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/broker"
	"github.com/luaws/luaws/luabind"
)

// testServer is a real engine server running a real script on 127.0.0.1:0.
type testServer struct {
	URL    string
	Server *engine.Server
	Script *luabind.Mount
}

// serverOpts tune newTestServer.
type serverOpts struct {
	serializer string
	workers    int
	mount      engine.MountConfig // Path, limits; Handler and Serializer are filled in
	lua        luabind.Options    // Watch, ...; Script and Workers are filled in, Logger when nil
	log        io.Writer          // also gets the server's log lines (e.g. a *logBuffer), besides t.Output()
	config     engine.Config      // server limits; Logger and Mounts are filled in
	broker     broker.Broker      // nil: none
}

// newTestServer serves script (a path, or Lua source when it contains a
// newline) and stops it in t.Cleanup.
func newTestServer(t testing.TB, script string, o serverOpts) *testServer {
	t.Helper()
	if strings.Contains(script, "\n") {
		path := filepath.Join(t.TempDir(), "script.lua")
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		script = path
	}
	var out io.Writer = t.Output()
	if o.log != nil {
		out = io.MultiWriter(out, o.log)
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lo := o.lua
	lo.Script, lo.Workers = script, o.workers
	if lo.Logger == nil {
		lo.Logger = log
	}
	lm, err := luabind.New(lo)
	if err != nil {
		t.Fatalf("load %s: %v", script, err)
	}
	mc := o.mount
	mc.Handler = lm
	mc.Serializer = o.serializer
	ec := o.config
	ec.Logger, ec.Mounts = log, []engine.MountConfig{mc}
	if o.broker != nil {
		ec.Broker = o.broker
	}
	srv, err := engine.New(ec)
	if err != nil {
		t.Fatal(err)
	}
	lm.Bind(srv.Mounts()[0])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		lm.Stop()
	})
	return &testServer{URL: "ws://" + ln.Addr().String() + srv.Mounts()[0].Path(), Server: srv, Script: lm}
}

// dial connects a client; query is appended to the URL.
func (ts *testServer) dial(t testing.TB, query string) *websocket.Conn {
	t.Helper()
	u := ts.URL
	if query != "" {
		u += "?" + query
	}
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// read returns the next text message, failing after 5 s.
func read(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(data)
}

// send writes a text message.
func send(t testing.TB, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readClose reads until the close frame and returns its code and text.
func readClose(t testing.TB, c *websocket.Conn) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code, ce.Text
		}
		t.Fatalf("read: got %v, want a close frame", err)
	}
}
