package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/luabind"
)

// start runs the program on 127.0.0.1:0 with script and returns its
// address, the logs, a stop that ends run and returns its error.
func start(t *testing.T, script string) (addr string, logs *enginetest.Buffer, stop func() error) {
	t.Helper()
	logs = &enginetest.Buffer{}
	log := enginetest.Logger(t, slog.LevelInfo, logs)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", script, log, func(a net.Addr) { ready <- a.String() }) }()
	var once bool
	stop = func() error {
		cancel()
		if once {
			return nil
		}
		once = true
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	return addr, logs, stop
}

func TestEmbed(t *testing.T) {
	addr, logs, stop := start(t, "hello.lua")
	base := "http://" + addr

	if resp, body := enginetest.Get(t, base+"/", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "hello.lua") {
		t.Errorf("GET /: got %d %q", resp.StatusCode, body)
	}
	if _, body := enginetest.Get(t, base+"/online", nil); body != `{"online":0}`+"\n" {
		t.Errorf("GET /online with no client: got %q", body)
	}

	c := enginetest.Dial(t, "ws://"+addr+"/ws")
	if got := enginetest.ReadText(t, c); got != `{"hello":"welcome","id":1}` {
		t.Errorf("welcome: got %s", got)
	}
	enginetest.WriteText(t, c, `{"text":"hi"}`)
	if got := enginetest.ReadText(t, c); got != `{"echo":{"text":"hi"},"from":1}` {
		t.Errorf("echo: got %s", got)
	}
	if _, body := enginetest.Get(t, base+"/online", nil); body != `{"online":1}`+"\n" {
		t.Errorf("GET /online with one client: got %q", body)
	}

	resp, err := http.Post(base+"/announce", "text/plain", strings.NewReader("deploy at noon"))
	if err != nil {
		t.Fatal(err)
	}
	body := enginetest.Body(t, resp)
	if resp.StatusCode != http.StatusOK || body != "sent to 1\n" {
		t.Errorf("POST /announce: got %d %q, want 200 %q", resp.StatusCode, body, "sent to 1\n")
	}
	if got := enginetest.ReadText(t, c); got != `{"announce":"deploy at noon"}` {
		t.Errorf("announce: got %s", got)
	}
	big, err := http.Post(base+"/announce", "text/plain", strings.NewReader(strings.Repeat("x", maxAnnounce+1)))
	if err != nil {
		t.Fatal(err)
	}
	big.Body.Close()
	if big.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /announce of %d bytes: got %d, want 413", maxAnnounce+1, big.StatusCode)
	}
	if _, resp, err := enginetest.DialWith(t, nil, "ws://"+addr+"/other", nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("dial /other: got %v, want 404", err)
	}

	// The client reads while the program stops, as a browser would: it
	// answers the close frame, and Shutdown need not wait for it.
	closed := make(chan error, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(enginetest.Timeout))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	if err := stop(); err != nil {
		t.Fatalf("run: got %v, want nil after its context ended", err)
	}
	if err := <-closed; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("close at shutdown: got %v, want %d", err, websocket.CloseGoingAway)
	}
	logs.WaitFor(t, "msg=goodbye", "id=1", "code=1001")
}

// A script that does not compile stops run before it listens, with the
// file and line.
func TestEmbedBadScript(t *testing.T) {
	bad := enginetest.WriteFile(t, filepath.Join(t.TempDir(), "bad.lua"), "local M = {}\nfunction M.open(conn\nreturn M\n")
	err := run(context.Background(), "127.0.0.1:0", bad, slog.New(slog.DiscardHandler), func(net.Addr) {
		t.Error("ready called for a script that does not compile")
	})
	var ce *luabind.CompileError
	if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), bad+":") {
		t.Fatalf("run: got %v, want a CompileError naming %s:line", err, bad)
	}
}

// A port that is taken: run returns the listen error and leaves nothing
// running (the goroutine check of TestMain sees to it).
func TestEmbedPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = run(context.Background(), ln.Addr().String(), "hello.lua", slog.New(slog.DiscardHandler), func(net.Addr) {
		t.Error("ready called on a taken port")
	})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("run: got %v, want address already in use", err)
	}
}

func TestMain(m *testing.M) { enginetest.Main(m) }
