package luabind

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/luabind/luajson"
)

// maxValueDepth bounds the nesting of tables copied between Lua and Go.
const maxValueDepth = 100

// ToGo copies a Lua value into plain Go values that any goroutine may read
// and encoding/json accepts: nil, bool, float64, string, []any and
// map[string]any. A sequence table (keys 1..n, or one marked with
// luaws.array) becomes []any, any other table map[string]any with number
// keys written as decimal strings. luaws.null inside a table becomes nil.
// Functions, userdata, threads and cyclic tables are errors.
func ToGo(codec *luajson.Codec, v lua.LValue) (any, error) {
	return toGo(codec, v, make(map[*lua.LTable]bool), 0)
}

func toGo(codec *luajson.Codec, v lua.LValue, visiting map[*lua.LTable]bool, depth int) (any, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		return float64(v), nil
	case lua.LString:
		return string(v), nil
	case *lua.LTable:
		return tableToGo(codec, v, visiting, depth)
	case *lua.LUserData:
		if codec != nil && lua.LValue(v) == codec.Null() {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("cannot store a %s", v.Type())
}

func tableToGo(codec *luajson.Codec, t *lua.LTable, visiting map[*lua.LTable]bool, depth int) (any, error) {
	if depth >= maxValueDepth {
		return nil, errors.New("table nested too deep")
	}
	if visiting[t] {
		return nil, errors.New("cannot store a cyclic table")
	}
	visiting[t] = true
	defer delete(visiting, t)

	n := t.Len()
	isArray := codec != nil && codec.IsArray(t)
	if n > 0 || isArray {
		count := 0
		t.ForEach(func(lua.LValue, lua.LValue) { count++ })
		if count == n {
			out := make([]any, n)
			for i := 1; i <= n; i++ {
				v, err := toGo(codec, t.RawGetInt(i), visiting, depth+1)
				if err != nil {
					return nil, err
				}
				out[i-1] = v
			}
			return out, nil
		}
	}
	out := make(map[string]any)
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		var key string
		switch k := k.(type) {
		case lua.LString:
			key = string(k)
		case lua.LNumber:
			key = formatNumber(float64(k))
		default:
			err = fmt.Errorf("cannot store a table with a %s key", k.Type())
			return
		}
		var gv any
		if gv, err = toGo(codec, v, visiting, depth+1); err == nil {
			out[key] = gv
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// ToLua builds a Lua value in L from a Go value made by [ToGo] or by Go code
// (ints, string maps and slices are accepted too). Tables are fresh copies;
// an empty []any carries the array mark so it stays a JSON array. A nil
// inside a table becomes luaws.null.
func ToLua(L *lua.LState, codec *luajson.Codec, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case float32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case uint64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []byte:
		return lua.LString(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, elemToLua(L, codec, e))
		}
		if len(v) == 0 && codec != nil {
			codec.MarkArray(t)
		}
		return t
	case []string:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, lua.LString(e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, elemToLua(L, codec, e))
		}
		return t
	case map[string]string:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, lua.LString(e))
		}
		return t
	case lua.LValue:
		return v
	}
	return lua.LString(fmt.Sprint(v))
}

func elemToLua(L *lua.LState, codec *luajson.Codec, v any) lua.LValue {
	if v == nil && codec != nil {
		return codec.Null()
	}
	return ToLua(L, codec, v)
}
