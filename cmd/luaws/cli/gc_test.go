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
			q.tick(total, 0, 20<<20)
			for i, tk := range tt.ticks {
				total += tk.alloc
				if got := q.tick(total, tk.spare, 20<<20); got != tk.want {
					t.Errorf("tick %d: release = %v, want %v", i, got, tk.want)
				}
			}
		})
	}
}

// TestGCQuietStacks: stacks that grew by gcQuietSpare since the last
// release (readers that handled a message) are released again within the
// quiet spell, once gcQuietEvery has passed, and again while a release
// shrinks them by that much (a collection halves a stack at most); stacks
// that do not shrink are not released again and again.
func TestGCQuietStacks(t *testing.T) {
	const still = 1 << 10
	wait := int(gcQuietEvery / gcTunerPeriod)
	var q gcQuiet
	total := uint64(1 << 30)
	step := func(spare, stacks uint64) bool {
		total += still
		return q.tick(total, spare, stacks)
	}
	// expect runs gcQuietEvery of ticks with the given stack bytes, the
	// first just after a release, and wants a release at the last one
	// only if release.
	expect := func(what string, stacks uint64, release bool) {
		t.Helper()
		for i := range wait {
			if got, want := step(0, stacks), release && i == wait-1; got != want {
				t.Fatalf("%s, tick %d: release = %v, want %v", what, i, got, want)
			}
		}
	}
	q.tick(total, 0, 20<<20)
	step(8<<20, 20<<20)
	if !step(8<<20, 20<<20) {
		t.Fatal("no release for the free pages")
	}
	expect("stacks grown by 60 MiB", 80<<20, true)
	expect("halved by the release", 40<<20, true)
	expect("halved again", 20<<20, true)
	expect("shrunk no more", 20<<20, false)
	expect("grown by 2 MiB", 22<<20, false)
	if !step(0, 24<<20) {
		t.Fatal("grown by 4 MiB since the last release: no release")
	}
}
