package luajson

import (
	lua "github.com/yuin/gopher-lua"
)

// registryKey is where New keeps a state's Codec in the Lua registry, so that
// every caller of New on one state shares one null sentinel and one marker.
const registryKey = "luaws.json.codec"

// maxDepth is the deepest nesting of arrays and objects Encode and Decode accept.
const maxDepth = 1000

// maxScratch is the largest buffer a Codec keeps between calls; a bigger one,
// grown by one large message, is dropped so it cannot pin memory.
const maxScratch = 64 << 10

// Codec converts between JSON text and Lua values of one *lua.LState.
// A Codec belongs to one LState and is not safe for concurrent use (like the LState).
type Codec struct {
	l       *lua.LState
	null    *lua.LUserData
	arrayMT *lua.LTable

	dec     decoder
	enc     encoder
	buf     []byte // the result buffer of the Lua encode function
	maxSize int    // see SetMaxSize
}

// SetMaxSize bounds the JSON text one Encode call may produce: past n
// bytes it fails with "result too large", so that a table holding one big
// string many times cannot make a huge buffer. 0, the default, is no limit.
func (c *Codec) SetMaxSize(n int) { c.maxSize = n }

// New returns the Codec of L, creating its null sentinel and array metatable in L.
// Calling New again on L, or on a coroutine of L, returns the same Codec.
func New(L *lua.LState) *Codec {
	if ud, ok := L.G.Registry.RawGetString(registryKey).(*lua.LUserData); ok {
		if c, ok := ud.Value.(*Codec); ok {
			return c
		}
	}
	c := &Codec{l: L}

	c.null = L.NewUserData()
	nullMT := L.CreateTable(0, 2)
	nullMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("null"))
		return 1
	}))
	nullMT.RawSetString("__metatable", lua.LString("luaws.null"))
	c.null.Metatable = nullMT

	c.arrayMT = L.CreateTable(0, 1)
	c.arrayMT.RawSetString("__name", lua.LString("luaws.array"))

	c.dec = decoder{l: L, null: c.null, arrayMT: c.arrayMT}
	c.enc = encoder{null: c.null, arrayMT: c.arrayMT}

	ud := L.NewUserData()
	ud.Value = c
	L.G.Registry.RawSetString(registryKey, ud)
	return c
}

// Null is this state's luaws.null sentinel (a *lua.LUserData whose tostring is "null").
// Decode returns it for JSON null and Encode writes it as null.
func (c *Codec) Null() lua.LValue { return c.null }

// MarkArray sets the array marker on t so it encodes as a JSON array even when empty (luaws.array(t)); returns t.
// The marker is a metatable shared by every marked table of the state; it
// replaces any metatable t had.
func (c *Codec) MarkArray(t *lua.LTable) *lua.LTable {
	t.Metatable = c.arrayMT
	return t
}

// IsArray reports whether t carries the array marker.
func (c *Codec) IsArray(t *lua.LTable) bool { return t.Metatable == lua.LValue(c.arrayMT) }

// Module returns the Lua table for luaws.json: encode, decode, null and array.
//
//	json.encode(v)  -> string; raises an error if v cannot be encoded
//	json.decode(s)  -> value, or nil, err if s is not valid JSON
//	json.null       -> the null sentinel
//	json.array([t]) -> t (or a new empty table) marked as an array
//
// Each call returns a new table holding the same functions.
func (c *Codec) Module() *lua.LTable {
	t := c.l.CreateTable(0, 4)
	t.RawSetString("encode", c.l.NewFunction(c.luaEncode))
	t.RawSetString("decode", c.l.NewFunction(c.luaDecode))
	t.RawSetString("null", c.null)
	t.RawSetString("array", c.l.NewFunction(c.luaArray))
	return t
}

// Loader is a lua.LGFunction that pushes Module(), for L.PreloadModule:
//
//	L.PreloadModule("luaws.json", c.Loader)
func (c *Codec) Loader(L *lua.LState) int {
	L.Push(c.Module())
	return 1
}

// Install sets json (the Module table), null and array on t, the luaws
// global table, so that luaws.json, luaws.null and luaws.array(t) exist.
func (c *Codec) Install(t *lua.LTable) {
	m := c.Module()
	t.RawSetString("json", m)
	t.RawSetString("null", c.null)
	t.RawSetString("array", m.RawGetString("array"))
}

// luaEncode is json.encode(v): it returns the JSON text of v and raises an
// argument error when v cannot be encoded.
func (c *Codec) luaEncode(L *lua.LState) int {
	v := L.CheckAny(1)
	buf, err := c.Encode(c.buf[:0], v)
	if cap(buf) <= maxScratch {
		c.buf = buf[:0]
	} else {
		c.buf = nil
	}
	if err != nil {
		L.ArgError(1, err.Error())
		return 0
	}
	L.Push(lua.LString(buf))
	return 1
}

// luaDecode is json.decode(s): it returns the value, or nil and the error
// message when s is not valid JSON.
func (c *Codec) luaDecode(L *lua.LState) int {
	s := L.CheckString(1)
	v, err := c.decodeString(s)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(v)
	return 1
}

// luaArray is luaws.array([t]): it marks t as an array and returns it;
// with no argument it returns a new empty marked table.
func (c *Codec) luaArray(L *lua.LState) int {
	if L.GetTop() == 0 {
		L.Push(c.MarkArray(L.CreateTable(0, 0)))
		return 1
	}
	L.Push(c.MarkArray(L.CheckTable(1)))
	return 1
}
