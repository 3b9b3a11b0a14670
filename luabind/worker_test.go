package luabind_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
)

// jsonEcho sends every decoded message back through the serializer.
const jsonEcho = `local M = {}
function M.message(conn, msg, kind)
  if kind == "binary" then
    conn:send({ binary = msg })
  else
    conn:send(msg)
  end
end
return M
`

// TestJSONRoundTrip sends JSON through a script that decodes it to Lua
// and encodes it back: the text comes back as it went.
func TestJSONRoundTrip(t *testing.T) {
	ts := newTestServer(t, jsonEcho, serverOpts{serializer: "json"})
	c := ts.dial(t, "")
	tests := []struct{ in, want string }{
		{`null`, `null`},
		{`[]`, `[]`},
		{`{}`, `{}`},
		{`[[],{},[{}],{"a":[]}]`, `[[],{},[{}],{"a":[]}]`},
		{`{"a":null,"b":[null,1,null]}`, `{"a":null,"b":[null,1,null]}`},
		{`9007199254740992`, `9007199254740992`},
		{`-9007199254740992`, `-9007199254740992`},
		{`[0,-1,1.5,1e-7,1e21]`, `[0,-1,1.5,1e-7,1e+21]`},
		{`{"z":1,"a":2,"m":{"y":[true,false],"b":"x"}}`, `{"z":1,"a":2,"m":{"y":[true,false],"b":"x"}}`},
		{`"héllo ✓ 😀"`, `"héllo ✓ 😀"`},
		{`"\u00e9\ud83d\ude00\n\"\\"`, `"é😀\n\"\\"`},
		{` { "spaced" : [ 1 , 2 ] } `, `{"spaced":[1,2]}`},
		{`{"dup":1,"dup":2}`, `{"dup":2}`},
		{strings.Repeat("[", 50) + strings.Repeat("]", 50), strings.Repeat("[", 50) + strings.Repeat("]", 50)},
	}
	for _, tt := range tests {
		send(t, c, tt.in)
		if got := read(t, c); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.want)
		}
	}
	// Binary messages are not decoded.
	if err := c.WriteMessage(websocket.BinaryMessage, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != `{"binary":"{not json"}` {
		t.Errorf("binary: got %s, want {\"binary\":\"{not json\"}", got)
	}
}

// TestMalformedJSON sends text that is not JSON: with a malformed_message
// handler it gets the raw text and the error; without one, the client is
// closed with 1007 and a reason that names the decode error.
func TestMalformedJSON(t *testing.T) {
	t.Run("handler", func(t *testing.T) {
		ts := newTestServer(t, `
local M = {}
function M.message(conn, msg) conn:send({ ok = msg }) end
function M.malformed_message(conn, raw, err)
  conn:send({ raw = raw, err = err, err_type = type(err) })
end
return M
`, serverOpts{serializer: "json"})
		c := ts.dial(t, "")
		send(t, c, `{"a":`)
		got := read(t, c)
		jsonEqual(t, "malformed", stripErr(t, got), `{"raw":"{\"a\":","err_type":"string"}`)
		if !strings.Contains(got, `"err":"`) || strings.Contains(got, `"err":""`) {
			t.Errorf("got %s, want a non-empty err", got)
		}
		// The connection goes on.
		send(t, c, `[1]`)
		if got := read(t, c); got != `{"ok":[1]}` {
			t.Errorf("after malformed: got %s, want {\"ok\":[1]}", got)
		}
	})
	t.Run("no handler", func(t *testing.T) {
		var log enginetest.Buffer
		ts := newTestServer(t, jsonEcho+"\n-- no malformed_message\n", serverOpts{serializer: "json", log: &log})
		c := ts.dial(t, "")
		send(t, c, `{"a": tru}`)
		code, reason := readClose(t, c)
		if code != websocket.CloseInvalidFramePayloadData || !strings.HasPrefix(reason, "invalid JSON: ") || len(reason) <= len("invalid JSON: ") {
			t.Fatalf("got close %d %q, want 1007 \"invalid JSON: ...\"", code, reason)
		}
		t.Logf("close reason: %q", reason)
	})
}

// stripErr removes the "err" member from a JSON object.
func stripErr(t testing.TB, s string) string {
	t.Helper()
	var m map[string]any
	jsonEqual(t, "object", s, s)
	if err := jsonUnmarshal(s, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "err")
	return mustJSON(t, m)
}
