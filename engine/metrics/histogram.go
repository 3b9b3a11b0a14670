package metrics

import (
	"sort"
	"sync/atomic"
	"time"
)

// DurationBuckets are the upper bounds, in seconds, of the handler duration
// histogram: from 10 µs (a short Lua handler) to 2.5 s (past the default
// handler_timeout of 1 s).
var DurationBuckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
}

// Histogram counts durations in [DurationBuckets]. Observing is a few
// atomic adds, no lock and no allocation. The zero value is ready to use.
// It is safe to call Histogram's methods concurrently.
type Histogram struct {
	counts   [18]atomic.Uint64 // one per bucket, then +Inf; not cumulative
	sumNanos atomic.Uint64
}

// Observe adds one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := sort.SearchFloat64s(DurationBuckets, s) // first bound >= s
	h.counts[i].Add(1)
	if d > 0 {
		h.sumNanos.Add(uint64(d))
	}
}

// HistogramSnapshot is a histogram read at one moment, in the shape
// Prometheus wants: cumulative counts by upper bound.
type HistogramSnapshot struct {
	Count   uint64
	Sum     float64            // seconds
	Buckets map[float64]uint64 // upper bound → observations <= bound
}

// Snapshot returns the histogram's current counts.
func (h *Histogram) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{
		Sum:     time.Duration(h.sumNanos.Load()).Seconds(),
		Buckets: make(map[float64]uint64, len(DurationBuckets)),
	}
	var cum uint64
	for i, bound := range DurationBuckets {
		cum += h.counts[i].Load()
		s.Buckets[bound] = cum
	}
	s.Count = cum + h.counts[len(DurationBuckets)].Load()
	return s
}
