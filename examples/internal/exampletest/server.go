// Package exampletest runs the examples the way a user does, through the
// real command line ([cli.Main], in-process) on 127.0.0.1, and drives them
// from tests: with a gorilla WebSocket client ([Server.Dial]) or with a
// headless Chromium ([NewBrowser]).
//
// Every wait has a deadline and polls; nothing sleeps to synchronize.
package exampletest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/cmd/luaws/cli"
	"github.com/luaws/luaws/engine/enginetest"
)

// Timeouts for waits in tests: generous, for a loaded 2-core machine.
const (
	StartTimeout = 20 * time.Second // serve until it listens
	StopTimeout  = 20 * time.Second // a graceful stop
	ReadTimeout  = 10 * time.Second // one WebSocket message
)

// Server is one example served by `luaws serve` in this process. Create it
// with [Serve]; it stops in t.Cleanup. Its methods are safe to call from
// the test goroutine only, except [Server.Addr] and [Server.Stdout].
type Server struct {
	t    testing.TB
	args []string

	mu      sync.Mutex
	addr    string // host:port, fixed after the first start
	cur     *process
	out     []string      // stdout lines of every run, in order
	newLine chan struct{} // closed and replaced when a line is added to out
}

// process is one run of cli.Main.
type process struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when cli.Main has returned
	code   int
	stderr enginetest.Buffer
}

// Serve runs `luaws serve --listen 127.0.0.1:0 ARGS...` through cli.Main
// and returns once it listens. Paths in args are relative to the test's
// directory, which is the example's own folder.
func Serve(t testing.TB, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, args: args, newLine: make(chan struct{})}
	if err := s.start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Addr is the host:port the server listens on; it stays the same across
// [Server.Restart].
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// WS is the ws:// URL of pathAndQuery on the server, e.g. WS("/ws?name=ann").
func (s *Server) WS(pathAndQuery string) string { return "ws://" + s.Addr() + pathAndQuery }

// HTTP is the http:// URL of pathAndQuery on the server, e.g. HTTP("/").
func (s *Server) HTTP(pathAndQuery string) string { return "http://" + s.Addr() + pathAndQuery }

// Stdout returns the lines serve has printed so far, over every run.
func (s *Server) Stdout() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.out...)
}

// WaitStdout waits up to StartTimeout for serve to print the line want,
// and reports whether it did.
func (s *Server) WaitStdout(want string) bool {
	timeout := time.NewTimer(StartTimeout)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		found, changed := slices.Contains(s.out, want), s.newLine
		s.mu.Unlock()
		if found {
			return true
		}
		select {
		case <-changed:
		case <-timeout.C:
			return false
		}
	}
}

// addLine records one line of serve's stdout.
func (s *Server) addLine(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = append(s.out, line)
	close(s.newLine)
	s.newLine = make(chan struct{})
}

// Stop stops the server as SIGINT does (every connection gets 1001, close
// handlers run) and waits for serve to return; it fails the test if serve
// exits with an error. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	s.mu.Lock()
	p := s.cur
	s.cur = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(StopTimeout):
		s.t.Errorf("luaws serve did not stop within %v\nstderr:\n%s", StopTimeout, p.stderr.String())
		return
	}
	if p.code != cli.ExitOK {
		s.t.Errorf("luaws serve exited with code %d, want %d\nstderr:\n%s", p.code, cli.ExitOK, p.stderr.String())
	}
}

// Restart stops the server and starts it again on the same address, as a
// deploy or a crash-and-restart would.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	addr := s.Addr()
	deadline := time.Now().Add(StartTimeout)
	for {
		err := s.start(addr)
		if err == nil {
			return
		}
		// The old listener's port may not be free for a moment.
		if !strings.Contains(err.Error(), "address already in use") || time.Now().After(deadline) {
			s.t.Fatalf("restart on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval while the port frees
	}
}

// start runs cli.Main listening on listen and waits for its "listening on" line.
func (s *Server) start(listen string) error {
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{cancel: cancel, done: make(chan struct{})}
	outR, outW := io.Pipe()
	args := append([]string{"serve", "--listen", listen}, s.args...)
	first := len(s.Stdout()) // this run's lines come after
	go func() {
		defer close(p.done)
		p.code = cli.Main(ctx, args, outW, io.MultiWriter(&p.stderr, s.t.Output()))
		outW.Close()
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			s.addLine(sc.Text())
		}
		_, _ = io.Copy(io.Discard, outR)
	}()

	timeout := time.NewTimer(StartTimeout)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		changed := s.newLine
		for _, line := range s.out[first:] {
			if rest, ok := strings.CutPrefix(line, "luaws listening on ws://"); ok {
				s.addr, _, _ = strings.Cut(rest, "/")
				s.cur = p
				s.mu.Unlock()
				return nil
			}
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-p.done:
			return fmt.Errorf("luaws %s exited with code %d before listening:\n%s",
				strings.Join(args, " "), p.code, p.stderr.String())
		case <-timeout.C:
			cancel()
			<-p.done
			return fmt.Errorf("luaws %s did not print its address within %v:\n%s",
				strings.Join(args, " "), StartTimeout, p.stderr.String())
		}
	}
}

// Dial opens a WebSocket to pathAndQuery on the server with header (may be
// nil) and closes it in t.Cleanup. A refused handshake fails the test;
// use [enginetest.Handshake] with [Server.WS] to look at refusals.
func (s *Server) Dial(t testing.TB, pathAndQuery string, header http.Header) *websocket.Conn {
	t.Helper()
	d := &websocket.Dialer{HandshakeTimeout: ReadTimeout}
	c, resp, body := enginetest.Handshake(t, d, s.WS(pathAndQuery), header)
	if c == nil {
		t.Fatalf("dial %s: %s %q", pathAndQuery, resp.Status, body)
	}
	return c
}

// ReadJSON reads one message from c and decodes it as a JSON object.
func ReadJSON(t testing.TB, c *websocket.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ReadTimeout))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("read %s: not a JSON object: %v", data, err)
	}
	return m
}

// ReadType reads messages from c until one has "type" typ, and returns it.
// Messages of other types are skipped (and logged), up to 100 of them.
func ReadType(t testing.TB, c *websocket.Conn, typ string) map[string]any {
	t.Helper()
	for range 100 {
		m := ReadJSON(t, c)
		if m["type"] == typ {
			return m
		}
		t.Logf("skipped %v while waiting for %q", m, typ)
	}
	t.Fatalf("no %q message in 100", typ)
	return nil
}

// WriteJSON sends v to c as one JSON text message.
func WriteJSON(t testing.TB, c *websocket.Conn, v any) {
	t.Helper()
	if err := c.WriteJSON(v); err != nil {
		t.Fatalf("write %v: %v", v, err)
	}
}
