package luabind_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// baseURL is the server's ws:// URL without the mount path.
func (ts *testServer) baseURL() string {
	u, err := url.Parse(ts.URL)
	if err != nil {
		panic(err)
	}
	return "ws://" + u.Host
}

// dialResp dials url offering subprotocols, like enginetest.Handshake:
// the connection, or nil with the refusing response and its body.
func dialResp(t *testing.T, url string, header http.Header, subprotocols ...string) (*websocket.Conn, *http.Response, string) {
	t.Helper()
	d := &websocket.Dialer{HandshakeTimeout: enginetest.Timeout, Subprotocols: subprotocols}
	return enginetest.Handshake(t, d, url, header)
}

func TestHandshakeRoutes(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			logs := &enginetest.Buffer{}
			ts := newTestServer(t, "testdata/handshake.lua", serverOpts{
				workers: workers, log: logs, mount: engine.MountConfig{Path: "/rooms/"},
			})
			base := ts.baseURL()

			t.Run("accept", func(t *testing.T) {
				for i := range 8 {
					c, resp, body := dialResp(t, fmt.Sprintf("%s/rooms/lobby?user=ann&token=t%d", base, i), nil, "v1", "chat")
					if c == nil {
						t.Fatalf("dial: got %d %q, want 101", resp.StatusCode, body)
					}
					if got := resp.Header.Get("X-Room"); got != "lobby" {
						t.Errorf("X-Room: got %q, want lobby", got)
					}
					if got := resp.Header.Values("X-Multi"); strings.Join(got, ",") != "a,b" {
						t.Errorf("X-Multi: got %q, want [a b]", got)
					}
					if got := c.Subprotocol(); got != "chat" {
						t.Errorf("subprotocol: got %q, want chat", got)
					}
					if got, want := read(t, c), "lobby ann x,y chat same"; got != want {
						t.Errorf("open sent %q, want %q", got, want)
					}
				}
			})
			t.Run("subprotocol not offered", func(t *testing.T) {
				c, resp, body := dialResp(t, base+"/rooms/lobby?user=bo&pick=v2", nil, "v1", "chat")
				if c == nil {
					t.Fatalf("dial: got %d %q, want 101", resp.StatusCode, body)
				}
				if got := c.Subprotocol(); got != "" {
					t.Errorf("subprotocol: got %q, want none (the client did not offer v2)", got)
				}
			})
			rejects := []struct {
				path   string
				status int
				body   string
				log    string
			}{
				{"/rooms/a/b", 404, "no such room", ""},
				{"/rooms/", 404, "no such room", ""},
				{"/rooms/secret", 403, "rejected\n", ""},
				{"/rooms/teapot", 418, "rejected\n", ""},
				{"/rooms/boom", 403, "rejected\n", "handshake.lua:14: handshake exploded"},
				{"/rooms/bad", 403, "rejected\n", `handshake: returned a string; want nothing, true, false[, status[, body]] or a table`},
				{"/rooms/badstatus", 403, "rejected\n", `the status after false must be a number from 400 to 599, got 200`},
				{"/rooms/typo", 403, "rejected\n", `unknown key \"subprotocols\"`},
			}
			for _, tc := range rejects {
				t.Run("reject "+tc.path, func(t *testing.T) {
					c, resp, body := dialResp(t, base+tc.path, nil)
					if c != nil {
						t.Fatalf("dial %s: got 101, want %d", tc.path, tc.status)
					}
					if resp.StatusCode != tc.status || body != tc.body {
						t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
					}
					if tc.log != "" && !strings.Contains(logs.String(), tc.log) {
						t.Errorf("log lacks %q:\n%s", tc.log, logs.String())
					}
				})
			}
			t.Run("accept without a table", func(t *testing.T) {
				for _, room := range []string{"plain", "yes"} {
					c, resp, body := dialResp(t, base+"/rooms/"+room, nil)
					if c == nil {
						t.Fatalf("dial %s: got %d %q, want 101", room, resp.StatusCode, body)
					}
					if got := read(t, c); got != "no data" {
						t.Errorf("open sent %q, want \"no data\"", got)
					}
				}
			})
			if got := ts.Script.ScriptStats().LuaErrors; got != 4 {
				t.Errorf("lua errors: got %d, want 4 (boom, bad, badstatus, typo)", got)
			}
		})
	}
}

func TestHandshakeSubprotocolFromMount(t *testing.T) {
	ts := newTestServer(t, "../examples/echo/echo.lua", serverOpts{
		mount: engine.MountConfig{Subprotocols: []string{"v2", "v1"}},
	})
	for _, tc := range []struct {
		offered []string
		want    string
	}{
		{[]string{"v1", "v2"}, "v2"},
		{[]string{"v1"}, "v1"},
		{[]string{"v3"}, ""},
		{nil, ""},
	} {
		c, resp, body := dialResp(t, ts.URL, nil, tc.offered...)
		if c == nil {
			t.Fatalf("dial: got %d %q, want 101", resp.StatusCode, body)
		}
		if got := c.Subprotocol(); got != tc.want {
			t.Errorf("offered %v: got %q, want %q", tc.offered, got, tc.want)
		}
	}
}

func TestErrorHandler(t *testing.T) {
	logs := &enginetest.Buffer{}
	ts := newTestServer(t, "testdata/error_handler.lua", serverOpts{
		log:    logs,
		config: engine.Config{MaxConnections: 1},
		mount:  engine.MountConfig{AllowedOrigins: []string{"https://app.example"}},
	})
	upgrade := http.Header{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Version": {"13"},
	}
	with := func(k, v string) http.Header {
		h := upgrade.Clone()
		h.Set(k, v)
		return h
	}
	type reply struct {
		Err, Detail, Path string
		Status            int
	}
	for _, tc := range []struct {
		name   string
		query  string
		header http.Header
		status int
		err    string
		detail string
		extra  [2]string // a header the reply must keep
	}{
		{name: "not an upgrade", status: 400, err: "invalid request",
			detail: "not a WebSocket upgrade: Connection header lacks 'upgrade'"},
		{name: "wrong version", header: with("Sec-Websocket-Version", "8"), status: 426, err: "invalid request",
			detail: "unsupported WebSocket version: only 13 is spoken", extra: [2]string{"Sec-Websocket-Version", "13"}},
		{name: "origin", header: with("Origin", "https://evil.example"), status: 403, err: "origin not allowed",
			detail: "origin https://evil.example is not in allowed_origins"},
		{name: "rejected", query: "deny=1", header: upgrade, status: 451, err: "rejected",
			detail: "unavailable for legal reasons"},
		{name: "handshake raised", query: "boom=1", header: upgrade, status: 403, err: "rejected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := enginetest.Get(t, enginetest.HTTPURL(ts.URL)+"?"+tc.query, tc.header)
			if resp.StatusCode != tc.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("X-Err"); got != tc.err {
				t.Errorf("X-Err: got %q, want %q", got, tc.err)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", got)
			}
			if tc.extra[0] != "" && resp.Header.Get(tc.extra[0]) != tc.extra[1] {
				t.Errorf("%s: got %q, want %q", tc.extra[0], resp.Header.Get(tc.extra[0]), tc.extra[1])
			}
			var r reply
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if r.Err != tc.err || r.Status != tc.status || r.Path != "/ws" || (tc.detail != "" && r.Detail != tc.detail) {
				t.Errorf("error handler saw %+v, want err %q status %d detail %q path /ws", r, tc.err, tc.status, tc.detail)
			}
		})
	}
	t.Run("returns nothing", func(t *testing.T) {
		_, resp, body := dialResp(t, ts.URL+"?deny=1&default=1", nil)
		if resp.StatusCode != 451 || body != "unavailable for legal reasons" || resp.Header.Get("X-Err") != "" {
			t.Errorf("got %d %q, want the default reply 451 %q", resp.StatusCode, body, "unavailable for legal reasons")
		}
	})
	t.Run("raises", func(t *testing.T) {
		_, resp, body := dialResp(t, ts.URL+"?deny=1&raise=1", nil)
		if resp.StatusCode != 451 || body != "unavailable for legal reasons" {
			t.Errorf("got %d %q, want the default reply", resp.StatusCode, body)
		}
		if want := "error_handler.lua:11: error handler exploded"; !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	})
	t.Run("origin allowed", func(t *testing.T) {
		c, resp, body := dialResp(t, ts.URL, http.Header{"Origin": {"https://app.example"}})
		if c == nil {
			t.Fatalf("got %d %q, want 101", resp.StatusCode, body)
		}
	})
	t.Run("too many connections", func(t *testing.T) {
		// The earlier subtests' connections free their slot once their
		// close handler has run: retry until the first one gets in.
		deadline := time.Now().Add(5 * time.Second)
		var first *websocket.Conn
		for first == nil {
			if first, _, _ = dialResp(t, ts.URL, nil); first == nil {
				if time.Now().After(deadline) {
					t.Fatal("the server stays full")
				}
				time.Sleep(2 * time.Millisecond) // polling with a deadline
			}
		}
		defer first.Close()
		_, resp, body := dialResp(t, ts.URL, nil)
		if resp.StatusCode != 503 || resp.Header.Get("X-Err") != "too many connections" {
			t.Errorf("got %d %q X-Err %q, want 503 too many connections", resp.StatusCode, body, resp.Header.Get("X-Err"))
		}
	})
}

func TestOriginSameHostByDefault(t *testing.T) {
	ts := newTestServer(t, "../examples/echo/echo.lua", serverOpts{})
	host := strings.TrimPrefix(ts.baseURL(), "ws://")
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + host, true},
		{"https://" + host, true},
		{"http://evil.example", false},
		{"http://" + host + ".evil.example", false},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		c, resp, body := dialResp(t, ts.URL, h)
		if got := c != nil; got != tc.ok {
			t.Errorf("origin %q: accepted %v (%d %q), want %v", tc.origin, got, resp.StatusCode, body, tc.ok)
		}
		if !tc.ok && (resp.StatusCode != 403 || body != "origin not allowed: origin "+tc.origin+" is not in allowed_origins\n") {
			t.Errorf("origin %q: got %d %q, want 403 origin not allowed", tc.origin, resp.StatusCode, body)
		}
	}
}

// TestHandshakeAfterReload: a reload that adds or removes the handshake
// and error handlers takes effect on the next handshake.
func TestHandshakeAfterReload(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/app.lua"
	write := func(src string) {
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("return {}\n")
	ts := newTestServer(t, path, serverOpts{workers: 2})
	ts.dial(t, "")

	write(`return {
  handshake = function(req) return false, 418, "teapot" end,
  error = function(req, err, status, detail) return status, nil, "v2 " .. detail end,
}
`)
	if err := ts.Script.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if c, resp, body := dialResp(t, ts.URL, nil); c != nil || resp.StatusCode != 418 || body != "v2 teapot" {
		t.Fatalf("after adding handshake: got %v %q, want 418 \"v2 teapot\"", resp.Status, body)
	}
	write("return {}\n")
	if err := ts.Script.Reload("test"); err != nil {
		t.Fatal(err)
	}
	ts.dial(t, "")
}
