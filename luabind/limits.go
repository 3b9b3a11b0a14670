package luabind

import (
	"context"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// gopher-lua checks a VM's context between instructions only, so one
// builtin call that builds a huge string, or that recurses in Go, runs to
// its end whatever the watchdog says. This file wraps those builtins:
//
//   - string.rep, string.format, string.gsub and table.concat raise an
//     error rather than build more than MaxStringSize bytes; gsub and
//     concat are rewritten to run in linear time (gopher-lua's gsub copies
//     the whole string for each match, its concat pushes every piece on
//     the value stack);
//   - coroutine.resume and coroutine.wrap bound how deeply coroutines
//     resume one another (each level recurses in Go: unbounded, it
//     overflows the goroutine stack and kills the process), and
//     coroutines share the VM's context, so the watchdog stops them too;
//   - table.sort checks the VM's context every sortCheckEvery comparisons,
//     so that the watchdog stops the sort of a huge table without a
//     comparator (with one, the comparator's Lua code is checked anyway);
//   - os.exit raises instead of ending the server.

// maxCoroutineDepth bounds coroutines resuming coroutines, like Lua's
// LUAI_MAXCCALLS.
const maxCoroutineDepth = 100

// installLimits replaces the builtins above in v's globals.
func (v *vm) installLimits() {
	L := v.L
	maxSize := v.w.m.opts.MaxStringSize
	if str, ok := L.GetGlobal("string").(*lua.LTable); ok {
		L.SetFuncs(str, map[string]lua.LGFunction{
			"rep":    func(L *lua.LState) int { return strRep(L, maxSize) },
			"format": wrapFormat(str.RawGetString("format"), maxSize),
			"gsub":   func(L *lua.LState) int { return strGsub(L, maxSize) },
		})
	}
	if tbl, ok := L.GetGlobal("table").(*lua.LTable); ok {
		tbl.RawSetString("concat", L.NewFunction(func(L *lua.LState) int { return tableConcat(L, maxSize) }))
		tbl.RawSetString("sort", L.NewFunction(tableSort))
	}
	if co, ok := L.GetGlobal("coroutine").(*lua.LTable); ok {
		create, _ := co.RawGetString("create").(*lua.LFunction)
		resume, _ := co.RawGetString("resume").(*lua.LFunction)
		if create != nil && create.IsG && resume != nil && resume.IsG {
			v.coCreate, v.coResume = create.GFunction, resume.GFunction
			L.SetFuncs(co, map[string]lua.LGFunction{
				"create": v.luaCoCreate,
				"resume": v.luaCoResume,
				"wrap":   v.luaCoWrap,
			})
		}
	}
	if os, ok := L.GetGlobal("os").(*lua.LTable); ok {
		os.RawSetString("exit", L.NewFunction(func(L *lua.LState) int {
			L.RaiseError("os.exit is disabled: a script cannot end the server (close a connection with conn:close)")
			return 0
		}))
	}
}

// tooLarge raises the error of a builtin that would build more than maxSize bytes.
func tooLarge(L *lua.LState, fn string, maxSize int) {
	L.RaiseError("%s: result too large (over the limit of %d bytes)", fn, maxSize)
}

// strRep is string.rep(s, n) bounded by maxSize.
func strRep(L *lua.LState, maxSize int) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if n > maxSize/len(s) {
		tooLarge(L, "string.rep", maxSize)
	}
	L.Push(lua.LString(strings.Repeat(s, n)))
	return 1
}

// wrapFormat bounds gopher-lua's string.format, which hands the format to
// Go's fmt: widths and precisions get Lua's limit of two digits, and the
// result's size is bounded from the arguments' before it is built.
func wrapFormat(orig lua.LValue, maxSize int) lua.LGFunction {
	fn, _ := orig.(*lua.LFunction)
	return func(L *lua.LState) int {
		f := L.CheckString(1)
		size, arg := len(f), 2
		for i := 0; i < len(f); i++ {
			if f[i] != '%' {
				continue
			}
			i++
			if i < len(f) && f[i] == '%' {
				continue
			}
			for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
				i++
			}
			digits := 0
			for ; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
				digits++
			}
			if i < len(f) && f[i] == '.' {
				i++
				prec := 0
				for ; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
					prec++
				}
				digits = max(digits, prec)
			}
			if digits > 2 || (i < len(f) && (f[i] == '*' || f[i] == '[')) {
				L.RaiseError("invalid format (width or precision too long)")
			}
			size += 100 // the widest field, or a number
			if arg <= L.GetTop() {
				if s, ok := L.Get(arg).(lua.LString); ok {
					if i < len(f) && f[i] == 'q' {
						size += 4 * len(s) // %q may escape every byte
					} else {
						size += len(s)
					}
				}
			}
			arg++
			if size > maxSize {
				tooLarge(L, "string.format", maxSize)
			}
		}
		if fn == nil || !fn.IsG {
			L.RaiseError("string.format is not available")
		}
		return fn.GFunction(L)
	}
}

// gsubChunk is how many matches strGsub asks pm.Find for at a time, so
// that the matches of a long subject are never all held at once.
const gsubChunk = 256

// strGsub is string.gsub(s, pattern, repl[, n]) built in linear time and
// bounded by maxSize. repl is a string (with %0-%9 and %%), a table or a
// function, as in Lua 5.1.
func strGsub(L *lua.LState, maxSize int) int {
	str := L.CheckString(1)
	pat := L.CheckString(2)
	repl := L.Get(3)
	switch repl.Type() {
	case lua.LTString, lua.LTNumber, lua.LTTable, lua.LTFunction:
	default:
		L.ArgError(3, "string/function/table expected, got "+repl.Type().String())
	}
	limit := L.OptInt(4, -1)
	anchored := strings.HasPrefix(pat, "^")
	src := []byte(str)
	var out strings.Builder
	last, count, offset := 0, 0, 0
	for offset <= len(src) && limit != 0 {
		want := gsubChunk
		if limit > 0 {
			want = min(want, limit)
		}
		mds, err := pm.Find(pat, src, offset, want)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		for _, md := range mds {
			start, end := md.Capture(0), md.Capture(1)
			out.WriteString(str[last:start])
			gsubReplace(L, &out, str, md, repl)
			last = end
			count++
			if out.Len() > maxSize {
				tooLarge(L, "string.gsub", maxSize)
			}
		}
		if limit > 0 {
			limit -= len(mds)
		}
		if len(mds) < want || anchored {
			break
		}
		md := mds[len(mds)-1]
		offset = max(md.Capture(0)+1, md.Capture(1))
	}
	if count == 0 {
		L.Push(lua.LString(str))
		L.Push(lua.LNumber(0))
		return 2
	}
	out.WriteString(str[last:])
	if out.Len() > maxSize {
		tooLarge(L, "string.gsub", maxSize)
	}
	L.Push(lua.LString(out.String()))
	L.Push(lua.LNumber(count))
	return 2
}

// gsubReplace writes the replacement of one match.
func gsubReplace(L *lua.LState, out *strings.Builder, str string, md *pm.MatchData, repl lua.LValue) {
	whole := str[md.Capture(0):md.Capture(1)]
	var val lua.LValue
	switch r := repl.(type) {
	case lua.LString, lua.LNumber:
		s := lua.LVAsString(r)
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c != '%' || i == len(s)-1 {
				out.WriteByte(c)
				continue
			}
			i++
			c = s[i]
			if c < '0' || c > '9' {
				out.WriteByte(c) // %% is %, as is any other escaped character
				continue
			}
			lv := capture(L, str, md, int(c-'0'))
			out.WriteString(lua.LVAsString(lv))
		}
		return
	case *lua.LTable:
		val = L.GetTable(r, capture(L, str, md, 1))
	case *lua.LFunction:
		n := max(1, md.CaptureLength()/2-1)
		L.Push(r)
		for i := 1; i <= n; i++ {
			L.Push(capture(L, str, md, i))
		}
		L.Call(n, 1)
		val = L.Get(-1)
		L.Pop(1)
	}
	switch val.(type) {
	case *lua.LNilType:
		out.WriteString(whole)
	case lua.LBool:
		if val == lua.LFalse {
			out.WriteString(whole)
			return
		}
		L.RaiseError("invalid replacement value (a boolean)")
	case lua.LString, lua.LNumber:
		out.WriteString(lua.LVAsString(val))
	default:
		L.RaiseError("invalid replacement value (a %s)", val.Type().String())
	}
}

// capture returns capture i of a match (0 is the whole match, and so is
// 1 when the pattern has no captures): a string, or a number for a
// position capture.
func capture(L *lua.LState, str string, md *pm.MatchData, i int) lua.LValue {
	idx := 2 * i
	if i == 0 || (i == 1 && md.CaptureLength() <= 2) {
		idx = 0
	} else if idx+1 >= md.CaptureLength() {
		L.RaiseError("invalid capture index %%%d", i)
	}
	if md.IsPosCapture(idx) {
		return lua.LNumber(md.Capture(idx))
	}
	return lua.LString(str[md.Capture(idx):md.Capture(idx+1)])
}

// tableConcat is table.concat(t[, sep[, i[, j]]]) built in one buffer,
// sized and checked against maxSize before it is built. Indexes are clamped
// to 1..#t as gopher-lua does.
func tableConcat(L *lua.LState, maxSize int) int {
	tbl := L.CheckTable(1)
	sep := L.OptString(2, "")
	n := tbl.Len()
	i := L.OptInt(3, 1)
	j := L.OptInt(4, n)
	if L.GetTop() == 3 && (i > n || i < 1) {
		L.Push(lua.LString(""))
		return 1
	}
	i = max(min(i, n), 1)
	j = min(j, n)
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	size := 0
	for k := i; k <= j; k++ {
		switch v := tbl.RawGetInt(k).(type) {
		case lua.LString:
			size += len(v)
		case lua.LNumber:
			size += 24
		default:
			L.RaiseError("invalid value (%s) at index %d in table for concat", v.Type().String(), k)
		}
		if k != j {
			size += len(sep)
		}
		if size > maxSize {
			tooLarge(L, "table.concat", maxSize)
		}
	}
	var b strings.Builder
	b.Grow(size)
	for k := i; k <= j; k++ {
		b.WriteString(lua.LVAsString(tbl.RawGetInt(k)))
		if k != j {
			b.WriteString(sep)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// luaCoCreate is coroutine.create without gopher-lua's child context per
// coroutine (which stays registered in the VM's context until the
// coroutine dies, a leak for every abandoned one): the new coroutine
// shares the context of its creator.
func (v *vm) luaCoCreate(L *lua.LState) int {
	ctx := L.RemoveContext()
	if ctx != nil {
		defer L.SetContext(ctx)
	}
	n := v.coCreate(L)
	if th, ok := L.Get(-1).(*lua.LState); ok && ctx != nil {
		th.SetContext(ctx)
	}
	return n
}

// luaCoResume is coroutine.resume with a bound on nesting, and with the
// resumer's context handed to the coroutine (it changes after a stop).
func (v *vm) luaCoResume(L *lua.LState) int {
	th := L.CheckThread(1)
	if v.coDepth >= maxCoroutineDepth {
		L.Push(lua.LFalse)
		L.Push(lua.LString("coroutines nested too deep"))
		return 2
	}
	if ctx := L.Context(); ctx != nil && th.Context() != ctx {
		th.SetContext(ctx)
	}
	v.coDepth++
	defer func() { v.coDepth-- }()
	return v.coResume(L)
}

// luaCoWrap is coroutine.wrap on top of luaCoCreate and luaCoResume: an
// error in the coroutine is raised again in the caller, as is.
func (v *vm) luaCoWrap(L *lua.LState) int {
	L.CheckFunction(1)
	L.SetTop(1)
	v.luaCoCreate(L)
	th := L.Get(-1)
	L.Pop(1)
	L.Push(L.NewClosure(func(L *lua.LState) int {
		L.Insert(th, 1)
		n := v.luaCoResume(L)
		if L.Get(-n) == lua.LFalse {
			L.Error(L.Get(-n+1), 0)
		}
		L.Remove(-n)
		return n - 1
	}))
	return 1
}

// sortCheckEvery is how many comparisons tableSort makes between two
// looks at the VM's context.
const sortCheckEvery = 1024

// tableSort is table.sort(t[, comp]) on t[1..#t], like gopher-lua's, but
// stoppable by the watchdog: every sortCheckEvery comparisons it raises
// if the VM's context is done.
func tableSort(L *lua.LState) int {
	tbl := L.CheckTable(1)
	var fn *lua.LFunction
	if L.GetTop() != 1 {
		fn = L.CheckFunction(2)
	}
	n := tbl.Len()
	s := &luaSorter{L: L, fn: fn, vals: make([]lua.LValue, n)}
	if ctx := L.Context(); ctx != nil {
		s.done = ctx.Done()
	}
	for i := range n {
		if i%sortCheckEvery == 0 {
			s.check()
		}
		s.vals[i] = tbl.RawGetInt(i + 1)
	}
	sort.Sort(s)
	for i, v := range s.vals {
		tbl.RawSetInt(i+1, v)
	}
	return 0
}

// luaSorter sorts Lua values with Lua's < or a comparator.
type luaSorter struct {
	L     *lua.LState
	fn    *lua.LFunction
	vals  []lua.LValue
	done  <-chan struct{}
	count int
}

// check raises if the VM's context is done: the watchdog stopped the call.
func (s *luaSorter) check() {
	if s.done == nil {
		return
	}
	select {
	case <-s.done:
		s.L.RaiseError("%s", context.Canceled.Error())
	default:
	}
}

func (s *luaSorter) Len() int      { return len(s.vals) }
func (s *luaSorter) Swap(i, j int) { s.vals[i], s.vals[j] = s.vals[j], s.vals[i] }

func (s *luaSorter) Less(i, j int) bool {
	if s.count++; s.count%sortCheckEvery == 0 {
		s.check()
	}
	if s.fn == nil {
		return s.L.LessThan(s.vals[i], s.vals[j])
	}
	s.L.Push(s.fn)
	s.L.Push(s.vals[i])
	s.L.Push(s.vals[j])
	s.L.Call(2, 1)
	less := lua.LVAsBool(s.L.Get(-1))
	s.L.Pop(1)
	return less
}
