package enginetest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// leakWait is how long [Main] lets goroutines wind down after the tests:
// idle writers and close handlers linger a moment.
const leakWait = 5 * time.Second

// Main runs the tests of m, as a package's TestMain does, and exits with
// their code. When they pass, it fails the run if goroutines outlive them:
// every server is shut down and every client closed in t.Cleanup, so the
// count must come back, within 5 s, to what it was before the tests;
// otherwise Main prints every goroutine's stack and exits with 1.
// Goroutines whose stack contains one of ignore are not counted, e.g.
// "os/signal.loop", which signal.Notify starts once and which lives as long
// as the process.
func Main(m *testing.M, ignore ...string) {
	before, _ := goroutines(ignore)
	code := m.Run()
	if code == 0 {
		if got, stacks, ok := settle(before, leakWait, ignore); !ok {
			fmt.Fprintf(os.Stderr, "goroutine leak: got %d goroutines after the tests, want at most %d\n\n%s\n", got, before, stacks)
			code = 1
		}
	}
	os.Exit(code)
}

// settle polls until at most want goroutines run, or wait has passed. It
// returns the last count and every stack.
func settle(want int, wait time.Duration, ignore []string) (got int, stacks string, ok bool) {
	deadline := time.Now().Add(wait)
	for {
		got, stacks = goroutines(ignore)
		if got <= want {
			return got, stacks, true
		}
		if time.Now().After(deadline) {
			return got, stacks, false
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// goroutines counts the goroutines whose stack contains none of ignore,
// and returns every stack.
func goroutines(ignore []string) (int, string) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	stacks := string(buf)
	n := 0
next:
	for g := range strings.SplitSeq(stacks, "\n\n") {
		for _, s := range ignore {
			if strings.Contains(g, s) {
				continue next
			}
		}
		n++
	}
	return n, stacks
}
