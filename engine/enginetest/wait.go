package enginetest

import (
	"testing"
	"time"
)

// Timeout bounds every wait of the helpers: a read, a handshake, an HTTP
// request, [WaitFor].
const Timeout = 5 * time.Second

// pollInterval is how often [WaitFor] and [Until] evaluate their condition.
const pollInterval = 5 * time.Millisecond

// WaitFor polls cond until it holds and fails the test when it still does
// not after [Timeout]; what names the awaited state in the failure.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Until(Timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", Timeout, what)
	}
}

// Until polls cond until it holds or d has passed, and reports whether it
// held.
func Until(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval) // polling with a deadline
	}
}
