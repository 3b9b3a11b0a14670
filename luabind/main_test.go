package luabind_test

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain fails the run if goroutines outlive the tests: every server is
// shut down, every Mount stopped and every client closed in t.Cleanup, so
// after m.Run the count must come back to where it started.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		code = checkGoroutines(before, 5*time.Second)
	}
	os.Exit(code)
}

// checkGoroutines polls until at most want goroutines run, or dumps every
// stack and returns 1 after wait (idle writers linger about 2 s).
func checkGoroutines(want int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	for {
		got := runtime.NumGoroutine()
		if got <= want {
			return 0
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			fmt.Fprintf(os.Stderr, "goroutine leak: got %d goroutines after the tests, want at most %d\n\n%s\n", got, want, buf)
			return 1
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}
