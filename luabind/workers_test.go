package luabind_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/luabind"
)

// mode is one way of running a mount where behaviour can differ.
type mode struct {
	workers    int
	serializer string
}

func (m mode) String() string {
	return fmt.Sprintf("workers=%d/serializer=%s", m.workers, m.serializer)
}

// forModes runs f as a subtest for workers 1 and 4, serializer none and json.
func forModes(t *testing.T, f func(t *testing.T, m mode)) {
	for _, w := range []int{1, 4} {
		for _, s := range []string{"none", "json"} {
			m := mode{workers: w, serializer: s}
			t.Run(m.String(), func(t *testing.T) { f(t, m) })
		}
	}
}

// TestOrderPerConnection: many clients send 1..n at once without waiting;
// each sees its own numbers echoed in order, whatever the worker count.
func TestOrderPerConnection(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		ts := newTestServer(t, `
local M = {}
function M.message(conn, msg) conn:send(msg) end
return M
`, serverOpts{workers: m.workers, serializer: m.serializer})
		const clients, n = 16, 200
		conns := make([]*websocket.Conn, clients)
		for i := range conns {
			conns[i] = ts.dial(t, "")
		}
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() {
				for i := 1; i <= n; i++ {
					if err := c.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i))); err != nil {
						t.Errorf("write: %v", err)
						return
					}
				}
			})
			wg.Go(func() {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				for i := 1; i <= n; i++ {
					_, data, err := c.ReadMessage()
					if err != nil {
						t.Errorf("read %d: %v", i, err)
						return
					}
					if got := string(data); got != strconv.Itoa(i) {
						t.Errorf("got %s, want %d", got, i)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

// TestEveryWorkerSeesEveryConnection: connections() and broadcast cover
// the connections of every worker.
func TestEveryWorkerSeesEveryConnection(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		ts := newTestServer(t, `
local M = {}
function M.message(conn, msg)
  if msg == "count" then
    local n = 0
    for id, c in pairs(luaws.connections()) do
      assert(c.id == id)
      n = n + 1
    end
    conn:send(tostring(n))
  elseif msg == "all" then
    luaws.broadcast("from " .. conn.id)
  else
    conn:send("hi")
  end
end
return M
`, serverOpts{workers: m.workers, serializer: m.serializer})
		encode := func(s string) string {
			if m.serializer == "json" {
				return strconv.Quote(s)
			}
			return s
		}
		const clients = 8
		conns := make([]*websocket.Conn, clients)
		for i := range conns {
			conns[i] = ts.dial(t, "")
			send(t, conns[i], encode("hello")) // answered once open has run
			if got := read(t, conns[i]); got != encode("hi") {
				t.Fatalf("got %s, want hi", got)
			}
		}
		for i, c := range conns {
			send(t, c, encode("count"))
			if got := read(t, c); got != encode(strconv.Itoa(clients)) {
				t.Fatalf("client %d: got count %s, want %d", i+1, got, clients)
			}
		}
		send(t, conns[clients-1], encode("all"))
		want := read(t, conns[clients-1])
		if !strings.HasPrefix(want, encode("from ")[:len(encode("from "))-1]) {
			t.Fatalf("got %s, want from <id>", want)
		}
		for i, c := range conns[:clients-1] {
			if got := read(t, c); got != want {
				t.Fatalf("client %d: got %s, want %s", i+1, got, want)
			}
		}
	})
}

// TestDataAcrossWorkers: a worker reads another worker's connection's
// data through luaws.get while that worker writes it (run with -race).
func TestDataAcrossWorkers(t *testing.T) {
	ts := newTestServer(t, `
local M = {}
function M.message(conn, msg)
  local cmd, arg = msg:match("^(%a+) (%d+)$")
  if cmd == "set" then
    conn.data.n = tonumber(arg)
    conn.data.list = { tonumber(arg), "x" }
    conn:send("ok")
  elseif cmd == "get" then
    local other = luaws.get(tonumber(arg))
    local list = other and other.data.list
    local n = other and other.data.n or -1
    if list and n < list[1] then error("n is set before list, yet older") end
    conn:send(tostring(n))
  end
end
return M
`, serverOpts{workers: 2})
	writer, reader := ts.dial(t, ""), ts.dial(t, "") // ids 1 and 2: workers 0 and 1
	const n = 300
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= n; i++ {
			send(t, writer, fmt.Sprint("set ", i))
			if got := read(t, writer); got != "ok" {
				t.Errorf("set: got %s, want ok", got)
				return
			}
		}
	})
	wg.Go(func() {
		last := -1
		for range n {
			send(t, reader, "get 1")
			got, err := strconv.Atoi(read(t, reader))
			if err != nil || got < last {
				t.Errorf("get: got %d (%v) after %d, want a number that never goes back", got, err, last)
				return
			}
			last = got
		}
	})
	wg.Wait()
	send(t, reader, "get 1")
	if got := read(t, reader); got != strconv.Itoa(n) {
		t.Fatalf("after the writes: got %s, want %d", got, n)
	}
}

// misbehaving is a script whose message handler misbehaves on demand; on
// open it notes the connection in the worker's globals, so that a client
// can tell whether another one shares its worker.
const misbehaving = `
local M = {}
opened = {}
local function grow()
  local t = {}
  local i = 0
  while true do i = i + 1; t[i] = { i, i, i, i } end
end
local function recurse(n) return recurse(n + 1) + 1 end
function M.open(conn) opened[conn.id] = true end
function M.message(conn, msg)
  if msg == "loop" then while true do end
  elseif msg == "recurse" then recurse(1)
  elseif msg == "grow" then grow()
  elseif msg == "unpack" then
    local t = {}
    for i = 1, 100000 do t[i] = i end
    return unpack(t)
  elseif msg == "pcall loop" then
    while true do pcall(function() while true do end end) end
  elseif msg == "coroutine loop" then
    coroutine.wrap(function() while true do end end)()
  elseif msg == "rep" then
    local s = string.rep("x", 1e9)
  elseif msg == "id" then
    conn:send(tostring(conn.id))
  else
    local id = tonumber(msg)
    conn:send(id and tostring(opened[id] == true) or "pong")
  end
end
return M
`

// TestMisbehavingHandler: a handler that loops, recurses without end or
// fills memory is stopped; its connection is closed with 1011, the log
// says why and where, and another client of the same worker is answered.
func TestMisbehavingHandler(t *testing.T) {
	tests := []struct {
		msg     string
		lua     luabind.Options // HandlerTimeout defaults to 200 ms here
		wantLog []string
	}{
		{msg: "loop", wantLog: []string{"handler stopped", lineOf(misbehaving, `"loop"`), "stopped: ran longer than handler_timeout (200ms)"}},
		{msg: "pcall loop", wantLog: []string{"handler stopped", "than handler_timeout"}},
		{msg: "coroutine loop", wantLog: []string{"handler stopped", "than handler_timeout"}},
		{msg: "recurse", wantLog: []string{"handler failed", "stack overflow"}},
		{
			msg: "unpack",
			lua: luabind.Options{
				RegistryMaxSize: 64 << 10,
				HandlerTimeout:  time.Minute, // filling the table is slow under -race
			},
			wantLog: []string{"handler failed", "registry overflow"},
		},
		{msg: "rep", wantLog: []string{"handler failed", lineOf(misbehaving, `string.rep("x", 1e9)`), "string.rep: result too large"}},
		{
			msg: "grow",
			lua: luabind.Options{
				HandlerTimeout: time.Minute, // so that only the memory limit stops it
				MemoryLimit:    -1,          // set below, once the test's own garbage is gone
			},
			wantLog: []string{"handler stopped", "stopped: the Go heap is", "over memory_limit"},
		},
	}
	for _, tt := range tests {
		for _, workers := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/workers=%d", tt.msg, workers), func(t *testing.T) {
				lo := tt.lua
				if lo.HandlerTimeout == 0 {
					lo.HandlerTimeout = 200 * time.Millisecond
				}
				if lo.MemoryLimit < 0 {
					lo.MemoryLimit = heapNow() + 64<<20
				}
				logs := &enginetest.Buffer{}
				ts := newTestServer(t, misbehaving, serverOpts{workers: workers, lua: lo, log: logs})
				bad := ts.dial(t, "")
				send(t, bad, "id")
				badID := read(t, bad)
				good := sameWorker(t, ts, workers, badID)
				send(t, bad, tt.msg)
				send(t, good, "ping")
				if code, _ := readClose(t, bad); code != websocket.CloseInternalServerErr {
					t.Fatalf("got close code %d, want 1011", code)
				}
				if got := read(t, good); got != "pong" {
					t.Fatalf("same worker after the stop: got %q, want pong", got)
				}
				logs.WaitFor(t, tt.wantLog...)
				// The worker goes on: new connections are served too.
				for range workers {
					c := ts.dial(t, "")
					send(t, c, "ping")
					if got := read(t, c); got != "pong" {
						t.Fatalf("new client: got %q, want pong", got)
					}
				}
			})
		}
	}
}

// sameWorker dials clients until one is on the worker of connection id:
// the worker whose globals saw id open. Round robin puts one in every
// workers connections there.
func sameWorker(t *testing.T, ts *testServer, workers int, id string) *websocket.Conn {
	t.Helper()
	for range 2 * workers {
		c := ts.dial(t, "")
		send(t, c, id)
		if read(t, c) == "true" {
			return c
		}
	}
	t.Fatalf("no client on the worker of connection %s", id)
	return nil
}

// lineOf returns "script.lua:N:" for the line of script holding s.
func lineOf(script, s string) string {
	i := strings.Index(script, s)
	if i < 0 {
		panic("lineOf: " + s + " not in the script")
	}
	return fmt.Sprintf("script.lua:%d:", strings.Count(script[:i], "\n")+1)
}

// heapNow is the heap figure the memory limit is compared with, after a
// collection so that earlier tests' garbage does not count.
func heapNow() int64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestLoadTimeout: a script whose main chunk never ends is refused
// with the file and line.
func TestLoadTimeout(t *testing.T) {
	path := enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), "local x = 0\nwhile true do x = x + 1 end\nreturn {}\n")
	_, err := luabind.New(luabind.Options{Script: path, LoadTimeout: 100 * time.Millisecond})
	if want := "script.lua:2: loading took longer than 100ms"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error with %q", err, want)
	}
}

// TestBurstRepliesNotHeld: the replies to a burst of messages are held
// back until the last one (engine.Message.More); when a middleware filter
// drops that last one, ReadIdle still writes them.
func TestBurstRepliesNotHeld(t *testing.T) {
	dropFilter := engine.Middleware{Name: "drop", Conn: func(*engine.Conn) engine.MessageFilter {
		return func(m engine.Message) bool { return string(m.Data) != "drop" }
	}}
	ts := newTestServer(t, `
local M = {}
function M.message(conn, msg) conn:send(msg) end
return M
`, serverOpts{mount: engine.MountConfig{Middleware: []engine.Middleware{dropFilter}}})
	c := ts.dial(t, "")
	for _, tail := range []string{"c", "drop"} {
		// Masked text frames (zero mask key) in one write: the server
		// reads them in one go.
		var burst []byte
		for _, s := range []string{"a", "b", tail} {
			burst = append(burst, 0x81, 0x80|byte(len(s)), 0, 0, 0, 0)
			burst = append(burst, s...)
		}
		if _, err := c.NetConn().Write(burst); err != nil {
			t.Fatal(err)
		}
		want := []string{"a", "b", tail}
		if tail == "drop" {
			want = want[:2]
		}
		for _, w := range want {
			if got := read(t, c); got != w {
				t.Fatalf("burst ending in %q: got %q, want %q", tail, got, w)
			}
		}
	}
}

// TestLongSortStopped: table.sort of a table of half a million numbers
// (built while the script loads, which handler_timeout does not bound)
// is one builtin call of seconds; it is stopped within about one
// handler_timeout of its deadline.
func TestLongSortStopped(t *testing.T) {
	// The sort must outlast the timeout however fast the machine: a
	// million numbers take about a second (more under -race).
	const timeout = 50 * time.Millisecond
	ts := newTestServer(t, `
local M = {}
local big = {}
for i = 1, 1000000 do big[i] = (i * 7919) % 1000003 end
function M.message(conn, msg)
  table.sort(big)
  conn:send("sorted")
end
return M
`, serverOpts{lua: luabind.Options{HandlerTimeout: timeout}})
	c := ts.dial(t, "")
	start := time.Now()
	send(t, c, "sort")
	if code, _ := readClose(t, c); code != websocket.CloseInternalServerErr {
		t.Fatalf("got close code %d, want 1011", code)
	}
	// Generous: the machine is shared, and the stop is only looked at
	// every watchdog tick and every 1024 comparisons.
	over := time.Since(start) - timeout
	if over > 10*timeout {
		t.Fatalf("stopped %v after handler_timeout (%v), want well under the sort's own time", over, timeout)
	}
	t.Logf("stopped %v after the deadline", over)
}
