package luabind_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luaws/luaws/luabind"
)

func TestSharedGetSetDelete(t *testing.T) {
	s := luabind.NewShared()
	if v, ok := s.Get("a"); ok || v != nil {
		t.Fatalf("get missing: got %v, %v, want nil, false", v, ok)
	}
	s.Set("a", "x", 0)
	if v, _ := s.Get("a"); v != "x" {
		t.Fatalf("get: got %v, want x", v)
	}
	s.Set("a", nil, 0)
	if _, ok := s.Get("a"); ok {
		t.Fatal("set nil: key still there")
	}
	s.Set("b", 1.0, 0)
	s.Delete("b")
	if _, ok := s.Get("b"); ok {
		t.Fatal("delete: key still there")
	}
}

func TestSharedIncr(t *testing.T) {
	s := luabind.NewShared()
	tests := []struct {
		by   float64
		want float64
	}{{1, 1}, {1, 2}, {-5, -3}, {0.5, -2.5}}
	for _, tt := range tests {
		got, err := s.Incr("n", tt.by)
		if err != nil || got != tt.want {
			t.Fatalf("incr %v: got %v, %v, want %v, nil", tt.by, got, err, tt.want)
		}
	}
	s.Set("s", "text", 0)
	if _, err := s.Incr("s", 1); !errors.Is(err, luabind.ErrNotNumber) {
		t.Fatalf("incr a string: got %v, want ErrNotNumber", err)
	}
	if v, _ := s.Get("s"); v != "text" {
		t.Fatalf("incr a string changed it to %v", v)
	}
}

func TestSharedTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := luabind.NewShared()
		s.Set("k", "v", time.Second)
		s.Set("forever", "v", 0)
		time.Sleep(999 * time.Millisecond)
		if _, ok := s.Get("k"); !ok {
			t.Fatal("expired before its ttl")
		}
		if _, err := s.Incr("k2", 1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
		if _, ok := s.Get("k"); ok {
			t.Fatal("still there after its ttl")
		}
		if _, ok := s.Get("forever"); !ok {
			t.Fatal("a key without ttl expired")
		}
		// An expired counter starts again from 0.
		s.Set("c", 10.0, time.Second)
		time.Sleep(2 * time.Second)
		if n, _ := s.Incr("c", 1); n != 1 {
			t.Fatalf("incr after expiry: got %v, want 1", n)
		}
	})
}

func TestSharedSweepsExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := luabind.NewShared()
		for i := range 1000 {
			s.Set(fmt.Sprint("old", i), true, time.Second)
		}
		time.Sleep(2 * time.Second)
		for i := range 1000 {
			s.Set(fmt.Sprint("new", i), true, 0)
		}
		if got := s.Len(); got != 1000 {
			t.Fatalf("got %d keys, want the 1000 unexpired ones", got)
		}
	})
}

func TestSharedConcurrent(t *testing.T) {
	s := luabind.NewShared()
	const goroutines, each = 8, 1000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Incr("total", 1); err != nil {
					t.Error(err)
					return
				}
				key := fmt.Sprint(g, "-", i%10)
				s.Set(key, map[string]any{"i": float64(i)}, time.Minute)
				s.Get(key)
				if i%3 == 0 {
					s.Delete(key)
				}
			}
		})
	}
	wg.Wait()
	if v, _ := s.Get("total"); v != float64(goroutines*each) {
		t.Fatalf("got total %v, want %d", v, goroutines*each)
	}
}
