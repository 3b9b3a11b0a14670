package enginetest

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// Buffer is a bytes.Buffer that goroutines may write while the test reads
// it: a server's log, or a program's output. The zero value is ready to use.
// It is safe to call Buffer's methods concurrently.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the lines written so far that contain every one of subs,
// without their newline; with no subs, every line.
func (b *Buffer) Lines(subs ...string) []string {
	var out []string
next:
	for l := range strings.Lines(b.String()) {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		out = append(out, strings.TrimSuffix(l, "\n"))
	}
	return out
}

// WaitFor waits until what has been written contains every one of subs,
// and returns it. It fails the test, showing what it got, after [Timeout].
func (b *Buffer) WaitFor(t testing.TB, subs ...string) string {
	t.Helper()
	var s string
	ok := Until(Timeout, func() bool {
		s = b.String()
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("log: got\n%s\nwant it to contain %q", s, subs)
	}
	return s
}
