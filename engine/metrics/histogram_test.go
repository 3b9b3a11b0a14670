package metrics

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{
		5 * time.Microsecond,  // <= 10 µs
		10 * time.Microsecond, // <= 10 µs: bounds are inclusive
		300 * time.Microsecond,
		2 * time.Second,
		time.Minute, // over every bound: +Inf only
	} {
		h.Observe(d)
	}
	s := h.Snapshot()
	if s.Count != 5 {
		t.Errorf("count: got %d, want 5", s.Count)
	}
	if want := (5*time.Microsecond + 10*time.Microsecond + 300*time.Microsecond + 2*time.Second + time.Minute).Seconds(); s.Sum != want {
		t.Errorf("sum: got %v, want %v", s.Sum, want)
	}
	for _, c := range []struct {
		bound float64
		want  uint64
	}{
		{0.00001, 2}, {0.00025, 2}, {0.0005, 3}, {1, 3}, {2.5, 4},
	} {
		if got := s.Buckets[c.bound]; got != c.want {
			t.Errorf("bucket <= %v: got %d, want %d", c.bound, got, c.want)
		}
	}
}

func BenchmarkHistogramObserve(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for b.Loop() {
		h.Observe(42 * time.Microsecond)
	}
}
