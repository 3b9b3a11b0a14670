package luabind

import (
	"fmt"
	"sort"
	"strconv"

	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"

	"github.com/luaws/luaws/engine"
)

// installDataMeta makes conn.data, a *engine.Data seen through gopher-luar,
// read and write the Go map under its lock, converting values at the
// boundary: conn.data.x = {..} stores a Go copy; reading a table gives a
// fresh Lua copy, so change a nested table by assigning it again.
func (v *vm) installDataMeta() {
	L := v.L
	mt := luar.MT(L, (*engine.Data)(nil))
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		d := checkData(L)
		val, _ := d.Get(dataKey(L, 2))
		L.Push(ToLua(L, v.codec, val))
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		d := checkData(L)
		key := dataKey(L, 2)
		val, err := ToGo(v.codec, L.Get(3))
		if err != nil {
			L.RaiseError("conn.data.%s: %s", key, err.Error())
		}
		d.Set(key, val)
		return 0
	}))
	mt.RawSetString("__len", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(checkData(L).Len()))
		return 1
	}))
	// pairs(conn.data) and conn.data() iterate over a snapshot, in key order.
	iterate := L.NewFunction(func(L *lua.LState) int {
		snap := checkData(L).Snapshot()
		keys := make([]string, 0, len(snap))
		for k := range snap {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		i := 0
		L.Push(L.NewFunction(func(L *lua.LState) int {
			if i >= len(keys) {
				return 0
			}
			k := keys[i]
			i++
			L.Push(lua.LString(k))
			L.Push(ToLua(L, v.codec, snap[k]))
			return 2
		}))
		return 1
	})
	mt.RawSetString("__pairs", iterate)
	mt.RawSetString("__call", iterate)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("conn.data"))
		return 1
	}))
	// luar's pointer metatable has -p (a copy of the Go struct, lock and
	// all) and p ^ v (overwrite the struct): neither is for scripts.
	noArith(L, mt.LTable, "conn.data")
}

// noArith replaces luar's pointer operators __unm and __pow in mt with an
// error naming what.
func noArith(L *lua.LState, mt *lua.LTable, what string) {
	fn := L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("attempt to perform arithmetic on %s", what)
		return 0
	})
	mt.RawSetString("__unm", fn)
	mt.RawSetString("__pow", fn)
}

// replaceData is conn.data = val: a table (or another conn.data) becomes
// the whole map, each key converted as conn.data.key = v converts it;
// anything else raises and leaves the map as it was.
func (v *vm) replaceData(L *lua.LState, d *engine.Data, val lua.LValue) {
	if ud, ok := val.(*lua.LUserData); ok {
		if other, ok := ud.Value.(*engine.Data); ok {
			if other != d {
				d.Replace(other.Snapshot())
			}
			return
		}
	}
	t, ok := val.(*lua.LTable)
	if !ok {
		L.RaiseError("conn.data = %s: want a table", val.Type())
	}
	m := make(map[string]any)
	var err error
	t.ForEach(func(k, e lua.LValue) {
		if err != nil {
			return
		}
		var key string
		switch k := k.(type) {
		case lua.LString:
			key = string(k)
		case lua.LNumber:
			key = strconv.FormatFloat(float64(k), 'g', -1, 64)
		default:
			err = fmt.Errorf("conn.data keys are strings, got a %s", k.Type())
			return
		}
		var gv any
		if gv, err = ToGo(v.codec, e); err != nil {
			err = fmt.Errorf("conn.data.%s: %w", key, err)
			return
		}
		if gv != nil {
			m[key] = gv
		}
	})
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	d.Replace(m)
}

func checkData(L *lua.LState) *engine.Data {
	ud := L.CheckUserData(1)
	d, ok := ud.Value.(*engine.Data)
	if !ok {
		L.ArgError(1, "conn.data expected")
	}
	return d
}

func dataKey(L *lua.LState, n int) string {
	switch k := L.Get(n).(type) {
	case lua.LString:
		return string(k)
	case lua.LNumber:
		return strconv.FormatFloat(float64(k), 'g', -1, 64)
	}
	L.ArgError(n, "conn.data keys are strings")
	return ""
}
