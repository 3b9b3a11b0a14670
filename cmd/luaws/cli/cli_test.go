package cli_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/cmd/luaws/cli"
	"github.com/luaws/luaws/engine/enginetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestMain fails the run if goroutines outlive the tests, not counting
// os/signal's loop: serve's signal.Notify for SIGHUP starts it once, and it
// lives as long as the process.
//
// With LUAWS_TEST_CLI_MAIN=1 the test binary is luaws itself: it runs
// cli.Main on its arguments, as cmd/luaws does, so that a test can start
// `luaws serve` as a child process (systemd socket activation) without
// building it.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	enginetest.Main(m, "os/signal.loop")
}

// childEnv makes the test binary run cli.Main (see TestMain).
const childEnv = "LUAWS_TEST_CLI_MAIN"

// server is `luaws serve` running in-process through cli.Main.
type server struct {
	URL    string // ws:// or wss:// URL of the first mount, from its "listening on" line
	Admin  string // http://ADDR from the "metrics at" line, with --admin-listen
	stdout *enginetest.Buffer
	stderr *enginetest.Buffer // the log, also written to the test output
	cancel context.CancelFunc // SIGINT
	exit   chan int           // Main's exit code
}

// startTimeout bounds the wait for serve's "listening on" line; stopTimeout
// a graceful stop.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 15 * time.Second
)

// startServe runs cli.Main(serve --listen 127.0.0.1:0 args...) and waits
// for its first "listening on" line, and with --admin-listen for the
// "metrics at" line, which comes after every mount's. The server stops in
// t.Cleanup, which checks that serve exits with 0.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &enginetest.Buffer{}, stderr: &enginetest.Buffer{}, cancel: cancel, exit: make(chan int, 1)}
	args = append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	go func() { s.exit <- cli.Main(ctx, args, s.stdout, io.MultiWriter(s.stderr, t.Output())) }()
	t.Cleanup(func() {
		if code := s.stop(t); code != cli.ExitOK {
			t.Errorf("luaws serve exited with %d, want %d", code, cli.ExitOK)
		}
	})
	s.URL = s.urls(t, 1)[0]
	if slices.Contains(args, "--admin-listen") {
		s.Admin = strings.TrimSuffix(s.lines(t, "luaws metrics at ", 1)[0], "/metrics")
	}
	return s
}

// urls waits for n "listening on" lines, one per mount, and returns their
// URLs in order.
func (s *server) urls(t *testing.T, n int) []string {
	t.Helper()
	return s.lines(t, "luaws listening on ", n)
}

// lines waits until stdout has n lines starting with prefix and returns
// the rest of every such line. It fails the test if serve exits first, or
// after startTimeout.
func (s *server) lines(t *testing.T, prefix string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		var rests []string
		for _, l := range s.stdout.Lines() {
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				rests = append(rests, rest)
			}
		}
		if len(rests) >= n {
			return rests
		}
		select {
		case code := <-s.exit:
			s.exit <- code // for stop
			t.Fatalf("luaws serve exited with %d before printing %q:\n%s", code, prefix, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q line after %v; stdout:\n%s\nstderr:\n%s", prefix, startTimeout, s.stdout, s.stderr)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// stop cancels Main's context, as SIGINT does, and returns its exit code.
// Stopping a stopped server returns the same code again.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.exit:
		s.exit <- code // for t.Cleanup
		return code
	case <-time.After(stopTimeout):
		t.Fatalf("luaws serve did not stop within %v", stopTimeout)
		return -1
	}
}

// base returns the http:// (or https://) origin of a ws:// URL.
func base(wsURL string) string {
	scheme, rest, _ := strings.Cut(enginetest.HTTPURL(wsURL), "://")
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}

func TestServe(t *testing.T) {
	s := startServe(t, "--serializer", "json", "--mount", "/echo", "testdata/echo.lua")
	if !strings.HasSuffix(s.URL, "/echo") {
		t.Fatalf("listening on %s, want the /echo mount", s.URL)
	}
	if got := strings.Count(s.stdout.String(), "\n"); got != 1 {
		t.Errorf("stdout: got %d lines, want the one listening line:\n%s", got, s.stdout.String())
	}
	clients := []*websocket.Conn{enginetest.Dial(t, s.URL), enginetest.Dial(t, s.URL)}
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
