package cli

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// The garbage collector lets the heap grow to twice what is live before it
// collects (GOGC=100), and the process keeps the pages it grew into. With
// thousands of long-lived connections most of the heap is their state,
// which stays live, so that headroom is most of what an idle connection
// costs beyond its own bytes. Once the live heap passes gcLargeHeap, luaws
// serve lowers the headroom to half (GOGC=50), and puts it back below half
// that; with a small heap, frequent collections would cost more than the
// memory is worth.
//
// The headroom is for garbage, which a quiet server (thousands of idle
// connections, after the burst of handshakes that opened them) no longer
// makes: once the heap holds gcQuietSpare bytes or more beyond what was
// live at the last collection (garbage, free pages), and the process has
// allocated less than gcQuietAlloc a second for gcQuietTicks ticks, serve
// collects and gives the free pages back to the operating system
// (debug.FreeOSMemory): once per quiet spell, and at most once per
// gcQuietEvery. A collection of a 30 MiB heap costs a few milliseconds of
// one CPU.
//
// The goroutines' stacks are the other thing a quiet server keeps too
// much of. A connection's reader waits on the smallest stack, but reading
// a pong (every PingInterval) or a message doubles it, and only a
// collection shrinks it back, which a server that allocates little may
// not run for hours: ten thousand idle connections answering pings hold
// 20 MiB of stacks they do not use. A collection halves a stack at most,
// so when the stacks have grown by gcQuietSpare since the last release,
// or the last release shrank them by that much, a quiet server releases
// again, within the same spell.
//
// GOGC or GOMEMLIMIT in the environment turn all this off.
const (
	gcLargeHeap   = 16 << 20
	gcLargePct    = 50
	gcNormalPct   = 100
	gcTunerPeriod = 500 * time.Millisecond

	gcQuietSpare = 4 << 20
	gcQuietAlloc = 1 << 20 // bytes a second
	gcQuietTicks = 2
	gcQuietEvery = 10 * time.Second
)

var gcTuner struct {
	mu    sync.Mutex
	users int  // servers running in this process (tests run several)
	large bool // the lower percentage is set
	stop  chan struct{}
}

// tuneGC starts the tuner, once per process; release stops it when the
// last server that started it stops.
func tuneGC() (release func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	gcTuner.mu.Lock()
	defer gcTuner.mu.Unlock()
	gcTuner.users++
	if gcTuner.users == 1 {
		gcTuner.stop = make(chan struct{})
		go runGCTuner(gcTuner.stop)
	}
	return func() {
		gcTuner.mu.Lock()
		defer gcTuner.mu.Unlock()
		if gcTuner.users--; gcTuner.users == 0 {
			close(gcTuner.stop)
			if gcTuner.large {
				debug.SetGCPercent(gcNormalPct)
				gcTuner.large = false
			}
		}
	}
}

func runGCTuner(stop chan struct{}) {
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
	}
	t := time.NewTicker(gcTunerPeriod)
	defer t.Stop()
	var quiet gcQuiet
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		metrics.Read(samples)
		for _, s := range samples {
			if s.Value.Kind() != metrics.KindUint64 {
				return // not this Go version's metrics: leave the collector alone
			}
		}
		live := samples[0].Value.Uint64()
		heap := samples[2].Value.Uint64() + samples[3].Value.Uint64() + samples[4].Value.Uint64()
		if quiet.tick(samples[1].Value.Uint64(), heap-min(heap, live), samples[5].Value.Uint64()) {
			debug.FreeOSMemory()
		}
		gcTuner.mu.Lock()
		if large, change := gcLarge(samples[0].Value.Uint64(), gcTuner.large); change && gcTuner.users > 0 {
			pct := gcNormalPct
			if large {
				pct = gcLargePct
			}
			debug.SetGCPercent(pct)
			gcTuner.large = large
		}
		gcTuner.mu.Unlock()
	}
}

// gcLarge says whether a live heap of live bytes is large, given whether
// it was (the two thresholds keep a heap near one from flapping), and
// whether that changed.
func gcLarge(live uint64, was bool) (large, change bool) {
	switch {
	case !was && live > gcLargeHeap:
		return true, true
	case was && live < gcLargeHeap/2:
		return false, true
	}
	return was, false
}

// gcQuiet watches the allocation rate for a quiet spell (see gcQuietSpare).
type gcQuiet struct {
	allocs   uint64 // the cumulative allocations at the last tick
	ticks    int    // ticks in a row below gcQuietAlloc a second
	released bool   // this quiet spell's release is done
	wait     int    // ticks until the next release may be
	stacks   uint64 // the least stack bytes seen since the last release
	before   uint64 // the stack bytes at the last release, until it shrank them
	shrank   bool   // the last release shrank the stacks: another may
}

// tick takes the cumulative bytes allocated, the heap's bytes beyond the
// live ones and the bytes of goroutine stacks, once per gcTunerPeriod, and
// says whether to give the free pages back now.
func (q *gcQuiet) tick(allocs, spare, stacks uint64) bool {
	rate := float64(allocs-q.allocs) / gcTunerPeriod.Seconds()
	first := q.allocs == 0
	q.allocs = allocs
	q.wait = max(q.wait-1, 0)
	if first || stacks < q.stacks {
		q.stacks = stacks
	}
	if q.before != 0 && q.before-min(q.before, stacks) >= gcQuietSpare {
		q.shrank, q.before = true, 0
	}
	if first || rate >= gcQuietAlloc {
		q.ticks, q.released = 0, false
		return false
	}
	q.ticks++
	freePages := !q.released && spare >= gcQuietSpare
	grownStacks := stacks-q.stacks >= gcQuietSpare
	if q.ticks < gcQuietTicks || q.wait > 0 || !freePages && !grownStacks && !q.shrank {
		return false
	}
	q.released, q.wait = true, int(gcQuietEvery/gcTunerPeriod)
	q.stacks, q.before, q.shrank = stacks, stacks, false
	return true
}
