package luabind

import (
	"fmt"
	"testing"
	"time"
)

// TestPenalties: stops within the window ban an address for the window;
// stops spread wider do not; a ban ends; limit 0 never bans; the table
// stays bounded.
func TestPenalties(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const ttl = time.Minute
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name       string
		limit      int
		stops      []time.Duration // of 10.0.0.1:N
		check      time.Duration
		wantBanned bool
	}{
		{"under the limit", 3, []time.Duration{0, time.Second}, 2 * time.Second, false},
		{"at the limit", 3, []time.Duration{0, time.Second, 2 * time.Second}, 3 * time.Second, true},
		{"spread wider than the window", 3, []time.Duration{0, 40 * time.Second, 80 * time.Second}, 81 * time.Second, false},
		{"ban over", 3, []time.Duration{0, 1, 2}, 2 + ttl, false},
		{"ban still on", 3, []time.Duration{0, 1, 2}, ttl, true},
		{"off", 0, []time.Duration{0, 1, 2, 3, 4}, 5, false},
		{"one", 1, []time.Duration{0}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPenalties(tt.limit, ttl)
			for i, d := range tt.stops {
				p.stopped(fmt.Sprintf("10.0.0.1:%d", 1000+i), at(d))
			}
			if got := p.isBanned("10.0.0.1:9", at(tt.check)); got != tt.wantBanned {
				t.Fatalf("banned = %v, want %v", got, tt.wantBanned)
			}
			if p.isBanned("10.0.0.2:9", at(tt.check)) {
				t.Fatal("another address is banned")
			}
		})
	}
}

// TestPenaltiesBounded: many addresses with one stop each keep the table
// at maxPenaltyEntries, and a ban is kept over plain entries.
func TestPenaltiesBounded(t *testing.T) {
	p := newPenalties(2, time.Minute)
	now := time.Unix(1000, 0)
	p.stopped("[::1]:1", now)
	if !p.stopped("[::1]:2", now) {
		t.Fatal("second stop did not ban")
	}
	for i := range 3 * maxPenaltyEntries {
		p.stopped(fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255), now)
	}
	if n := len(p.entries); n > maxPenaltyEntries {
		t.Fatalf("%d entries, want at most %d", n, maxPenaltyEntries)
	}
	if !p.isBanned("[::1]:3", now) {
		t.Fatal("the ban was dropped")
	}
	for range 5 {
		p.stopped("@", now)
	}
	if p.isBanned("@", now) {
		t.Fatal("a Unix socket's clients were banned")
	}
	if got := p.bans.Load(); got != 1 {
		t.Fatalf("bans = %d, want 1", got)
	}
}
