package scripttest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/luabind/luajson"
)

// maxDiffs bounds the differences t.eq prints.
const maxDiffs = 10

// diff is one place where got and want differ.
type diff struct {
	path      string // ".people[1].name", "" for the values themselves
	got, want string
}

// compare lists where got and want differ: tables key by key, where a
// table that encodes as a JSON array (marked with luaws.array, or a
// sequence 1..n) differs from one that encodes as an object, so an empty
// luaws.array{} differs from {}; luaws.null only equals itself; other
// values by ==.
func compare(codec *luajson.Codec, got, want lua.LValue) []diff {
	var out []diff
	var rec func(path string, got, want lua.LValue, depth int)
	rec = func(path string, got, want lua.LValue, depth int) {
		if len(out) >= maxDiffs {
			return
		}
		gt, gok := got.(*lua.LTable)
		wt, wok := want.(*lua.LTable)
		if !gok || !wok || depth > 100 {
			if got != want && !(gok && wok && gt == wt) {
				out = append(out, diff{path, show(codec, got), show(codec, want)})
			}
			return
		}
		if gt == wt {
			return
		}
		if ga, wa := isArray(codec, gt), isArray(codec, wt); ga != wa {
			out = append(out, diff{path, kindOf(codec, gt), kindOf(codec, wt)})
			return
		}
		for _, k := range keys(gt, wt) {
			rec(path+keyPath(k), gt.RawGet(k), wt.RawGet(k), depth+1)
		}
	}
	rec("", got, want, 0)
	return out
}

// isArray reports whether t encodes as a JSON array: it is marked with
// luaws.array, or it is a sequence 1..n with n > 0.
func isArray(codec *luajson.Codec, t *lua.LTable) bool {
	if codec.IsArray(t) {
		return true
	}
	n, count := t.Len(), 0
	t.ForEach(func(lua.LValue, lua.LValue) { count++ })
	return n > 0 && count == n
}

func kindOf(codec *luajson.Codec, t *lua.LTable) string {
	if isArray(codec, t) {
		return show(codec, t)
	}
	return show(codec, t) + " (an object)"
}

// keys returns the keys of a and b, numbers first in order, then strings
// sorted, then the rest by their text.
func keys(a, b *lua.LTable) []lua.LValue {
	seen := map[lua.LValue]bool{}
	var ks []lua.LValue
	for _, t := range []*lua.LTable{a, b} {
		t.ForEach(func(k, _ lua.LValue) {
			if !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		})
	}
	rank := func(k lua.LValue) int {
		switch k.(type) {
		case lua.LNumber:
			return 0
		case lua.LString:
			return 1
		}
		return 2
	}
	slices.SortFunc(ks, func(x, y lua.LValue) int {
		if c := cmp.Compare(rank(x), rank(y)); c != 0 {
			return c
		}
		if xn, ok := x.(lua.LNumber); ok {
			return cmp.Compare(float64(xn), float64(y.(lua.LNumber)))
		}
		return strings.Compare(x.String(), y.String())
	})
	return ks
}

// keyPath is how key k is written after a path: .name or [1].
func keyPath(k lua.LValue) string {
	if s, ok := k.(lua.LString); ok && isName(string(s)) {
		return "." + string(s)
	}
	if s, ok := k.(lua.LString); ok {
		return "[" + strconv.Quote(string(s)) + "]"
	}
	return "[" + k.String() + "]"
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// formatDiffs writes the differences one per line, or "" when the values
// themselves are the only difference.
func formatDiffs(ds []diff) string {
	if len(ds) == 1 && ds[0].path == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("\ndifferences (got, want):")
	for _, d := range ds {
		path := d.path
		if path == "" {
			path = "(the value)"
		}
		fmt.Fprintf(&b, "\n  %s: %s, %s", path, d.got, d.want)
	}
	if len(ds) == maxDiffs {
		b.WriteString("\n  ...")
	}
	return b.String()
}

// maxShow bounds how much of one value t.eq prints.
const maxShow = 200

// show writes v as Lua source, shortened past maxShow bytes.
func show(codec *luajson.Codec, v lua.LValue) string {
	var b strings.Builder
	write(codec, &b, v, 0)
	s := b.String()
	if len(s) > maxShow {
		s = s[:maxShow] + "..."
	}
	return s
}

func write(codec *luajson.Codec, b *strings.Builder, v lua.LValue, depth int) {
	if b.Len() > maxShow {
		return
	}
	switch v := v.(type) {
	case lua.LString:
		b.WriteString(strconv.Quote(string(v)))
	case *lua.LNilType:
		b.WriteString("nil")
	case *lua.LUserData:
		if v == codec.Null() {
			b.WriteString("luaws.null")
			return
		}
		b.WriteString(v.String())
	case *lua.LTable:
		if depth > 20 {
			b.WriteString("{...}")
			return
		}
		if codec.IsArray(v) {
			b.WriteString("luaws.array")
		}
		b.WriteString("{")
		n := v.Len()
		first := true
		for i := 1; i <= n; i++ {
			if !first {
				b.WriteString(", ")
			}
			first = false
			write(codec, b, v.RawGetInt(i), depth+1)
		}
		for _, k := range keys(v, v) {
			if kn, ok := k.(lua.LNumber); ok && float64(kn) >= 1 && float64(kn) <= float64(n) && float64(kn) == float64(int(kn)) {
				continue
			}
			if !first {
				b.WriteString(", ")
			}
			first = false
			if s, ok := k.(lua.LString); ok && isName(string(s)) {
				b.WriteString(string(s))
			} else {
				b.WriteString("[")
				write(codec, b, k, depth+1)
				b.WriteString("]")
			}
			b.WriteString(" = ")
			write(codec, b, v.RawGet(k), depth+1)
		}
		b.WriteString("}")
	default:
		b.WriteString(v.String())
	}
}
