package luabind_test

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/engine/enginetest/baseline"
	"github.com/luaws/luaws/luabind"
)

// BenchmarkEcho measures examples/echo/echo.lua, the shipped echo, against a
// plain gorilla echo server (a ReadMessage/WriteMessage loop; with json,
// encoding/json decodes and encodes each message), in alternating rounds
// over 32 client connections that keep 1 or 8 messages of 64 bytes in
// flight each; tls/ is the raw echo over wss:// on both sides (crypto/tls).
// (JSON with 8 in flight is BenchmarkJSONEcho/workers=1.)
// Metrics as in BenchmarkJSONEcho: x-gorilla is the wall time ratio,
// x-gorilla-cpu the ratio of process CPU per message, clients included
// (luaws bench --server-pid measures the server alone).
func BenchmarkEcho(b *testing.B) {
	cases := []struct {
		name       string
		serializer string
		inflight   int
		tls        bool                         // both servers terminate TLS (crypto/tls), the clients dial wss://
		reply      func([]byte) ([]byte, error) // the gorilla echo's (baseline.Echo)
	}{
		{"raw/inflight=1", "none", 1, false, nil},
		{"raw/inflight=8", "none", 8, false, nil},
		{"json/inflight=1", "json", 1, false, baseline.Reencode},
		{"tls/inflight=1", "none", 1, true, nil},
		{"tls/inflight=8", "none", 8, true, nil},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			load := echoLoad{conns: benchConns, inflight: tc.inflight}
			opts := serverOpts{workers: 1, serializer: tc.serializer, lua: luabind.Options{Logger: slog.New(slog.DiscardHandler)}}
			var serverTLS *tls.Config
			if tc.tls {
				cert := enginetest.SelfSigned(b)
				load.roots = &tls.Config{RootCAs: cert.Pool}
				serverTLS = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
				opts.config.TLSConfig = serverTLS.Clone()
			}
			gorilla := load.dial(b, serveBench(b, baseline.Echo(tc.reply), serverTLS))
			ts := newTestServer(b, "../examples/echo/echo.lua", opts)
			url := ts.URL
			if tc.tls {
				url = "wss" + strings.TrimPrefix(url, "ws")
			}
			lua := load.dial(b, url)
			compareEcho(b, load, gorilla, lua)
		})
	}
}

// compareEcho runs b.N messages over the gorilla and the luaws client
// connections in alternating rounds, so that both see the same machine
// load, timing only luaws's, and reports both and their ratios.
//
// Reported: msgs/s and gorilla-msgs/s (wall clock); x-gorilla, luaws's
// wall time per message over gorilla's (1.0 is as fast); cpu-us/msg and
// gorilla-cpu-us/msg, the process's CPU time (server and clients) per
// message, and x-gorilla-cpu, their ratio.
func compareEcho(b *testing.B, load echoLoad, gorilla, lua []*websocket.Conn) {
	const rounds = 10
	var base, luaws cost
	b.ResetTimer()
	for r := range rounds {
		n := b.N/rounds + boolInt(r < b.N%rounds)
		b.StopTimer()
		base.add(load.run(b, gorilla, n))
		b.StartTimer()
		luaws.add(load.run(b, lua, n))
	}
	b.StopTimer()
	msgs := float64(b.N)
	b.ReportMetric(msgs/luaws.wall.Seconds(), "msgs/s")
	b.ReportMetric(msgs/base.wall.Seconds(), "gorilla-msgs/s")
	b.ReportMetric(luaws.wall.Seconds()/base.wall.Seconds(), "x-gorilla")
	b.ReportMetric(float64(luaws.cpu.Microseconds())/msgs, "cpu-us/msg")
	b.ReportMetric(float64(base.cpu.Microseconds())/msgs, "gorilla-cpu-us/msg")
	b.ReportMetric(float64(luaws.cpu)/float64(base.cpu), "x-gorilla-cpu")
}

// echoLoad is conns client connections with inflight messages each.
type echoLoad struct {
	conns, inflight int
	roots           *tls.Config // trusts the servers' certificate, for wss://
}

func (l echoLoad) dial(b *testing.B, url string) []*websocket.Conn {
	b.Helper()
	d := *websocket.DefaultDialer
	d.TLSClientConfig = l.roots
	conns := make([]*websocket.Conn, l.conns)
	for i := range conns {
		c, _, err := d.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns
}

// run sends n messages over conns, at most l.inflight unanswered per
// connection, and returns what it cost for every answer to come back.
// Every wait has a deadline.
func (l echoLoad) run(b *testing.B, conns []*websocket.Conn, n int) cost {
	b.Helper()
	payload := []byte(benchPayload)
	cpu, start := processCPU(), time.Now()
	var wg sync.WaitGroup
	for i, c := range conns {
		count := n/len(conns) + boolInt(i < n%len(conns))
		window := make(chan struct{}, l.inflight)
		failed := make(chan struct{})
		wg.Go(func() {
			_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			for range count {
				select {
				case window <- struct{}{}:
				case <-failed:
					return
				}
				if err := c.WriteMessage(websocket.TextMessage, payload); err != nil {
					b.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			for range count {
				if _, _, err := c.ReadMessage(); err != nil {
					b.Error(err)
					close(failed)
					return
				}
				<-window
			}
		})
	}
	wg.Wait()
	return cost{wall: time.Since(start), cpu: processCPU() - cpu}
}

// serveBench serves h on 127.0.0.1 until the benchmark ends, over TLS
// (wss://) when tlsConfig is not nil.
func serveBench(b *testing.B, h http.Handler, tlsConfig *tls.Config) string {
	b.Helper()
	srv := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	if tlsConfig != nil {
		go srv.Serve(tls.NewListener(ln, tlsConfig))
		return "wss://" + ln.Addr().String() + "/"
	}
	go srv.Serve(ln)
	return "ws://" + ln.Addr().String() + "/"
}

// BenchmarkLuaBroadcast sends one {"broadcast": {...}} message per op from
// a publisher connection to 1,000 subscribers, through
// scripts/bench_broadcast.lua (the JSON serializer decodes it,
// luaws.broadcast encodes the inner value once) and through a plain
// gorilla hub that does the same with encoding/json and a prepared
// message queued to a writer goroutine per connection (gorilla's chat
// example). The two alternate op by op. Reported per server: the time for
// a message to reach every subscriber (p50, p99, in µs) and the process
// CPU per delivery; x-gorilla-p99 and x-gorilla-cpu are luaws over gorilla.
func BenchmarkLuaBroadcast(b *testing.B) {
	const subscribers = 1000
	gorilla := newFanout(b, "gorilla", startGorillaHub(b), subscribers)
	ts := newTestServer(b, "../scripts/bench_broadcast.lua", serverOpts{workers: 1, serializer: "json",
		lua: luabind.Options{Logger: slog.New(slog.DiscardHandler)}})
	lua := newFanout(b, "luaws", ts.URL, subscribers)
	var gl, ll []time.Duration
	var gcpu, lcpu time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d, cpu := gorilla.broadcast(b, i)
		gl, gcpu = append(gl, d), gcpu+cpu
		d, cpu = lua.broadcast(b, i)
		ll, lcpu = append(ll, d), lcpu+cpu
	}
	b.StopTimer()
	q := func(l []time.Duration, p float64) float64 {
		slices.Sort(l)
		return float64(l[int(p*float64(len(l)-1))].Microseconds())
	}
	deliveries := float64(len(ll) * subscribers)
	b.ReportMetric(q(ll, 0.50), "p50-µs")
	b.ReportMetric(q(ll, 0.99), "p99-µs")
	b.ReportMetric(q(gl, 0.50), "gorilla-p50-µs")
	b.ReportMetric(q(gl, 0.99), "gorilla-p99-µs")
	b.ReportMetric(q(ll, 0.99)/q(gl, 0.99), "x-gorilla-p99")
	b.ReportMetric(float64(lcpu.Nanoseconds())/1e3/deliveries, "cpu-us/delivery")
	b.ReportMetric(float64(gcpu.Nanoseconds())/1e3/deliveries, "gorilla-cpu-us/delivery")
	b.ReportMetric(float64(lcpu)/float64(gcpu), "x-gorilla-cpu")
}

// fanout is a publisher and subscribers on one server.
type fanout struct {
	name      string
	pub       *websocket.Conn
	n         int64
	delivered atomic.Int64
	want      atomic.Int64
	done      chan struct{}
}

func newFanout(b *testing.B, name, url string, subscribers int) *fanout {
	b.Helper()
	f := &fanout{name: name, n: int64(subscribers), done: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	b.Cleanup(wg.Wait) // registered first: runs after the connections are closed
	dial := func() *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	f.pub = dial()
	wg.Go(func() {
		for { // reads, to answer the server's pings
			if _, _, err := f.pub.NextReader(); err != nil {
				return
			}
		}
	})
	for range subscribers {
		c := dial()
		// The echo of a first message says the server counts c in its
		// broadcasts (gorilla's hub registers after the handshake).
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"ready":true}`)); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Time{})
		wg.Go(func() {
			for {
				if _, _, err := c.NextReader(); err != nil {
					return // closed at the end of the benchmark
				}
				if f.delivered.Add(1) == f.want.Load() {
					f.done <- struct{}{}
				}
			}
		})
	}
	return f
}

// broadcast publishes message i and waits until every subscriber has it.
func (f *fanout) broadcast(b *testing.B, i int) (time.Duration, time.Duration) {
	msg := []byte(`{"broadcast":{"seq":` + strconv.Itoa(i) + `,"text":"hello, everyone"}}`)
	f.want.Add(f.n)
	cpu, start := processCPU(), time.Now()
	_ = f.pub.SetWriteDeadline(start.Add(10 * time.Second))
	if err := f.pub.WriteMessage(websocket.TextMessage, msg); err != nil {
		b.Fatal(err)
	}
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		b.Fatalf("%s: message %d reached %d of %d subscribers in 10 s", f.name, i, f.delivered.Load()-(f.want.Load()-f.n), f.n)
	}
	return time.Since(start), processCPU() - cpu
}

// startGorillaHub serves gorilla's chat example with prepared messages, on
// the protocol of scripts/bench_broadcast.lua (baseline.Hub).
func startGorillaHub(b *testing.B) string {
	b.Helper()
	return serveBench(b, baseline.NewHub(), nil)
}
