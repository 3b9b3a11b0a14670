package cli

import (
	"runtime/debug"
	"testing"
)

func TestGCLarge(t *testing.T) {
	tests := []struct {
		live              uint64
		was, want, change bool
	}{
		{1 << 20, false, false, false},
		{gcLargeHeap + 1, false, true, true},
		{gcLargeHeap - 1, true, true, false}, // between the thresholds: stays
		{gcLargeHeap/2 - 1, true, false, true},
		{gcLargeHeap / 2, false, false, false},
	}
	for _, tt := range tests {
		if got, change := gcLarge(tt.live, tt.was); got != tt.want || change != tt.change {
			t.Errorf("gcLarge(%d, %v): got %v, %v, want %v, %v", tt.live, tt.was, got, change, tt.want, tt.change)
		}
	}
}

// TestTuneGCEnv: GOGC in the environment leaves the collector alone.
func TestTuneGCEnv(t *testing.T) {
	t.Setenv("GOGC", "100")
	release := tuneGC()
	defer release()
	gcTuner.mu.Lock()
	users := gcTuner.users
	gcTuner.mu.Unlock()
	if users != 0 {
		t.Errorf("with GOGC set: got %d tuner users, want 0", users)
	}
	if pct := debug.SetGCPercent(100); pct != 100 {
		t.Errorf("GC percent: got %d, want 100", pct)
	}
}

// TestGCQuiet: the free pages go back once per quiet spell, after
// gcQuietTicks quiet ticks, only when there are enough of them, and not
// twice within gcQuietEvery.
type tick struct {
	alloc, spare uint64
	want         bool
}

func TestGCQuiet(t *testing.T) {
	const busy, still = 10 << 20, 1 << 10 // bytes allocated in a tick
	spell := func(n int) []tick {
		ticks := []tick{{busy, 8 << 20, false}}
		for i := range n {
			ticks = append(ticks, tick{still, 8 << 20, i == gcQuietTicks-1})
		}
		return ticks
	}
	wait := int(gcQuietEvery / gcTunerPeriod)
	tests := []struct {
		name  string
		ticks []tick
	}{
		{"quiet with free pages", []tick{{busy, 0, false}, {still, 8 << 20, false}, {still, 8 << 20, true}, {still, 8 << 20, false}}},
		{"never quiet", []tick{{busy, 8 << 20, false}, {busy, 8 << 20, false}, {busy, 8 << 20, false}}},
		{"too little to give back", []tick{{busy, 0, false}, {still, 1 << 20, false}, {still, 1 << 20, false}}},
		{"a new spell, long after", append(spell(wait), spell(2)...)},
		{"a new spell too soon", append(append(spell(2), tick{busy, 8 << 20, false}), tick{still, 8 << 20, false}, tick{still, 8 << 20, false})},
		{"free pages come late", []tick{{busy, 0, false}, {still, 0, false}, {still, 0, false}, {still, 8 << 20, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q gcQuiet
			total := uint64(1 << 30) // the process has allocated before
			q.tick(total, 0)
			for i, tk := range tt.ticks {
				total += tk.alloc
				if got := q.tick(total, tk.spare); got != tk.want {
					t.Errorf("tick %d: release = %v, want %v", i, got, tk.want)
				}
			}
		})
	}
}
