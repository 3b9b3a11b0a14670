package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/cmd/luaws/cli"
)

// jsonLines returns the JSON log lines whose msg is msg.
func jsonLines(t *testing.T, logs string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestSIGHUPReloads serves a script, rewrites it and sends SIGHUP to the
// test's own process: the connection gets the new behaviour. Then a broken
// version is refused with the same message luaws check prints.
func TestSIGHUPReloads(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "app.lua")
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`return { message = function(conn, msg) conn:send("v1 " .. msg) end }`)
	s := startServe(t, "--no-watch", "--log-format", "json", script)
	url, stderr := s.URL, s.stderr
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ask := func(msg string) string {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	waitLog := func(msg string, n int) map[string]any {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if recs := jsonLines(t, stderr.String(), msg); len(recs) >= n {
				return recs[n-1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q log line after 10 s; stderr:\n%s", msg, stderr)
			}
		}
	}
	if got, want := ask("a"), "v1 a"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}

	write(`return { message = function(conn, msg) conn:send("v2 " .. msg) end }`)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	rec := waitLog("reloaded", 1)
	if got, want := ask("b"), "v2 b"; got != want {
		t.Fatalf("after SIGHUP: got %q, want %q", got, want)
	}
	for key, want := range map[string]any{"mount": "/ws", "outcome": "ok", "reason": "SIGHUP"} {
		if rec[key] != want {
			t.Errorf("reload line: got %s=%v, want %v", key, rec[key], want)
		}
	}
	if files, _ := rec["files"].([]any); len(files) != 1 || files[0] != script {
		t.Errorf("reload line: got files=%v, want [%s]", rec["files"], script)
	}
	if _, ok := rec["duration"]; !ok {
		t.Errorf("reload line has no duration: %v", rec)
	}

	write("local M = {}\nfunction M.message(conn, msg)\n  conn:send('v3 ' .. msg\nend\nreturn M\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	rec = waitLog("reload refused, old version still live", 1)
	if got, want := ask("c"), "v2 c"; got != want {
		t.Fatalf("after a refused reload: got %q, want %q", got, want)
	}
	var out, errOut bytes.Buffer
	if code := cli.Main(context.Background(), []string{"check", script}, &out, &errOut); code != cli.ExitFailure {
		t.Fatalf("check: got exit code %d, want %d", code, cli.ExitFailure)
	}
	if got, want := rec["err"], strings.TrimSuffix(errOut.String(), "\n"); got != want {
		t.Fatalf("reload error %q, check says %q: want the same", got, want)
	}
	if !strings.Contains(errOut.String(), "app.lua:4:") {
		t.Errorf("check: got %q, want app.lua:4:", errOut.String())
	}
}

// TestServeWatchesScript checks that serve watches by default.
func TestServeWatchesScript(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "app.lua")
	write := func(src string) {
		t.Helper()
		tmp := script + ".tmp"
		if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, script); err != nil {
			t.Fatal(err)
		}
	}
	write(`return { message = function(conn, msg) conn:send("v1 " .. msg) end }`)
	s := startServe(t, "--log-format", "json", script)
	url, stderr := s.URL, s.stderr
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	write(`return { message = function(conn, msg) conn:send("v2 " .. msg) end }`)
	for deadline := time.Now().Add(10 * time.Second); len(jsonLines(t, stderr.String(), "reloaded")) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload 10 s after the script changed; stderr:\n%s", stderr)
		}
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("a")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), "v2 a"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
