package luabind

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/luaws/luaws/engine"
)

// ErrStopped is returned by [Mount.Reload] once the Mount has been stopped.
var ErrStopped = errors.New("luabind: mount stopped")

// Reload loads the mount's script again and, if it loads, makes every
// worker run the new version. reason says what asked for it ("SIGHUP",
// "changed: chat.lua") and goes into the log line.
//
// The new version is compiled and loaded in a fresh VM for every worker
// before anything changes. If that fails (a syntax error, an error raised
// while loading, a script that does not return a table of handlers, in the
// script or in a module it requires), the new VMs are closed, the old
// handlers keep serving, and Reload returns the same *CompileError or
// *LoadError that [Check] returns for the file.
//
// On success each worker swaps VMs between two events: an event already
// running finishes on the old code and the next one runs the new code, so
// no event is lost or handled twice. The old VM is closed, and with it its
// timers. Connections keep their ids, data and worker. Then, still before
// its next event, each worker calls the script's reload(conn) handler, if
// it has one, for each of its connections, so that the new code can
// migrate conn.data. If one of those calls fails (raises, or is stopped
// by the handler timeout) on any worker, the reload is refused and rolled
// back: every worker goes back to its old VM, no connection is closed,
// and Reload returns a *ReloadHandlerError naming the connection and the
// script's file:line (see swap for what stays done).
//
// Every reload, done or refused, is counted (see [Mount.ReloadStats]) and
// logged as one line with the files, the duration and the outcome.
// Reloads run one at a time. It is safe to call Reload concurrently with
// everything else.
func (m *Mount) Reload(reason string) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if m.stopped {
		return ErrStopped
	}
	start := time.Now()
	old := m.prog.Load()
	prog, vms, err := m.load()
	// A fresh Program has a fresh module cache and each fresh VM a fresh
	// package.loaded: every module the new version requires is read from
	// disk again, so a changed module is never served from a stale cache.
	files := old.Files()
	if prog != nil {
		files = prog.readFiles()
	}
	m.watchPrograms(old, prog)
	if err != nil {
		m.reloadsRefused.Add(1)
		m.log.Error("reload refused, old version still live", logKeyOutcome, "refused",
			engine.LogKeyReason, reason, logKeyFiles, files,
			engine.LogKeyDuration, time.Since(start), engine.LogKeyError, err.Error())
		return err
	}
	if err := m.swap(vms); err != nil {
		m.reloadsRefused.Add(1)
		m.log.Error("reload refused, old version still live", logKeyOutcome, "refused",
			engine.LogKeyReason, reason, logKeyFiles, files,
			engine.LogKeyDuration, time.Since(start), engine.LogKeyError, err.Error())
		return err
	}
	m.noteHandlers(&vms[0].h)
	m.prog.Store(prog)
	m.reloadsOK.Add(1)
	m.log.Info("reloaded", logKeyOutcome, "ok", engine.LogKeyReason, reason, logKeyFiles, files,
		engine.LogKeyDuration, time.Since(start))
	return nil
}

// ReloadStats returns how many reloads were done and how many were refused
// since the Mount started, for metrics.
func (m *Mount) ReloadStats() (ok, refused uint64) {
	return m.reloadsOK.Load(), m.reloadsRefused.Load()
}

// load compiles the script and loads it in a new VM for every worker. On
// error every VM it made is closed; the Program is returned when the main
// chunk compiled, so that its files can be watched.
//
// Loading does not need the workers' goroutines: nothing else can reach a
// VM before swap hands it over (vm.live is false, so connObject caches
// nothing in the connections' state while loading).
func (m *Mount) load() (*Program, []*vm, error) {
	prog, err := Compile(m.opts.Script)
	if err != nil {
		return nil, nil, err
	}
	vms := make([]*vm, 0, len(m.workers))
	for _, w := range m.workers {
		v, err := newVM(w, prog)
		if err != nil {
			for _, v := range vms {
				v.close()
			}
			return prog, nil, err
		}
		vms = append(vms, v)
	}
	return prog, vms, nil
}

// swap hands vms[i] to worker i through its queue and waits until every
// worker has switched and run the reload handlers. If a reload handler
// fails (raises, or is stopped by the handler timeout) on any worker,
// every worker goes back to its old VM, which was kept until then, and
// swap returns the first failure: the new version is refused. The reload
// handlers that ran on the new code stay run (what they did to
// conn.data stays), and the events a worker ran between its switch and
// the rollback ran on the new code; the old VM's timers that came due
// meanwhile were skipped.
func (m *Mount) swap(vms []*vm) error {
	errs := make([]error, len(m.workers))
	olds := make([]*vm, len(m.workers))
	dones := make([]chan struct{}, len(m.workers))
	for i, w := range m.workers {
		dones[i] = make(chan struct{})
		nv := vms[i]
		w.post(event{kind: evFunc, fn: func(*vm) { olds[i], errs[i] = w.install(nv) }, done: dones[i]})
	}
	for _, done := range dones {
		<-done
	}
	var failed error
	for _, err := range errs {
		if err != nil {
			failed = err
			break
		}
	}
	for i, w := range m.workers {
		dones[i] = make(chan struct{})
		old, nv := olds[i], vms[i]
		w.post(event{kind: evFunc, fn: func(*vm) {
			if failed == nil {
				old.close() // the single place where an old VM, and its timers, end
				return
			}
			w.restore(old, nv)
		}, done: dones[i]})
	}
	for _, done := range dones {
		<-done
	}
	return failed
}

// install makes nv the worker's VM and runs nv's reload handler for every
// connection of the worker, in id order. It returns the old VM, still
// open, and the first reload handler's failure, after which it runs no
// more of them. It runs on the worker, between two events (by whoever
// holds its drain).
func (w *worker) install(nv *vm) (*vm, error) {
	old := w.vm
	w.vm = nv
	nv.live = true
	conns := make([]*connState, 0, len(w.conns))
	for cs := range w.conns {
		cs.obj = nil // made again in nv on first use
		conns = append(conns, cs)
	}
	if nv.h.reload == nil {
		return old, nil
	}
	slices.SortFunc(conns, func(a, b *connState) int {
		return compareIDs(a.conn.ID(), b.conn.ID())
	})
	// A connection that is closing gets it too: its close handler runs
	// on the new code, which expects the new shape of conn.data.
	for _, cs := range conns {
		if err := nv.call(nv.h.reload, nv.connObject(cs)); err != nil {
			w.m.stats.luaErrors.Add(1)
			return old, &ReloadHandlerError{Conn: cs.conn.ID(), Err: err}
		}
	}
	return old, nil
}

// restore gives the worker back its old VM after a refused reload, and
// closes nv.
func (w *worker) restore(old, nv *vm) {
	w.vm = old
	for cs := range w.conns {
		cs.obj = nil
	}
	nv.close()
}

// ReloadHandlerError is a new version refused because its reload(conn)
// handler failed for a connection.
type ReloadHandlerError struct {
	Conn uint64       // the connection it failed for
	Err  *ScriptError // with the script's file:line
}

// Error names the connection and the script's file:line.
func (e *ReloadHandlerError) Error() string {
	return fmt.Sprintf("reload handler failed for connection %d: %s", e.Conn, e.Err.Msg)
}

func compareIDs(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// watchPrograms adds to the watcher what the live program and a reload
// attempt read or looked for, so that a fix to a broken module, or a
// module created where a require looked, triggers the next reload.
func (m *Mount) watchPrograms(progs ...*Program) {
	if m.watch == nil {
		return
	}
	for _, p := range progs {
		if p != nil {
			p.setOnLook(m.watch.add)
			m.watch.add(p.watchFiles()...)
		}
	}
}

// look records module paths that require found or looked for, and tells
// the watcher about new ones.
func (p *Program) look(found bool, paths ...string) {
	p.mu.Lock()
	var added []string
	for _, path := range paths {
		was, seen := p.looked[path]
		if !seen {
			added = append(added, path)
		}
		p.looked[path] = was || found
	}
	onLook := p.onLook
	p.mu.Unlock()
	if onLook != nil && len(added) > 0 {
		onLook(added...)
	}
}

func (p *Program) setOnLook(f func(paths ...string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onLook = f
}

// readFiles returns the script and every module file require found,
// whether it compiled or not: what a reload read.
func (p *Program) readFiles() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	files := []string{p.Path}
	for f, found := range p.looked {
		if found {
			files = append(files, f)
		}
	}
	slices.Sort(files[1:])
	return files
}

// watchFiles returns the script and every module path require found or
// looked for (a module that does not exist yet, or did not compile).
func (p *Program) watchFiles() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	files := []string{p.Path}
	for f := range p.looked {
		files = append(files, f)
	}
	return files
}
