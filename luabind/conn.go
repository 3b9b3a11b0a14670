package luabind

import (
	"errors"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/gorilla/websocket"
	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"

	"github.com/luaws/luaws/engine"
)

// Conn is the conn object scripts see, through gopher-luar. Its methods
// appear in snake case (conn:send_binary), and its fields, read-only from
// Lua, are answered from the engine connection (conn.id, conn.path,
// conn.remote_addr, conn.subprotocol) or made on first use (conn.data,
// conn.query, conn.headers): a connection's own worker keeps its Conn as
// long as it lives, so an idle one holds little more than two pointers.
// One Conn is made per connection per VM.
type Conn struct {
	c       *engine.Conn
	vm      *vm
	data    lua.LValue
	query   *lua.LTable
	headers *lua.LTable
}

// String is what tostring(conn) prints.
func (c *Conn) String() string { return "conn " + strconv.FormatUint(c.c.ID(), 10) }

// send is conn:send(v): with the json serializer v is encoded, without one
// strings go as text frames. It returns true, or nil and "closed" /
// "send queue full"; a value that cannot be encoded raises.
func (c *Conn) send(L *lua.LState) int {
	typ, data := c.vm.encodeArg(L, 1, "send")
	return pushSendResult(L, c.vm.send(c.c, typ, data))
}

// sendBinary is conn:send_binary(s): s as one binary frame.
func (c *Conn) sendBinary(L *lua.LState) int {
	s := L.CheckString(1)
	return pushSendResult(L, c.vm.send(c.c, websocket.BinaryMessage, bytesOf(s)))
}

// ping is conn:ping([payload]); the payload is cut to 125 bytes.
func (c *Conn) ping(L *lua.LState) int {
	return pushSendResult(L, c.c.Ping([]byte(L.OptString(1, ""))))
}

// close is conn:close([code[, reason]]): it starts the close handshake
// (default 1000, normal closure).
func (c *Conn) close(L *lua.LState) int {
	code := L.OptInt(1, websocket.CloseNormalClosure)
	if code < 1000 || code > 4999 || code == 1005 || code == 1006 || code == 1015 {
		L.ArgError(1, "close code must be 1000-4999 and not 1005, 1006 or 1015")
	}
	c.c.Close(code, L.OptString(2, ""))
	return 0
}

// Subscribe is conn:subscribe(topic): the connection receives what
// luaws.publish sends to topic, from any node, until it unsubscribes or
// closes. It returns true, or nil and "closed".
func (c *Conn) Subscribe(L *luar.LState) int {
	topic := checkTopic(L.LState, 1)
	return pushSendResult(L.LState, c.c.Subscribe(topic))
}

// Unsubscribe is conn:unsubscribe(topic). It returns true if the
// connection was subscribed to topic, false if not.
func (c *Conn) Unsubscribe(L *luar.LState) int {
	topic := checkTopic(L.LState, 1)
	L.Push(lua.LBool(c.c.Unsubscribe(topic)))
	return 1
}

// send queues a message for c. On the worker (v is its live VM) it goes
// through the worker's Flusher, written when the worker has no event left.
func (v *vm) send(c *engine.Conn, typ int, data []byte) error {
	if v.live {
		return v.w.flusher.Send(c, typ, data)
	}
	return c.Send(typ, data)
}

// pushSendResult returns true, or nil and a short error string.
func pushSendResult(L *lua.LState, err error) int {
	if err == nil {
		L.Push(lua.LTrue)
		return 1
	}
	L.Push(lua.LNil)
	switch {
	case errors.Is(err, engine.ErrClosed):
		L.Push(lua.LString("closed"))
	case errors.Is(err, engine.ErrSlowConsumer):
		L.Push(lua.LString("send queue full"))
	default:
		L.Push(lua.LString(err.Error()))
	}
	return 2
}

// encodeArg serializes argument n for the mount's serializer: the frame
// type and an owned payload. Misuse raises a Lua error naming fn.
func (v *vm) encodeArg(L *lua.LState, n int, fn string) (int, []byte) {
	val := v.plainValue(L, L.CheckAny(n))
	if v.w.m.json {
		buf, err := v.encode(val)
		if err != nil {
			L.RaiseError("%s: %s", fn, err.Error())
		}
		return websocket.TextMessage, append([]byte(nil), buf...)
	}
	switch val.Type() {
	case lua.LTString, lua.LTNumber:
		s := lua.LVAsString(val)
		if !utf8.ValidString(s) {
			L.ArgError(n, "text is not valid UTF-8 (use send_binary for bytes)")
		}
		return websocket.TextMessage, bytesOf(s)
	}
	L.ArgError(n, "string expected, got "+val.Type().String()+" (the mount has no serializer; use luaws.json.encode or serializer json)")
	return 0, nil
}

// bytesOf returns the bytes of a Lua string without a copy. The engine
// only reads what it sends (and Lua strings never change), so the message
// may share the string's memory; its capacity is its length, so an append
// copies.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// maxScratch is the largest encode buffer a vm keeps between calls, so that
// one huge message does not pin its buffer.
const maxScratch = 64 << 10

// encode JSON-encodes val into v's scratch buffer; the result is valid
// until the next call.
func (v *vm) encode(val lua.LValue) ([]byte, error) {
	buf, err := v.codec.Encode(v.buf[:0], val)
	if cap(buf) <= maxScratch {
		v.buf = buf[:0]
	} else {
		v.buf = nil
	}
	return buf, err
}

// plainValue returns a Lua copy of conn.data when val is a conn.data, so
// that conn:send(conn.data), luaws.broadcast(conn.data) and
// luaws.json.encode(conn.data) encode what it holds; any other val is
// returned as it is.
func (v *vm) plainValue(L *lua.LState, val lua.LValue) lua.LValue {
	if ud, ok := val.(*lua.LUserData); ok {
		if d, ok := ud.Value.(*engine.Data); ok {
			return ToLua(L, v.codec, d.Snapshot())
		}
	}
	return val
}

// luaJSONEncode is luaws.json.encode(v): the codec's encode, plus conn.data.
func (v *vm) luaJSONEncode(L *lua.LState) int {
	buf, err := v.encode(v.plainValue(L, L.CheckAny(1)))
	if err != nil {
		L.ArgError(1, err.Error())
	}
	L.Push(lua.LString(buf))
	return 1
}

// connObject returns the conn object of cs in v. The connection's own
// worker makes it once per VM and keeps it in cs; another worker (through
// luaws.connections or luaws.get) gets a fresh one each time and must not
// touch cs.obj, which only the owning worker reads and writes (with its
// drain).
func (v *vm) connObject(cs *connState) lua.LValue {
	if !v.live || cs.w != v.w {
		// Loading a new version (cs belongs to the worker's live vm), or
		// another worker's connection: a fresh object, no caching.
		return v.newConnObject(cs.conn)
	}
	if cs.obj != nil && cs.self.vm == v {
		return cs.obj
	}
	cs.self = Conn{c: cs.conn, vm: v}
	cs.obj = luar.New(v.L, &cs.self).(*lua.LUserData)
	return cs.obj
}

func (v *vm) newConnObject(c *engine.Conn) *lua.LUserData {
	return luar.New(v.L, &Conn{c: c, vm: v}).(*lua.LUserData)
}

// connOf returns the engine conn behind a conn object or an id, or nil.
func (v *vm) connOf(val lua.LValue) *engine.Conn {
	switch val := val.(type) {
	case *lua.LUserData:
		if c, ok := val.Value.(*Conn); ok {
			return c.c
		}
	case lua.LNumber:
		if em := v.w.m.em.Load(); em != nil {
			return em.Conn(uint64(val))
		}
	}
	return nil
}

// installConnMeta makes conn fields read-only, and answers conn.KEY for
// the fields and methods itself, in front of gopher-luar: luar finds them
// by reflection and calls methods through reflect.Value.Call, which costs
// about a microsecond for every conn:send.
func (v *vm) installConnMeta() {
	L := v.L
	mt := luar.MT(L, (*Conn)(nil))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		key := L.CheckString(2)
		if ud, ok := L.Get(1).(*lua.LUserData); ok && key == "data" {
			if c, ok := ud.Value.(*Conn); ok {
				v.replaceData(L, c.c.Data(), L.Get(3))
				return 0
			}
		}
		L.RaiseError("conn.%s is read-only (store your own values in conn.data)", key)
		return 0
	}))
	noArith(L, mt.LTable, "conn")

	luarIndex := mt.RawGetString("__index")
	send := L.NewFunction(connMethod((*Conn).send))
	sendBinary := L.NewFunction(connMethod((*Conn).sendBinary))
	ping := L.NewFunction(connMethod((*Conn).ping))
	closeFn := L.NewFunction(connMethod((*Conn).close))
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		if ud, ok := L.Get(1).(*lua.LUserData); ok {
			if c, ok := ud.Value.(*Conn); ok {
				if key, ok := L.Get(2).(lua.LString); ok {
					var val lua.LValue
					switch key {
					case "send":
						val = send
					case "send_binary":
						val = sendBinary
					case "id":
						val = lua.LNumber(c.c.ID())
					case "data":
						if c.data == nil {
							c.data = luar.New(L, c.c.Data())
						}
						val = c.data
					case "close":
						val = closeFn
					case "ping":
						val = ping
					case "path":
						val = lua.LString(c.c.Request().Path)
					case "remote_addr":
						val = lua.LString(c.c.Request().RemoteAddr)
					case "subprotocol":
						val = lua.LString(c.c.Subprotocol())
					case "query":
						if c.query == nil {
							c.query = valuesTable(L, c.c.Request().Query())
						}
						val = c.query
					case "tls":
						if info := c.c.Request().TLS; info != nil {
							val = tlsTable(L, info)
						} else {
							val = lua.LNil
						}
					case "headers":
						if c.headers == nil {
							c.headers = valuesTable(L, c.c.Request().Header())
						}
						val = c.headers
					}
					if val != nil {
						L.Push(val)
						return 1
					}
				}
			}
		}
		L.Push(luarIndex)
		L.Push(L.Get(1))
		L.Push(L.Get(2))
		L.Call(2, 1)
		return 1
	}))
}

// connMethod makes a conn method callable as conn:name(...): the receiver
// is argument 1, and the method sees its own arguments from 1, as with
// gopher-luar.
func connMethod(m func(c *Conn, L *lua.LState) int) lua.LGFunction {
	return func(L *lua.LState) int {
		ud, _ := L.Get(1).(*lua.LUserData)
		var c *Conn
		if ud != nil {
			c, _ = ud.Value.(*Conn)
		}
		if c == nil {
			L.ArgError(1, "conn expected, got "+L.Get(1).Type().String()+" (call it as conn:method(...))")
		}
		L.Remove(1)
		return m(c, L)
	}
}
