package luabind

import (
	"errors"
	"math"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// installShared adds luaws.shared, the Mount's [Shared] seen from
// Lua with OpenResty's ngx.shared.DICT calling style:
//
//	luaws.shared:get(k)            --> value or nil
//	luaws.shared:set(k, v[, ttl])  --> true; ttl in seconds, v nil deletes
//	luaws.shared:incr(k[, by])     --> new number, or nil, "not a number"
//	luaws.shared:delete(k)
//
// Keys are strings (numbers are turned into strings). Values are copied
// in and out as conn.data values are: tables are stored as Go copies and
// read back as fresh tables.
func (v *vm) installShared(mod *lua.LTable) {
	L := v.L
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", L.SetFuncs(L.CreateTable(0, 4), map[string]lua.LGFunction{
		"get":    v.luaSharedGet,
		"set":    v.luaSharedSet,
		"incr":   v.luaSharedIncr,
		"delete": v.luaSharedDelete,
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("luaws.shared"))
		return 1
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	ud := L.NewUserData()
	ud.Value = v.w.m.opts.Shared
	ud.Metatable = mt
	mod.RawSetString("shared", ud)
}

// sharedArgs checks the receiver and the key of a luaws.shared method.
func sharedArgs(L *lua.LState, method string) (*Shared, string) {
	ud, ok := L.Get(1).(*lua.LUserData)
	var s *Shared
	if ok {
		s, ok = ud.Value.(*Shared)
	}
	if !ok {
		L.RaiseError("call it as luaws.shared:%s(...), with a colon", method)
	}
	switch k := L.Get(2).(type) {
	case lua.LString:
		return s, string(k)
	case lua.LNumber:
		return s, formatNumber(float64(k))
	}
	L.ArgError(1, "key must be a string, got "+L.Get(2).Type().String())
	return nil, ""
}

func (v *vm) luaSharedGet(L *lua.LState) int {
	s, key := sharedArgs(L, "get")
	val, _ := s.Get(key)
	L.Push(ToLua(L, v.codec, val))
	return 1
}

func (v *vm) luaSharedSet(L *lua.LState) int {
	s, key := sharedArgs(L, "set")
	val, err := ToGo(v.codec, L.Get(3))
	if err != nil {
		L.ArgError(2, err.Error())
	}
	ttl := float64(L.OptNumber(4, 0))
	if math.IsNaN(ttl) || ttl < 0 || ttl > float64(math.MaxInt64/int64(time.Second)) {
		L.ArgError(3, "ttl must be 0 (no expiry) or more seconds")
	}
	s.Set(key, val, time.Duration(ttl*float64(time.Second)))
	L.Push(lua.LTrue)
	return 1
}

func (v *vm) luaSharedIncr(L *lua.LState) int {
	s, key := sharedArgs(L, "incr")
	by := float64(L.OptNumber(3, 1))
	n, err := s.Incr(key, by)
	if err != nil {
		L.Push(lua.LNil)
		if errors.Is(err, ErrNotNumber) {
			L.Push(lua.LString("not a number"))
		} else {
			L.Push(lua.LString(err.Error()))
		}
		return 2
	}
	L.Push(lua.LNumber(n))
	return 1
}

func (v *vm) luaSharedDelete(L *lua.LState) int {
	s, key := sharedArgs(L, "delete")
	s.Delete(key)
	return 0
}
