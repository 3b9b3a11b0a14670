package luabind

import (
	"math"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine"
)

// maxTimers bounds the pending timers of one VM; luaws.after and
// luaws.every return nil, "too many timers" past it.
const maxTimers = 100_000

// minEvery is the shortest interval of luaws.every.
const minEvery = time.Millisecond

// timer is one luaws.after or luaws.every. It belongs to the VM that made
// it: its callback runs on that VM's worker, and closing the VM (stop,
// reload) cancels it. Its Go timer only posts an event to the worker;
// every other field is only touched with the worker's drain held.
type timer struct {
	v      *vm
	fn     *lua.LFunction
	handle *lua.LUserData
	delay  time.Duration // the first delay
	every  time.Duration // 0 for luaws.after
	due    time.Time
	t      ClockTimer // nil until armed
	active bool       // neither cancelled nor (for after) fired
}

// installTimers adds luaws.after and luaws.every to the luaws table.
func (v *vm) installTimers(mod *lua.LTable) {
	L := v.L
	v.timers = make(map[*timer]struct{})
	v.timerMT = L.CreateTable(0, 2)
	methods := L.SetFuncs(L.CreateTable(0, 1), map[string]lua.LGFunction{"cancel": v.luaTimerCancel})
	v.timerMT.RawSetString("__index", methods)
	v.timerMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("timer"))
		return 1
	}))
	v.timerMT.RawSetString("__metatable", lua.LFalse)
	mod.RawSetString("after", L.NewFunction(func(L *lua.LState) int { return v.newTimer(L, false) }))
	mod.RawSetString("every", L.NewFunction(func(L *lua.LState) int { return v.newTimer(L, true) }))
}

// newTimer is luaws.after(sec, fn) and luaws.every(sec, fn): fn(handle)
// runs on this worker after sec seconds, once or every sec seconds, until
// handle:cancel().
func (v *vm) newTimer(L *lua.LState, repeat bool) int {
	sec := float64(L.CheckNumber(1))
	fn := L.CheckFunction(2)
	switch {
	case math.IsNaN(sec) || sec < 0:
		L.ArgError(1, "seconds must be 0 or more")
	case repeat && sec <= 0:
		L.ArgError(1, "seconds must be more than 0")
	case sec > float64(math.MaxInt64/int64(time.Second)):
		L.ArgError(1, "seconds too large")
	}
	if len(v.timers) >= maxTimers {
		L.Push(lua.LNil)
		L.Push(lua.LString("too many timers"))
		return 2
	}
	d := time.Duration(sec * float64(time.Second))
	tm := &timer{v: v, fn: fn, delay: d, active: true}
	if repeat {
		tm.every = max(d, minEvery)
		tm.delay = tm.every
	}
	tm.handle = L.NewUserData()
	tm.handle.Value = tm
	tm.handle.Metatable = v.timerMT
	v.timers[tm] = struct{}{}
	if v.started {
		tm.arm(tm.delay)
	}
	L.Push(tm.handle)
	return 1
}

// luaTimerCancel is handle:cancel(): true if the timer was pending, false
// if it had fired (luaws.after) or was cancelled already.
func (v *vm) luaTimerCancel(L *lua.LState) int {
	ud := L.CheckUserData(1)
	tm, ok := ud.Value.(*timer)
	if !ok {
		L.ArgError(1, "timer expected (call it as handle:cancel())")
	}
	L.Push(lua.LBool(tm.v == v && v.cancelTimer(tm)))
	return 1
}

// cancelTimer stops tm; it reports whether tm was active.
func (v *vm) cancelTimer(tm *timer) bool {
	if !tm.active {
		return false
	}
	tm.active = false
	if tm.t != nil {
		tm.t.Stop()
	}
	delete(v.timers, tm)
	return true
}

// startTimers arms the timers made while the VM was loading: their clocks
// start when the VM starts serving.
func (v *vm) startTimers() {
	v.started = true
	for tm := range v.timers {
		tm.arm(tm.delay)
	}
}

// arm schedules tm to fire after d.
func (tm *timer) arm(d time.Duration) {
	clock := tm.v.w.m.opts.Clock
	tm.due = clock.Now().Add(d)
	if tm.t == nil {
		tm.t = clock.AfterFunc(d, tm.fire)
		return
	}
	tm.t.Reset(d)
}

// fire runs on the Go timer's goroutine: it only queues the callback for
// the worker. At most one event per timer is queued, since an every timer
// is re-armed only once its callback has run.
func (tm *timer) fire() {
	tm.v.w.post(event{kind: evTimer, timer: tm})
}

// runTimer runs tm's callback on the worker. An error is logged with the
// script's file:line and traceback and other timers go on; an every timer
// keeps running after an error, unless it was stopped for running too
// long or using too much memory.
func (v *vm) runTimer(tm *timer) {
	if !tm.active {
		return
	}
	if tm.every == 0 {
		tm.active = false
		delete(v.timers, tm)
	}
	if err := v.call(tm.fn, tm.handle); err != nil {
		log := v.w.log.With(logKeyScript, v.prog.Path, engine.LogKeyError, err.Msg, "traceback", err.Traceback)
		if err.Stopped {
			log.Error("timer stopped")
			v.cancelTimer(tm)
		} else {
			log.Error("timer failed")
		}
	}
	if tm.active && tm.every > 0 {
		next := tm.due.Add(tm.every)
		now := v.w.m.opts.Clock.Now()
		if !next.After(now) { // it ran late: skip the missed ticks
			next = now.Add(tm.every)
		}
		tm.arm(next.Sub(now))
		tm.due = next
	}
}

// closeTimers cancels every timer of the VM.
func (v *vm) closeTimers() {
	for tm := range v.timers {
		v.cancelTimer(tm)
	}
}
