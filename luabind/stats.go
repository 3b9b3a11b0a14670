package luabind

import (
	"sync/atomic"
	"time"

	"github.com/luaws/luaws/engine/metrics"
)

// handlerLabels are the handler names durations are kept for, in the
// order of stats.durations.
var handlerLabels = [...]string{"handshake", "error", "open", "message", "close", "timer"}

// stats are a Mount's counters, read by [Mount.ScriptStats].
type stats struct {
	luaErrors atomic.Uint64
	durations [len(handlerLabels)]metrics.Histogram
}

// monoNow reads the monotonic clock only: a handler's duration costs two
// clock reads, where time.Now and time.Since take three.
func monoNow() time.Duration { return time.Since(clockBase) }

var clockBase = time.Now()

// observe records one run of the named handler.
func (s *stats) observe(name string, d time.Duration) {
	for i, l := range handlerLabels {
		if l == name {
			s.durations[i].Observe(d)
			return
		}
	}
}

// ScriptStats implements [metrics.ScriptSource].
func (m *Mount) ScriptStats() metrics.ScriptStats {
	st := metrics.ScriptStats{
		LuaErrors: m.stats.luaErrors.Load(),
		Durations: make(map[string]metrics.HistogramSnapshot, len(handlerLabels)),
	}
	st.ReloadsOK, st.ReloadsRefused = m.ReloadStats()
	st.Bans, st.BanRefusals = m.pen.bans.Load(), m.pen.refused.Load()
	for i, l := range handlerLabels {
		st.Durations[l] = m.stats.durations[i].Snapshot()
	}
	return st
}
