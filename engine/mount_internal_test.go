package engine

import (
	"runtime"
	"testing"
)

// TestRegistryShrinks: after a flood of connections, opened and all gone,
// the registry of connections goes back to the memory of what is left (a
// Go map keeps the memory of its peak otherwise).
func TestRegistryShrinks(t *testing.T) {
	srv, err := New(Config{Mounts: []MountConfig{{Handler: &closeRecorder{}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := srv.Mounts()[0]
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	const flood, left = 100_000, 10
	conns := make([]*Conn, flood)
	for i := range conns {
		conns[i] = &Conn{id: uint64(i + 1), mount: m}
	}
	before := heap()
	for _, c := range conns {
		m.add(c)
	}
	for _, c := range conns[left:] {
		m.remove(c)
	}
	conns = conns[:left]
	grown := int64(heap()) - int64(before)
	if m.Len() != left {
		t.Fatalf("Len: got %d, want %d", m.Len(), left)
	}
	for _, c := range conns {
		if m.Conn(c.id) != c {
			t.Fatalf("conn %d: lost by the rebuild", c.id)
		}
	}
	// The map of 100,000 entries took about 3 MB; what is left, 10 entries.
	if grown > 1<<20 {
		t.Errorf("heap after %d connections came and %d stayed: %d KiB above the start, want under 1 MiB", flood, left, grown>>10)
	}
	for _, c := range conns {
		m.remove(c)
	}
}
