package luabind_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/luabind"
)

// exampleScript writes a Lua script to a temporary folder and returns
// its path and a function that removes it.
func exampleScript(src string) (string, func()) {
	dir, err := os.MkdirTemp("", "luabind-example")
	if err != nil {
		panic(err)
	}
	path := filepath.Join(dir, "echo.lua")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		panic(err)
	}
	return path, func() { os.RemoveAll(dir) }
}

// A Go program mounts a Lua script at /ws in its own mux, beside its own
// routes, and stops it with Shutdown before it exits.
func ExampleNewHandler() {
	script, remove := exampleScript(`
local M = {}
function M.message(conn, msg) conn:send("lua says: " .. msg) end
return M
`)
	defer remove()

	ws, err := luabind.NewHandler(luabind.HandlerOptions{
		Options: luabind.Options{Script: script},
		Mount:   engine.MountConfig{Path: "/ws"},
	})
	if err != nil {
		fmt.Println(err) // names the script's file and line
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello from Go") })
	mux.Handle("/ws", ws)
	srv := httptest.NewServer(mux) // or the program's own http.Server
	defer srv.Close()

	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_ = c.WriteMessage(websocket.TextMessage, []byte("hi"))
	_, reply, _ := c.ReadMessage()
	fmt.Println(string(reply))

	// The client reads on, and answers the close frame Shutdown sends.
	closed := make(chan error)
	go func() {
		_, _, err := c.ReadMessage()
		closed <- err
	}()
	// Closes the WebSockets with 1001 and runs the close handlers.
	if err := ws.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(<-closed)
	// Output:
	// lua says: hi
	// websocket: close 1001 (going away): server shutting down
}

// Under a prefix, http.StripPrefix gives the handler the mount's path:
// /chat/ws reaches the mount at /ws. After Shutdown the handler answers
// 503.
func ExampleHandler_ServeHTTP() {
	script, remove := exampleScript("return {}\n")
	defer remove()
	ws, err := luabind.NewHandler(luabind.HandlerOptions{Options: luabind.Options{Script: script}})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", http.StripPrefix("/chat", ws))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat/ws"

	c, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status)
	c.Close()

	_ = ws.Shutdown(context.Background())
	_, resp, err = websocket.DefaultDialer.Dial(url, nil)
	fmt.Println(err, resp.Status)
	resp.Body.Close()
	// Output:
	// 101 Switching Protocols
	// websocket: bad handshake 503 Service Unavailable
}

// Reload loads the script's new version; connections stay open.
func ExampleHandler_Reload() {
	script, remove := exampleScript(`return {message = function(conn, msg) conn:send("v1") end}`)
	defer remove()
	ws, err := luabind.NewHandler(luabind.HandlerOptions{Options: luabind.Options{Script: script}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Shutdown(context.Background())
	srv := httptest.NewServer(ws)
	defer srv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ask := func() {
		_ = c.WriteMessage(websocket.TextMessage, []byte("?"))
		_, reply, _ := c.ReadMessage()
		fmt.Println(string(reply))
	}
	ask()
	_ = os.WriteFile(script, []byte(`return {message = function(conn, msg) conn:send("v2") end}`), 0o644)
	if err := ws.Reload(); err != nil {
		fmt.Println(err)
	}
	ask()
	_ = os.WriteFile(script, []byte(`return {`), 0o644)
	fmt.Println(ws.Reload() != nil)
	ask()
	// Output:
	// v1
	// v2
	// true
	// v2
}
