package luajson_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/luabind/luajson"
)

// newState returns a Lua state with the global json set to the Codec's module,
// closed when the test ends.
func newState(t testing.TB) (*lua.LState, *luajson.Codec) {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	c := luajson.New(L)
	L.SetGlobal("json", c.Module())
	return L, c
}

// eval runs a Lua chunk and returns its first result; a chunk that does not
// start with "local" or "return" is taken as an expression.
func eval(t *testing.T, L *lua.LState, chunk string) lua.LValue {
	t.Helper()
	if !strings.HasPrefix(chunk, "local ") && !strings.HasPrefix(chunk, "return ") {
		chunk = "return " + chunk
	}
	top := L.GetTop()
	if err := L.DoString(chunk); err != nil {
		t.Fatalf("lua %q: %v", chunk, err)
	}
	v := L.Get(top + 1)
	L.SetTop(top)
	return v
}

// short cuts s for error messages.
func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

func deep(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

var bigArray, bigObject = func() (string, string) {
	var a, o strings.Builder
	a.WriteString("[")
	o.WriteString("{")
	for i := range 300 {
		if i > 0 {
			a.WriteString(",")
			o.WriteString(",")
		}
		fmt.Fprintf(&a, `%d.5`, i)
		fmt.Fprintf(&o, `"k%d":[%d,{}]`, (i*7919)%300, i)
	}
	return a.String() + "]", o.String() + "}"
}()

// TestRoundTrip decodes JSON text and checks the text Encode gives back.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"null", `null`, `null`},
		{"true", `true`, `true`},
		{"false", `false`, `false`},
		{"zero", `0`, `0`},
		{"negative zero", `-0`, `0`},
		{"one", `1`, `1`},
		{"negative", `-17`, `-17`},
		{"small int cache edge", `1023`, `1023`},
		{"past small int cache", `1024`, `1024`},
		{"fraction", `1.5`, `1.5`},
		{"tenth", `0.1`, `0.1`},
		{"pi", `3.141592653589793`, `3.141592653589793`},
		{"exponent integer", `1e3`, `1000`},
		{"exponent capital", `2E+2`, `200`},
		{"integer with zero fraction", `5.0`, `5`},
		{"tiny", `1E-7`, `1e-7`},
		{"small no exponent", `0.000001`, `0.000001`},
		{"1e20 no exponent", `1e20`, `100000000000000000000`},
		{"1e21 exponent", `1e21`, `1e+21`},
		{"huge", `123456789012345678901234567890`, `1.2345678901234568e+29`},
		{"2^53", `9007199254740992`, `9007199254740992`},
		{"-2^53", `-9007199254740992`, `-9007199254740992`},
		{"2^53+1 rounds", `9007199254740993`, `9007199254740992`},
		{"16 digits", `1234567890123456`, `1234567890123456`},
		{"underflow", `1e-400`, `0`},
		{"empty array", `[]`, `[]`},
		{"empty object", `{}`, `{}`},
		{"nested empty array", `[[]]`, `[[]]`},
		{"empty array in object", `{"a":[]}`, `{"a":[]}`},
		{"empty object in object", `{"a":{}}`, `{"a":{}}`},
		{"empty object in array", `[{}]`, `[{}]`},
		{"null in array", `[null]`, `[null]`},
		{"null between", `[1,null,3]`, `[1,null,3]`},
		{"null member", `{"a":null}`, `{"a":null}`},
		{"white space", " \t\n\r[ 1 ,\n2 ] \n", `[1,2]`},
		{"white space object", ` { "a" : 1 , "b" : [ ] } `, `{"a":1,"b":[]}`},
		{"member order", `{"b":1,"a":2,"c":3}`, `{"b":1,"a":2,"c":3}`},
		{"duplicate key last wins", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
		{"numeric string keys stay strings", `{"1":"x","2":"y"}`, `{"1":"x","2":"y"}`},
		{"nested", `{"a":[1,{"b":[true,false,null]}],"c":{"d":"e"}}`, `{"a":[1,{"b":[true,false,null]}],"c":{"d":"e"}}`},
		{"string", `"hello"`, `"hello"`},
		{"empty string", `""`, `""`},
		{"escapes", `"\"\\\/\b\f\n\r\t"`, `"\"\\/\b\f\n\r\t"`},
		{"control escape", `"\u0001\u001F"`, `"\u0001\u001f"`},
		{"nul", `"a\u0000b"`, `"a\u0000b"`},
		{"unicode escape", `"\u00e9\u00E9"`, `"éé"`},
		{"raw unicode", `"héllo wörld ✓"`, `"héllo wörld ✓"`},
		{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
		{"lone high surrogate", `"\ud800"`, `"` + "\ufffd" + `"`},
		{"lone low surrogate", `"\udc00x"`, `"` + "\ufffd" + `x"`},
		{"high surrogate then letter", `"\ud800\u0041"`, `"` + "\ufffd" + `A"`},
		{"U+2028 left as is", `"\u2028<>&"`, "\"\u2028<>&\""},
		{"invalid utf-8 replaced", "\"a\xffb\"", "\"a\ufffdb\""},
		{"truncated utf-8 replaced", "\"\xe2\x82\"", "\"\ufffd\ufffd\""},
		{"invalid utf-8 in key", "{\"\xff\":1}", "{\"\ufffd\":1}"},
		{"escaped key", `{"a\nb":1}`, `{"a\nb":1}`},
		{"unicode key", `{"ключ":1}`, `{"ключ":1}`},
		{"long key", `{"` + strings.Repeat("k", 40) + `":1}`, `{"` + strings.Repeat("k", 40) + `":1}`},
		{"depth 1000", deep("[", "]", 1000), deep("[", "]", 1000)},
		{"long array", bigArray, bigArray},
		{"many keys keep order", bigObject, bigObject},
		{"long escaped string", `"` + strings.Repeat(`a\n\u00e9`, 20000) + `"`, `"` + strings.Repeat(`a\né`, 20000) + `"`},
	}
	_, c := newState(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := c.Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode(%q): got error %v, want none", short(tt.in), err)
			}
			got, err := c.Encode(nil, v)
			if err != nil {
				t.Fatalf("Encode(Decode(%q)): got error %v, want %q", short(tt.in), err, short(tt.want))
			}
			if string(got) != tt.want {
				t.Errorf("Encode(Decode(%q)): got %q, want %q", short(tt.in), short(string(got)), short(tt.want))
			}
		})
	}
}

// TestDecodeValues checks the Lua values Decode builds.
func TestDecodeValues(t *testing.T) {
	L, c := newState(t)
	tests := []struct {
		name, in string
		check    string // a Lua function body over v that returns true
	}{
		{"null is the sentinel", `null`, `return v == json.null`},
		{"null is not nil", `[null]`, `return v[1] == json.null and #v == 1`},
		{"null member survives", `{"a":null}`, `return v.a == json.null`},
		{"true", `true`, `return v == true`},
		{"false", `false`, `return v == false`},
		{"integer", `42`, `return v == 42`},
		{"negative fraction", `-2.5`, `return v == -2.5`},
		{"2^53", `9007199254740992`, `return v == 2^53`},
		{"string", `"a\u00e9"`, `return v == "a\195\169"`},
		{"nul byte", `"\u0000"`, `return v == "\0" and #v == 1`},
		{"array", `[1,"two",true]`, `return #v == 3 and v[1] == 1 and v[2] == "two" and v[3] == true`},
		{"object", `{"a":1,"b":"c"}`, `return v.a == 1 and v.b == "c"`},
		{"numeric key stays string", `{"1":true}`, `return v["1"] == true and v[1] == nil`},
		{"empty array is marked", `[]`, `return next(v) == nil and getmetatable(v) ~= nil`},
		{"non-empty array is marked", `[1]`, `return getmetatable(v) ~= nil and getmetatable(v) == getmetatable(json.array())`},
		{"empty object is plain", `{}`, `return next(v) == nil and getmetatable(v) == nil`},
		{"object is plain", `{"a":1}`, `return getmetatable(v) == nil`},
		{"duplicate key", `{"a":1,"a":2}`, `return v.a == 2`},
		{"nested", `{"a":{"b":[10,20]}}`, `return v.a.b[2] == 20`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := c.Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode(%q): got error %v, want none", tt.in, err)
			}
			fn := eval(t, L, "return function(v) "+tt.check+" end")
			if err := L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, v); err != nil {
				t.Fatal(err)
			}
			if got := L.Get(-1); got != lua.LTrue {
				t.Errorf("Decode(%q): %s: got %v, want true", tt.in, tt.check, got)
			}
			L.Pop(1)
		})
	}
}

// TestDecodeErrors pins the wording and the offsets of decode errors.
func TestDecodeErrors(t *testing.T) {
	const eof = "unexpected end of JSON input"
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, eof},
		{"only space", " \n\t", eof},
		{"open array", `[`, eof},
		{"array after comma", `[1,`, eof},
		{"array after element", `[1`, eof},
		{"open object", `{`, eof},
		{"object after key", `{"a"`, eof},
		{"object after colon", `{"a":`, eof},
		{"object after value", `{"a":1`, eof},
		{"open string", `"abc`, eof},
		{"open escape", `"\`, eof},
		{"short unicode escape at end", `"\u12`, eof},
		{"short true", `tru`, eof},
		{"short null", `nul`, eof},
		{"minus alone", `-`, eof},
		{"point at end", `1.`, eof},
		{"exponent at end", `1e`, eof},
		{"exponent sign at end", `1e+`, eof},
		{"bad start", `x`, "invalid character 'x' at offset 0"},
		{"bad start after space", `  x`, "invalid character 'x' at offset 2"},
		{"trailing comma array", `[1,]`, "invalid character ']' at offset 3"},
		{"trailing comma object", `{"a":1,}`, "invalid character '}' at offset 7"},
		{"missing colon", `{"a" 1}`, "invalid character '1' at offset 5"},
		{"missing comma", `[1 2]`, "invalid character '2' at offset 3"},
		{"unquoted key", `{a:1}`, "invalid character 'a' at offset 1"},
		{"number key", `{1:2}`, "invalid character '1' at offset 1"},
		{"single quotes", `'a'`, `invalid character '\'' at offset 0`},
		{"leading zero", `01`, "invalid character '1' at offset 1"},
		{"double minus", `--1`, "invalid character '-' at offset 1"},
		{"plus", `+1`, "invalid character '+' at offset 0"},
		{"leading point", `.5`, "invalid character '.' at offset 0"},
		{"point without digits", `1.e3`, "invalid character 'e' at offset 2"},
		{"exponent without digits", `1e+x`, "invalid character 'x' at offset 3"},
		{"NaN", `NaN`, "invalid character 'N' at offset 0"},
		{"Infinity", `-Infinity`, "invalid character 'I' at offset 1"},
		{"bad literal", `nulx`, "invalid character 'x' at offset 3"},
		{"capital literal", `True`, "invalid character 'T' at offset 0"},
		{"trailing garbage", `[1] x`, "invalid character 'x' at offset 4"},
		{"two values", `1 2`, "invalid character '2' at offset 2"},
		{"bad escape", `"\x"`, "invalid character 'x' at offset 2"},
		{"bad unicode escape", `"\u12G4"`, "invalid character 'G' at offset 5"},
		{"short unicode escape", `"\u12"`, `invalid character '"' at offset 5`},
		{"bad escape after high surrogate", `"\ud800\uzzzz"`, "invalid character 'z' at offset 9"},
		{"raw newline in string", "\"a\nb\"", `invalid character '\n' at offset 2`},
		{"raw tab in string", "\"\t\"", `invalid character '\t' at offset 1`},
		{"control char", "\"\x01\"", `invalid character '\x01' at offset 1`},
		{"byte outside string", "\xff", `invalid character '\xff' at offset 0`},
		{"out of range", `1e400`, "number 1e400 out of range at offset 0"},
		{"out of range negative", `[-1e400]`, "number -1e400 out of range at offset 1"},
		{"too deep array", deep("[", "]", 1001), "nesting too deep at offset 1000"},
		{"too deep object", strings.Repeat(`{"a":`, 1001) + "1" + strings.Repeat("}", 1001), "nesting too deep"},
		{"too deep unclosed", strings.Repeat("[", 5000), "nesting too deep"},
	}
	_, c := newState(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := c.Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode(%q): got %v, want error %q", short(tt.in), v, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode(%q): got error %q, want %q", short(tt.in), err, tt.want)
			}
			if v != lua.LNil {
				t.Errorf("Decode(%q) value on error: got %v, want nil", short(tt.in), v)
			}
		})
	}
	// The codec is still good after errors.
	if v, err := c.Decode([]byte(`[1,[2]]`)); err != nil {
		t.Fatalf("Decode after errors: got error %v, want none", err)
	} else if got, _ := c.Encode(nil, v); string(got) != `[1,[2]]` {
		t.Errorf("Decode after errors: got %s, want [1,[2]]", got)
	}
}

// TestEncode encodes values built by Lua.
func TestEncode(t *testing.T) {
	tests := []struct {
		name, lua, want string
	}{
		{"nil", `nil`, `null`},
		{"null", `json.null`, `null`},
		{"true", `true`, `true`},
		{"false", `false`, `false`},
		{"integer", `42`, `42`},
		{"negative integer", `-42`, `-42`},
		{"negative zero", `-0`, `0`},
		{"fraction", `0.1`, `0.1`},
		{"third", `1/3`, `0.3333333333333333`},
		{"2^53", `2^53`, `9007199254740992`},
		{"-2^53", `-2^53`, `-9007199254740992`},
		{"2^53+2", `2^53+2`, `9007199254740994`},
		{"1e20", `1e20`, `100000000000000000000`},
		{"1e21", `1e21`, `1e+21`},
		{"1e-6", `1e-6`, `0.000001`},
		{"1e-7", `1e-7`, `1e-7`},
		{"1.5e-10", `-1.5e-10`, `-1.5e-10`},
		{"max float", `1.7976931348623157e308`, `1.7976931348623157e+308`},
		{"string", `"hello"`, `"hello"`},
		{"escapes", `"q\"b\\n\nr\rt\tb\bf\f"`, `"q\"b\\n\nr\rt\tb\bf\f"`},
		{"control chars", `"\0\1\31\127"`, `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"utf-8 as is", `"h\195\169 \226\156\147"`, `"hé ✓"`},
		{"html and separators as is", `"<>&\226\128\168"`, "\"<>&\u2028\""},
		{"invalid utf-8", `"a\255b"`, `"a\ufffdb"`},
		{"truncated utf-8", `"\226\130"`, `"\ufffd\ufffd"`},
		{"empty table", `{}`, `{}`},
		{"marked empty", `json.array()`, `[]`},
		{"marked empty table", `json.array({})`, `[]`},
		{"sequence", `{1, 2, 3}`, `[1,2,3]`},
		{"explicit keys sequence", `{[1]="a", [2]="b"}`, `["a","b"]`},
		{"built backwards", `local t = {} t[3] = 3 t[2] = 2 t[1] = 1 return t`, `[1,2,3]`},
		{"mixed types", `{1, "a", true, json.null, {}}`, `[1,"a",true,null,{}]`},
		{"hole", `{1, nil, 3}`, `{"1":1,"3":3}`},
		{"trailing nil", `local t = {1, 2, 3} t[3] = nil return t`, `[1,2]`},
		{"not from 1", `{[2]=2}`, `{"2":2}`},
		{"zero key", `{[0]="z"}`, `{"0":"z"}`},
		{"negative key", `{[-1]=1}`, `{"-1":1}`},
		{"fraction key", `{[1.5]=1}`, `{"1.5":1}`},
		{"huge key", `{[2^53]=1}`, `{"9007199254740992":1}`},
		{"sequence plus string key", `{1, 2, a="x"}`, `{"1":1,"2":2,"a":"x"}`},
		{"object", `{a=1}`, `{"a":1}`},
		{"insertion order", `local t = {} t.b = 1 t.a = 2 t.c = 3 return t`, `{"b":1,"a":2,"c":3}`},
		{"deleted key", `local t = {} t.b = 1 t.a = 2 t.b = nil return t`, `{"a":2}`},
		{"only key deleted", `local t = {a=1} t.a = nil return t`, `{}`},
		{"nested", `{a={b={c={}}}, d={1,{2}}}`, `{"a":{"b":{"c":{}}},"d":[1,[2]]}`},
		{"marked with holes", `json.array({1, nil, 3})`, `[1,null,3]`},
		{"marked sequence", `json.array({1, 2})`, `[1,2]`},
		{"decoded array emptied", `local t = json.decode('[1]') t[1] = nil return t`, `[]`},
		{"decoded array grown", `local t = json.decode('[]') t[1] = "a" return t`, `["a"]`},
		{"decoded object emptied", `local t = json.decode('{"a":1}') t.a = nil return t`, `{}`},
		{"other metatable ignored", `setmetatable({a=1}, {__index=function() return 1 end})`, `{"a":1}`},
		{"shared not cyclic", `local x = {1} return {x, x, {y=x}}`, `[[1],[1],{"y":[1]}]`},
		{"depth 1000", `local t = {} local c = t for i = 2, 1000 do c[1] = {} c = c[1] end return t`, strings.Repeat("[", 999) + "{}" + strings.Repeat("]", 999)},
	}
	L, c := newState(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := eval(t, L, tt.lua)
			got, err := c.Encode(nil, v)
			if err != nil {
				t.Fatalf("Encode(%s): got error %v, want %q", tt.lua, err, tt.want)
			}
			if string(got) != tt.want {
				t.Errorf("Encode(%s): got %s, want %s", tt.lua, got, tt.want)
			}
		})
	}
}

// TestEncodeErrors pins the wording of encode errors.
func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name, lua, want string
	}{
		{"NaN", `0/0`, "cannot encode NaN"},
		{"+Inf", `1/0`, "cannot encode +Inf"},
		{"-Inf", `-1/0`, "cannot encode -Inf"},
		{"NaN in table", `{a={0/0}}`, "cannot encode NaN"},
		{"Inf key", `{[1/0]=1}`, "cannot encode +Inf"},
		{"function", `print`, "cannot encode a function"},
		{"lua function", `function() end`, "cannot encode a function"},
		{"function member", `{f=print}`, "cannot encode a function"},
		{"function element", `{1, print}`, "cannot encode a function"},
		{"thread", `coroutine.create(function() end)`, "cannot encode a thread"},
		{"channel", `channel.make()`, "cannot encode a channel"},
		{"boolean key", `{[true]=1}`, "cannot encode a boolean key"},
		{"table key", `{[{}]=1}`, "cannot encode a table key"},
		{"function key", `{[print]=1}`, "cannot encode a function key"},
		{"self cycle", `local t = {} t.self = t return t`, "cannot encode a cyclic table"},
		{"array cycle", `local t = {} t[1] = t return t`, "cannot encode a cyclic table"},
		{"long cycle", `local a, b, c = {}, {}, {} a.b = b b.c = c c[1] = a return a`, "cannot encode a cyclic table"},
		{"marked with string key", `json.array({1, a=2})`, "array has non-integer key"},
		{"marked with only string key", `json.array({a=2})`, "array has non-integer key"},
		{"marked with fraction key", `json.array({[1.5]=2})`, "array has non-integer key"},
		{"marked with zero key", `json.array({[0]=2})`, "array has an index out of range"},
		{"decoded array given a field", `local t = json.decode('[1]') t.n = 1 return t`, "array has non-integer key"},
		{"too deep", `local t = {} local c = t for i = 2, 1001 do c[1] = {} c = c[1] end return t`, "nesting too deep"},
	}
	L, c := newState(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := eval(t, L, tt.lua)
			dst := []byte("prefix")
			got, err := c.Encode(dst, v)
			if err == nil {
				t.Fatalf("Encode(%s): got %s, want error %q", tt.lua, got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Encode(%s): got error %q, want %q", tt.lua, err, tt.want)
			}
			if string(got) != "prefix" {
				t.Errorf("Encode(%s) on error: got dst %q, want %q", tt.lua, got, "prefix")
			}
		})
	}
	t.Run("userdata", func(t *testing.T) {
		_, err := c.Encode(nil, L.NewUserData())
		if err == nil || err.Error() != "cannot encode a userdata" {
			t.Errorf("Encode(userdata): got error %v, want %q", err, "cannot encode a userdata")
		}
	})
	t.Run("another state's null", func(t *testing.T) {
		other := lua.NewState()
		defer other.Close()
		_, err := c.Encode(nil, luajson.New(other).Null())
		if err == nil || err.Error() != "cannot encode a userdata" {
			t.Errorf("Encode(other null): got error %v, want %q", err, "cannot encode a userdata")
		}
	})
}

// TestEncodeAppends checks that Encode appends to dst and that the codec's
// state is clean after an error.
func TestEncodeAppends(t *testing.T) {
	L, c := newState(t)
	got, err := c.Encode([]byte("x="), eval(t, L, `{1,2}`))
	if err != nil || string(got) != "x=[1,2]" {
		t.Fatalf("Encode: got %q, %v, want %q", got, err, "x=[1,2]")
	}
	// A cycle error leaves no table marked as open: t encodes fine afterwards.
	bad := eval(t, L, `local t = {} t.self = t _G.shared = {} t.x = _G.shared return t`)
	if _, err := c.Encode(nil, bad); err == nil {
		t.Fatal("Encode(cycle): got no error, want one")
	}
	got, err = c.Encode(nil, eval(t, L, `{_G.shared, _G.shared}`))
	if err != nil || string(got) != "[{},{}]" {
		t.Errorf("Encode after error: got %q, %v, want [{},{}]", got, err)
	}
}

// TestNew checks that a state has one Codec, one null and one marker.
func TestNew(t *testing.T) {
	L, c := newState(t)
	if c2 := luajson.New(L); c2 != c {
		t.Errorf("New(L) twice: got %p, want %p", c2, c)
	}
	co, _ := L.NewThread()
	if c3 := luajson.New(co); c3 != c {
		t.Errorf("New(coroutine of L): got %p, want %p", c3, c)
	}
	ud, ok := c.Null().(*lua.LUserData)
	if !ok {
		t.Fatalf("Null(): got %T, want *lua.LUserData", c.Null())
	}
	if got := L.ToStringMeta(ud).String(); got != "null" {
		t.Errorf("tostring(Null()): got %q, want %q", got, "null")
	}
	tb := L.NewTable()
	if got := c.MarkArray(tb); got != tb {
		t.Errorf("MarkArray(t): got %p, want %p", got, tb)
	}
	if !c.IsArray(tb) || c.IsArray(L.NewTable()) {
		t.Errorf("IsArray: got %v/%v, want true/false", c.IsArray(tb), c.IsArray(L.NewTable()))
	}
	if got, _ := c.Encode(nil, tb); string(got) != "[]" {
		t.Errorf("Encode(MarkArray({})): got %s, want []", got)
	}
	other := lua.NewState()
	defer other.Close()
	if luajson.New(other).Null() == c.Null() {
		t.Error("two states share one null, want one each")
	}
}

// TestModule runs the Lua API: what returns, what raises.
func TestModule(t *testing.T) {
	tests := []struct {
		name, lua string
	}{
		{"round trip", `assert(json.encode(json.decode('{"a":[]}')) == '{"a":[]}')`},
		{"round trip object", `assert(json.encode(json.decode('{"a":{}}')) == '{"a":{}}')`},
		{"round trip null", `assert(json.encode(json.decode('[null,{"a":null}]')) == '[null,{"a":null}]')`},
		{"decode null", `assert(json.decode('null') == json.null)`},
		{"null tostring", `assert(tostring(json.null) == "null")`},
		{"null type", `assert(type(json.null) == "userdata")`},
		{"null metatable locked", `assert(not pcall(setmetatable, json.null, {}))`},
		{"encode nil", `assert(json.encode(nil) == "null")`},
		{"decode number arg", `assert(json.decode(12) == 12)`},
		{"decode error", `local v, err = json.decode('[1,') assert(v == nil) assert(err == "unexpected end of JSON input", err)`},
		{"decode syntax error", `local v, err = json.decode('{"a" 1}') assert(v == nil) assert(err == "invalid character '1' at offset 5", err)`},
		{"decode misuse raises", `local ok, err = pcall(json.decode) assert(not ok) assert(err:find("string expected"), err)`},
		{"decode table raises", `local ok, err = pcall(json.decode, {}) assert(not ok) assert(err:find("string expected"), err)`},
		{"encode raises", `local ok, err = pcall(json.encode, print) assert(not ok) assert(err:find("cannot encode a function", 1, true), err)`},
		{"encode names the argument", `local ok, err = pcall(function() return json.encode({0/0}) end) assert(not ok) assert(err:find("bad argument #1 to encode", 1, true), err)`},
		{"encode without argument raises", `local ok, err = pcall(json.encode) assert(not ok) assert(err:find("value expected"), err)`},
		{"encode cycle raises", `local t = {} t[1] = t local ok, err = pcall(json.encode, t) assert(not ok) assert(err:find("cyclic"), err)`},
		{"array no args", `local t = json.array() assert(type(t) == "table" and next(t) == nil) assert(json.encode(t) == "[]")`},
		{"array returns its argument", `local t = {} assert(json.array(t) == t) assert(json.encode(t) == "[]")`},
		{"array misuse raises", `local ok, err = pcall(json.array, 1) assert(not ok) assert(err:find("table expected"), err)`},
		{"array nil raises", `local ok, err = pcall(json.array, nil) assert(not ok) assert(err:find("table expected"), err)`},
		{"encode after raise", `pcall(json.encode, {print}) assert(json.encode({1}) == "[1]")`},
		{"in a coroutine", `local co = coroutine.wrap(function() coroutine.yield(json.encode(json.decode('[1,{}]'))) end) assert(co() == '[1,{}]')`},
		{"big encode", `local t = {} for i = 1, 20000 do t[i] = "xxxxxxxx" end local s = json.encode(t) assert(#s == 20000 * 11 + 1, #s) assert(#json.decode(s) == 20000)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			L, _ := newState(t)
			if err := L.DoString(tt.lua); err != nil {
				t.Errorf("got error %v, want none", err)
			}
		})
	}
}

// TestInstallAndLoader checks the helpers that wire the module into luaws.
func TestInstallAndLoader(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	c := luajson.New(L)
	luaws := L.NewTable()
	c.Install(luaws)
	L.SetGlobal("luaws", luaws)
	L.PreloadModule("luaws.json", c.Loader)
	err := L.DoString(`
		assert(luaws.json.decode("null") == luaws.null)
		assert(luaws.json.null == luaws.null)
		assert(luaws.json.encode(luaws.array()) == "[]")
		assert(luaws.array == luaws.json.array)
		local j = require("luaws.json")
		assert(j.encode({a = luaws.null}) == '{"a":null}')
		assert(j.decode("[]")[1] == nil)
	`)
	if err != nil {
		t.Errorf("got error %v, want none", err)
	}
}

// TestLuaFile runs the asserts of testdata/json.lua.
func TestLuaFile(t *testing.T) {
	L, _ := newState(t)
	src, err := os.ReadFile("testdata/json.lua")
	if err != nil {
		t.Fatal(err)
	}
	fn, err := L.Load(bytes.NewReader(src), "json.lua")
	if err != nil {
		t.Fatal(err)
	}
	L.Push(fn)
	if err := L.PCall(0, 0, L.NewFunction(traceback)); err != nil {
		t.Errorf("testdata/json.lua: %v", err)
	}
}

func traceback(L *lua.LState) int {
	msg := L.Get(1).String()
	L.Push(lua.LString(msg + "\n" + L.Where(1)))
	return 1
}

// TestEncodeHashedIntegerKeys covers tables that Go code filled with
// RawSetH(LNumber(i), v): LTable.Next cannot walk them, Encode still must.
func TestEncodeHashedIntegerKeys(t *testing.T) {
	_, c := newState(t)
	tests := []struct {
		name  string
		build func(t *lua.LTable)
		want  []string // any of these
	}{
		{"only hashed 1", func(t *lua.LTable) { t.RawSetH(lua.LNumber(1), lua.LString("a")) }, []string{`{"1":"a"}`}},
		{"hashed 5 after array", func(t *lua.LTable) {
			t.RawSetInt(1, lua.LTrue)
			t.RawSetH(lua.LNumber(5), lua.LFalse)
		}, []string{`{"1":true,"5":false}`, `{"5":false,"1":true}`}},
		{"hashed 1 and string", func(t *lua.LTable) {
			t.RawSetString("x", lua.LNumber(1))
			t.RawSetH(lua.LNumber(1), lua.LNumber(2))
		}, []string{`{"x":1,"1":2}`, `{"1":2,"x":1}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &lua.LTable{Metatable: lua.LNil}
			tt.build(tb)
			got, err := c.Encode(nil, tb)
			if err != nil {
				t.Fatalf("Encode: got error %v, want %v", err, tt.want)
			}
			for _, w := range tt.want {
				if string(got) == w {
					return
				}
			}
			t.Errorf("Encode: got %s, want one of %v", got, tt.want)
		})
	}
}
