package scripttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/luabind"
	"github.com/luaws/luaws/luabind/luajson"
)

// Defaults of the harness's waits, in real time.
const (
	recvTimeout  = 2 * time.Second       // c:recv() without a timeout
	quietTime    = 50 * time.Millisecond // c:recv_all(): the socket quiet this long ends it
	logWait      = time.Second           // t.log_contains waits this long for its line
	closeWait    = time.Second           // c:close() waits this long for the server's close
	shutdownWait = 5 * time.Second       // a test's servers shut down within this
)

// newVM returns the VM a test file runs in: the standard libraries and a
// luaws global with json, null and array, as in a script.
func newVM(ctx context.Context) *lua.LState {
	L := lua.NewState()
	L.SetContext(ctx)
	mod := L.NewTable()
	luajson.New(L).Install(mod)
	L.SetGlobal("luaws", mod)
	return L
}

// harness is the t of one test: its servers and their logs.
type harness struct {
	ctx     context.Context
	mount   MountFunc
	dir     string // the test file's folder: t.server's script is relative to it
	mu      sync.Mutex
	logs    bytes.Buffer // every server's log lines, text format
	servers []*server
}

func newHarness(ctx context.Context, mount MountFunc, dir string) *harness {
	return &harness{ctx: ctx, mount: mount, dir: dir}
}

// Write collects log lines; the loggers of the test's servers write here.
func (h *harness) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.Write(p)
}

func (h *harness) logText() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.String()
}

// cleanup shuts the test's servers down.
func (h *harness) cleanup() {
	for _, s := range h.servers {
		s.shutdown()
	}
}

// fail raises msg at the line of the Lua code that called the Go function.
func fail(L *lua.LState, format string, args ...any) {
	L.Error(lua.LString(L.Where(1)+" "+fmt.Sprintf(format, args...)), 0)
}

// table returns the t a test function gets.
func (h *harness) table(L *lua.LState) *lua.LTable {
	codec := luajson.New(L)
	return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"server": h.luaServer,
		"eq": func(L *lua.LState) int {
			got, want := L.CheckAny(1), L.CheckAny(2)
			if diffs := compare(codec, got, want); len(diffs) > 0 {
				fail(L, "t.eq%s: got %s, want %s%s", label(L, 3), show(codec, got), show(codec, want), formatDiffs(diffs))
			}
			return 0
		},
		"ok": func(L *lua.LState) int {
			if !lua.LVAsBool(L.Get(1)) {
				fail(L, "t.ok%s: got %s", label(L, 2), show(codec, L.Get(1)))
			}
			return 0
		},
		"error": func(L *lua.LState) int {
			fn := L.CheckFunction(1)
			pattern := L.OptString(2, "")
			L.Push(fn)
			err := L.PCall(0, 0, nil)
			if err == nil {
				fail(L, "t.error: the function returned, want an error")
			}
			if h.ctx.Err() != nil {
				L.Error(lua.LString(errText(err)), 0)
			}
			msg := errText(err)
			if pattern != "" && !luaFind(L, msg, pattern) {
				fail(L, "t.error: got error %q, want one matching %q", msg, pattern)
			}
			L.Push(lua.LString(msg))
			return 1
		},
		"log_contains": func(L *lua.LState) int {
			pattern := L.CheckString(1)
			deadline := time.Now().Add(logWait)
			for {
				for _, s := range h.servers {
					s.lm.SyncAll()
				}
				text := h.logText()
				if luaFind(L, text, pattern) {
					return 0
				}
				if time.Now().After(deadline) || h.ctx.Err() != nil {
					fail(L, "t.log_contains: no log line matches %q; the log:\n%s", pattern, text)
				}
				time.Sleep(10 * time.Millisecond)
			}
		},
	})
}

// label is ` (msg)` for the optional message argument n.
func label(L *lua.LState, n int) string {
	if s := L.OptString(n, ""); s != "" {
		return " (" + s + ")"
	}
	return ""
}

// luaFind is string.find(s, pattern) ~= nil.
func luaFind(L *lua.LState, s, pattern string) bool {
	find := L.GetField(L.GetGlobal("string"), "find")
	L.Push(find)
	L.Push(lua.LString(s))
	L.Push(lua.LString(pattern))
	L.Call(2, 1)
	found := L.Get(-1) != lua.LNil
	L.Pop(1)
	return found
}

// server is one t.server: an engine.Server on 127.0.0.1:0 serving one
// luabind.Mount, as luaws serve would.
type server struct {
	h      *harness
	lh     *luabind.Handler
	lm     *luabind.Mount
	srv    *engine.Server
	em     *engine.Mount
	shared *luabind.Shared
	clock  *virtualClock // nil with opts.real_time
	addr   string
	path   string
	ser    string
	served chan struct{}
	once   sync.Once
	conns  []*client
}

// luaServer is t.server(script, opts).
func (h *harness) luaServer(L *lua.LState) int {
	script := L.CheckString(1)
	opts := map[string]any{}
	if tbl, ok := L.Get(2).(*lua.LTable); ok {
		m, ok := goValue(tbl).(map[string]any)
		if !ok {
			L.ArgError(2, "opts must be a table of luaws.toml [[mount]] keys")
		}
		opts = m
	} else if L.Get(2) != lua.LNil {
		L.ArgError(2, "opts must be a table of luaws.toml [[mount]] keys")
	}
	if !filepath.IsAbs(script) {
		script = filepath.Join(h.dir, script)
	}
	realTime, _ := opts["real_time"].(bool)
	delete(opts, "real_time")
	log := slog.New(slog.NewTextHandler(h, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lo, emc, err := h.mount(script, opts, log)
	if err != nil {
		fail(L, "t.server: %v", err)
	}
	s := &server{h: h, shared: luabind.NewShared(), served: make(chan struct{})}
	lo.Shared = s.shared
	if !realTime {
		s.clock = newVirtualClock()
		lo.Clock = s.clock
	}
	lo.Watch = false
	lo.Logger = log
	s.lh, err = luabind.NewHandler(luabind.HandlerOptions{Options: lo, Mount: emc, Server: engine.Config{Logger: log}})
	if err != nil {
		fail(L, "t.server: %v", err)
	}
	s.lm, s.srv = s.lh.Mounts()[0], s.lh.Server()
	s.em = s.srv.Mounts()[0]
	s.path, s.ser = s.em.Path(), s.lm.Serializer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = s.lh.Shutdown(context.Background())
		fail(L, "t.server: %v", err)
	}
	s.addr = ln.Addr().String()
	go func() {
		defer close(s.served)
		s.srv.Serve(ln)
	}()
	h.servers = append(h.servers, s)
	L.Push(s.object(L))
	return 1
}

func (s *server) shutdown() {
	s.once.Do(func() {
		for _, c := range s.conns {
			c.ws.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		defer cancel()
		s.lh.Shutdown(ctx) // closes the listener: Serve returns
		<-s.served
	})
}

// object is the srv of t.server.
func (s *server) object(L *lua.LState) *lua.LTable {
	obj := L.NewTable()
	L.SetFuncs(obj, map[string]lua.LGFunction{
		"connect": s.luaConnect,
		"url": func(L *lua.LState) int {
			L.Push(lua.LString("ws://" + s.addr + s.path))
			return 1
		},
		"connections": func(L *lua.LState) int {
			s.lm.SyncAll()
			var ids []uint64
			for _, c := range s.em.Conns() {
				ids = append(ids, c.ID())
			}
			slices.Sort(ids)
			t := L.CreateTable(len(ids), 0)
			for _, id := range ids {
				t.Append(lua.LNumber(id))
			}
			L.Push(t)
			return 1
		},
		"shared": func(L *lua.LState) int {
			s.lm.SyncAll()
			sh := L.NewTable()
			L.SetFuncs(sh, map[string]lua.LGFunction{"get": func(L *lua.LState) int {
				v, _ := s.shared.Get(L.CheckString(2))
				L.Push(luaValue(L, v))
				return 1
			}})
			L.Push(sh)
			return 1
		},
		"close": func(L *lua.LState) int {
			s.shutdown()
			return 0
		},
		"advance": func(L *lua.LState) int {
			sec := float64(L.CheckNumber(2))
			if sec < 0 || sec != sec || sec > 1e9 {
				L.ArgError(1, "seconds must be from 0 to 1e9")
			}
			if s.clock == nil {
				fail(L, "srv:advance: this server runs in real time (opts.real_time = true)")
			}
			L.Push(lua.LNumber(s.clock.advance(time.Duration(sec*float64(time.Second)), s.lm.SyncAll)))
			return 1
		},
	})
	return obj
}

// frame is one message a client received.
type frame struct {
	typ  int
	data []byte
}

// client is one srv:connect: a gorilla client whose reader goroutine
// queues what arrives.
type client struct {
	s       *server
	ws      *websocket.Conn
	frames  chan frame // closed when the reader stops
	pending []frame    // taken from frames by c:closed, not yet by c:recv
	done    bool       // frames is closed and drained into pending
	code    int        // the server's close code, once frames is closed
	reason  string
}

// luaConnect is srv:connect{path=, query=, headers=, subprotocols=, origin=}.
func (s *server) luaConnect(L *lua.LState) int {
	args := L.OptTable(2, L.NewTable())
	path := s.path
	if p, ok := args.RawGetString("path").(lua.LString); ok {
		path = string(p)
	} else if strings.HasSuffix(path, "/") {
		path += "test"
	}
	u := url.URL{Scheme: "ws", Host: s.addr, Path: path}
	switch q := args.RawGetString("query").(type) {
	case lua.LString:
		u.RawQuery = strings.TrimPrefix(string(q), "?")
	case *lua.LTable:
		vals := url.Values{}
		q.ForEach(func(k, v lua.LValue) { vals.Add(k.String(), v.String()) })
		u.RawQuery = vals.Encode()
	}
	header := http.Header{}
	if hs, ok := args.RawGetString("headers").(*lua.LTable); ok {
		hs.ForEach(func(k, v lua.LValue) { header.Add(k.String(), v.String()) })
	}
	if o, ok := args.RawGetString("origin").(lua.LString); ok {
		header.Set("Origin", string(o))
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if ps, ok := args.RawGetString("subprotocols").(*lua.LTable); ok {
		ps.ForEach(func(_, v lua.LValue) { d.Subprotocols = append(d.Subprotocols, v.String()) })
	}
	ws, resp, err := d.DialContext(s.h.ctx, u.String(), header)
	if err != nil {
		if resp != nil {
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			resp.Body.Close()
			L.Push(lua.LNil)
			L.Push(lua.LNumber(resp.StatusCode))
			L.Push(lua.LString(body.String()))
			return 3
		}
		if s.h.ctx.Err() != nil {
			fail(L, "srv:connect: %v", s.h.ctx.Err())
		}
		fail(L, "srv:connect: %v", err)
	}
	c := &client{s: s, ws: ws, frames: make(chan frame, 4096)}
	s.conns = append(s.conns, c)
	ws.SetCloseHandler(func(code int, text string) error {
		c.code, c.reason = code, text
		return nil // the close frame is answered by c:close or the shutdown
	})
	go c.read()
	L.Push(c.object(L))
	L.Push(lua.LString(ws.Subprotocol()))
	return 2
}

func (c *client) read() {
	defer close(c.frames)
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.code, c.reason = ce.Code, ce.Text
			} else if c.code == 0 {
				c.code, c.reason = websocket.CloseAbnormalClosure, err.Error()
			}
			return
		}
		c.frames <- frame{typ, data}
	}
}

// object is the c of srv:connect.
func (c *client) object(L *lua.LState) *lua.LTable {
	codec := luajson.New(L)
	obj := L.NewTable()
	send := func(L *lua.LState, typ int, data []byte) int {
		if err := c.ws.WriteMessage(typ, data); err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString("closed"))
			return 2
		}
		L.Push(lua.LTrue)
		return 1
	}
	L.SetFuncs(obj, map[string]lua.LGFunction{
		"send": func(L *lua.LState) int {
			v := L.CheckAny(2)
			if c.s.ser == "json" {
				b, err := codec.Encode(nil, v)
				if err != nil {
					L.ArgError(1, err.Error())
				}
				return send(L, websocket.TextMessage, b)
			}
			return send(L, websocket.TextMessage, []byte(L.CheckString(2)))
		},
		"send_binary": func(L *lua.LState) int {
			return send(L, websocket.BinaryMessage, []byte(L.CheckString(2)))
		},
		"recv": func(L *lua.LState) int {
			timeout := recvTimeout
			if L.GetTop() >= 2 {
				timeout = time.Duration(float64(L.CheckNumber(2)) * float64(time.Second))
			}
			if f, ok := c.take(); ok {
				return c.push(L, codec, f)
			}
			if c.done {
				L.Push(lua.LNil)
				L.Push(lua.LString("closed"))
				return 2
			}
			timer := time.NewTimer(timeout)
			defer timer.Stop()
			select {
			case f, ok := <-c.frames:
				if !ok {
					c.done = true
					L.Push(lua.LNil)
					L.Push(lua.LString("closed"))
					return 2
				}
				return c.push(L, codec, f)
			case <-timer.C:
				L.Push(lua.LNil)
				L.Push(lua.LString("timeout"))
				return 2
			case <-c.s.h.ctx.Done():
				fail(L, "c:recv: %v", c.s.h.ctx.Err())
				return 0
			}
		},
		"recv_all": func(L *lua.LState) int {
			c.s.lm.SyncAll()
			all := L.NewTable()
			for f, ok := c.take(); ok; f, ok = c.take() {
				c.push(L, codec, f)
				all.Append(L.Get(-2))
				L.Pop(2)
			}
			for !c.done {
				timer := time.NewTimer(quietTime)
				select {
				case f, ok := <-c.frames:
					timer.Stop()
					if !ok {
						c.done = true
						break
					}
					c.push(L, codec, f)
					all.Append(L.Get(-2))
					L.Pop(2)
				case <-timer.C:
					L.Push(all)
					return 1
				}
			}
			L.Push(all)
			return 1
		},
		"close": func(L *lua.LState) int {
			code := L.OptInt(2, websocket.CloseNormalClosure)
			reason := L.OptString(3, "")
			c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeWait))
			timer := time.NewTimer(closeWait)
			defer timer.Stop()
			for waiting := !c.done; waiting; {
				select {
				case f, ok := <-c.frames:
					if ok {
						c.pending = append(c.pending, f)
					} else {
						c.done, waiting = true, false
					}
				case <-timer.C:
					waiting = false
				}
			}
			c.ws.Close()
			return 0
		},
		"closed": func(L *lua.LState) int {
			if len(c.pending) == 0 && !c.done {
				select {
				case f, ok := <-c.frames:
					if ok {
						c.pending = append(c.pending, f)
					} else {
						c.done = true
					}
				default:
				}
			}
			if len(c.pending) > 0 || !c.done {
				L.Push(lua.LNil)
				return 1
			}
			L.Push(lua.LNumber(c.code))
			L.Push(lua.LString(c.reason))
			return 2
		},
	})
	return obj
}

// take returns a frame c:closed took from the reader, if any.
func (c *client) take() (frame, bool) {
	if len(c.pending) == 0 {
		return frame{}, false
	}
	f := c.pending[0]
	c.pending = c.pending[1:]
	return f, true
}

// push pushes the decoded message and its kind, "text" or "binary".
func (c *client) push(L *lua.LState, codec *luajson.Codec, f frame) int {
	if f.typ == websocket.BinaryMessage {
		L.Push(lua.LString(f.data))
		L.Push(lua.LString("binary"))
		return 2
	}
	if c.s.ser == "json" {
		v, err := codec.Decode(f.data)
		if err != nil {
			fail(L, "c:recv: the server sent %q, which is not JSON: %v", f.data, err)
		}
		L.Push(v)
	} else {
		L.Push(lua.LString(f.data))
	}
	L.Push(lua.LString("text"))
	return 2
}

// goValue converts opts from Lua to the values a luaws.toml decodes to:
// int64 for whole numbers, float64, string, bool, []any and map[string]any.
func goValue(v lua.LValue) any {
	switch v := v.(type) {
	case lua.LBool:
		return bool(v)
	case lua.LString:
		return string(v)
	case lua.LNumber:
		f := float64(v)
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f)
		}
		return f
	case *lua.LTable:
		if n := v.Len(); n > 0 {
			list := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				list = append(list, goValue(v.RawGetInt(i)))
			}
			return list
		}
		m := map[string]any{}
		v.ForEach(func(k, val lua.LValue) { m[k.String()] = goValue(val) })
		return m
	}
	return nil
}

// luaValue converts a luaws.shared value to Lua.
func luaValue(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []byte:
		return lua.LString(v)
	}
	return lua.LString(fmt.Sprint(v))
}
