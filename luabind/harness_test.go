package luabind_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/broker"
	"github.com/luaws/luaws/engine/enginetest"
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
	mount      engine.MountConfig // Path, limits; Handler is filled in
	lua        luabind.Options    // Watch, ...; Script, Serializer and Workers are filled in, Logger when nil
	log        io.Writer          // also gets the server's log lines (e.g. an *enginetest.Buffer), besides t.Output()
	config     engine.Config      // server limits; Logger and Mounts are filled in
	broker     broker.Broker      // nil: none
}

// newTestServer serves script (a path, or Lua source when it contains a
// newline) and stops it in t.Cleanup.
func newTestServer(t testing.TB, script string, o serverOpts) *testServer {
	t.Helper()
	if strings.Contains(script, "\n") {
		script = enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), script)
	}
	var also []io.Writer
	if o.log != nil {
		also = append(also, o.log)
	}
	log := enginetest.Logger(t, slog.LevelDebug, also...)
	lo := o.lua
	lo.Script, lo.Serializer, lo.Workers = script, o.serializer, o.workers
	if lo.Logger == nil {
		lo.Logger = log
	}
	lm, err := luabind.New(lo)
	if err != nil {
		t.Fatalf("load %s: %v", script, err)
	}
	t.Cleanup(lm.Stop) // after the server has shut down
	mc := o.mount
	mc.Handler = lm
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
	return &testServer{URL: enginetest.Serve(t, srv), Server: srv, Script: lm}
}

// dial connects a client; query is appended to the URL.
func (ts *testServer) dial(t testing.TB, query string) *websocket.Conn {
	t.Helper()
	u := ts.URL
	if query != "" {
		u += "?" + query
	}
	return enginetest.Dial(t, u)
}

// read returns the next message as a string, failing after
// enginetest.Timeout.
func read(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	_, data := enginetest.Read(t, c)
	return string(data)
}

// readFrame returns the next message's type and data, like read.
func readFrame(t testing.TB, c *websocket.Conn) (int, string) {
	t.Helper()
	typ, data := enginetest.Read(t, c)
	return typ, string(data)
}

// send writes a text message.
func send(t testing.TB, c *websocket.Conn, s string) {
	t.Helper()
	enginetest.WriteText(t, c, s)
}

// readClose reads until the close frame and returns its code and text.
func readClose(t testing.TB, c *websocket.Conn) (int, string) {
	t.Helper()
	ce, _ := enginetest.ReadClose(t, c)
	return ce.Code, ce.Text
}

// closeNormally sends a close frame with code and reason and waits for the
// server's answer.
func closeNormally(t testing.TB, c *websocket.Conn, code int, reason string) {
	t.Helper()
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second)); err != nil {
		t.Fatalf("write close: %v", err)
	}
	if got, _ := readClose(t, c); got != code {
		t.Fatalf("close echo: got %d, want %d", got, code)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
