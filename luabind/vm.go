package luabind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/luabind/luajson"
)

// vm is one loaded version of the script in one worker: an LState, the
// handlers the script returned, and what the bindings cache in it. A vm is
// used only by whoever holds its worker's drain (or, before it serves, by the one
// that loads it).
type vm struct {
	L     *lua.LState
	w     *worker
	prog  *Program
	codec *luajson.Codec
	h     handlers
	log   *slog.Logger
	buf   []byte // encode scratch
	// live is set when the worker takes the VM (New, or a reload's swap).
	// Until then the VM is being loaded, maybe on another goroutine, and
	// must not touch the connections' worker-owned state.
	live bool

	// ctx is the LState's context, cancelled by the watchdog to stop a
	// call (watchdog.go); cancel is read by the watchdog under w.guard.mu.
	ctx    context.Context
	cancel context.CancelCauseFunc

	timers  map[*timer]struct{} // pending luaws.after / luaws.every
	timerMT *lua.LTable
	started bool // serving: timers run
	closed  bool

	coCreate, coResume lua.LGFunction // gopher-lua's, wrapped in limits.go
	coDepth            int            // coroutines resuming coroutines
}

// handlers are the functions of the script's table; nil when absent.
type handlers struct {
	handshake, open, message, malformed, close, error, reload *lua.LFunction
}

// handlerNames maps the table keys to their slots.
var handlerNames = []string{"handshake", "open", "message", "malformed_message", "close", "error", "reload"}

func (h *handlers) slot(name string) **lua.LFunction {
	switch name {
	case "handshake":
		return &h.handshake
	case "open":
		return &h.open
	case "message":
		return &h.message
	case "malformed_message":
		return &h.malformed
	case "close":
		return &h.close
	case "error":
		return &h.error
	case "reload":
		return &h.reload
	}
	return nil
}

// LoadError is a script that compiled but failed while loading: it raised,
// or did not return a table of handlers.
type LoadError struct {
	File      string
	Msg       string // starts with file:line when Lua knows it
	Traceback string
}

// Error returns the message, which names the file and line.
func (e *LoadError) Error() string {
	if strings.HasPrefix(e.Msg, e.File) {
		return e.Msg
	}
	return e.File + ": " + e.Msg
}

// newVM makes a fresh LState for w and runs prog's main chunk in it,
// bounded by the load timeout: a script that never finishes loading must
// not hang a reload (nor the shutdown waiting for it). It may run on any goroutine; the VM
// starts serving (its timers start) on the worker, at its first event
// there. A VM that is not used must be closed.
func newVM(w *worker, prog *Program) (*vm, error) {
	L := lua.NewState(lua.Options{
		CallStackSize:   w.m.opts.CallStackSize,
		RegistrySize:    1024,
		RegistryMaxSize: w.m.opts.RegistryMaxSize,
		// gopher-lua grows the value stack by this many slots at a time,
		// copying it each time: by 32 (its default), one unpack of a long
		// table costs seconds of copying inside one uninterruptible call.
		RegistryGrowStep:    16384,
		MinimizeStackMemory: true,
	})
	v := &vm{L: L, w: w, prog: prog, log: w.m.log}
	v.resetContext()
	if err := v.init(); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

func (v *vm) init() error {
	L := v.L
	configureLuar(L)
	installPairs(L)
	v.codec = luajson.New(L)
	v.installRequire()
	mod := v.module()
	v.installTimers(mod)
	v.installShared(mod)
	v.codec.SetMaxSize(v.w.m.opts.MaxStringSize)
	L.SetGlobal("luaws", mod)
	v.installDataMeta()
	v.installConnMeta()
	v.installLimits()

	L.Push(L.NewFunctionFromProto(v.prog.main))
	if err := v.loadTimeout(v.w.m.opts.LoadTimeout); err != nil {
		return v.loadError(err)
	}
	ret := L.Get(-1)
	L.Pop(1)
	t, ok := ret.(*lua.LTable)
	if !ok {
		return &LoadError{File: v.prog.Path, Msg: fmt.Sprintf("the script must return a table of handlers, got %s", ret.Type())}
	}
	for _, name := range handlerNames {
		switch f := t.RawGetString(name).(type) {
		case *lua.LNilType:
		case *lua.LFunction:
			*v.h.slot(name) = f
		default:
			return &LoadError{File: v.prog.Path, Msg: fmt.Sprintf("handler %q is a %s, want a function", name, f.Type())}
		}
	}
	return nil
}

func (v *vm) loadError(err error) error {
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		var ce *CompileError
		if errors.As(ae.Cause, &ce) {
			return ce
		}
		return &LoadError{File: v.prog.Path, Msg: ae.Object.String(), Traceback: ae.StackTrace}
	}
	return &LoadError{File: v.prog.Path, Msg: err.Error()}
}

// close cancels the VM's timers and closes its LState. Call it on the
// worker (its drain held) once the VM serves no more (or never served).
func (v *vm) close() {
	if v.closed {
		return
	}
	v.closed = true
	v.closeTimers()
	v.cancel(errVMClosed)
	v.L.Close()
}

// errVMClosed is the cause of a closed VM's context.
var errVMClosed = errors.New("vm closed")

// start makes the VM serve: the timers made while it loaded start.
func (v *vm) start() {
	if !v.started {
		v.startTimers()
	}
}

// installRequire makes require find modules next to the script, compiled
// once per program and shared by every worker.
func (v *vm) installRequire() {
	L := v.L
	pkg, ok := L.GetGlobal("package").(*lua.LTable)
	if !ok {
		return
	}
	dir := v.prog.Dir
	pkg.RawSetString("path", lua.LString(filepath.Join(dir, "?.lua")+";"+filepath.Join(dir, "?", "init.lua")))
	loaders, ok := pkg.RawGetString("loaders").(*lua.LTable)
	if !ok {
		return
	}
	// Keep the preload searcher first; ours replaces the file searcher.
	loaders.RawSetInt(2, L.NewFunction(v.prog.loader))
}

// installPairs makes pairs honour a __pairs metamethod (as in Lua 5.2), so
// that pairs(conn.data) works.
func installPairs(L *lua.LState) {
	orig := L.GetGlobal("pairs")
	L.SetGlobal("pairs", L.NewFunction(func(L *lua.LState) int {
		if mm := L.GetMetaField(L.Get(1), "__pairs"); mm != lua.LNil {
			L.Push(mm)
			L.Push(L.Get(1))
			L.Call(1, 3)
			return 3
		}
		L.Push(orig)
		L.Push(L.Get(1))
		L.Call(1, 3)
		return 3
	}))
}

// call runs fn(args...) protected and under the watchdog (see pcall). It
// returns a *ScriptError on failure.
func (v *vm) call(fn *lua.LFunction, args ...lua.LValue) *ScriptError {
	L := v.L
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	if err := v.pcall(len(args), 0); err != nil {
		se := v.scriptError(err)
		se.Traceback = nameHandlerFrame(se.Traceback, fn)
		return se
	}
	return nil
}

// nameHandlerFrame fixes the last line of a gopher-lua traceback, which
// calls the outermost frame "main chunk" even when it is a handler called
// from Go: like Lua 5.1, name it "function <file:line>" instead.
func nameHandlerFrame(tb string, fn *lua.LFunction) string {
	const mainChunk = "in main chunk"
	i := strings.LastIndex(tb, mainChunk)
	if i < 0 || fn.IsG || fn.Proto == nil || fn.Proto.LineDefined == 0 {
		return tb
	}
	return tb[:i] + fmt.Sprintf("in function <%s:%d>", fn.Proto.SourceName, fn.Proto.LineDefined) + tb[i+len(mainChunk):]
}

// ScriptError is a handler that raised an error, or that was stopped.
type ScriptError struct {
	Msg       string // with the script's file:line
	Traceback string
	// Stopped is set when the watchdog stopped the call: it ran past the
	// handler timeout, or the heap went over the memory limit. Msg then
	// ends with the reason.
	Stopped bool
}

// Error returns the message.
func (e *ScriptError) Error() string { return e.Msg }

func (v *vm) scriptError(err error) *ScriptError {
	var se ScriptError
	var stopped *stoppedError
	if errors.As(err, &stopped) {
		se.Stopped = true
	}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		se.Msg, se.Traceback = ae.Object.String(), ae.StackTrace
	} else {
		se.Msg = err.Error()
	}
	if stopped != nil {
		se.Msg = stopMessage(se.Msg, stopped.cause)
	}
	if se.Msg == callStackOverflow {
		se.Msg = v.stackOverflow(se.Traceback)
	}
	return &se
}

// callStackOverflow is the Go panic gopher-lua's growable call stack
// raises when it is full: it carries no position.
const callStackOverflow = "lua callstack overflow"

// stackOverflow words a call stack overflow as gopher-lua's fixed stack
// does, with the position of the innermost Lua frame of the traceback.
func (v *vm) stackOverflow(traceback string) string {
	msg := fmt.Sprintf("stack overflow (more than %d nested calls)", v.w.m.opts.CallStackSize)
	for line := range strings.Lines(traceback) {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, ": in "); i > 0 && !strings.HasPrefix(line, "[G]") {
			return line[:i] + ": " + msg
		}
	}
	return msg
}

// requestTable builds the req table handlers see. req.query and
// req.headers are made when first read (most open handlers never look,
// and the headers' table costs more than the rest of an open).
func (v *vm) requestTable(r *engine.Request) *lua.LTable {
	L := v.L
	t := L.CreateTable(0, 5)
	t.RawSetString("path", lua.LString(r.Path))
	t.RawSetString("remote_addr", lua.LString(r.RemoteAddr))
	sp := L.CreateTable(len(r.Subprotocols), 0)
	for i, s := range r.Subprotocols {
		sp.RawSetInt(i+1, lua.LString(s))
	}
	t.RawSetString("subprotocols", sp)
	mt := L.CreateTable(0, 1)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		key, _ := L.Get(2).(lua.LString)
		var val *lua.LTable
		switch key {
		case "query":
			val = valuesTable(L, r.Query())
		case "headers":
			val = valuesTable(L, r.Header())
		case "tls":
			if r.TLS == nil {
				L.Push(lua.LNil)
				return 1
			}
			val = tlsTable(L, r.TLS)
		default:
			L.Push(lua.LNil)
			return 1
		}
		t.RawSetString(string(key), val) // made once
		L.Push(val)
		return 1
	}))
	L.SetMetatable(t, mt)
	return t
}

// tlsTable is req.tls and conn.tls: what the TLS handshake settled.
func tlsTable(L *lua.LState, info *engine.TLSInfo) *lua.LTable {
	t := L.CreateTable(0, 4)
	t.RawSetString("version", lua.LString(info.Version))
	t.RawSetString("cipher", lua.LString(info.Cipher))
	t.RawSetString("server_name", lua.LString(info.ServerName))
	if c := info.Client; c != nil {
		ct := L.CreateTable(0, 5)
		ct.RawSetString("subject", lua.LString(c.Subject))
		ct.RawSetString("issuer", lua.LString(c.Issuer))
		sans := L.CreateTable(len(c.SANs), 0)
		for i, s := range c.SANs {
			sans.RawSetInt(i+1, lua.LString(s))
		}
		ct.RawSetString("sans", sans)
		ct.RawSetString("serial", lua.LString(c.Serial))
		ct.RawSetString("fingerprint_sha256", lua.LString(c.FingerprintSHA256))
		t.RawSetString("client", ct)
	}
	return t
}

// valuesTable turns query or header values into name → value, repeated
// values joined with ", ".
func valuesTable[M ~map[string][]string](L *lua.LState, m M) *lua.LTable {
	t := L.CreateTable(0, len(m))
	for k, vs := range m {
		t.RawSetString(k, lua.LString(strings.Join(vs, ", ")))
	}
	return t
}
