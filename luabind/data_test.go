package luabind_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// dataScript keeps values in conn.data in one message and reads them in
// the next.
const dataScript = `local M = {}
function M.message(conn, msg)
  if msg.op == "build" then
    conn.data.profile = {
      name = "ann", tags = { "a", "b" }, none = luaws.array(), obj = {},
      big = 2 ^ 53, neg = -2 ^ 53, half = 0.5, yes = true, no = false,
      uni = "héllo ✓ 😀",
      nested = { deep = { list = { 1, { x = luaws.null }, luaws.array() } } },
    }
    conn:send(true)
  elseif msg.op == "set" then
    conn.data[msg.key] = msg.value
    conn:send(true)
  elseif msg.op == "get" then
    conn:send(conn.data[msg.key])
  elseif msg.op == "encode" then
    conn:send(luaws.json.encode(conn.data[msg.key]))
  elseif msg.op == "all" then
    conn:send(conn.data)
  end
end
return M
`

// TestDataKeptAcrossMessages stores nested tables in conn.data in one
// message and sends them back, JSON-encoded, in later ones: what went in
// comes out, [] and {} and null and 2^53 included. gopher-luar alone would
// hand encoding/json a map[interface{}]interface{}; luabind converts at the
// boundary, so the Go side holds plain JSON values too.
func TestDataKeptAcrossMessages(t *testing.T) {
	ts := newTestServer(t, dataScript, serverOpts{serializer: "json"})
	c := ts.dial(t, "")
	ask := func(msg string) string {
		t.Helper()
		send(t, c, msg)
		return read(t, c)
	}
	if got := ask(`{"op":"build"}`); got != "true" {
		t.Fatalf("build: got %s, want true", got)
	}
	const wantProfile = `{"name":"ann","tags":["a","b"],"none":[],"obj":{},"big":9007199254740992,
		"neg":-9007199254740992,"half":0.5,"yes":true,"no":false,"uni":"héllo ✓ 😀",
		"nested":{"deep":{"list":[1,{"x":null},[]]}}}`
	for _, msg := range []string{`{"op":"get","key":"profile"}`, `{"op":"encode","key":"profile"}`} {
		got := ask(msg)
		if strings.HasPrefix(got, `"`) { // luaws.json.encode's text, sent as a JSON string
			var s string
			if err := json.Unmarshal([]byte(got), &s); err != nil {
				t.Fatal(err)
			}
			got = s
		}
		jsonEqual(t, msg, got, wantProfile)
		if !strings.Contains(got, "9007199254740992") {
			t.Errorf("%s: got %s, want 2^53 written as an integer", msg, got)
		}
	}

	// Values that came in as JSON are kept as well.
	const value = `{"list":[1,"two",null,[],{}],"map":{"k":{"k":{"k":[true]}}},"n":-0.25}`
	if got := ask(`{"op":"set","key":"v","value":` + value + `}`); got != "true" {
		t.Fatalf("set: got %s, want true", got)
	}
	jsonEqual(t, "get v", ask(`{"op":"get","key":"v"}`), value)

	// The whole of conn.data can be sent, and the Go side can marshal it.
	jsonEqual(t, "all", ask(`{"op":"all"}`), `{"profile":`+wantProfile+`,"v":`+value+`}`)
	conn := ts.Server.Mounts()[0].Conn(1)
	b, err := json.Marshal(conn.Data().Snapshot())
	if err != nil {
		t.Fatalf("encoding/json on the Go side of conn.data: %v", err)
	}
	jsonEqual(t, "Go side", string(b), `{"profile":`+wantProfile+`,"v":`+value+`}`)
}

// jsonEqual fails unless got and want are the same JSON value. [] and {}
// differ, as do null and a missing key.
func jsonEqual(t testing.TB, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: got %s: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want %s: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: got %s, want %s", what, got, want)
	}
}

// TestDataAcrossConnections reads another connection's data, with two
// workers so that the reader is on another VM.
func TestDataAcrossConnections(t *testing.T) {
	ts := newTestServer(t, `
local M = {}
function M.open(conn, req) conn.data.name = req.query.name; conn:send("hi") end
function M.message(conn, msg)
  local other = luaws.get(tonumber(msg))
  conn:send(other and other.data.name or "gone")
end
return M
`, serverOpts{workers: 2})
	ann := ts.dial(t, "name=ann")
	bob := ts.dial(t, "name=bob")
	for _, c := range []*websocket.Conn{ann, bob} {
		if got := read(t, c); got != "hi" { // its open handler has run
			t.Fatalf("got %q, want hi", got)
		}
	}
	send(t, ann, "2")
	if got := read(t, ann); got != "bob" {
		t.Fatalf("ann reads conn 2's name: got %q, want bob", got)
	}
	send(t, bob, "1")
	if got := read(t, bob); got != "ann" {
		t.Fatalf("bob reads conn 1's name: got %q, want ann", got)
	}
}

// TestDataReplace assigns conn.data as a whole: the old keys go, the new
// ones are copied as conn.data.key = v copies them, and what cannot be
// stored raises without touching the map.
func TestDataReplace(t *testing.T) {
	ts := newTestServer(t, `
local M = {}
function M.open(conn) conn.data.old = "x"; conn.data.keep = 1 end
local cases = {
  table = function(conn) local t = { a = { 1, 2 }, b = "two" }; conn.data = t; t.b = "changed" end,
  empty = function(conn) conn.data = {} end,
  itself = function(conn) conn.data = conn.data end,
  other = function(conn) conn.data = luaws.get(conn.id).data end,
  many = function(conn) local t = {}; for i = 1, 20 do t["k" .. i] = i end; conn.data = t end,
  number = function(conn) conn.data = 5 end,
  func = function(conn) conn.data = { f = print } end,
  nilval = function(conn) conn.data = nil end,
}
function M.message(conn, msg)
  local ok, err = pcall(cases[msg], conn)
  conn:send(ok and "ok" or (tostring(err):gsub("^.-:%d+: ", "")))
  conn:send(conn.data)
end
return M
`, serverOpts{serializer: "json"})
	many := map[string]any{}
	for i := 1; i <= 20; i++ {
		many["k"+strconv.Itoa(i)] = float64(i)
	}
	manyJSON, _ := json.Marshal(many)
	const old = `{"old":"x","keep":1}`
	for _, tc := range []struct{ op, err, data string }{
		{"table", "ok", `{"a":[1,2],"b":"two"}`},
		{"empty", "ok", `{}`},
		{"itself", "ok", old},
		{"other", "ok", old},
		{"many", "ok", string(manyJSON)},
		{"number", "conn.data = number: want a table", old},
		{"func", "conn.data.f: cannot store a function", old},
		{"nilval", "conn.data = nil: want a table", old},
	} {
		t.Run(tc.op, func(t *testing.T) {
			c := ts.dial(t, "")
			send(t, c, `"`+tc.op+`"`)
			jsonEqual(t, tc.op+" error", read(t, c), strconv.Quote(tc.err))
			jsonEqual(t, tc.op+" data", read(t, c), tc.data)
		})
	}
}
