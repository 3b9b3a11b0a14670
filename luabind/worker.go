package luabind

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"
	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine"
)

// worker is one VM and the events for it. Its events run one at a time,
// in the order they were posted, on whichever goroutine holds the drain:
// the one whose post found the worker idle (pending went from 0 to 1)
// runs its event at once and then, up to drainBudget events, what others
// posted meanwhile; past that it hands the drain to the worker's own
// goroutine (run). A connection's message therefore usually runs on the
// connection's reader goroutine, without the hand-over to another
// goroutine and back, which costs more than a short handler, and a busy
// worker is never woken for each event.
type worker struct {
	m      *Mount
	id     int
	events chan event    // posted and not yet run; the drain takes them in order
	wake   chan struct{} // hands the drain to run
	done   chan struct{} // closed when the worker has stopped (evStop ran)
	log    *slog.Logger

	// pending counts the events posted (queued, or running at once: see post)
	// and not yet run. Whoever moves it from 0 holds the drain until it
	// is 0 again: that one goroutine, and only it, runs the worker's Lua
	// and touches what follows. The atomic add that ends one drain and
	// the one that starts the next order their memory accesses.
	pending atomic.Int64

	vm *vm
	// conns are the connections whose open event ran and close event has
	// not.
	conns     map[*connState]struct{}
	connsPeak int   // the most conns held since the map was made: see shrunk
	guard     guard // the watchdog's view of the running call
	stopped   bool  // evStop ran: events are dropped, their waiters released
	// hold: the last event run was a message whose connection has the
	// next one already; the drain does not write when it runs dry, the
	// next event of that connection (or its ReadIdle) will.
	hold bool
	// flusher holds back what the handlers send until the drain has no
	// event left, so that the messages of a burst go out together
	// (engine.Flusher).
	flusher engine.Flusher
}

// drainBudget is how many events a goroutine that posted one runs before
// it hands the drain to the worker's own goroutine: a connection's reader
// should not serve everyone else's messages for long.
const drainBudget = 64

type eventKind uint8

const (
	evOpen eventKind = iota
	evMessage
	evClose
	evFunc
	evTimer
	evStop
	evFlush // nothing to run: the drain writes what is held back
)

// event is one thing for a worker to do.
type event struct {
	kind   eventKind
	cs     *connState
	typ    int
	data   []byte
	code   int
	reason string
	fn     func(v *vm)
	done   chan struct{}
	timer  *timer
	// hold: the next message of the connection has arrived already
	// (engine.Message.More); the replies wait for its turn.
	hold bool
}

// connState is luabind's per-connection state, attached to the engine conn.
type connState struct {
	conn *engine.Conn
	w    *worker
	// held: a message was posted with hold set, and no message or
	// ReadIdle since; the reader goroutine's own.
	held bool
	// Only with w's drain: the conn object in the VM it was made in (nil
	// before the first use, and after a reload), and the Conn behind it,
	// kept here rather than in an allocation of its own.
	obj  *lua.LUserData
	self Conn
}

func newWorker(m *Mount, id int) *worker {
	return &worker{
		m:      m,
		id:     id,
		events: make(chan event, m.opts.QueueSize),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		log:    m.log.With("worker", id),
		conns:  map[*connState]struct{}{},
	}
}

// post runs ev: at once on the calling goroutine when nobody runs the
// worker's events (pending was 0: every event posted before has run, so
// ev keeps its place), otherwise after the events queued before it, on
// the goroutine that runs them. It blocks while the queue is full.
func (w *worker) post(ev event) {
	// Counted before queued: pending 0 means the queue is empty.
	if w.pending.Add(1) == 1 {
		w.handle(ev)
		w.drain(drainBudget - 1)
		return
	}
	w.events <- ev // the holder of the drain waits for it if it has counted it
}

// drain is called by the holder of the drain after it ran an event: it
// counts that one done and runs the rest of the events, up to budget more;
// then, if events remain, it hands the drain to run. When no event waits,
// it first writes what the handlers sent.
func (w *worker) drain(budget int) {
	for {
		if len(w.events) == 0 && !w.hold {
			w.flusher.Flush() // nothing else to do now: write what the handlers sent
		}
		if w.pending.Add(-1) == 0 {
			return
		}
		if budget == 0 && !w.stopped { // (stopped, run may be gone: drain it all)
			w.flusher.Flush()
			w.wake <- struct{}{} // run holds the drain now; the slot is free: only the holder sends
			return
		}
		budget--
		w.handle(<-w.events)
	}
}

// do runs fn on the worker and waits for it.
func (w *worker) do(fn func(v *vm)) {
	done := make(chan struct{})
	w.post(event{kind: evFunc, fn: fn, done: done})
	<-done
}

// stop runs what is queued, closes the VM and ends run.
func (w *worker) stop() {
	w.post(event{kind: evStop})
	<-w.done
}

// run is the worker's own goroutine: it holds the drain when a goroutine
// that had it ran out of budget, and runs events until none is left.
func (w *worker) run() {
	for {
		select {
		case <-w.wake:
			w.handle(<-w.events)
			w.drain(-1)
		case <-w.done:
			return
		}
	}
}

// handle runs one event. A Go panic in it (a bug in luabind, or a Go
// function a script called that panicked outside of the Lua call) is
// logged with its stack, the event's connection is closed with 1011, and
// the worker goes on.
func (w *worker) handle(ev event) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("panic in worker", engine.LogKeyError, fmt.Sprint(r), "stack", string(debug.Stack()))
			w.vm.L.SetTop(0)
			if ev.cs != nil {
				ev.cs.conn.Close(websocket.CloseInternalServerErr, "internal error")
			}
			if ev.done != nil && ev.kind != evFunc {
				close(ev.done)
			}
		}
		if !w.stopped && !w.vm.started {
			w.vm.start() // a reload swapped it in
		}
	}()
	if w.stopped {
		if ev.done != nil {
			close(ev.done) // nothing runs after evStop; release the waiter
		}
		return
	}
	w.hold = ev.hold
	v := w.vm
	switch ev.kind {
	case evStop:
		w.stopped = true
		w.flusher.Flush()
		v.close()
		close(w.done)
	case evOpen:
		w.conns[ev.cs] = struct{}{}
		w.connsPeak = max(w.connsPeak, len(w.conns))
		if v.h.open != nil {
			start := monoNow()
			w.callConn(ev.cs, v.h.open, v.connObject(ev.cs), v.requestTable(ev.cs.conn.Request()))
			w.m.stats.observe("open", monoNow()-start)
		}
	case evMessage:
		start := monoNow()
		w.message(v, ev)
		w.m.stats.observe("message", monoNow()-start)
	case evClose:
		if v.h.close != nil {
			start := monoNow()
			w.callConn(ev.cs, v.h.close, v.connObject(ev.cs), lua.LNumber(ev.code), lua.LString(ev.reason))
			w.m.stats.observe("close", monoNow()-start)
		}
		ev.cs.obj = nil
		delete(w.conns, ev.cs)
		if len(w.conns) <= w.connsPeak/4 && w.connsPeak >= shrinkMin {
			w.conns, w.connsPeak = shrunk(w.conns), len(w.conns) // a map keeps its peak's memory
		}
		close(ev.done)
	case evFunc:
		defer func() {
			if ev.done != nil {
				close(ev.done)
			}
		}()
		ev.fn(v)
	case evTimer:
		if ev.timer.v == v {
			v.runTimer(ev.timer)
		}
	}
}

// kindText and kindBinary are the message handler's third argument, boxed
// once: an LString made into an LValue per call would be allocated.
var kindText, kindBinary lua.LValue = lua.LString("text"), lua.LString("binary")

func (w *worker) message(v *vm, ev event) {
	cs := ev.cs
	if !cs.conn.Open() {
		return // closing: the script asked to close, or a previous handler failed
	}
	// Messages queued behind a runaway handler passed Mount.Message's
	// check before its stop banned their address: checked again here, so
	// a burst of them holds the worker for BanAfterStops timeouts at most.
	if w.m.pen.banned.Load() != 0 && w.m.pen.isBanned(cs.conn.Request().RemoteAddr, time.Now()) {
		cs.conn.Close(websocket.ClosePolicyViolation, "too many handlers stopped: try again later")
		return
	}
	kind := kindText
	if ev.typ == websocket.BinaryMessage {
		kind = kindBinary
	}
	// The message's bytes are ours (engine.Message) and nothing writes to
	// them again: Lua sees them as a string without a copy.
	var msg lua.LValue = lua.LString(unsafe.String(unsafe.SliceData(ev.data), len(ev.data)))
	if ev.typ == websocket.TextMessage && w.m.json {
		decoded, err := v.codec.Decode(ev.data)
		if err != nil {
			if v.h.malformed == nil {
				cs.conn.Close(websocket.CloseInvalidFramePayloadData, "invalid JSON: "+err.Error())
				return
			}
			w.callConn(cs, v.h.malformed, v.connObject(cs), msg, lua.LString(err.Error()))
			return
		}
		msg = decoded
	}
	if v.h.message != nil {
		w.callConn(cs, v.h.message, v.connObject(cs), msg, kind)
	}
}

// callConn runs a connection's handler; if it raises, or the watchdog
// stops it, the error is logged with the script's file:line and traceback
// and the connection is closed with 1011.
func (w *worker) callConn(cs *connState, fn *lua.LFunction, args ...lua.LValue) {
	if err := w.vm.call(fn, args...); err != nil {
		w.m.stats.luaErrors.Add(1)
		msg := "handler failed"
		if err.Stopped {
			msg = "handler stopped"
		}
		cs.conn.Logger().Error(msg, logKeyScript, w.vm.prog.Path, "worker", w.id,
			engine.LogKeyError, err.Msg, "traceback", err.Traceback)
		if err.Stopped { // counted first: the client may answer the close at once
			w.m.penalize(cs.conn.Request().RemoteAddr)
		}
		cs.conn.Close(websocket.CloseInternalServerErr, "internal error")
	}
}

// shrinkMin is the fewest entries w.conns must have held before it is
// rebuilt smaller: see shrunk.
const shrinkMin = 1024

// shrunk returns a copy of m sized for what it holds now: a Go map keeps
// the memory of the most entries it ever held, so a worker's connections
// are copied into a new map once they shrank to a quarter of their peak,
// and a flood of connections leaves nothing behind once gone (as the
// engine's registry does).
func shrunk[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
