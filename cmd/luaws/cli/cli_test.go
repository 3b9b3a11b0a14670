package cli_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/cmd/luaws/cli"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestMain fails the run if goroutines outlive the tests.
func TestMain(m *testing.M) {
	flag.Parse()
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		code = checkGoroutines(before, 5*time.Second)
	}
	os.Exit(code)
}

// checkGoroutines polls until at most want goroutines run, not counting
// os/signal's loop (started once by serve's signal.Notify for SIGHUP, it
// lives as long as the process), or dumps every stack and returns 1.
func checkGoroutines(want int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		got := 0
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			if !strings.Contains(g, "os/signal.loop") {
				got++
			}
		}
		if got <= want {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "goroutine leak: got %d goroutines after the tests, want at most %d\n\n%s\n", got, want, buf)
			return 1
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is `luaws serve` running in-process through cli.Main.
type server struct {
	URL    string
	stdout *syncBuffer
	stderr *syncBuffer
	cancel context.CancelFunc // SIGINT
	exit   chan int           // Main's exit code
}

var listening = regexp.MustCompile(`luaws listening on (ws://127\.0\.0\.1:\d+/\S*)\n`)

// startServe runs cli.Main(serve --listen 127.0.0.1:0 args...) and waits
// for the "listening on" line. The server is stopped in t.Cleanup.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, exit: make(chan int, 1)}
	args = append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	go func() { s.exit <- cli.Main(ctx, args, s.stdout, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.exit:
		case <-time.After(15 * time.Second):
			t.Errorf("luaws serve did not stop")
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.URL = m[1]
			return s
		}
		select {
		case code := <-s.exit:
			t.Fatalf("luaws serve exited with %d before listening:\n%s", code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line after 5 s; stdout:\n%s\nstderr:\n%s", s.stdout.String(), s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// stop cancels Main's context, as SIGINT does, and returns its exit code.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.exit:
		s.exit <- code // for t.Cleanup
		return code
	case <-time.After(15 * time.Second):
		t.Fatal("luaws serve did not stop within 15 s")
		return -1
	}
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServe(t *testing.T) {
	s := startServe(t, "--serializer", "json", "--mount", "/echo", "testdata/echo.lua")
	if !strings.HasSuffix(s.URL, "/echo") {
		t.Fatalf("listening on %s, want the /echo mount", s.URL)
	}
	if got := strings.Count(s.stdout.String(), "\n"); got != 1 {
		t.Errorf("stdout: got %d lines, want the one listening line:\n%s", got, s.stdout.String())
	}
	clients := []*websocket.Conn{dial(t, s.URL), dial(t, s.URL)}
	for i, c := range clients {
		msg := fmt.Sprintf(`{"n":%d,"list":[],"obj":{},"nil":null}`, i)
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, got, err := c.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("echo: got %s, %v, want %s", got, err, msg)
		}
	}

	// SIGINT: every client gets 1001, every close handler runs, exit 0.
	codes := make(chan int, len(clients))
	for _, c := range clients {
		go func() {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				codes <- ce.Code
				return
			}
			codes <- -1
		}()
	}
	if code := s.stop(t); code != cli.ExitOK {
		t.Fatalf("exit code: got %d, want 0; stderr:\n%s", code, s.stderr.String())
	}
	for range clients {
		if code := <-codes; code != websocket.CloseGoingAway {
			t.Errorf("client: got close %d, want 1001", code)
		}
	}
	if got := strings.Count(s.stderr.String(), `msg="close handler"`); got != len(clients) {
		t.Errorf("close handlers run before Main returned: got %d, want %d\n%s", got, len(clients), s.stderr.String())
	}
	for _, want := range []string{`msg="connection opened" mount=/echo conn=1`, `msg="connection closed" mount=/echo conn=2 code=1001`} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("log: got\n%s\nwant it to contain %s", s.stderr.String(), want)
		}
	}
}

// TestServeBadInput: bad flags, a missing script, a script that does not
// compile or load: one line on stderr naming the flag or file:line, exit 2.
func TestServeBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // in the one line
	}{
		{"unknown flag", []string{"--bogus", "testdata/echo.lua"}, []string{"-bogus", "luaws serve -h"}},
		{"flag without value", []string{"testdata/echo.lua", "--listen"}, []string{"one script at a time"}},
		{"no script", nil, []string{"no script"}},
		{"two scripts", []string{"a.lua", "b.lua"}, []string{"one script at a time"}},
		{"missing script", []string{"testdata/nope.lua"}, []string{"testdata/nope.lua", "no such file"}},
		{"syntax error", []string{"testdata/check/syntax.lua"}, []string{"testdata/check/syntax.lua:5:"}},
		{"unclosed function", []string{"testdata/check/unclosed.lua"}, []string{"testdata/check/unclosed.lua:", "end of file"}},
		{"raises at load", []string{"testdata/check/raises.lua"}, []string{"testdata/check/raises.lua:4:"}},
		{"no handler table", []string{"testdata/check/no_table.lua"}, []string{"testdata/check/no_table.lua", "must return a table"}},
		{"missing module", []string{"testdata/check/missing_module.lua"}, []string{"testdata/check/missing_module.lua:2:", "helpers"}},
		{"bad serializer", []string{"--serializer", "xml", "testdata/echo.lua"}, []string{"xml", "serializer"}},
		{"bad workers", []string{"--workers", "zero", "testdata/echo.lua"}, []string{"--workers", "zero"}},
		{"bad size", []string{"--max-message-size", "lots", "testdata/echo.lua"}, []string{"--max-message-size", "lots"}},
		{"bad listen", []string{"--listen", "nowhere:-1", "testdata/echo.lua"}, []string{"listen"}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"serve"}, tt.args...)
			if tt.name != "bad listen" {
				args = append([]string{"serve", "--listen", "127.0.0.1:0"}, tt.args...)
			}
			code := cli.Main(context.Background(), args, &stdout, &stderr)
			if code != cli.ExitBadInput {
				t.Errorf("exit code: got %d, want %d", code, cli.ExitBadInput)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: got %q, want nothing", stdout.String())
			}
			got := stderr.String()
			if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") || !strings.HasPrefix(got, "luaws: ") {
				t.Fatalf("stderr: got %q, want one line starting with \"luaws: \"", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("stderr: got %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

// TestCheck compares `luaws check` on the scripts in testdata/check with
// testdata/check/*.golden (go test -run TestCheck -update rewrites them).
func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"good", []string{"testdata/check/good.lua"}},
		{"syntax", []string{"testdata/check/syntax.lua"}},
		{"unclosed", []string{"testdata/check/unclosed.lua"}},
		{"raises", []string{"testdata/check/raises.lua"}},
		{"no_table", []string{"testdata/check/no_table.lua"}},
		{"bad_handler", []string{"testdata/check/bad_handler.lua"}},
		{"missing_module", []string{"testdata/check/missing_module.lua"}},
		{"missing_file", []string{"testdata/check/nope.lua"}},
		{"several", []string{"testdata/check/good.lua", "testdata/check/syntax.lua", "testdata/check/raises.lua", "testdata/echo.lua"}},
		{"no_args", nil},
		{"bad_flag", []string{"--bogus", "testdata/check/good.lua"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli.Main(context.Background(), append([]string{"check"}, tt.args...), &stdout, &stderr)
			got := fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, stdout.String(), stderr.String())
			golden(t, filepath.Join("testdata", "check", tt.name+".golden"), got)
		})
	}
}

// golden compares got with the file at path, or writes it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("got:\n%s\nwant (%s):\n%s", got, path, want)
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		var stdout, stderr bytes.Buffer
		if code := cli.Main(context.Background(), []string{arg}, &stdout, &stderr); code != cli.ExitOK {
			t.Fatalf("%s: exit code: got %d, want 0", arg, code)
		}
		got := stdout.String()
		if !regexp.MustCompile(`^luaws \S+ \(go1\.\d+[^)]*\)\n$`).MatchString(got) {
			t.Errorf("%s: got %q, want \"luaws VERSION (goX.Y)\\n\"", arg, got)
		}
		if stderr.Len() != 0 {
			t.Errorf("%s: stderr: got %q, want nothing", arg, stderr.String())
		}
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string // in stdout
		wantErr  string // in stderr
	}{
		{nil, cli.ExitBadInput, "", "Usage:"},
		{[]string{"help"}, cli.ExitOK, "Usage:", ""},
		{[]string{"frobnicate"}, cli.ExitBadInput, "", `unknown command "frobnicate"`},
		{[]string{"serve", "-h"}, cli.ExitOK, "", "-listen"},
		{[]string{"check", "-h"}, cli.ExitOK, "", "Usage: luaws check"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := cli.Main(context.Background(), tt.args, &stdout, &stderr)
		if code != tt.wantCode || !strings.Contains(stdout.String(), tt.wantOut) || !strings.Contains(stderr.String(), tt.wantErr) {
			t.Errorf("%q: got exit %d, stdout %q, stderr %q; want exit %d, %q in stdout, %q in stderr",
				tt.args, code, stdout.String(), stderr.String(), tt.wantCode, tt.wantOut, tt.wantErr)
		}
	}
}
