package luabind_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/luabind"
)

// echoLogClose echoes and logs each close, so that a test sees the close
// handler run.
const echoLogClose = `
local M = {}
function M.message(conn, msg) conn:send(msg) end
function M.close(conn, code) luaws.log.info("closed", "code", code) end
return M
`

// hostHandler serves h in a program's own mux, beside a route of the
// program's, at /ws and under the prefix /chat, on an httptest server.
// It returns the server's http:// URL.
func hostHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello\n")) })
	mux.Handle("/ws", h)
	mux.Handle("/chat/", http.StripPrefix("/chat", h))
	host := httptest.NewServer(mux)
	t.Cleanup(host.Close)
	return host.URL
}

// newHandler builds a Handler for script (Lua source) and shuts it down
// in t.Cleanup.
func newHandler(t *testing.T, script string, o luabind.HandlerOptions, logs *enginetest.Buffer) *luabind.Handler {
	t.Helper()
	o.Script = enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), script)
	var also []io.Writer
	if logs != nil {
		also = append(also, logs)
	}
	o.Server.Logger = enginetest.Logger(t, slog.LevelDebug, also...)
	h, err := luabind.NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), enginetest.Timeout)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	return h
}

func TestHandlerInMux(t *testing.T) {
	logs := &enginetest.Buffer{}
	h := newHandler(t, echoLogClose, luabind.HandlerOptions{}, logs)
	base := hostHandler(t, h)
	wsBase := "ws" + strings.TrimPrefix(base, "http")

	if resp, body := enginetest.Get(t, base+"/hello", nil); resp.StatusCode != http.StatusOK || body != "hello\n" {
		t.Errorf("GET /hello: got %d %q, want 200 %q", resp.StatusCode, body, "hello\n")
	}
	c := enginetest.Dial(t, wsBase+"/ws")
	enginetest.Echo(t, c, "at /ws")
	under := enginetest.Dial(t, wsBase+"/chat/ws")
	enginetest.Echo(t, under, "under /chat")
	if resp, _ := enginetest.Get(t, base+"/chat/other", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /chat/other: got %d, want 404 (no mount there)", resp.StatusCode)
	}
	if n := h.Server().Mounts()[0].Len(); n != 2 {
		t.Errorf("mount has %d connections, want 2", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), enginetest.Timeout)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range []*websocket.Conn{c, under} {
		if code, _ := readClose(t, c); code != websocket.CloseGoingAway {
			t.Errorf("close: got %d, want %d", code, websocket.CloseGoingAway)
		}
	}
	if n := len(logs.Lines("msg=closed", "code=1001")); n != 2 {
		t.Errorf("close handlers logged %d lines with code=1001, want 2:\n%s", n, logs)
	}
	for _, path := range []string{"/ws", "/chat/ws"} {
		_, resp, err := enginetest.DialWith(t, nil, wsBase+path, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("dial %s after Shutdown: got %v, %v; want 503", path, resp, err)
		}
		if body := enginetest.Body(t, resp); body != engine.ReasonShuttingDown+"\n" {
			t.Errorf("dial %s after Shutdown: body %q, want %q", path, body, engine.ReasonShuttingDown+"\n")
		}
	}
	if resp, _ := enginetest.Get(t, base+"/ws", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /ws after Shutdown: got %d, want 503", resp.StatusCode)
	}
	if err := h.Reload(); !errors.Is(err, luabind.ErrStopped) {
		t.Errorf("Reload after Shutdown: got %v, want ErrStopped", err)
	}
	if err := h.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: got %v, want nil", err)
	}
}

// A custom path and the script's own options reach the mount; Mounts
// adds a second script on the same engine server.
func TestHandlerMounts(t *testing.T) {
	dir := t.TempDir()
	upper := enginetest.WriteFile(t, filepath.Join(dir, "upper.lua"), `
local M = {}
function M.message(conn, msg) conn:send(string.upper(msg)) end
return M
`)
	h := newHandler(t, echoLogClose, luabind.HandlerOptions{
		Mount:  engine.MountConfig{Path: "/echo"},
		Mounts: []luabind.MountSpec{{Options: luabind.Options{Script: upper}, Mount: engine.MountConfig{Path: "/upper"}}},
	}, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")
	enginetest.Echo(t, enginetest.Dial(t, ws+"/echo"), "same")
	c := enginetest.Dial(t, ws+"/upper")
	enginetest.WriteText(t, c, "shout")
	if got := enginetest.ReadText(t, c); got != "SHOUT" {
		t.Errorf("/upper: got %q, want SHOUT", got)
	}
	if n := len(h.Mounts()); n != 2 {
		t.Errorf("Mounts: got %d, want 2", n)
	}
}

// Reload serves the script's new version on the open connection; a
// broken version is refused with its file:line and the old one stays.
func TestHandlerReload(t *testing.T) {
	h := newHandler(t, echoLogClose, luabind.HandlerOptions{}, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := enginetest.Dial(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")
	enginetest.Echo(t, c, "v1")

	script := h.Mounts()[0].Program().Files()[0]
	enginetest.WriteFile(t, script, `
local M = {}
function M.message(conn, msg) conn:send("v2 " .. msg) end
return M
`)
	if err := h.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	enginetest.WriteText(t, c, "hi")
	if got := enginetest.ReadText(t, c); got != "v2 hi" {
		t.Fatalf("after Reload: got %q, want %q", got, "v2 hi")
	}

	enginetest.WriteFile(t, script, "local M = {\nreturn M\n")
	err := h.Reload()
	var ce *luabind.CompileError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "mount /ws: "+script+":") {
		t.Fatalf("Reload of a broken script: got %v, want a CompileError naming mount /ws and %s:line", err, script)
	}
	enginetest.WriteText(t, c, "still")
	if got := enginetest.ReadText(t, c); got != "v2 still" {
		t.Errorf("after a refused Reload: got %q, want %q", got, "v2 still")
	}
}

func TestNewHandlerErrors(t *testing.T) {
	dir := t.TempDir()
	good := enginetest.WriteFile(t, filepath.Join(dir, "good.lua"), "return {}\n")
	syntax := enginetest.WriteFile(t, filepath.Join(dir, "syntax.lua"), "local M = {}\nfunction M.message(conn\nreturn M\n")
	raises := enginetest.WriteFile(t, filepath.Join(dir, "raises.lua"), "local M = {}\nerror('no config')\nreturn M\n")
	missing := filepath.Join(dir, "missing.lua")
	for _, tc := range []struct {
		name string
		o    luabind.HandlerOptions
		want string // in the error
		as   any    // the error's type, when it has one
	}{
		{"no script", luabind.HandlerOptions{}, "no script given", nil},
		{"syntax error", luabind.HandlerOptions{Options: luabind.Options{Script: syntax}}, syntax + ":", new(*luabind.CompileError)},
		{"main chunk raises", luabind.HandlerOptions{Options: luabind.Options{Script: raises}}, raises + ":2: no config", new(*luabind.LoadError)},
		{"missing file", luabind.HandlerOptions{Options: luabind.Options{Script: missing}}, missing, nil},
		{"second script bad", luabind.HandlerOptions{Options: luabind.Options{Script: good},
			Mounts: []luabind.MountSpec{{Options: luabind.Options{Script: syntax}, Mount: engine.MountConfig{Path: "/b"}}}}, syntax + ":", new(*luabind.CompileError)},
		{"path twice", luabind.HandlerOptions{Options: luabind.Options{Script: good},
			Mounts: []luabind.MountSpec{{Options: luabind.Options{Script: good}}}}, "mount /ws: path mounted twice", nil},
		{"bad serializer", luabind.HandlerOptions{Options: luabind.Options{Script: good, Serializer: "xml"}}, "xml", nil},
		{"Handler set", luabind.HandlerOptions{Options: luabind.Options{Script: good}, Mount: engine.MountConfig{Handler: &luabind.Mount{}}},
			"mount /ws: MountConfig.Handler is set", nil},
		{"Server.Mounts set", luabind.HandlerOptions{Options: luabind.Options{Script: good},
			Server: engine.Config{Mounts: []engine.MountConfig{{}}}}, "Server.Mounts is set", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := luabind.NewHandler(tc.o)
			if err == nil {
				_ = h.Shutdown(context.Background())
				t.Fatal("NewHandler: got nil error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewHandler: got %q, want it to contain %q", err, tc.want)
			}
			if tc.as != nil && !errors.As(err, tc.as) {
				t.Errorf("NewHandler: got %T, want %T", err, tc.as)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("missing.lua exists")
	}
}

// Shutdown with a deadline shorter than a close handler: it returns the
// deadline's error once the handler is stopped, and nothing is left
// running (TestMain checks the goroutines).
func TestHandlerShutdownDeadline(t *testing.T) {
	h := newHandler(t, `
local M = {}
function M.message(conn, msg) conn:send(msg) end
function M.close(conn) while true do end end
return M
`, luabind.HandlerOptions{Options: luabind.Options{HandlerTimeout: 2 * time.Second}}, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := enginetest.Dial(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")
	enginetest.Echo(t, c, "up")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := h.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "close handlers still running") {
		t.Fatalf("Shutdown: got %v, want the deadline's error naming the close handlers", err)
	}
	if resp, _ := enginetest.Get(t, srv.URL+"/ws", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /ws after Shutdown: got %d, want 503", resp.StatusCode)
	}
}
