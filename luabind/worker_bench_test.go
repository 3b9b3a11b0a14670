package luabind_test

import (
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/luaws/luaws/engine/enginetest/baseline"
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
			load := echoLoad{conns: benchConns, inflight: benchInFlight}
			gorilla := load.dial(b, startGorillaJSONEcho(b))
			ts := newTestServer(b, `
local M = {}
function M.message(conn, msg) conn:send(msg) end
return M
`, serverOpts{workers: workers, serializer: "json", lua: luabind.Options{Logger: slog.New(slog.DiscardHandler)}})
			compareEcho(b, load, gorilla, load.dial(b, ts.URL))
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

// startGorillaJSONEcho serves a plain gorilla/websocket echo that decodes
// each message with encoding/json and encodes it back, as a Go server
// without luaws would.
func startGorillaJSONEcho(b *testing.B) string {
	return serveBench(b, baseline.Echo(baseline.Reencode), nil)
}
