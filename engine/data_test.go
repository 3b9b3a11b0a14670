package engine_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

func TestData(t *testing.T) {
	seed := map[string]any{"user": "ann"}
	d := engine.NewData(seed)
	seed["user"] = "changed"
	if v, _ := d.Get("user"); v != "ann" {
		t.Errorf("Get after the seed changed: got %v, want ann", v)
	}
	d.Set("n", int64(1))
	d.Update(func(m map[string]any) { m["n"] = m["n"].(int64) + 1 })
	if v, ok := d.Get("n"); !ok || v != int64(2) {
		t.Errorf("Get(n): got %v, %v, want 2, true", v, ok)
	}
	snap := d.Snapshot()
	snap["user"] = "bob"
	if v, _ := d.Get("user"); v != "ann" {
		t.Errorf("Get after changing a snapshot: got %v, want ann", v)
	}
	d.Set("user", nil)
	if _, ok := d.Get("user"); ok || d.Len() != 1 {
		t.Errorf("Set nil: got key present %v, Len %d, want absent, 1", ok, d.Len())
	}
	if d := engine.NewData(nil); d.Len() != 0 {
		t.Errorf("NewData(nil).Len: got %d, want 0", d.Len())
	}
}

// TestDataConcurrent is for -race: a connection's data is written by its
// handler while other goroutines read and write it.
func TestDataConcurrent(t *testing.T) {
	rec := newRecorder()
	rec.onMessage = func(c *engine.Conn, m engine.Message) {
		c.Data().Update(func(m map[string]any) {
			n, _ := m["count"].(int64)
			m["count"] = n + 1
		})
		_ = c.Send(websocket.TextMessage, []byte("ok"))
	}
	_, url := newTestServer(t, mountOf(rec))
	ws := dial(t, url)
	c := rec.waitOpen(t)
	d := c.Data()

	const goroutines, rounds = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", g)
			for i := range rounds {
				d.Set(key, int64(i))
				d.Get("count")
				d.Get(key)
				_ = d.Len()
				_ = d.Snapshot()
				d.Update(func(m map[string]any) { m["shared"] = int64(i) })
			}
		})
	}
	for range rounds {
		enginetest.Write(t, ws, websocket.TextMessage, []byte("x"))
		enginetest.Read(t, ws)
	}
	wg.Wait()
	if v, _ := d.Get("count"); v != int64(rounds) {
		t.Errorf("count: got %v, want %d", v, rounds)
	}
	for g := range goroutines {
		if v, _ := d.Get(fmt.Sprintf("k%d", g)); v != int64(rounds-1) {
			t.Errorf("k%d: got %v, want %d", g, v, rounds-1)
		}
	}
}

// TestDataGrows: keys past the few kept in a slice, deletes among them,
// and a seed of each size, all read back the same.
func TestDataGrows(t *testing.T) {
	for _, seedSize := range []int{0, 1, 8, 9, 20} {
		seed := map[string]any{}
		for i := range seedSize {
			seed[fmt.Sprintf("s%d", i)] = int64(i)
		}
		d := engine.NewData(seed)
		want := map[string]any{}
		for k, v := range seed {
			want[k] = v
		}
		for i := range 20 {
			k := fmt.Sprintf("k%d", i)
			d.Set(k, int64(i))
			want[k] = int64(i)
			if i%3 == 0 {
				d.Set(fmt.Sprintf("k%d", i/2), nil)
				delete(want, fmt.Sprintf("k%d", i/2))
			}
			d.Set(k+"x", "tmp")
			d.Set(k+"x", nil)
			if got := d.Snapshot(); fmt.Sprint(got) != fmt.Sprint(want) || d.Len() != len(want) {
				t.Fatalf("seed %d, after key %d: got %v (Len %d), want %v", seedSize, i, got, d.Len(), want)
			}
			for k, v := range want {
				if got, ok := d.Get(k); !ok || got != v {
					t.Fatalf("seed %d: Get(%s): got %v, %v, want %v", seedSize, k, got, ok, v)
				}
			}
		}
	}
}

// TestDataReplace swaps the whole map, small and large, and keeps a copy.
func TestDataReplace(t *testing.T) {
	d := engine.NewData(map[string]any{"old": "x"})
	big := map[string]any{}
	for i := range 20 {
		big[fmt.Sprint("k", i)] = int64(i)
	}
	for _, m := range []map[string]any{{"a": "1"}, big, nil, {"b": true}} {
		d.Replace(m)
		if d.Len() != len(m) {
			t.Fatalf("Replace(%d keys): Len %d", len(m), d.Len())
		}
		for k, v := range m {
			if got, _ := d.Get(k); got != v {
				t.Errorf("Get(%s): got %v, want %v", k, got, v)
			}
		}
		if _, ok := d.Get("old"); ok {
			t.Errorf("Replace kept an old key")
		}
		for k := range m {
			m[k] = "changed"
		}
		for k := range m {
			if got, _ := d.Get(k); got == "changed" {
				t.Errorf("Replace kept the caller's map, not a copy")
			}
		}
	}
}
