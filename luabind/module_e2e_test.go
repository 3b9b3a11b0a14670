package luabind_test

import (
	"strconv"
	"testing"
)

// TestBroadcastReachesNewConnection dials a client and, as soon as its
// handshake is answered, has another client broadcast: the new client
// gets the broadcast. (A connection is registered before its 101 goes
// out, so nothing broadcast after a client saw the 101 can miss it.)
func TestBroadcastReachesNewConnection(t *testing.T) {
	ts := newTestServer(t, `
local M = {}
function M.message(conn, msg) luaws.broadcast(msg) end
return M
`, serverOpts{})
	speaker := ts.dial(t, "")
	for i := range 100 {
		c := ts.dial(t, "")
		want := strconv.Itoa(i)
		send(t, speaker, want)
		if got := read(t, c); got != want {
			t.Fatalf("round %d: new client got %q, want %q", i, got, want)
		}
		c.Close()
		for got := read(t, speaker); got != want; got = read(t, speaker) {
		}
	}
}
