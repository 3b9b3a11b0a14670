package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/luaws/luaws/cmd/luaws/cli"
	"github.com/luaws/luaws/cmd/luaws/cli/loadgen"
)

// TestBench runs `luaws bench` in each mode against `luaws serve` started
// in-process, with --server-pid set to this process (where the server
// runs), and checks that the summary, or the --json result, is complete.
// It checks nothing about speed.
func TestBench(t *testing.T) {
	echo := startServe(t, "--no-watch", "--log-level", "warn", "../../../examples/echo/echo.lua")
	jsonEcho := startServe(t, "--no-watch", "--log-level", "warn", "--serializer", "json", "../../../examples/echo/echo.lua")
	fanout := startServe(t, "--no-watch", "--log-level", "warn", "--serializer", "json", "../../../scripts/bench_broadcast.lua")
	pid := fmt.Sprint(os.Getpid())
	tests := []struct {
		name string
		url  string
		args []string
		want []string // in the summary
	}{
		{"echo", echo.URL, []string{"--conns", "4", "--inflight", "4"},
			[]string{"luaws bench echo " + echo.URL, "4 of 4 connections, 4 in flight each, 64-byte text messages", "answered", "latency      p50 ", "errors       0", "µs per message"}},
		{"echo json", jsonEcho.URL, []string{"--conns", "2", "--payload", "json", "--size", "100"},
			[]string{"100-byte json messages", "errors       0", "µs per message"}},
		{"echo capped", echo.URL, []string{"--conns", "3", "--messages", "10", "--duration", "10s"},
			[]string{"10 sent, 10 answered", "errors       0"}},
		{"idle", echo.URL, []string{"--mode", "idle", "--conns", "20"},
			[]string{"luaws bench idle", "20 of 20 connections opened", "errors       0", "KiB per idle connection", "rss "}},
		{"idle after a warmup", echo.URL, []string{"--mode", "idle", "--conns", "20", "--warmup", "2"},
			[]string{"20 of 20 connections opened", "warmup       40 messages echoed before", "errors       0", "KiB per idle connection"}},
		{"broadcast", fanout.URL, []string{"--mode", "broadcast", "--conns", "10", "--inflight", "2"},
			[]string{"luaws bench broadcast", "10 of 10 subscribers, 1 publisher, 2 in flight", "delivered", "fan-out      p50 ", "errors       0", "µs per delivery"}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			args := append([]string{"bench", "--duration", "300ms", "--server-pid", pid}, tt.args...)
			var stdout, stderr bytes.Buffer
			code := cli.Main(context.Background(), append(args, tt.url), &stdout, &stderr)
			if code != cli.ExitOK {
				t.Fatalf("exit code: got %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("summary: got\n%s\nwant it to contain %q", stdout.String(), w)
				}
			}
			if strings.Contains(stdout.String(), "\r") {
				t.Errorf("summary: got a progress line on a stdout that is not a terminal:\n%q", stdout.String())
			}

			stdout.Reset()
			code = cli.Main(context.Background(), append(append(args, "--json"), tt.url), &stdout, &stderr)
			if code != cli.ExitOK {
				t.Fatalf("--json: exit code: got %d, want 0\nstderr:\n%s", code, stderr.String())
			}
			var res loadgen.Result
			dec := json.NewDecoder(&stdout)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&res); err != nil {
				t.Fatalf("--json: %v", err)
			}
			if res.URL != tt.url || res.Opened == 0 || res.Errors != 0 || res.Server == nil || res.Server.PID != os.Getpid() || res.Server.RSSAfter == 0 {
				t.Errorf("--json: got %+v (server %+v), want url %s, connections opened, no errors, server stats", res, res.Server, tt.url)
			}
			switch res.Mode {
			case loadgen.Echo, loadgen.Broadcast:
				if res.Messages == 0 || res.Latency == nil || res.Latency.Max == 0 || res.Rate == 0 {
					t.Errorf("--json: got %d messages, latency %+v, rate %v; want some", res.Messages, res.Latency, res.Rate)
				}
			case loadgen.Idle:
				if res.Server.RSSPerConn == 0 {
					t.Errorf("--json: got no RSS per connection")
				}
			}
		})
	}
}

// TestBenchBadInput: bad flags and targets are one line on stderr.
func TestBenchBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no url", nil, cli.ExitBadInput, "no URL given"},
		{"two urls", []string{"ws://127.0.0.1:1/ws", "ws://127.0.0.1:2/ws"}, cli.ExitBadInput, "one URL at a time"},
		{"bad mode", []string{"--mode", "storm", "ws://127.0.0.1:1/ws"}, cli.ExitBadInput, `--mode "storm"`},
		{"bad payload", []string{"--payload", "xml", "ws://127.0.0.1:1/ws"}, cli.ExitBadInput, `--payload "xml"`},
		{"bad size", []string{"--size", "big", "ws://127.0.0.1:1/ws"}, cli.ExitBadInput, "--size"},
		{"too many conns", []string{"--conns", "1000000", "ws://127.0.0.1:1/ws"}, cli.ExitBadInput, "--conns"},
		{"endless", []string{"--duration", "2h", "ws://127.0.0.1:1/ws"}, cli.ExitBadInput, "--duration"},
		{"negative warmup", []string{"--mode", "idle", "--warmup", "-1", "ws://127.0.0.1:1/ws"}, cli.ExitBadInput, "--warmup: want 0 to 1000"},
		{"warmup while echoing", []string{"--warmup", "1", "ws://127.0.0.1:1/ws"}, cli.ExitBadInput, "--warmup: want --mode idle"},
		{"reconnects while echoing", []string{"--reconnects", "1", "ws://127.0.0.1:1/ws"}, cli.ExitBadInput, "--reconnects: want --mode connect"},
		{"too many reconnects", []string{"--mode", "connect", "--reconnects", "101", "ws://127.0.0.1:1/ws"}, cli.ExitBadInput, "--reconnects: want 0 to 100"},
		{"unknown flag", []string{"--bogus", "ws://127.0.0.1:1/ws"}, cli.ExitBadInput, "luaws bench -h"},
		{"remote", []string{"ws://192.0.2.1/ws"}, cli.ExitFailure, "not a loopback address"},
		{"http url", []string{"http://127.0.0.1:1/ws"}, cli.ExitFailure, "want ws:// or wss://"},
		{"nobody listening", []string{"--duration", "100ms", "ws://127.0.0.1:1/ws"}, cli.ExitFailure, "connection refused"},
		{"no such pid", []string{"--server-pid", "999999999", "ws://127.0.0.1:1/ws"}, cli.ExitFailure, "server pid 999999999"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli.Main(context.Background(), append([]string{"bench"}, tt.args...), &stdout, &stderr)
			got := stderr.String()
			if code != tt.code || strings.Count(got, "\n") != 1 || !strings.Contains(got, tt.want) {
				t.Errorf("got exit %d, stderr %q; want exit %d and one line containing %q", code, got, tt.code, tt.want)
			}
		})
	}
}

func TestBenchHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"bench", "-h"}, &stdout, &stderr)
	for _, want := range []string{"Usage: luaws bench", "--mode broadcast", "-server-pid", "-inflight"} {
		if code != cli.ExitOK || !strings.Contains(stderr.String(), want) {
			t.Errorf("got exit %d, stderr:\n%s\nwant exit 0 and %q", code, stderr.String(), want)
		}
	}
}
