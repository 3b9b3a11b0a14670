package luabind_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/luabind"
)

func TestEchoScript(t *testing.T) {
	ts := newTestServer(t, "../examples/echo/echo.lua", serverOpts{})
	c := ts.dial(t, "")
	send(t, c, "hello")
	if got := read(t, c); got != "hello" {
		t.Fatalf("got %q, want hello", got)
	}
}

// sendIDOnOpen sends each connection its id.
const sendIDOnOpen = `
local M = {}
function M.open(conn) conn:send(tostring(conn.id)) end
return M
`

func TestIDsCountFromOne(t *testing.T) {
	ts := newTestServer(t, sendIDOnOpen, serverOpts{})
	for want := 1; want <= 3; want++ {
		c := ts.dial(t, "")
		if got := read(t, c); got != string(rune('0'+want)) {
			t.Fatalf("got id %s, want %d", got, want)
		}
	}
}

// TestIDsInDialOrder dials clients one after the other without waiting for
// their open handlers: each gets the next id, in the order it connected.
func TestIDsInDialOrder(t *testing.T) {
	ts := newTestServer(t, `
local M = {}
function M.message(conn) conn:send(tostring(conn.id)) end
return M
`, serverOpts{})
	const n = 30
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = ts.dial(t, "")
	}
	for i, c := range conns {
		send(t, c, "id?")
		if got, want := read(t, c), strconv.Itoa(i+1); got != want {
			t.Fatalf("client %d: got id %s, want %s", i+1, got, want)
		}
	}
}

// TestIDsNeverReused closes a connection and checks that the next one gets
// a new id.
func TestIDsNeverReused(t *testing.T) {
	ts := newTestServer(t, sendIDOnOpen, serverOpts{})
	for want := 1; want <= 3; want++ {
		c := ts.dial(t, "")
		if got := read(t, c); got != strconv.Itoa(want) {
			t.Fatalf("got id %s, want %d", got, want)
		}
		closeNormally(t, c, websocket.CloseNormalClosure, "")
	}
}

// TestUnknownSerializer: New refuses a serializer it does not speak and
// names the choices.
func TestUnknownSerializer(t *testing.T) {
	for _, name := range []string{"", "none", "json"} {
		if err := luabind.CheckSerializer(name); err != nil {
			t.Errorf("CheckSerializer(%q): got %v, want nil", name, err)
		}
	}
	_, err := luabind.New(luabind.Options{Script: "../examples/echo/echo.lua", Serializer: "xml"})
	if err == nil || !strings.Contains(err.Error(), `unknown serializer "xml" (want none or json)`) {
		t.Fatalf("New with serializer xml: got %v, want an error naming none and json", err)
	}
}
