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
