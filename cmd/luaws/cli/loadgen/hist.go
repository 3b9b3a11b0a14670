package loadgen

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in log-linear buckets: exact below 64 ns,
// then 64 buckets per power of two (about 1.6 % wide). It is safe for
// concurrent use; Record does not allocate.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

const (
	histSub     = 64 // buckets per power of two
	histShift   = 6  // log2(histSub)
	histBuckets = (64 - histShift + 1) * histSub
)

func bucketOf(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histShift - 1 // v>>e is in [64, 128)
	return (e+1)*histSub + int(v>>e) - histSub
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := i/histSub - 1
	lo := uint64(i%histSub+histSub) << e
	return lo + (uint64(1)<<e)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// quantile returns the duration below which a fraction q of the recorded
// values fall (the middle of that bucket), or 0 when nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketValue(i)), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// Latency is a summary of durations, in microseconds.
type Latency struct {
	P50 float64 `json:"p50_us"`
	P90 float64 `json:"p90_us"`
	P99 float64 `json:"p99_us"`
	Max float64 `json:"max_us"`
}

func (h *histogram) latency() Latency {
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	return Latency{
		P50: us(h.quantile(0.50)),
		P90: us(h.quantile(0.90)),
		P99: us(h.quantile(0.99)),
		Max: us(time.Duration(h.max.Load())),
	}
}
