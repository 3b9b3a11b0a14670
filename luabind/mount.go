package luabind

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
)

// Mount runs one script for one engine mount. It implements
// [engine.Handler]: the engine calls it from each connection's reader
// goroutine, and it queues the event to the connection's worker.
//
// Create it with [New], give it to engine.MountConfig.Handler, then call
// [Mount.Bind] with the engine mount before serving. It is safe to call
// Mount's methods concurrently.
type Mount struct {
	opts    Options
	json    bool // Options.Serializer is json
	log     *slog.Logger
	em      atomic.Pointer[engine.Mount]
	workers []*worker
	next    atomic.Uint64 // round robin for new connections
	prog    atomic.Pointer[Program]
	hooks   atomic.Uint32 // hookHandshake, hookError of the loaded script
	stats   stats
	pen     *penalties // stopped handlers by client address

	reloadMu       sync.Mutex // one reload at a time; guards stopped
	stopped        bool
	watch          *watcher // nil unless Options.Watch
	reloadsOK      atomic.Uint64
	reloadsRefused atomic.Uint64

	closeOnce sync.Once
	dogStop   chan struct{} // closed to stop the watchdog
	dogDone   chan struct{} // closed when it has stopped
}

// New compiles the script, loads it in every worker and starts them.
// A script that does not compile or load is a *CompileError or *LoadError
// naming the file and line.
func New(opts Options) (*Mount, error) {
	opts = opts.withDefaults()
	if opts.Script == "" {
		return nil, errors.New("no script given")
	}
	if err := CheckSerializer(opts.Serializer); err != nil {
		return nil, err
	}
	prog, err := Compile(opts.Script)
	if err != nil {
		return nil, err
	}
	m := &Mount{opts: opts, json: opts.Serializer == SerializerJSON, log: opts.Logger.With(logKeyScript, opts.Script),
		pen: newPenalties(opts.BanAfterStops, opts.BanDuration)}
	m.prog.Store(prog)
	for i := range opts.Workers {
		w := newWorker(m, i)
		v, err := newVM(w, prog)
		if err != nil {
			m.Stop()
			return nil, err
		}
		w.vm, v.live = v, true
		if i == 0 {
			m.noteHandlers(&v.h)
		}
		m.workers = append(m.workers, w)
		go w.run()
		w.do(func(v *vm) { v.start() }) // its timers start: they run on the worker
	}
	if opts.Watch {
		m.startWatch()
	}
	m.dogStop, m.dogDone = make(chan struct{}), make(chan struct{})
	go m.watchdog(m.dogStop, m.dogDone)
	return m, nil
}

// Bind tells the Mount which engine mount it serves, for
// luaws.connections, luaws.get and luaws.broadcast.
func (m *Mount) Bind(em *engine.Mount) { m.em.Store(em) }

// Serializer returns the name of the mount's serializer: "none" or "json".
func (m *Mount) Serializer() string {
	if m.json {
		return SerializerJSON
	}
	return SerializerNone
}

// Program returns the program the workers run.
func (m *Mount) Program() *Program { return m.prog.Load() }

// Stop stops the file watcher, waits for a reload in progress, and stops
// the workers after they finish what is queued. Call it after the engine
// has shut down.
func (m *Mount) Stop() {
	m.closeOnce.Do(func() {
		if m.watch != nil {
			m.watch.close()
		}
		m.reloadMu.Lock()
		m.stopped = true
		m.reloadMu.Unlock()
		for _, w := range m.workers {
			w.stop()
		}
		if m.dogStop != nil {
			close(m.dogStop)
			<-m.dogDone
		}
	})
}

// Open implements engine.Handler.
// A connection whose handshake ran on a worker stays on that worker.
func (m *Mount) Open(c *engine.Conn) {
	w, _ := c.Attached().(*worker)
	if w == nil || w.m != m {
		w = m.pickWorker()
	}
	cs := &connState{conn: c, w: w}
	c.Attach(cs)
	w.post(event{kind: evOpen, cs: cs})
}

// Message implements engine.Handler. When the connection's worker is idle
// the message handler runs here, on the connection's reader goroutine;
// otherwise the message waits in the worker's queue.
func (m *Mount) Message(c *engine.Conn, msg engine.Message) {
	cs := stateOf(c)
	if m.pen.isBanned(c.Request().RemoteAddr, time.Now()) {
		c.Close(websocket.ClosePolicyViolation, "too many handlers stopped: try again later")
		return
	}
	cs.held = msg.More
	cs.w.post(event{kind: evMessage, cs: cs, typ: msg.Type, data: msg.Data, hold: msg.More})
}

// ReadIdle implements engine.ReadIdler: replies held back while the
// connection's messages came in a burst are written now.
func (m *Mount) ReadIdle(c *engine.Conn) {
	if cs := stateOf(c); cs.held {
		cs.held = false
		cs.w.post(event{kind: evFlush})
	}
}

// Sync implements engine.Syncer: it returns once the connection's worker
// has run every event posted before it, so that the replies to the
// messages before a protocol error are queued ahead of the close frame.
func (m *Mount) Sync(c *engine.Conn) {
	stateOf(c).w.do(func(*vm) {})
}

// Close implements engine.Handler. It returns once the script's close
// handler has run, so that shutdown waits for every close handler.
func (m *Mount) Close(c *engine.Conn, code int, reason string) {
	cs := stateOf(c)
	done := make(chan struct{})
	cs.w.post(event{kind: evClose, cs: cs, code: code, reason: reason, done: done})
	<-done
}

func stateOf(c *engine.Conn) *connState {
	cs, _ := c.Attached().(*connState)
	if cs == nil {
		panic(fmt.Sprintf("luabind: connection %d has no state", c.ID()))
	}
	return cs
}

// Check compiles the script and loads it in a throwaway VM, as New and a
// reload do, and returns the same error they would.
func Check(script string, log *slog.Logger) error {
	m, err := New(Options{Script: script, Workers: 1, Logger: log})
	if err != nil {
		return err
	}
	m.Stop()
	return nil
}
