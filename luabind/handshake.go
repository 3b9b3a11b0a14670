package luabind

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine"
)

// errStopped rejects a handshake that arrives after the workers stopped.
var errStopped = errors.New("luabind: mount stopped")

// hook bits: which optional handlers the last loaded script has, so that
// a mount without them never queues a handshake to a worker.
const (
	hookHandshake uint32 = 1 << iota
	hookError
)

// noteHandlers records which optional handlers v's script defines. It is
// called each time a VM finishes loading (New, and a reload).
func (m *Mount) noteHandlers(h *handlers) {
	var bits uint32
	if h.handshake != nil {
		bits |= hookHandshake
	}
	if h.error != nil {
		bits |= hookError
	}
	m.hooks.Store(bits)
}

// pickWorker returns the worker for the next new connection, round robin.
func (m *Mount) pickWorker() *worker {
	return m.workers[(m.next.Add(1)-1)%uint64(len(m.workers))]
}

// Handshake implements [engine.Handshaker]. Without a handshake handler
// it accepts at once. With one, it runs handshake(req) on the worker that
// will own the connection and waits: the reply's Attach carries that
// worker to Open.
//
// The handler's return values decide:
//
//   - nothing, nil or true: accept;
//   - false[, status[, body]]: reject with status (default 403) and body;
//   - a table {subprotocol = s, headers = {...}, data = {...}}: accept with
//     that subprotocol (only if the client offered it), extra response
//     headers, and data seeding conn.data;
//   - a Lua error, or any other value: reject with 403, logged with the
//     script's file:line.
func (m *Mount) Handshake(req *engine.Request) (engine.HandshakeReply, error) {
	if m.pen.isBanned(req.RemoteAddr, time.Now()) {
		return engine.HandshakeReply{}, &engine.Rejection{Status: http.StatusTooManyRequests,
			Body: "too many of this address's handlers were stopped (handler_timeout): try again later"}
	}
	if m.hooks.Load()&hookHandshake == 0 {
		return engine.HandshakeReply{}, nil
	}
	w := m.pickWorker()
	reply, err := engine.HandshakeReply{}, error(errStopped)
	w.do(func(v *vm) { reply, err = v.handshake(req) })
	if err == nil {
		reply.Attach = w
	}
	return reply, err
}

// handshake runs the script's handshake handler on v's goroutine.
func (v *vm) handshake(req *engine.Request) (engine.HandshakeReply, error) {
	if v.h.handshake == nil { // reloaded without one
		return engine.HandshakeReply{}, nil
	}
	rets, serr := v.callResults("handshake", v.h.handshake, v.requestTable(req))
	if serr != nil {
		v.logHandlerError("handshake failed", serr, req)
		return engine.HandshakeReply{}, serr
	}
	reply, err := v.handshakeReply(rets)
	var rej *engine.Rejection
	if errors.As(err, &rej) {
		return engine.HandshakeReply{}, rej
	}
	if err != nil {
		serr := &ScriptError{Msg: fmt.Sprintf("%s: handshake: %v", v.prog.Path, err)}
		v.logHandlerError("handshake failed", serr, req)
		return engine.HandshakeReply{}, serr
	}
	return reply, nil
}

// handshakeReply turns handshake's return values into a reply or a
// rejection (an *engine.Rejection error); other errors are script mistakes.
func (v *vm) handshakeReply(rets []lua.LValue) (engine.HandshakeReply, error) {
	if len(rets) == 0 {
		return engine.HandshakeReply{}, nil
	}
	switch r := rets[0].(type) {
	case *lua.LNilType:
		return engine.HandshakeReply{}, nil
	case lua.LBool:
		if r {
			return engine.HandshakeReply{}, nil
		}
		rej := &engine.Rejection{Status: http.StatusForbidden}
		if len(rets) > 1 && rets[1] != lua.LNil {
			n, ok := rets[1].(lua.LNumber)
			if !ok || n < 400 || n > 599 || n != lua.LNumber(int(n)) {
				return engine.HandshakeReply{}, fmt.Errorf("the status after false must be a number from 400 to 599, got %s", describe(rets[1]))
			}
			rej.Status = int(n)
		}
		if len(rets) > 2 && rets[2] != lua.LNil {
			s, ok := rets[2].(lua.LString)
			if !ok {
				return engine.HandshakeReply{}, fmt.Errorf("the body after the status must be a string, got %s", rets[2].Type())
			}
			rej.Body = string(s)
		}
		return engine.HandshakeReply{}, rej
	case *lua.LTable:
		return v.acceptTable(r)
	}
	return engine.HandshakeReply{}, fmt.Errorf("returned a %s; want nothing, true, false[, status[, body]] or a table", rets[0].Type())
}

// acceptTable reads {subprotocol, headers, data}.
func (v *vm) acceptTable(t *lua.LTable) (engine.HandshakeReply, error) {
	var reply engine.HandshakeReply
	var err error
	t.ForEach(func(k, val lua.LValue) {
		if err != nil {
			return
		}
		switch k.String() {
		case "subprotocol":
			s, ok := val.(lua.LString)
			if !ok {
				err = fmt.Errorf("subprotocol must be a string, got %s", val.Type())
				return
			}
			reply.Subprotocol = string(s)
		case "headers":
			reply.Header, err = headersFromLua(val)
		case "data":
			var d any
			if d, err = ToGo(v.codec, val); err != nil {
				err = fmt.Errorf("data: %w", err)
				return
			}
			m, ok := d.(map[string]any)
			if !ok {
				err = fmt.Errorf("data must be a table with string keys, got %s", describe(val))
				return
			}
			for k, e := range m {
				if e == nil { // luaws.null: as if never set
					delete(m, k)
				}
			}
			reply.Data = m
		default:
			err = fmt.Errorf("the returned table has an unknown key %q (want subprotocol, headers, data)", k.String())
		}
	})
	return reply, err
}

// headersFromLua reads a table of name → string, or name → list of strings.
func headersFromLua(val lua.LValue) (http.Header, error) {
	t, ok := val.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("headers must be a table, got %s", val.Type())
	}
	h := http.Header{}
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		name, ok := k.(lua.LString)
		if !ok {
			err = fmt.Errorf("header names must be strings, got %s", k.Type())
			return
		}
		switch v := v.(type) {
		case lua.LString, lua.LNumber:
			h.Add(string(name), v.String())
		case *lua.LTable:
			for i := 1; i <= v.Len(); i++ {
				h.Add(string(name), v.RawGetInt(i).String())
			}
		default:
			err = fmt.Errorf("header %s must be a string, got %s", name, v.Type())
		}
	})
	return h, err
}

// HandshakeFailed implements [engine.ErrorReplier]: it runs the script's
// error(req, err, status, detail) handler, whose return values status,
// headers, body make the HTTP reply. err is the reason ("invalid request",
// "rejected", "origin not allowed", "too many connections", ...), status
// the one luaws would reply with, detail the rejection's body or what went
// wrong. A handler that returns nothing, or raises, leaves the default reply.
func (m *Mount) HandshakeFailed(req *engine.Request, e *engine.HandshakeError) (engine.ErrorReply, bool) {
	if m.hooks.Load()&hookError == 0 {
		return engine.ErrorReply{}, false
	}
	var (
		reply engine.ErrorReply
		ok    bool
	)
	m.pickWorker().do(func(v *vm) { reply, ok = v.errorReply(req, e) })
	return reply, ok
}

func (v *vm) errorReply(req *engine.Request, e *engine.HandshakeError) (engine.ErrorReply, bool) {
	if v.h.error == nil {
		return engine.ErrorReply{}, false
	}
	detail := e.Detail
	var rej *engine.Rejection
	if errors.As(e.Err, &rej) {
		detail = rej.Body
	}
	rets, serr := v.callResults("error", v.h.error, v.requestTable(req),
		lua.LString(e.Reason), lua.LNumber(e.Status), lua.LString(detail))
	if serr != nil {
		v.logHandlerError("error handler failed", serr, req)
		return engine.ErrorReply{}, false
	}
	if len(rets) == 0 || (len(rets) == 1 && rets[0] == lua.LNil) {
		return engine.ErrorReply{}, false
	}
	reply, err := errorReplyFrom(rets)
	if err != nil {
		v.logHandlerError("error handler failed",
			&ScriptError{Msg: fmt.Sprintf("%s: error: %v", v.prog.Path, err)}, req)
		return engine.ErrorReply{}, false
	}
	return reply, true
}

// errorReplyFrom reads status, headers, body; nil status means the
// default one.
func errorReplyFrom(rets []lua.LValue) (engine.ErrorReply, error) {
	var reply engine.ErrorReply
	if rets[0] != lua.LNil {
		n, ok := rets[0].(lua.LNumber)
		if !ok || n < 100 || n > 599 || n != lua.LNumber(int(n)) {
			return reply, fmt.Errorf("the status must be a number from 100 to 599, got %s", describe(rets[0]))
		}
		reply.Status = int(n)
	}
	if len(rets) > 1 && rets[1] != lua.LNil {
		h, err := headersFromLua(rets[1])
		if err != nil {
			return reply, err
		}
		reply.Header = h
	}
	if reply.Header == nil {
		reply.Header = http.Header{}
	}
	if reply.Header.Get("Content-Type") == "" {
		reply.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	if len(rets) > 2 && rets[2] != lua.LNil {
		s, ok := rets[2].(lua.LString)
		if !ok {
			return reply, fmt.Errorf("the body must be a string, got %s", rets[2].Type())
		}
		reply.Body = []byte(s)
	}
	return reply, nil
}

// callResults runs fn(args...) protected and returns all its results.
func (v *vm) callResults(name string, fn *lua.LFunction, args ...lua.LValue) ([]lua.LValue, *ScriptError) {
	L := v.L
	start := time.Now()
	defer func() { v.w.m.stats.observe(name, time.Since(start)) }()
	top := L.GetTop()
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	if err := v.pcall(len(args), lua.MultRet); err != nil {
		L.SetTop(top)
		return nil, v.scriptError(err)
	}
	n := L.GetTop() - top
	rets := make([]lua.LValue, n)
	for i := range n {
		rets[i] = L.Get(top + 1 + i)
	}
	L.SetTop(top)
	return rets, nil
}

// logHandlerError logs a failed handshake or error handler: it counts as
// a Lua error.
func (v *vm) logHandlerError(msg string, serr *ScriptError, req *engine.Request) {
	v.w.m.stats.luaErrors.Add(1)
	v.w.log.Error(msg, engine.LogKeyPath, req.Path,
		engine.LogKeyRemoteAddr, req.RemoteAddr, engine.LogKeyError, serr.Msg, "traceback", serr.Traceback)
}

// describe names a Lua value for an error message: numbers and strings by
// value, everything else by type.
func describe(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LNumber:
		return v.String()
	case lua.LString:
		return fmt.Sprintf("%q", string(v))
	}
	return v.Type().String()
}
