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
// used only by its worker's goroutine.
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

// newVM makes a fresh LState for w and runs prog's main chunk in it.
func newVM(w *worker, prog *Program) (*vm, error) {
	L := lua.NewState(lua.Options{
		CallStackSize:       w.m.opts.CallStackSize,
		RegistrySize:        1024,
		RegistryMaxSize:     w.m.opts.RegistryMaxSize,
		MinimizeStackMemory: true,
	})
	v := &vm{L: L, w: w, prog: prog, log: w.m.log}
	// A script that never finishes loading must not hang a reload (nor
	// the shutdown waiting for it).
	ctx, cancel := context.WithTimeout(context.Background(), w.m.opts.LoadTimeout)
	L.SetContext(ctx)
	err := v.init()
	L.RemoveContext()
	cancel()
	if err != nil {
		L.Close()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = &LoadError{File: prog.Path, Msg: fmt.Sprintf("loading took longer than %s (an endless loop outside the handlers?)", w.m.opts.LoadTimeout)}
		}
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
	L.SetGlobal("luaws", v.module())
	v.installDataMeta()
	v.installConnMeta()

	L.Push(L.NewFunctionFromProto(v.prog.main))
	if err := L.PCall(0, 1, nil); err != nil {
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

func (v *vm) close() { v.L.Close() }

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

// call runs fn(args...) protected. It returns a *ScriptError on failure.
func (v *vm) call(fn *lua.LFunction, args ...lua.LValue) *ScriptError {
	L := v.L
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	if err := L.PCall(len(args), 0, nil); err != nil {
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

// ScriptError is a handler that raised an error.
type ScriptError struct {
	Msg       string // with the script's file:line
	Traceback string
}

// Error returns the message.
func (e *ScriptError) Error() string { return e.Msg }

func (v *vm) scriptError(err error) *ScriptError {
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		msg := ae.Object.String()
		return &ScriptError{Msg: msg, Traceback: ae.StackTrace}
	}
	return &ScriptError{Msg: err.Error()}
}

// requestTable builds the req table handlers see.
func (v *vm) requestTable(r *engine.Request) *lua.LTable {
	L := v.L
	t := L.CreateTable(0, 5)
	t.RawSetString("path", lua.LString(r.Path))
	t.RawSetString("remote_addr", lua.LString(r.RemoteAddr))
	t.RawSetString("query", valuesTable(L, r.Query))
	t.RawSetString("headers", valuesTable(L, r.Header))
	sp := L.CreateTable(len(r.Subprotocols), 0)
	for i, s := range r.Subprotocols {
		sp.RawSetInt(i+1, lua.LString(s))
	}
	t.RawSetString("subprotocols", sp)
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
