package luabind_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/luabind"
)

// versioned is a script whose message handler answers "<version> <id>
// <n> <msg>", n counting the connection's messages in conn.data.
func versioned(version string) string {
	return `
local M = {}
function M.open(conn) conn.data.n = 0 end
function M.message(conn, msg)
  conn.data.n = conn.data.n + 1
  conn:send("` + version + ` " .. conn.id .. " " .. conn.data.n .. " " .. msg)
end
return M
`
}

// waitReloads waits until m has done ok reloads and refused refused ones,
// failing after 10 s or as soon as either count goes past what is wanted.
func waitReloads(t testing.TB, m *luabind.Mount, ok, refused uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		gotOK, gotRefused := m.ReloadStats()
		if gotOK == ok && gotRefused == refused {
			return
		}
		if gotOK > ok || gotRefused > refused || time.Now().After(deadline) {
			t.Fatalf("got %d reloads and %d refused, want %d and %d", gotOK, gotRefused, ok, refused)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for an event
	}
}

// ask sends msg and returns the answer.
func ask(t testing.TB, c *websocket.Conn, msg string) string {
	t.Helper()
	send(t, c, msg)
	return read(t, c)
}

// newLogBuffer returns a buffer and a logger that writes to it and to
// the test output.
func newLogBuffer(t *testing.T) (*enginetest.Buffer, *slog.Logger) {
	lb := &enginetest.Buffer{}
	return lb, enginetest.Logger(t, slog.LevelDebug, lb)
}

func TestReloadKeepsConnections(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			path := enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), versioned("v1"))
			ts := newTestServer(t, path, serverOpts{workers: workers,
				lua: luabind.Options{Watch: true, WatchDebounce: 20 * time.Millisecond}})
			clients := make([]*websocket.Conn, 5)
			for i := range clients {
				clients[i] = ts.dial(t, "")
				if got, want := ask(t, clients[i], "a"), fmt.Sprintf("v1 %d 1 a", i+1); got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
			enginetest.WriteFile(t, path, versioned("v2"))
			waitReloads(t, ts.Script, 1, 0)
			for i, c := range clients {
				if got, want := ask(t, c, "b"), fmt.Sprintf("v2 %d 2 b", i+1); got != want {
					t.Fatalf("after reload: got %q, want %q", got, want)
				}
			}
			// A connection made after the reload gets the next id.
			c := ts.dial(t, "")
			if got, want := ask(t, c, "c"), fmt.Sprintf("v2 %d 1 c", len(clients)+1); got != want {
				t.Fatalf("new connection: got %q, want %q", got, want)
			}
		})
	}
}

func TestReloadStartsFreshGlobals(t *testing.T) {
	src := `
count = (count or 0) + 1
local M = {}
function M.message(conn, msg) conn:send(tostring(count)) end
return M
`
	ts := newTestServer(t, src, serverOpts{})
	c := ts.dial(t, "")
	for range 3 {
		if err := ts.Script.Reload("test"); err != nil {
			t.Fatal(err)
		}
		if got := ask(t, c, "x"); got != "1" {
			t.Fatalf("got count %s, want 1: a reload runs the script in a fresh VM", got)
		}
	}
}

func TestReloadRefusesBrokenScript(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string // written before the reload
		wantErr string
	}{
		{"syntax error", map[string]string{"script.lua": "local M = {}\nfunction M.message(conn, msg\n  conn:send(msg)\nend\nreturn M\n"},
			"script.lua:3:"},
		{"error while loading", map[string]string{"script.lua": "local M = {}\nlocal x = nil\nx.y = 1\nreturn M\n"},
			"script.lua:3:"},
		{"no handler table", map[string]string{"script.lua": "return 42\n"},
			"the script must return a table of handlers, got number"},
		{"broken module", map[string]string{
			"script.lua": "local g = require 'greet'\nlocal M = {}\nfunction M.message(conn, msg) conn:send(g(msg)) end\nreturn M\n",
			"greet.lua":  "return function(s)\n  return 'hi ' ..\nend\n"},
			"greet.lua:3:"},
		{"missing module", map[string]string{
			"script.lua": "local g = require 'nowhere'\nreturn {}\n"},
			"module nowhere not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			wantFiles := "files=[" + filepath.Join(dir, "script.lua") + "]"
			if _, ok := tt.files["greet.lua"]; ok {
				wantFiles = `files="[` + filepath.Join(dir, "script.lua") + " " + filepath.Join(dir, "greet.lua") + `]"`
			}
			path := enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), versioned("v1"))
			logs, log := newLogBuffer(t)
			ts := newTestServer(t, path, serverOpts{workers: 2, lua: luabind.Options{Logger: log}})
			c := ts.dial(t, "")
			if got, want := ask(t, c, "a"), "v1 1 1 a"; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			for name, src := range tt.files {
				enginetest.WriteFile(t, filepath.Join(dir, name), src)
			}
			err := ts.Script.Reload("test")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			var ce *luabind.CompileError
			var le *luabind.LoadError
			if !errors.As(err, &ce) && !errors.As(err, &le) {
				t.Errorf("got a %T, want a *CompileError or *LoadError", err)
			}
			// luaws check says the same.
			if checkErr := luabind.Check(path, nil); checkErr == nil || checkErr.Error() != err.Error() {
				t.Errorf("check: got %v, want %q", checkErr, err.Error())
			}
			// One log line: outcome, files, duration, the error, and that
			// the old version still serves.
			lines := logs.Lines("reload refused, old version still live")
			if len(lines) != 1 {
				t.Fatalf("got %d refusal lines, want 1:\n%s", len(lines), lines)
			}
			for _, want := range []string{"outcome=refused", "reason=test", "duration=", "level=ERROR",
				wantFiles, strconv.Quote(err.Error())} {
				if !strings.Contains(lines[0], want) {
					t.Errorf("log line %q does not contain %q", lines[0], want)
				}
			}
			if got, want := ask(t, c, "b"), "v1 1 2 b"; got != want {
				t.Fatalf("after refused reload: got %q, want %q", got, want)
			}
			if ok, refused := ts.Script.ReloadStats(); ok != 0 || refused != 1 {
				t.Fatalf("got stats %d ok %d refused, want 0 and 1", ok, refused)
			}
			// A fixed version loads.
			enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), versioned("v2"))
			if err := ts.Script.Reload("test"); err != nil {
				t.Fatalf("fixed version: %v", err)
			}
			if got, want := ask(t, c, "c"), "v2 1 3 c"; got != want {
				t.Fatalf("after fix: got %q, want %q", got, want)
			}
			if n := len(logs.Lines("msg=reloaded", "outcome=ok", "files=", "duration=")); n != 1 {
				t.Fatalf("got %d reloaded lines, want 1", n)
			}
		})
	}
}

func TestReloadRefusesEndlessLoad(t *testing.T) {
	dir := t.TempDir()
	path := enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), versioned("v1"))
	ts := newTestServer(t, path, serverOpts{lua: luabind.Options{LoadTimeout: 100 * time.Millisecond}})
	c := ts.dial(t, "")
	ask(t, c, "a")
	enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), "local n = 0\nwhile true do n = n + 1 end\nreturn {}\n")
	err := ts.Script.Reload("test")
	if err == nil || !strings.Contains(err.Error(), "loading took longer than 100ms") {
		t.Fatalf("got %v, want a load timeout", err)
	}
	if got, want := ask(t, c, "b"), "v1 1 2 b"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestReloadOnModuleChange(t *testing.T) {
	dir := t.TempDir()
	path := enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), `
local greet = require "lib.greet"
local later_ok, later = pcall(require, "later")
local M = {}
function M.message(conn, msg)
  local s = greet(msg)
  if later_ok then s = s .. later end
  conn:send(s)
end
return M
`)
	enginetest.WriteFile(t, filepath.Join(dir, "lib/greet.lua"), `return function(s) return "hello " .. s end`)
	ts := newTestServer(t, path, serverOpts{workers: 2,
		lua: luabind.Options{Watch: true, WatchDebounce: 20 * time.Millisecond}})
	c := ts.dial(t, "")
	if got, want := ask(t, c, "ann"), "hello ann"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}

	// A module in a subdirectory changes.
	enginetest.WriteFile(t, filepath.Join(dir, "lib/greet.lua"), `return function(s) return "bonjour " .. s end`)
	waitReloads(t, ts.Script, 1, 0)
	if got, want := ask(t, c, "ann"), "bonjour ann"; got != want {
		t.Fatalf("module changed: got %q, want %q", got, want)
	}

	// The module breaks: refused; it is fixed: reloaded.
	enginetest.WriteFile(t, filepath.Join(dir, "lib/greet.lua"), `return function(s) return "hallo " .. end`)
	waitReloads(t, ts.Script, 1, 1)
	if got, want := ask(t, c, "ann"), "bonjour ann"; got != want {
		t.Fatalf("module broken: got %q, want %q", got, want)
	}
	enginetest.WriteFile(t, filepath.Join(dir, "lib/greet.lua"), `return function(s) return "hallo " .. s end`)
	waitReloads(t, ts.Script, 2, 1)
	if got, want := ask(t, c, "ann"), "hallo ann"; got != want {
		t.Fatalf("module fixed: got %q, want %q", got, want)
	}

	// A module that a require looked for and did not find is created.
	enginetest.WriteFile(t, filepath.Join(dir, "later.lua"), `return "!"`)
	waitReloads(t, ts.Script, 3, 1)
	if got, want := ask(t, c, "ann"), "hallo ann!"; got != want {
		t.Fatalf("module created: got %q, want %q", got, want)
	}

	// A new version requires a module in a directory that does not exist
	// yet: refused; the module is created: reloaded; it is changed:
	// reloaded.
	enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), `
local shout = require "extra.deep.shout"
return { message = function(conn, msg) conn:send(shout(msg)) end }
`)
	waitReloads(t, ts.Script, 3, 2)
	enginetest.WriteFile(t, filepath.Join(dir, "extra/deep/shout.lua"), `return function(s) return s:upper() end`)
	waitReloads(t, ts.Script, 4, 2)
	if got, want := ask(t, c, "ann"), "ANN"; got != want {
		t.Fatalf("new script: got %q, want %q", got, want)
	}
	enginetest.WriteFile(t, filepath.Join(dir, "extra/deep/shout.lua"), `return function(s) return s:upper() .. "!!" end`)
	waitReloads(t, ts.Script, 5, 2)
	if got, want := ask(t, c, "ann"), "ANN!!"; got != want {
		t.Fatalf("new module changed: got %q, want %q", got, want)
	}

	files := ts.Script.Program().Files()
	if len(files) != 2 || files[0] != path || filepath.Base(files[1]) != "shout.lua" {
		t.Fatalf("got files %q, want the script and shout.lua", files)
	}
}

func TestReloadFollowsSymlink(t *testing.T) {
	real := enginetest.WriteFile(t, filepath.Join(t.TempDir(), "app.lua"), versioned("v1"))
	link := filepath.Join(t.TempDir(), "script.lua")
	if err := os.Symlink(real, link); err != nil {
		t.Skip("no symlinks:", err)
	}
	ts := newTestServer(t, link, serverOpts{lua: luabind.Options{Watch: true, WatchDebounce: 20 * time.Millisecond}})
	enginetest.WriteFile(t, real, versioned("v2"))
	waitReloads(t, ts.Script, 1, 0)
	c := ts.dial(t, "")
	if got, want := ask(t, c, "a"), "v2 1 1 a"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestReloadIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	path := enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), versioned("v1"))
	logs, log := newLogBuffer(t)
	ts := newTestServer(t, path, serverOpts{lua: luabind.Options{Watch: true, WatchDebounce: 20 * time.Millisecond, Logger: log}})
	enginetest.WriteFile(t, filepath.Join(dir, "notes.txt"), "x")
	enginetest.WriteFile(t, filepath.Join(dir, "other.lua"), "return {}")
	enginetest.WriteFile(t, filepath.Join(dir, ".script.lua.swp"), "x")
	enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), versioned("v2"))
	waitReloads(t, ts.Script, 1, 0)
	// The reload names the files that changed: only the script counts
	// (had the others come later than the debounce, they would have made
	// more reloads, which waitReloads fails on). The line is logged just
	// after the reload is counted.
	logs.WaitFor(t, "msg=reloaded")
	if lines := logs.Lines("msg=reloaded", `reason="changed: `+path+`"`); len(lines) != 1 {
		t.Fatalf("got reload lines %q, want one with reason changed: %s", logs.Lines("msg=reloaded"), path)
	}
	c := ts.dial(t, "")
	if got, want := ask(t, c, "a"), "v2 1 1 a"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestReloadSaveStyles saves the script the ways editors do; each save is
// exactly one reload.
func TestReloadSaveStyles(t *testing.T) {
	write := func(t *testing.T, path, src string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	styles := []struct {
		name string
		save func(t *testing.T, path, src string)
	}{
		{"write in place", write},
		{"truncate then several writes", func(t *testing.T, path, src string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for chunk := range slicesChunk([]byte(src), 16) {
				if _, err := f.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"write and rename", func(t *testing.T, path, src string) {
			tmp := path + ".tmp123"
			write(t, tmp, src)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"backup rename then write", func(t *testing.T, path, src string) { // vim's default
			if err := os.Rename(path, path+"~"); err != nil {
				t.Fatal(err)
			}
			write(t, path, src)
			if err := os.Remove(path + "~"); err != nil {
				t.Fatal(err)
			}
		}},
		{"delete and create", func(t *testing.T, path, src string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			write(t, path, src)
		}},
		{"burst of writes", func(t *testing.T, path, src string) {
			for i := range 5 {
				write(t, path, src+strings.Repeat("\n", i))
			}
		}},
	}
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			path := enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), versioned("v1"))
			ts := newTestServer(t, path, serverOpts{lua: luabind.Options{Watch: true, WatchDebounce: 250 * time.Millisecond}})
			c := ts.dial(t, "")
			st.save(t, path, versioned("v2"))
			waitReloads(t, ts.Script, 1, 0)
			if got, want := ask(t, c, "a"), "v2 1 1 a"; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			// A second save: had the first one caused a late extra reload,
			// it would come before this one's and be counted.
			write(t, path, versioned("v3"))
			waitReloads(t, ts.Script, 2, 0)
			if got, want := ask(t, c, "b"), "v3 1 2 b"; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			if ok, refused := ts.Script.ReloadStats(); ok != 2 || refused != 0 {
				t.Fatalf("got %d reloads and %d refused, want 2 and 0", ok, refused)
			}
		})
	}
}

// slicesChunk yields s in pieces of n bytes.
func slicesChunk(s []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

func TestReloadHandlerMigratesData(t *testing.T) {
	dir := t.TempDir()
	path := enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), `
local M = {}
function M.open(conn) conn.data.name = "user" .. conn.id end
function M.message(conn, msg) conn:send(conn.data.name) end
return M
`)
	ts := newTestServer(t, path, serverOpts{workers: 2})
	clients := make([]*websocket.Conn, 4)
	for i := range clients {
		clients[i] = ts.dial(t, "")
		if got, want := ask(t, clients[i], "x"), fmt.Sprintf("user%d", i+1); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	clients[3].WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	readClose(t, clients[3])

	enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), `
local M = {}
function M.reload(conn)
  conn.data.profile = { name = conn.data.name, reloads = (conn.data.reloads or 0) + 1 }
  conn.data.name = nil
end
function M.message(conn, msg)
  local p = conn.data.profile
  conn:send(p.name .. " " .. p.reloads .. " " .. tostring(conn.data.name))
end
return M
`)
	if err := ts.Script.Reload("test"); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients[:3] {
		if got, want := ask(t, c, "x"), fmt.Sprintf("user%d 1 nil", i+1); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// TestReloadHandlerError: a new version whose reload(conn) handler raises
// or loops (for one connection) is refused and rolled back on every
// worker: all 20 connections stay open and the old code answers them, the
// log names the file:line; then a good version reloads.
func TestReloadHandlerError(t *testing.T) {
	tests := []struct{ name, hook, wantLog string }{
		{"raises", `error("cannot migrate")`, "script.lua:3: cannot migrate"},
		{"loops", `while true do end`, "stopped: ran longer than handler_timeout"},
	}
	for _, tt := range tests {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/workers=%d", tt.name, workers), func(t *testing.T) {
				dir := t.TempDir()
				path := enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), versioned("v1"))
				logs, log := newLogBuffer(t)
				ts := newTestServer(t, path, serverOpts{workers: workers,
					lua: luabind.Options{Logger: log, HandlerTimeout: 100 * time.Millisecond}})
				clients := make([]*websocket.Conn, 20)
				for i := range clients {
					clients[i] = ts.dial(t, "")
					ask(t, clients[i], "a")
				}
				enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), `
local M = {}
function M.reload(conn) if conn.id == 20 then `+tt.hook+` end end
function M.message(conn, msg) conn:send("v2 " .. msg) end
return M
`)
				err := ts.Script.Reload("test")
				var rhe *luabind.ReloadHandlerError
				if !errors.As(err, &rhe) || !strings.Contains(err.Error(), tt.wantLog) {
					t.Fatalf("got error %v, want a *ReloadHandlerError with %q", err, tt.wantLog)
				}
				logs.WaitFor(t, "reload refused, old version still live", tt.wantLog)
				for i, c := range clients {
					if got, want := ask(t, c, "b"), fmt.Sprintf("v1 %d 2 b", i+1); got != want {
						t.Fatalf("after the refused reload: got %q, want %q", got, want)
					}
				}
				enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), versioned("v3"))
				if err := ts.Script.Reload("test"); err != nil {
					t.Fatalf("good version: %v", err)
				}
				for i, c := range clients {
					if got, want := ask(t, c, "c"), fmt.Sprintf("v3 %d 3 c", i+1); got != want {
						t.Fatalf("after the good reload: got %q, want %q", got, want)
					}
				}
			})
		}
	}
}

func TestReloadCancelsTimers(t *testing.T) {
	dir := t.TempDir()
	path := enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), `
local M = {}
function M.open(conn)
  luaws.every(0.01, function() conn:send("tick v1") end)
end
return M
`)
	ts := newTestServer(t, path, serverOpts{})
	c := ts.dial(t, "")
	if got := read(t, c); got != "tick v1" {
		t.Fatalf("got %q, want tick v1", got)
	}
	enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), `
local M = {}
function M.message(conn, msg) conn:send("v2 " .. msg) end
return M
`)
	if err := ts.Script.Reload("test"); err != nil {
		t.Fatal(err)
	}
	send(t, c, "x")
	for {
		got := read(t, c)
		if got == "v2 x" {
			break
		}
		if got != "tick v1" {
			t.Fatalf("got %q, want tick v1 or v2 x", got)
		}
	}
	// Everything after the new version's answer comes from the new VM, which
	// made no timers: the old VM's ticker must be gone.
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, data, err := c.ReadMessage(); err == nil {
		t.Fatalf("got %q after the reload, want nothing: the old VM's timer still runs", data)
	}
}

func TestReloadAfterStop(t *testing.T) {
	path := enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), versioned("v1"))
	m, err := luabind.New(luabind.Options{Script: path, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	m.Stop()
	if err := m.Reload("test"); !errors.Is(err, luabind.ErrStopped) {
		t.Fatalf("got %v, want ErrStopped", err)
	}
}

// TestReloadStress rewrites the script 20 times (alternating versions, one
// broken) while 50 clients each send a stream of numbered messages: every
// client gets exactly one answer per message, in order, never from an
// older version than the one before, and stays connected.
func TestReloadStress(t *testing.T) {
	const (
		clients     = 50
		rewrites    = 20
		broken      = 10 // the rewrite that does not compile
		window      = 8  // messages in flight per client
		maxMessages = 20000
	)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			dir := t.TempDir()
			script := func(v int) string {
				if v == broken {
					return "local M = {\nfunction M.message(conn, msg)\n"
				}
				// Alternating shapes: odd versions use a helper function.
				if v%2 == 1 {
					return fmt.Sprintf("local function answer(msg) return %q .. msg end\nreturn { message = function(conn, msg) conn:send(answer(msg)) end }\n", fmt.Sprintf("v%d ", v))
				}
				return fmt.Sprintf("local M = {}\nfunction M.message(conn, msg) conn:send(\"v%d \" .. msg) end\nreturn M\n", v)
			}
			path := enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), script(0))
			ts := newTestServer(t, path, serverOpts{workers: workers,
				lua: luabind.Options{Watch: true, WatchDebounce: 10 * time.Millisecond}})

			stop := make(chan struct{})
			errs := make(chan error, clients)
			counts := make([]int, clients)
			var wg sync.WaitGroup
			for i := range clients {
				c := ts.dial(t, "")
				wg.Go(func() { errs <- streamClient(c, stop, window, maxMessages, &counts[i]) })
			}

			ok, refused := uint64(0), uint64(0)
			for v := 1; v <= rewrites; v++ {
				enginetest.WriteFile(t, filepath.Join(dir, "script.lua"), script(v))
				if v == broken {
					refused++
				} else {
					ok++
				}
				waitReloads(t, ts.Script, ok, refused)
			}
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			total := 0
			for _, n := range counts {
				total += n
			}
			t.Logf("%d clients, %d messages answered over %d reloads and %d refused", clients, total, ok, refused)
		})
	}
}

// streamClient sends "1", "2", ... with up to window answers outstanding
// until stop (or max), reads every answer, and checks each is "vK n" with
// n the next number and K never smaller than before; then one more
// message must be answered by the last version. It returns the first
// problem.
func streamClient(c *websocket.Conn, stop <-chan struct{}, window, max int, count *int) error {
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	sent := make(chan int, window) // closed when the writer stops
	var writeErr error
	go func() {
		defer close(sent)
		for n := 1; n <= max; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := c.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(n))); err != nil {
				writeErr = err
				return
			}
			sent <- n
		}
	}()
	lastVersion := -1
	for want := range sent {
		_, data, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("client after %d answers: %v", want-1, err)
		}
		*count = want
		var v, n int
		if _, err := fmt.Sscanf(string(data), "v%d %d", &v, &n); err != nil {
			return fmt.Errorf("got answer %q, want \"vK N\"", data)
		}
		if n != want {
			return fmt.Errorf("got answer %q to message %d, want one per message in order", data, want)
		}
		if v < lastVersion {
			return fmt.Errorf("got answer %q after one from v%d: versions went back", data, lastVersion)
		}
		lastVersion = v
	}
	if writeErr != nil {
		return writeErr
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("0")); err != nil {
		return err
	}
	_, data, err := c.ReadMessage()
	if err != nil {
		return err
	}
	if string(data) != "v20 0" {
		return fmt.Errorf("got last answer %q, want \"v20 0\"", data)
	}
	return nil
}
