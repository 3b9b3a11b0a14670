package luabind

import (
	"context"
	"fmt"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// How a call is stopped
//
// Every VM runs under its own cancellable context (vm.ctx), set once with
// LState.SetContext: gopher-lua checks it between two instructions. A
// call costs two atomic operations on the worker's guard and no
// allocation. One watchdog goroutine per Mount looks at every worker's
// guard each tick; a call it sees at two ticks in a row has run for at
// least one tick, and once it has run past HandlerTimeout (or the heap is
// over MemoryLimit) the watchdog cancels the VM's context. The VM raises
// at its next instruction, the call fails, and the worker gives the VM a
// fresh context before its next call.

// guard state bits; the rest of the word is the call's sequence number.
const (
	guardBusy    = 1 << 0 // a call is running
	guardStopped = 1 << 1 // the watchdog stopped it
	guardShift   = 2
)

// guard is a worker's side of the watchdog.
type guard struct {
	state atomic.Uint64 // seq<<guardShift | guardBusy | guardStopped

	// Whoever holds the worker's drain (and so runs its Lua) only.
	seq   uint64
	depth int // nested calls: only the outermost is watched

	// mu orders a stop (watchdog) against the reset that follows it
	// (worker), and guards vm.
	mu sync.Mutex
	vm *vm // the VM of the current or last call

	// Watchdog goroutine only.
	seen   uint64    // state at the last tick
	since  time.Time // when seen was first observed
	stopAt time.Time // when the watchdog stopped the call seen
	warned bool      // it said the stopped call is stuck in Go code
}

// pcall calls the function below the nargs arguments on top of the stack,
// as L.PCall does, under the watchdog: a call that runs past
// HandlerTimeout, or past one tick while the heap is over MemoryLimit, is
// stopped and returns an error whose message names the script and line
// where it was stopped and ends with the reason. Only with the worker's
// drain held; everything that calls Lua for an event goes through pcall.
func (v *vm) pcall(nargs, nret int) error {
	g := &v.w.guard
	if g.depth > 0 {
		return v.L.PCall(nargs, nret, nil)
	}
	if g.vm != v {
		g.mu.Lock()
		g.vm = v
		g.mu.Unlock()
	}
	g.seq++
	cur := g.seq<<guardShift | guardBusy
	g.state.Store(cur)
	g.depth++
	err := v.L.PCall(nargs, nret, nil)
	g.depth--
	if g.state.CompareAndSwap(cur, g.seq<<guardShift) {
		return err
	}
	// Stopped: wait for the watchdog to have cancelled, then start afresh.
	g.mu.Lock()
	cause := context.Cause(v.ctx)
	v.resetContext()
	g.state.Store(g.seq << guardShift)
	g.mu.Unlock()
	if err == nil {
		return nil // it returned just as it was stopped
	}
	return &stoppedError{cause: cause, err: err}
}

// stoppedError is a call the watchdog stopped.
type stoppedError struct {
	cause error // why: the handler_timeout or memory_limit error
	err   error // what PCall returned
}

func (e *stoppedError) Error() string { return e.err.Error() }
func (e *stoppedError) Unwrap() error { return e.err }

// resetContext gives the VM a new context, for its first call or after a
// stop. Coroutines pick it up when they are next resumed (see limits.go).
func (v *vm) resetContext() {
	v.ctx, v.cancel = context.WithCancelCause(context.Background())
	v.L.SetContext(v.ctx)
}

// watchdogTick is how often the watchdog looks at the workers of a Mount
// whose handler timeout is d.
func watchdogTick(d time.Duration) time.Duration {
	return min(max(d/10, time.Millisecond), 50*time.Millisecond)
}

// heapMetric is the live and not yet swept heap, the figure MemoryLimit
// is compared with.
const heapMetric = "/memory/classes/heap/objects:bytes"

// watchdog is the Mount's watchdog goroutine; it returns when stop is closed.
func (m *Mount) watchdog(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	timeout := m.opts.HandlerTimeout
	timeoutErr := fmt.Errorf("stopped: ran longer than handler_timeout (%s)", timeout)
	tick := time.NewTicker(watchdogTick(timeout))
	defer tick.Stop()
	sample := []metrics.Sample{{Name: heapMetric}}
	long := make([]uint64, len(m.workers)) // state of each worker's long call, or 0
	for {
		var now time.Time
		select {
		case <-stop:
			return
		case now = <-tick.C:
		}
		found := false
		for i, w := range m.workers {
			long[i] = w.observe(now)
			found = found || long[i] != 0
		}
		if !found {
			continue
		}
		var heap uint64
		if m.opts.MemoryLimit > 0 {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				heap = sample[0].Value.Uint64()
			}
		}
		overHeap := m.opts.MemoryLimit > 0 && heap > uint64(m.opts.MemoryLimit)
		for i, w := range m.workers {
			s := long[i]
			if s == 0 {
				continue
			}
			switch g := &w.guard; {
			case now.Sub(g.since) >= timeout:
				g.stop(s, now, timeoutErr)
			case overHeap:
				g.stop(s, now, fmt.Errorf("stopped: the Go heap is %d MiB, over memory_limit (%d MiB)",
					heap>>20, m.opts.MemoryLimit>>20))
			}
		}
	}
}

// observe returns the guard's state if the same call has been running
// since the last tick and has not been stopped yet, 0 otherwise. A
// stopped call still running after another timeout is stuck in Go code
// (a builtin or blocking I/O) that the context cannot interrupt: that is
// logged once.
func (w *worker) observe(now time.Time) uint64 {
	g := &w.guard
	s := g.state.Load()
	if s != g.seen {
		g.seen, g.since, g.warned = s, now, false
		return 0
	}
	switch {
	case s&guardBusy == 0:
		return 0
	case s&guardStopped != 0:
		if !g.warned && now.Sub(g.stopAt) >= w.m.opts.HandlerTimeout {
			g.warned = true
			w.log.Error("stopped handler still running: it is inside a Go function (a pattern match, blocking I/O) that cannot be interrupted; this worker serves nothing until it returns")
		}
		return 0
	}
	return s
}

// stop cancels the call whose state is s, unless it has ended meanwhile.
func (g *guard) stop(s uint64, now time.Time, cause error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state.CompareAndSwap(s, s|guardStopped) && g.vm != nil {
		g.vm.cancel(cause)
		g.stopAt = now
	}
}

// stopMessage rewrites the error gopher-lua raises for a cancelled
// context ("script.lua:3: context canceled") to say why it was stopped.
func stopMessage(msg string, cause error) string {
	const canceled = "context canceled"
	if cause == nil {
		return msg
	}
	if n := len(msg) - len(canceled); n >= 0 && msg[n:] == canceled {
		return msg[:n] + cause.Error()
	}
	return msg + " (" + cause.Error() + ")"
}

// loadTimeout runs the main chunk on top of L's stack with a deadline of
// d, since no watchdog watches a VM that is still loading.
func (v *vm) loadTimeout(d time.Duration) error {
	cancel := v.cancel
	t := time.AfterFunc(d, func() {
		cancel(fmt.Errorf("loading took longer than %s (an endless loop outside the handlers?)", d))
	})
	err := v.L.PCall(0, 1, nil)
	if !t.Stop() || v.ctx.Err() != nil {
		cause := context.Cause(v.ctx)
		v.resetContext()
		if ae, ok := err.(*lua.ApiError); ok {
			ae.Object = lua.LString(stopMessage(ae.Object.String(), cause))
		}
	}
	return err
}
