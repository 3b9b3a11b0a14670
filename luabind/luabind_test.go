package luabind_test

import (
	"testing"
)

func TestEchoScript(t *testing.T) {
	ts := newTestServer(t, "../scripts/echo.lua", serverOpts{})
	c := ts.dial(t, "")
	send(t, c, "hello")
	if got := read(t, c); got != "hello" {
		t.Fatalf("got %q, want hello", got)
	}
}

func TestIDsCountFromOne(t *testing.T) {
	ts := newTestServer(t, `
local M = {}
function M.open(conn) conn:send(tostring(conn.id)) end
return M
`, serverOpts{})
	for want := 1; want <= 3; want++ {
		c := ts.dial(t, "")
		if got := read(t, c); got != string(rune('0'+want)) {
			t.Fatalf("got id %s, want %d", got, want)
		}
	}
}
