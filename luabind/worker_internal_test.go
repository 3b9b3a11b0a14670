package luabind

import (
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine/enginetest"
)

// TestWorkerSurvivesPanic: a Go panic while handling an event is logged
// and the worker goes on; do still returns.
func TestWorkerSurvivesPanic(t *testing.T) {
	m, err := New(Options{Script: enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), "return {}\n")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	w := m.workers[0]
	w.do(func(*vm) { panic("boom") })
	ran := false
	w.do(func(v *vm) { ran = v.L.DoString("x = 1") == nil })
	if !ran {
		t.Fatal("the worker did not run Lua after a panic")
	}
}

// TestSwapCancelsTimers: swapping a worker's VM the way a reload does
// cancels the old VM's timers, keeps luaws.shared, and starts the timers
// the new VM made while it loaded.
func TestSwapCancelsTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shared := NewShared()
		path := enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), `
luaws.every(1, function() luaws.shared:incr(VERSION) end)
return {}
`)
		m, err := New(Options{Script: path, Shared: shared, HandlerTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Stop()
		w := m.workers[0]
		w.do(func(v *vm) { v.L.SetGlobal("VERSION", luaString("old")) })
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		if n, _ := shared.Get("old"); n != 3.0 {
			t.Fatalf("old ticks: got %v, want 3", n)
		}

		nv, err := newVM(w, m.Program())
		if err != nil {
			t.Fatal(err)
		}
		nv.L.SetGlobal("VERSION", luaString("new"))
		var old *vm
		w.do(func(v *vm) { old = v; w.vm = nv; v.close() })
		if len(old.timers) != 0 || !old.closed {
			t.Fatalf("old VM: %d timers, closed %v; want 0, true", len(old.timers), old.closed)
		}
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		if n, _ := shared.Get("old"); n != 3.0 {
			t.Fatalf("old ticks after the swap: got %v, want still 3", n)
		}
		if n, _ := shared.Get("new"); n != 2.0 {
			t.Fatalf("new ticks: got %v, want 2", n)
		}
	})
}

func luaString(s string) lua.LString { return lua.LString(s) }

// TestStopStuckInGo: a call stuck in a Go function cannot be interrupted;
// the watchdog marks it stopped, says so in the log once another timeout
// has passed, and the call fails as stopped once the Go function returns.
func TestStopStuckInGo(t *testing.T) {
	var logs enginetest.Buffer
	m, err := New(Options{
		Script:         enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), "return {}\n"),
		HandlerTimeout: 50 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	release := make(chan struct{})
	go func() {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(logs.String(), "stopped handler still running") && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		close(release)
	}()
	var serr *ScriptError
	m.workers[0].do(func(v *vm) {
		v.L.SetGlobal("block", v.L.NewFunction(func(*lua.LState) int { <-release; return 0 }))
		if err := v.L.DoString("function f() block(); local x = 1 end function g() end"); err != nil {
			t.Error(err)
			return
		}
		serr = v.call(v.L.GetGlobal("f").(*lua.LFunction))
	})
	if !strings.Contains(logs.String(), "stopped handler still running") {
		t.Errorf("log: got %q, want a stuck handler line", logs.String())
	}
	if serr == nil || !serr.Stopped || !strings.Contains(serr.Msg, "ran longer than handler_timeout (50ms)") {
		t.Fatalf("got %+v, want a stopped call", serr)
	}
	// The worker's next call runs under a fresh context.
	m.workers[0].do(func(v *vm) {
		if err := v.call(v.L.GetGlobal("g").(*lua.LFunction)); err != nil {
			t.Errorf("next call: %v", err)
		}
	})
}

// TestDrain: events posted from many goroutines at once run
// one at a time, each goroutine's in the order it sent them, all of them,
// whichever goroutine ends up running them (past drainBudget the worker's
// own goroutine takes over); events posted after Stop release their waiters.
func TestDrain(t *testing.T) {
	m, err := New(Options{Script: enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), "return {}\n"), QueueSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	w := m.workers[0]
	const senders, each = 8, 500
	var running, maxRunning atomic.Int32
	next := make([]int, senders) // guarded by the drain
	var failed atomic.Bool
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				fn := func(*vm) {
					if n := running.Add(1); n > maxRunning.Load() {
						maxRunning.Store(n)
					}
					if next[s] != i {
						failed.Store(true)
					}
					next[s] = i + 1
					running.Add(-1)
				}
				w.post(event{kind: evFunc, fn: fn})
			}
		})
	}
	wg.Wait()
	w.do(func(*vm) {}) // after everything queued before it
	if failed.Load() {
		t.Error("a sender's events ran out of order")
	}
	if n := maxRunning.Load(); n != 1 {
		t.Errorf("%d events ran at once, want 1", n)
	}
	for s, n := range next {
		if n != each {
			t.Errorf("sender %d: %d events ran, want %d", s, n, each)
		}
	}
	if p := w.pending.Load(); p != 0 {
		t.Errorf("pending = %d after the queue ran dry, want 0", p)
	}
	m.Stop()
	done := make(chan struct{})
	w.post(event{kind: evFunc, fn: func(*vm) { t.Error("an event ran after Stop") }, done: done})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("an event posted after Stop did not release its waiter")
	}
}

// TestWorkerConnsShrink: after a flood of connections, opened and all
// closed but a few, a worker's set of connections is rebuilt for what is
// left (a Go map keeps the memory of its peak otherwise).
func TestWorkerConnsShrink(t *testing.T) {
	m, err := New(Options{Script: enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), "return {}\n")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	w := m.workers[0]
	const flood, left = 5000, 10
	css := make([]*connState, flood)
	for i := range css {
		css[i] = &connState{w: w}
		w.post(event{kind: evOpen, cs: css[i]})
	}
	for _, cs := range css[left:] {
		done := make(chan struct{})
		w.post(event{kind: evClose, cs: cs, done: done})
		<-done
	}
	var n, peak int
	w.do(func(*vm) { n, peak = len(w.conns), w.connsPeak })
	if n != left || peak >= shrinkMin {
		t.Errorf("after %d opens and %d closes: %d conns in a map made for %d, want %d in a map rebuilt (for fewer than %d)", flood, flood-left, n, peak, left, shrinkMin)
	}
}
