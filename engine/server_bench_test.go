package engine_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest/baseline"
)

// benchTimeout bounds every wait in the benchmarks, so that a wedged writer
// fails the benchmark instead of hanging it.
const benchTimeout = 10 * time.Second

var payload64 = bytes.Repeat([]byte("x"), 64)

// BenchmarkEcho measures one 64-byte text message echoed by each of N
// connections (one in flight per connection) against plain gorilla and
// against the engine with a Go echo handler, in the same run, and reports
// the engine/gorilla ratio of ns/op.
func BenchmarkEcho(b *testing.B) {
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			var baseline float64 // gorilla ns/op
			b.Run("gorilla-echo", func(b *testing.B) {
				baseline = runEcho(b, startGorillaEcho(b), conns)
			})
			b.Run("engine-echo", func(b *testing.B) {
				if baseline == 0 { // gorilla-echo was filtered out: measure it here, untimed
					baseline = measureEcho(b, startGorillaEcho(b), conns, time.Second)
				}
				_, url := newTestServer(b, benchConfig(b, echoHandler{}))
				ns := runEcho(b, url, conns)
				if baseline > 0 {
					b.ReportMetric(ns/baseline, "engine/gorilla")
				}
			})
		})
	}
}

// runEcho dials conns clients to url and, per op, sends one message on each
// and reads every echo. It returns ns/op.
func runEcho(b *testing.B, url string, conns int) float64 {
	clients := dialEcho(b, url, conns)
	buf := make([]byte, len(payload64))
	b.ReportAllocs()
	for b.Loop() {
		if err := echoRound(clients, buf); err != nil {
			b.Fatal(err)
		}
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/float64(conns), "ns/msg")
	return ns
}

// measureEcho is runEcho timed by hand for about d, for a baseline taken
// inside another benchmark (testing.Benchmark cannot run there).
func measureEcho(b *testing.B, url string, conns int, d time.Duration) float64 {
	clients := dialEcho(b, url, conns)
	buf := make([]byte, len(payload64))
	n, start := 0, time.Now()
	for ; n < 10 || time.Since(start) < d; n++ {
		if err := echoRound(clients, buf); err != nil {
			b.Fatal(err)
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func dialEcho(b *testing.B, url string, conns int) []*websocket.Conn {
	clients := make([]*websocket.Conn, conns)
	for i := range clients {
		clients[i] = dial(b, url)
	}
	return clients
}

// echoRound sends one message on every client, then reads every echo.
func echoRound(clients []*websocket.Conn, buf []byte) error {
	deadline := time.Now().Add(benchTimeout)
	for _, ws := range clients {
		_ = ws.SetWriteDeadline(deadline)
		if err := ws.WriteMessage(websocket.TextMessage, payload64); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	for _, ws := range clients {
		_ = ws.SetReadDeadline(deadline)
		if err := readInto(ws, buf); err != nil {
			return fmt.Errorf("read echo: %w", err)
		}
	}
	return nil
}

// readInto reads one message of len(buf) bytes without allocating.
func readInto(ws *websocket.Conn, buf []byte) error {
	_, r, err := ws.NextReader()
	if err != nil {
		return err
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	return nil
}

// startGorillaEcho starts the plain gorilla/websocket echo server.
func startGorillaEcho(b *testing.B) string {
	srv := httptest.NewServer(baseline.Echo(nil))
	b.Cleanup(srv.Close) // runs after the clients' cleanups: their handlers have ended
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// benchConfig logs warnings only: none are expected, and one explains a failure.
func benchConfig(b *testing.B, h engine.Handler) engine.Config {
	cfg := mountOf(h)
	cfg.Logger = testLoggerAt(b, slog.LevelWarn)
	return cfg
}

// BenchmarkBroadcast sends one 64-byte message to 1000 connections per op:
// the engine's Mount.Broadcast (encoded once, queued to every writer)
// against a naive gorilla loop calling WriteMessage on each connection. It
// reports messages delivered per second.
func BenchmarkBroadcast(b *testing.B) {
	const conns = 1000
	var baseline float64 // gorilla ns/op
	b.Run("gorilla-loop", func(b *testing.B) {
		url, serverConns := startGorillaHub(b)
		clients := newBroadcastClients(b, url, conns)
		waitFor(b, "gorilla to register every connection", func() bool { return len(serverConns()) == conns })
		all := serverConns()
		baseline = clients.run(b, func() string { return fmt.Sprintf("gorilla holds %d conns", len(serverConns())) }, func() {
			deadline := time.Now().Add(benchTimeout)
			for _, ws := range all {
				_ = ws.SetWriteDeadline(deadline)
				if err := ws.WriteMessage(websocket.TextMessage, payload64); err != nil {
					b.Fatalf("gorilla write: %v", err)
				}
			}
		})
	})
	b.Run("engine-broadcast", func(b *testing.B) {
		srv, url := newTestServer(b, benchConfig(b, echoHandler{}))
		m := srv.Mount("/ws")
		clients := newBroadcastClients(b, url, conns)
		waitFor(b, "the engine to register every connection", func() bool { return m.Len() == conns })
		ns := clients.run(b, func() string { return fmt.Sprintf("the mount holds %d conns", m.Len()) }, func() {
			n, err := m.Broadcast(websocket.TextMessage, payload64, 0)
			if err != nil || n != conns {
				b.Fatalf("Broadcast: got (%d, %v), want (%d, nil)", n, err, conns)
			}
		})
		if baseline > 0 {
			b.ReportMetric(ns/baseline, "engine/gorilla")
		}
	})
}

// broadcastClients are client connections whose readers count deliveries.
type broadcastClients struct {
	n         int
	delivered atomic.Int64
	want      atomic.Int64
	done      chan struct{}
}

func newBroadcastClients(b *testing.B, url string, n int) *broadcastClients {
	bc := &broadcastClients{n: n, done: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	b.Cleanup(wg.Wait) // registered first: runs after the clients are closed
	for range n {
		ws := dial(b, url)
		wg.Go(func() {
			buf := make([]byte, len(payload64))
			for {
				if err := readInto(ws, buf); err != nil {
					return // closed at the end of the benchmark
				}
				if bc.delivered.Add(1) == bc.want.Load() {
					bc.done <- struct{}{}
				}
			}
		})
	}
	return bc
}

// run calls send once per op and waits until every client has the message.
// It returns ns/op and reports msgs/s. On a timeout it fails with state(),
// and where the goroutines wait.
func (bc *broadcastClients) run(b *testing.B, state func() string, send func()) float64 {
	timer := time.NewTimer(benchTimeout)
	defer timer.Stop()
	b.ReportAllocs()
	for b.Loop() {
		bc.want.Add(int64(bc.n))
		send()
		timer.Reset(benchTimeout)
		select {
		case <-bc.done:
		case <-timer.C:
			b.Fatalf("delivered %d of %d messages within %v; %s; goroutines:\n%s",
				bc.delivered.Load(), bc.want.Load(), benchTimeout, state(), goroutineSummary())
		}
	}
	elapsed := b.Elapsed()
	b.ReportMetric(float64(b.N*bc.n)/elapsed.Seconds(), "msgs/s")
	return float64(elapsed.Nanoseconds()) / float64(b.N)
}

// startGorillaHub starts a gorilla server that keeps every connection (and
// reads it, to answer control frames) and returns a snapshot function.
func startGorillaHub(b *testing.B) (string, func() []*websocket.Conn) {
	var h baseline.Holder
	srv := httptest.NewServer(&h)
	b.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), h.Conns
}

// goroutineSummary counts goroutines by state and innermost engine or
// gorilla function, for the failure message of a wedged benchmark.
func goroutineSummary() string {
	buf := make([]byte, 64<<20)
	buf = buf[:runtime.Stack(buf, true)]
	counts := map[string]int{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		lines := strings.Split(g, "\n")
		key := lines[0]
		if i := strings.Index(key, "["); i >= 0 {
			key = key[i:] // [state, minutes]
		}
		for _, l := range lines[1:] {
			if strings.Contains(l, "luaws/engine.") || strings.Contains(l, "gorilla/websocket.") {
				key += " " + strings.TrimSpace(l)
				break
			}
		}
		counts[key]++
	}
	var out []string
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%6d %s", n, k))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
