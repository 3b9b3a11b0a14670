package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/luaws/luaws/cmd/luaws/cli/loadgen"
)

const benchUsage = `Usage: luaws bench [flags] URL

Measures a WebSocket server on loopback (see docs/performance.md):
  --mode echo       connections send messages and time the echoes
                    (server: luaws serve examples/echo/echo.lua)
  --mode idle       open connections and hold them; with --server-pid,
                    the server's memory per idle connection
  --mode broadcast  subscribers and one publisher that sends
                    {"broadcast": ...}; times the fan-out
                    (server: luaws serve --serializer json scripts/bench_broadcast.lua)
  --mode connect    open connections as fast as --dial-concurrency allows:
                    handshakes per second and, with --server-pid, server
                    CPU per handshake; --reconnects N then drops them all
                    at once and opens them again N times, timing each round

Flags:
`

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, asJSON, err := parseBench(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return printError(stderr, err)
	}
	if isTerminal(stdout) && !asJSON {
		cfg.Progress = func(p loadgen.Progress) { fmt.Fprint(stdout, "\r\033[K"+progressLine(p)) }
	}
	res, err := loadgen.Run(ctx, cfg)
	if cfg.Progress != nil {
		fmt.Fprint(stdout, "\r\033[K")
	}
	if err != nil {
		fmt.Fprintf(stderr, "luaws: bench: %s\n", oneLine(err.Error()))
		return ExitFailure
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		writeSummary(stdout, res)
	}
	if res.Errors > 0 {
		return ExitFailure
	}
	return ExitOK
}

func parseBench(args []string, stderr io.Writer) (cfg loadgen.Config, asJSON bool, err error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var mode, size string
	fs.StringVar(&mode, "mode", "echo", "echo, idle or broadcast")
	fs.IntVar(&cfg.Conns, "conns", 0, "connections: echo clients (default 64), idle connections or broadcast subscribers (default 1000)")
	fs.IntVar(&cfg.InFlight, "inflight", 1, "echo: messages each connection keeps unanswered; broadcast: messages on their way at once")
	fs.StringVar(&size, "size", "64", "payload size, e.g. 64 or 4KiB")
	fs.StringVar(&cfg.Payload, "payload", "text", "echo payload: text or json (broadcast always sends JSON)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send, or to hold idle connections (at most 1h)")
	fs.Int64Var(&cfg.Messages, "messages", 0, "stop after this many messages sent (echo) or published (broadcast); 0: only --duration")
	fs.IntVar(&cfg.Reconnects, "reconnects", 0, "connect: rounds of dropping every connection at once and opening them all again")
	fs.IntVar(&cfg.Warmup, "warmup", 0, "idle: messages each connection has echoed before it goes idle (the memory of used connections)")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "the server's process id, to report its CPU per message and RSS per connection from /proc")
	fs.IntVar(&cfg.DialConcurrency, "dial-concurrency", 64, "handshakes in progress at once")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "do not verify a wss:// server's certificate")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, benchUsage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return cfg, false, err
		}
		return cfg, false, &usageError{msg: "bench: " + err.Error(), try: "luaws bench -h"}
	}
	switch fs.NArg() {
	case 0:
		return cfg, false, &usageError{msg: "bench: no URL given", try: "luaws bench ws://127.0.0.1:8080/ws"}
	case 1:
		cfg.URL = fs.Arg(0)
	default:
		return cfg, false, &usageError{msg: fmt.Sprintf("bench: one URL at a time, got %d", fs.NArg()), try: "put flags before the URL"}
	}
	cfg.Mode = loadgen.Mode(mode)
	n, err := ParseSize(size)
	if err != nil {
		return cfg, false, &usageError{msg: "--size: " + err.Error()}
	}
	if n > loadgen.MaxSize {
		return cfg, false, &usageError{msg: fmt.Sprintf("--size %s: at most %d bytes", size, loadgen.MaxSize)}
	}
	cfg.Size = int(n)
	for _, check := range []struct {
		bad  bool
		flag string
		want string
	}{
		{cfg.Conns < 0 || cfg.Conns > loadgen.MaxConns, "--conns", fmt.Sprintf("from 1 to %d", loadgen.MaxConns)},
		{cfg.InFlight < 1 || cfg.InFlight > loadgen.MaxInFlight, "--inflight", fmt.Sprintf("from 1 to %d", loadgen.MaxInFlight)},
		{cfg.Duration <= 0 || cfg.Duration > loadgen.MaxDuration, "--duration", "more than 0 and at most 1h"},
		{cfg.Messages < 0, "--messages", "0 (no cap) or more"},
		{cfg.ServerPID < 0, "--server-pid", "a process id"},
		{cfg.DialConcurrency < 1, "--dial-concurrency", "at least 1"},
		{cfg.Warmup < 0 || cfg.Warmup > loadgen.MaxWarmup, "--warmup", fmt.Sprintf("0 to %d", loadgen.MaxWarmup)},
		{cfg.Warmup > 0 && mode != string(loadgen.Idle), "--warmup", "--mode idle (it warms up idle connections)"},
		{cfg.Reconnects < 0 || cfg.Reconnects > loadgen.MaxRounds, "--reconnects", fmt.Sprintf("0 to %d", loadgen.MaxRounds)},
		{cfg.Reconnects > 0 && mode != string(loadgen.Connect), "--reconnects", "--mode connect"},
	} {
		if check.bad {
			return cfg, false, &usageError{msg: fmt.Sprintf("bench: %s: want %s", check.flag, check.want)}
		}
	}
	switch cfg.Mode {
	case loadgen.Echo, loadgen.Idle, loadgen.Broadcast, loadgen.Connect:
	default:
		return cfg, false, &usageError{msg: fmt.Sprintf("bench: --mode %q: want echo, idle, broadcast or connect", mode)}
	}
	switch cfg.Payload {
	case loadgen.PayloadText, loadgen.PayloadJSON:
	default:
		return cfg, false, &usageError{msg: fmt.Sprintf("bench: --payload %q: want text or json", cfg.Payload)}
	}
	return cfg, asJSON, nil
}

// isTerminal reports whether w is a terminal, where a progress line that
// rewrites itself makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func progressLine(p loadgen.Progress) string {
	s := fmt.Sprintf("%4.0fs  %d connections", p.Elapsed.Seconds(), p.Conns)
	if p.Mode == loadgen.Echo || p.Mode == loadgen.Broadcast {
		s += fmt.Sprintf("  %s messages/s  p99 %s", count(p.Rate), us(float64(p.P99.Nanoseconds())/1e3))
	}
	return s + fmt.Sprintf("  errors %d", p.Errors)
}

// writeSummary prints res for people.
func writeSummary(w io.Writer, res *loadgen.Result) {
	fmt.Fprintf(w, "luaws bench %s %s\n", res.Mode, res.URL)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "  %-12s %s\n", name, fmt.Sprintf(format, args...))
	}
	dur := time.Duration(res.Seconds * float64(time.Second)).Round(time.Millisecond)
	switch res.Mode {
	case loadgen.Echo:
		row("run", "%d of %d connections, %d in flight each, %d-byte %s messages, %s",
			res.Opened, res.Conns, res.InFlight, res.Size, res.Payload, dur)
		row("messages", "%d sent, %d answered, %s/s", res.Sent, res.Messages, count(res.Rate))
		row("latency", "%s", latency(res.Latency))
	case loadgen.Broadcast:
		row("run", "%d of %d subscribers, 1 publisher, %d in flight, %d-byte JSON messages, %s",
			res.Opened, res.Conns, res.InFlight, res.Size, dur)
		row("messages", "%d published, %d delivered, %s deliveries/s", res.Sent, res.Messages, count(res.Rate))
		row("latency", "%s (publish to each subscriber)", latency(res.Latency))
		row("fan-out", "%s (publish to the last subscriber)", latency(res.Fanout))
	case loadgen.Idle:
		row("run", "%d of %d connections opened in %.1fs, held %s",
			res.Opened, res.Conns, res.ConnectSeconds, dur)
		if res.Sent > 0 {
			row("warmup", "%d messages echoed before", res.Sent)
		}
	case loadgen.Connect:
		row("run", "%d of %d connections opened in %.2fs", res.Opened, res.Conns, res.ConnectSeconds)
		row("handshakes", "%d, %s/s", res.Messages, count(res.Rate))
		row("handshake", "%s", latency(res.Latency))
		for i, rd := range res.Rounds {
			row(fmt.Sprintf("reconnect %d", i+1), "%d of %d back in %.2fs", rd.Opened, res.Conns, rd.Seconds)
		}
	}
	errs := fmt.Sprint(res.Errors)
	if res.FirstError != "" {
		errs += " (first: " + res.FirstError + ")"
	}
	row("errors", "%s", errs)
	row("client cpu", "%.2fs", res.ClientCPUSeconds)
	if s := res.Server; s != nil {
		var parts []string
		switch res.Mode {
		case loadgen.Echo:
			parts = append(parts, fmt.Sprintf("cpu %.2fs, %.2f µs per message", s.CPUSeconds, s.CPUPerMessage))
		case loadgen.Broadcast:
			parts = append(parts, fmt.Sprintf("cpu %.2fs, %.2f µs per delivery, %.1f µs per publish", s.CPUSeconds, s.CPUPerMessage, s.CPUPerPublish))
		case loadgen.Connect:
			parts = append(parts, fmt.Sprintf("cpu %.2fs, %.1f µs per handshake", s.CPUSeconds, s.CPUPerMessage))
		case loadgen.Idle:
			parts = append(parts, fmt.Sprintf("%.2f KiB per idle connection", s.RSSPerConn/1024))
			parts = append(parts, fmt.Sprintf("cpu %.2fs", s.CPUSeconds))
		}
		parts = append(parts, fmt.Sprintf("rss %s -> %s", mib(s.RSSBefore), mib(s.RSSAfter)))
		row("server", "pid %d: %s", s.PID, strings.Join(parts, "; "))
	}
}

func latency(l *loadgen.Latency) string {
	if l == nil {
		return "-"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", us(l.P50), us(l.P90), us(l.P99), us(l.Max))
}

// us formats microseconds: 412µs, 1.92ms, 1.20s.
func us(v float64) string {
	switch {
	case v < 1000:
		return fmt.Sprintf("%.0fµs", v)
	case v < 1e6:
		return fmt.Sprintf("%.2fms", v/1e3)
	}
	return fmt.Sprintf("%.2fs", v/1e6)
}

func count(v float64) string {
	if v >= 10_000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
