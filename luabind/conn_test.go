package luabind_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// TestConnMembers reads every data member of the conn object in open.
func TestConnMembers(t *testing.T) {
	ts := newTestServer(t, `
local M = {}
function M.open(conn, req)
  conn:send({
    id = conn.id, path = conn.path, query = conn.query,
    agent = conn.headers["X-Test"], remote_addr = conn.remote_addr,
    subprotocol = conn.subprotocol, data_type = type(conn.data),
    tostring = tostring(conn),
    req_path = req.path, req_query = req.query, req_subprotocols = req.subprotocols,
    req_agent = req.headers["X-Test"], req_remote_addr = req.remote_addr,
    tls = tostring(conn.tls), req_tls = tostring(req.tls),
  })
end
return M
`, serverOpts{serializer: "json", mount: engine.MountConfig{Subprotocols: []string{"chat"}}})
	c, _, err := enginetest.DialWith(t, nil, ts.URL+"?a=1&a=2&b=x%20y", http.Header{
		"X-Test":                 {"hello"},
		"Sec-Websocket-Protocol": {"other, chat"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(read(t, c)), &got); err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	want := map[string]any{
		"id": 1.0, "path": "/ws", "query": map[string]any{"a": "1, 2", "b": "x y"},
		"agent": "hello", "remote_addr": addr, "subprotocol": "chat", "data_type": "userdata",
		"tostring": "conn 1",
		"req_path": "/ws", "req_query": map[string]any{"a": "1, 2", "b": "x y"},
		"req_subprotocols": []any{"other", "chat"}, "req_agent": "hello", "req_remote_addr": addr,
		"tls": "nil", "req_tls": "nil", // without TLS; with it: cli's TestClientCertificates
	}
	for k, w := range want {
		if g, _ := json.Marshal(got[k]); string(g) != mustJSON(t, w) {
			t.Errorf("%s: got %s, want %s", k, g, mustJSON(t, w))
		}
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// connMethods answers messages by calling the conn method they name.
const connMethods = `
local M = {}
function M.message(conn, msg, kind)
  if msg == "binary" then
    assert(conn:send_binary("\0\1\255") == true)
  elseif msg == "ping" then
    conn:ping("are you there")
  elseif msg == "long ping" then
    conn:ping(string.rep("p", 300))
  elseif msg == "close" then
    conn:close(4321, "done here")
    local ok, err = conn:send("after close")
    conn.data.after = tostring(ok) .. " " .. tostring(err)
  elseif msg == "close default" then
    conn:close()
  elseif msg == "close bad code" then
    conn:close(1005)
  elseif msg == "set id" then
    conn.id = 3
  elseif msg == "number" then
    conn:send(42)
  elseif msg == "table" then
    conn:send({ 1, 2 })
  elseif msg == "bytes" then
    conn:send("\255\254")
  else
    conn:send(kind .. ":" .. msg)
  end
end
function M.close(conn, code, reason)
  luaws.log.info("close handler", "code", code, "reason", reason, "after", conn.data.after)
end
return M
`

func TestConnSendBinary(t *testing.T) {
	ts := newTestServer(t, connMethods, serverOpts{})
	c := ts.dial(t, "")
	send(t, c, "binary")
	typ, got := readFrame(t, c)
	if typ != websocket.BinaryMessage || got != "\x00\x01\xff" {
		t.Fatalf("got type %d %q, want binary \"\\x00\\x01\\xff\"", typ, got)
	}
	// A binary message arrives as kind "binary".
	if err := c.WriteMessage(websocket.BinaryMessage, []byte("raw")); err != nil {
		t.Fatal(err)
	}
	if _, got := readFrame(t, c); got != "binary:raw" {
		t.Fatalf("got %q, want binary:raw", got)
	}
}

func TestConnPing(t *testing.T) {
	ts := newTestServer(t, connMethods, serverOpts{})
	c := ts.dial(t, "")
	pings := make(chan string, 2)
	c.SetPingHandler(func(p string) error { pings <- p; return nil })
	for _, tt := range []struct{ msg, want string }{
		{"ping", "are you there"},
		{"long ping", strings.Repeat("p", 125)},
	} {
		send(t, c, tt.msg)
		send(t, c, "sync")
		if _, got := readFrame(t, c); got != "text:sync" { // the ping came first
			t.Fatalf("got %q, want text:sync", got)
		}
		select {
		case got := <-pings:
			if got != tt.want {
				t.Errorf("%s: got ping %q, want %q", tt.msg, got, tt.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no ping", tt.msg)
		}
	}
}

func TestConnClose(t *testing.T) {
	tests := []struct {
		msg        string
		wantCode   int
		wantReason string
		wantLog    string
	}{
		{"close", 4321, "done here", `after="nil closed"`},
		{"close default", websocket.CloseNormalClosure, "", `code=1000`},
		{"close bad code", websocket.CloseInternalServerErr, "internal error", "close code must be"},
		{"set id", websocket.CloseInternalServerErr, "internal error", "conn.id is read-only"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.msg, " ", "_"), func(t *testing.T) {
			var log enginetest.Buffer
			ts := newTestServer(t, connMethods, serverOpts{log: &log})
			c := ts.dial(t, "")
			send(t, c, tt.msg)
			code, reason := readClose(t, c)
			if code != tt.wantCode || reason != tt.wantReason {
				t.Fatalf("got close %d %q, want %d %q", code, reason, tt.wantCode, tt.wantReason)
			}
			log.WaitFor(t, `msg="close handler"`, tt.wantLog)
		})
	}
}

// TestSerializerNone: strings and numbers go as text; anything else, and
// text that is not UTF-8, raises an error that says what to do.
func TestSerializerNone(t *testing.T) {
	tests := []struct {
		msg     string
		want    string // the reply, or "" for a 1011 close
		wantLog string
	}{
		{"hello ✓", "text:hello ✓", ""},
		{"number", "42", ""},
		{"table", "", "string expected, got table"},
		{"bytes", "", "use send_binary"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			var log enginetest.Buffer
			ts := newTestServer(t, connMethods, serverOpts{log: &log})
			c := ts.dial(t, "")
			send(t, c, tt.msg)
			if tt.want != "" {
				if typ, got := readFrame(t, c); typ != websocket.TextMessage || got != tt.want {
					t.Fatalf("got type %d %q, want text %q", typ, got, tt.want)
				}
				return
			}
			if code, _ := readClose(t, c); code != websocket.CloseInternalServerErr {
				t.Fatalf("got close %d, want 1011", code)
			}
			line := log.WaitFor(t, "handler failed")
			if !strings.Contains(line, "script.lua:") || !strings.Contains(line, tt.wantLog) {
				t.Fatalf("log: got\n%s\nwant script.lua:LINE and %q", line, tt.wantLog)
			}
		})
	}
}

// TestConnObjectsAcrossWorkers has clients on two workers list each other
// through luaws.connections and luaws.get, concurrently, under -race.
func TestConnObjectsAcrossWorkers(t *testing.T) {
	ts := newTestServer(t, `
local M = {}
function M.open(conn) conn.data.name = "user" .. conn.id; conn:send("hi") end
function M.message(conn, msg)
  local names = {}
  for id, c in pairs(luaws.connections()) do
    names[#names + 1] = c.data.name
    assert(luaws.get(id).id == id)
  end
  conn:send(tostring(#names))
end
return M
`, serverOpts{workers: 2})
	const clients, rounds = 4, 50
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = ts.dial(t, "")
		if got := read(t, conns[i]); got != "hi" { // its open handler has run
			t.Fatalf("got %q, want hi", got)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for _, c := range conns {
		wg.Go(func() {
			for range rounds {
				if err := c.WriteMessage(websocket.TextMessage, []byte("list")); err != nil {
					errs <- err.Error()
					return
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, data, err := c.ReadMessage()
				if err != nil {
					errs <- err.Error()
					return
				}
				if string(data) != "4" {
					errs <- "got " + string(data) + " connections, want 4"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
