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
// memory is worth. GOGC or GOMEMLIMIT in the environment turn this off.
const (
	gcLargeHeap   = 16 << 20
	gcLargePct    = 50
	gcNormalPct   = 100
	gcTunerPeriod = 500 * time.Millisecond
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
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(gcTunerPeriod)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return // not this Go version's metric: leave the collector alone
		}
		gcTuner.mu.Lock()
		if large, change := gcLarge(sample[0].Value.Uint64(), gcTuner.large); change && gcTuner.users > 0 {
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
