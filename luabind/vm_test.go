package luabind_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
)

// errorScript raises in whichever handler the message names; "echo" answers.
const errorScript = `local M = {}

local function explode(what)
  error("boom in " .. what)
end

function M.message(conn, msg)
  if msg == "raise" then
    explode("message")
  elseif msg == "send function" then
    conn:send(function() end)
  elseif msg == "send cyclic" then
    local t = {}
    t.self = t
    conn:send(t)
  elseif msg == "raise table" then
    error({ code = 7 })
  elseif msg == "nil index" then
    local x = nil
    return x.field
  else
    conn:send(msg)
  end
end

return M
`

func TestHandlerErrorClosesWith1011(t *testing.T) {
	tests := []struct {
		msg     string
		wantLog []string // besides the common ones
	}{
		{"raise", []string{"script.lua:4: boom in message", "in function 'explode'", "script.lua:9: in function <", "script.lua:7>"}},
		{"send function", []string{"script.lua:11:", "cannot encode a function"}},
		{"send cyclic", []string{"script.lua:15:", "cyclic"}},
		{"raise table", []string{"script.lua:17:"}},
		{"nil index", []string{"script.lua:20:", "nil"}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.msg, " ", "_"), func(t *testing.T) {
			var log enginetest.Buffer
			ts := newTestServer(t, errorScript, serverOpts{serializer: "json", log: &log})
			bad := ts.dial(t, "")
			good := ts.dial(t, "")
			send(t, bad, `"`+tt.msg+`"`)
			code, reason := readClose(t, bad)
			if code != websocket.CloseInternalServerErr {
				t.Fatalf("close: got %d %q, want %d", code, reason, websocket.CloseInternalServerErr)
			}
			lines := log.Lines("handler failed")
			if len(lines) != 1 {
				t.Fatalf("log: got %d 'handler failed' lines, want 1:\n%s", len(lines), log.String())
			}
			if strings.Contains(lines[0], "main chunk") {
				t.Errorf("log line: got\n%s\nwant the handler named as a function, not the main chunk", lines[0])
			}
			for _, want := range append([]string{"script=", "stack traceback", "conn=1"}, tt.wantLog...) {
				if !strings.Contains(lines[0], want) {
					t.Errorf("log line: got\n%s\nwant it to contain %q", lines[0], want)
				}
			}
			// The server and the other connection go on.
			send(t, good, `"still there"`)
			if got := read(t, good); got != `"still there"` {
				t.Fatalf("other client: got %s, want \"still there\"", got)
			}
			third := ts.dial(t, "")
			send(t, third, `1`)
			if got := read(t, third); got != `1` {
				t.Fatalf("new client: got %s, want 1", got)
			}
		})
	}
}

// TestHandlerErrorInEveryHandler raises in open, malformed_message and
// close: open and malformed_message close the connection with 1011; an
// error in close is only logged. Each names its file:line.
func TestHandlerErrorInEveryHandler(t *testing.T) {
	const script = `local M = {}
function M.open(conn, req)
  if req.query.fail == "open" then error("open failed") end
  conn:send("hi")
end
function M.malformed_message(conn, raw, err)
  error("malformed failed")
end
function M.close(conn)
  error("close failed")
end
return M
`
	var log enginetest.Buffer
	ts := newTestServer(t, script, serverOpts{serializer: "json", log: &log})

	c := ts.dial(t, "fail=open")
	if code, _ := readClose(t, c); code != websocket.CloseInternalServerErr {
		t.Fatalf("open: got close %d, want 1011", code)
	}
	log.WaitFor(t, "script.lua:3: open failed", "script.lua:10: close failed")

	c = ts.dial(t, "")
	if got := read(t, c); got != `"hi"` {
		t.Fatalf("got %s, want \"hi\"", got)
	}
	send(t, c, "{")
	if code, _ := readClose(t, c); code != websocket.CloseInternalServerErr {
		t.Fatalf("malformed_message: got close %d, want 1011", code)
	}
	log.WaitFor(t, "script.lua:7: malformed failed")
	shutdown(t, ts)
	if n := len(log.Lines("close failed")); n != 2 {
		t.Fatalf("close handler errors: got %d, want 2 (one per connection)\n%s", n, log.String())
	}
}
