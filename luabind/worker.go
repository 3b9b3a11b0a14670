package luabind

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"
	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine"
)

// worker is one goroutine and the VM it owns. Every Lua call of the worker
// happens in run, one event at a time.
type worker struct {
	m      *Mount
	id     int
	events chan event
	stopCh chan struct{}
	done   chan struct{}
	vm     *vm // owned by the run goroutine once started
	log    *slog.Logger
	// conns are the connections whose open event ran and close event has
	// not; owned by the run goroutine.
	conns map[*connState]struct{}
	guard guard // the watchdog's view of the running call
	// flusher holds back what the run goroutine's handlers send until
	// the worker has no event left, so that the messages of a burst go
	// out together (engine.Flusher).
	flusher engine.Flusher
}

type eventKind uint8

const (
	evOpen eventKind = iota
	evMessage
	evClose
	evFunc
	evTimer
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
}

// connState is luabind's per-connection state, attached to the engine conn.
type connState struct {
	conn *engine.Conn
	w    *worker
	// Owned by w's goroutine: the conn object in the VM it was made in.
	obj   *lua.LUserData
	objVM *vm
}

func newWorker(m *Mount, id int) *worker {
	return &worker{
		m:      m,
		id:     id,
		events: make(chan event, m.opts.QueueSize),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
		log:    m.log.With("worker", id),
		conns:  map[*connState]struct{}{},
	}
}

// post queues ev; it blocks while the worker's queue is full.
func (w *worker) post(ev event) {
	select {
	case w.events <- ev: // the common case, without the cost of a two-way select
		return
	default:
	}
	select {
	case w.events <- ev:
	case <-w.done:
		if ev.done != nil {
			close(ev.done)
		}
	}
}

// do runs fn on the worker and waits for it.
func (w *worker) do(fn func(v *vm)) {
	done := make(chan struct{})
	w.post(event{kind: evFunc, fn: fn, done: done})
	<-done
}

func (w *worker) stop() {
	close(w.stopCh)
	<-w.done
}

func (w *worker) run() {
	defer close(w.done)
	defer func() { w.vm.close() }()
	w.vm.start()
	for {
		var ev event
		select {
		case ev = <-w.events: // an event already waiting: no two-way select
		default:
			select {
			case ev = <-w.events:
			case <-w.stopCh:
				for {
					select {
					case ev := <-w.events:
						w.handle(ev)
					default:
						w.flusher.Flush()
						return
					}
				}
			}
		}
		w.handle(ev)
		if len(w.events) == 0 {
			w.flusher.Flush() // nothing else to do: write what the handlers sent
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
		if !w.vm.started {
			w.vm.start() // a reload swapped it in
		}
	}()
	v := w.vm
	switch ev.kind {
	case evOpen:
		w.conns[ev.cs] = struct{}{}
		if v.h.open != nil {
			start := time.Now()
			w.callConn(ev.cs, v.h.open, v.connObject(ev.cs), v.requestTable(ev.cs.conn.Request()))
			w.m.stats.observe("open", time.Since(start))
		}
	case evMessage:
		start := time.Now()
		w.message(v, ev)
		w.m.stats.observe("message", time.Since(start))
	case evClose:
		if v.h.close != nil {
			start := time.Now()
			w.callConn(ev.cs, v.h.close, v.connObject(ev.cs), lua.LNumber(ev.code), lua.LString(ev.reason))
			w.m.stats.observe("close", time.Since(start))
		}
		ev.cs.obj, ev.cs.objVM = nil, nil
		delete(w.conns, ev.cs)
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

func (w *worker) message(v *vm, ev event) {
	cs := ev.cs
	if !cs.conn.Open() {
		return // closing: the script asked to close, or a previous handler failed
	}
	kind := lua.LString("text")
	if ev.typ == websocket.BinaryMessage {
		kind = "binary"
	}
	// The message's bytes are ours (engine.Message) and nothing writes to
	// them again: Lua sees them as a string without a copy.
	var msg lua.LValue = lua.LString(unsafe.String(unsafe.SliceData(ev.data), len(ev.data)))
	if ev.typ == websocket.TextMessage && cs.conn.Mount().Serializer().Name() == "json" {
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
		cs.conn.Logger().Error(msg, engine.LogKeyScript, w.vm.prog.Path, "worker", w.id,
			engine.LogKeyError, err.Msg, "traceback", err.Traceback)
		cs.conn.Close(websocket.CloseInternalServerErr, "internal error")
	}
}
