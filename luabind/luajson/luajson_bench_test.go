package luajson_test

import (
	"encoding/json"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/luabind/luajson"
)

// chatMessage is the 64-byte message of the spec's performance figures.
const chatMessage = `{"type":"msg","room":"lobby","text":"hello there, how are you?"}`

// nestedDoc is a ~2 KiB document: objects, arrays, strings with escapes,
// numbers of every kind, booleans, nulls, empty containers.
const nestedDoc = `{
  "type": "room_state",
  "room": {"id": 4711, "name": "lobby", "topic": "General chat \u2014 be nice", "created": 1700000000, "private": false, "tags": []},
  "members": [
    {"id": 1, "name": "alice", "status": "online", "score": 12.5, "roles": ["admin", "mod"], "meta": {}},
    {"id": 2, "name": "bob", "status": "away", "score": 7.25, "roles": ["user"], "meta": {"client": "web", "version": "1.4.2"}},
    {"id": 3, "name": "carol", "status": "online", "score": -3, "roles": [], "meta": {"client": "ios"}},
    {"id": 4, "name": "dave", "status": "offline", "score": 0, "roles": ["user"], "meta": null},
    {"id": 5, "name": "eve", "status": "online", "score": 1e-3, "roles": ["user", "beta"], "meta": {"flags": [true, false, true]}}
  ],
  "history": [
    {"seq": 1001, "from": 1, "text": "hello everyone!", "at": 1700000100.5, "edited": false, "reactions": {"+1": 3, "heart": 1}},
    {"seq": 1002, "from": 2, "text": "hi alice \ud83d\udc4b", "at": 1700000101.25, "edited": true, "reactions": {}},
    {"seq": 1003, "from": 3, "text": "line one\nline two\ttabbed \"quoted\"", "at": 1700000102, "edited": false, "reactions": {"laugh": 2}},
    {"seq": 1004, "from": 5, "text": "path C:\\temp\\file.txt", "at": 1700000103.75, "edited": false, "reactions": {}},
    {"seq": 1005, "from": 1, "text": "Ünïcödé text: 日本語, Ελληνικά, русский", "at": 1700000104, "edited": false, "reactions": {"wow": 1}},
    {"seq": 1006, "from": 4, "text": "ok", "at": 1700000105, "edited": false, "reactions": {}}
  ],
  "limits": {"max_message_size": 65536, "rate": 20, "burst": 40, "ratio": 0.75, "big": 9007199254740992},
  "features": {"typing": true, "receipts": false, "threads": null, "emoji": ["smile", "heart", "+1", "laugh", "wow", "sad"]},
  "pagination": {"before": 1001, "after": null, "limit": 50, "has_more": true, "cursor": "eyJzZXEiOjEwMDF9"},
  "server": {"node": "node-a.example.net", "version": "0.9.0", "uptime": 86400.125, "load": [0.25, 0.5, 0.125]}
}`

// baselineNs runs the encoding/json baseline of a pair and returns its ns/op.
func runBaseline(b *testing.B, name string, fn func(b *testing.B)) float64 {
	var ns float64
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		fn(b)
		ns = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	return ns
}

// reportRatio reports this benchmark's time over the baseline's, when the
// baseline ran in the same invocation.
func reportRatio(b *testing.B, baseline float64) {
	if baseline > 0 && b.N > 0 {
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(ns/baseline, "x-encoding/json")
	}
}

var inputs = []struct{ name, json string }{
	{"chat-64B", chatMessage},
	{"nested-2KiB", nestedDoc},
}

// BenchmarkDecode compares Decode with encoding/json into map[string]any.
func BenchmarkDecode(b *testing.B) {
	L := lua.NewState()
	defer L.Close()
	c := luajson.New(L)
	for _, in := range inputs {
		data := []byte(in.json)
		b.Run(in.name, func(b *testing.B) {
			base := runBaseline(b, "encoding-json", func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					var m map[string]any
					if err := json.Unmarshal(data, &m); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("encoding-json-to-lua", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					var m any
					if err := json.Unmarshal(data, &m); err != nil {
						b.Fatal(err)
					}
					_ = toLua(L, m)
				}
				reportRatio(b, base)
			})
			b.Run("luajson", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if _, err := c.Decode(data); err != nil {
						b.Fatal(err)
					}
				}
				reportRatio(b, base)
			})
		})
	}
}

// BenchmarkEncode compares Encode of the decoded Lua value with encoding/json
// of the decoded map[string]any.
func BenchmarkEncode(b *testing.B) {
	L := lua.NewState()
	defer L.Close()
	c := luajson.New(L)
	for _, in := range inputs {
		data := []byte(in.json)
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
		v, err := c.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(in.name, func(b *testing.B) {
			base := runBaseline(b, "encoding-json", func(b *testing.B) {
				for b.Loop() {
					out, err := json.Marshal(m)
					if err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(len(out)))
				}
			})
			b.Run("lua-to-encoding-json", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					out, err := json.Marshal(fromLua(v))
					if err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(len(out)))
				}
				reportRatio(b, base)
			})
			b.Run("luajson", func(b *testing.B) {
				b.ReportAllocs()
				var buf []byte
				for b.Loop() {
					buf, err = c.Encode(buf[:0], v)
					if err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(len(buf)))
				reportRatio(b, base)
			})
		})
	}
}

// BenchmarkModule measures json.encode(json.decode(s)) called from Lua, the
// cost a script pays per message.
func BenchmarkModule(b *testing.B) {
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("json", luajson.New(L).Module())
	if err := L.DoString(`function roundtrip(s) return json.encode(json.decode(s)) end`); err != nil {
		b.Fatal(err)
	}
	fn := L.GetGlobal("roundtrip")
	for _, in := range inputs {
		arg := lua.LString(in.json)
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, arg); err != nil {
					b.Fatal(err)
				}
				L.Pop(1)
			}
		})
	}
}

// toLua converts a value of encoding/json into Lua, the way a binding built
// on encoding/json has to (the "encoding-json-to-lua" baseline).
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	panic("unexpected type")
}

// fromLua converts a decoded Lua value into encoding/json's types (the
// "lua-to-encoding-json" baseline); it handles what Decode produces.
func fromLua(v lua.LValue) any {
	switch v := v.(type) {
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		return float64(v)
	case lua.LString:
		return string(v)
	case *lua.LTable:
		if n := v.MaxN(); n > 0 || v.Metatable != lua.LNil {
			a := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				a = append(a, fromLua(v.RawGetInt(i)))
			}
			return a
		}
		m := map[string]any{}
		v.ForEach(func(k, e lua.LValue) { m[k.String()] = fromLua(e) })
		return m
	}
	return nil
}
