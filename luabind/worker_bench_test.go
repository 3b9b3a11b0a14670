package luabind_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/luabind"
)

// benchPayload is a 64-byte JSON message.
const benchPayload = `{"type":"echo","seq":12345,"text":"hello, world!!","ok":true}  `

const (
	benchConns    = 32 // client connections
	benchInFlight = 8  // messages in flight per connection
)

// BenchmarkJSONEcho measures JSON echo throughput through a Lua handler
// with 1, 2 and 4 workers, and in the same run a plain gorilla echo server
// that decodes and encodes with encoding/json. The two are measured in
// alternating rounds over the same client connections, so that both see
// the same machine load. Clients run in this process, so both servers
// share the CPU with the same load generator.
//
// Reported: msgs/s and gorilla-msgs/s (wall clock); x-gorilla, luaws's
// wall time per message over gorilla's (1.0 is as fast, 2.0 takes twice as
// long); cpu-us/msg and gorilla-cpu-us/msg, the process's CPU time (server
// and clients) per message, and x-gorilla-cpu, their ratio, which the load
// of other processes disturbs less.
func BenchmarkJSONEcho(b *testing.B) {
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			gorilla := dialEcho(b, startGorillaJSONEcho(b))
			ts := newTestServer(b, `
local M = {}
function M.message(conn, msg) conn:send(msg) end
return M
`, serverOpts{workers: workers, serializer: "json", lua: luabind.Options{Logger: slog.New(slog.DiscardHandler)}})
			lua := dialEcho(b, ts.URL)
			const rounds = 10
			var base, luaws cost
			b.ResetTimer()
			for r := range rounds {
				n := b.N/rounds + boolInt(r < b.N%rounds)
				b.StopTimer()
				base.add(gorilla.run(b, n))
				b.StartTimer()
				luaws.add(lua.run(b, n))
			}
			b.StopTimer()
			msgs := float64(b.N)
			b.ReportMetric(msgs/luaws.wall.Seconds(), "msgs/s")
			b.ReportMetric(msgs/base.wall.Seconds(), "gorilla-msgs/s")
			b.ReportMetric(luaws.wall.Seconds()/base.wall.Seconds(), "x-gorilla")
			b.ReportMetric(float64(luaws.cpu.Microseconds())/msgs, "cpu-us/msg")
			b.ReportMetric(float64(base.cpu.Microseconds())/msgs, "gorilla-cpu-us/msg")
			b.ReportMetric(float64(luaws.cpu)/float64(base.cpu), "x-gorilla-cpu")
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cost is the wall-clock and CPU time of some messages.
type cost struct{ wall, cpu time.Duration }

func (c *cost) add(d cost) { c.wall += d.wall; c.cpu += d.cpu }

// processCPU returns the CPU time, user and system, the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// echoClients are benchConns connections to one echo server.
type echoClients []*websocket.Conn

func dialEcho(b *testing.B, url string) echoClients {
	b.Helper()
	conns := make(echoClients, benchConns)
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns
}

// run sends n messages over the connections, at most benchInFlight
// unanswered per connection, and returns what it cost for every answer to
// come back. Every wait has a deadline.
func (conns echoClients) run(b *testing.B, n int) cost {
	b.Helper()
	payload := []byte(benchPayload)
	cpu, start := processCPU(), time.Now()
	var wg sync.WaitGroup
	for i, c := range conns {
		count := n/len(conns) + boolInt(i < n%len(conns))
		window := make(chan struct{}, benchInFlight)
		failed := make(chan struct{})
		wg.Go(func() {
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
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
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

// startGorillaJSONEcho serves a plain gorilla/websocket echo that decodes
// each message with encoding/json and encodes it back, as a Go server
// without luaws would.
func startGorillaJSONEcho(b *testing.B) string {
	b.Helper()
	up := websocket.Upgrader{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				return
			}
			out, err := json.Marshal(v)
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, out); err != nil {
				return
			}
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "ws://" + ln.Addr().String() + "/"
}
