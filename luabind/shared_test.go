package luabind_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/luaws/luaws/luabind"
)

// TestSharedCounter: 100 connections on 4 workers increment one
// luaws.shared counter; it ends at the exact total.
func TestSharedCounter(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		shared := luabind.NewShared()
		ts := newTestServer(t, `
local M = {}
function M.message(conn, msg)
  if msg == "incr" then
    luaws.shared:incr("hits")
  else
    conn:send(tostring(luaws.shared:get("hits")))
  end
end
return M
`, serverOpts{workers: m.workers, serializer: m.serializer, lua: luabind.Options{Shared: shared}})
		quote := func(s string) string {
			if m.serializer == "json" {
				return strconv.Quote(s)
			}
			return s
		}
		const clients, each = 100, 20
		var wg sync.WaitGroup
		for range clients {
			c := ts.dial(t, "")
			wg.Go(func() {
				for range each {
					send(t, c, quote("incr"))
				}
				send(t, c, quote("get")) // answered after this client's increments
				if _, err := strconv.ParseFloat(read(t, c), 64); err != nil && m.serializer == "none" {
					t.Errorf("get: %v", err)
				}
			})
		}
		wg.Wait()
		if v, _ := shared.Get("hits"); v != float64(clients*each) {
			t.Fatalf("got %v hits, want %d", v, clients*each)
		}
	})
}

// TestSharedAPI runs the luaws.shared checks of testdata/shared.lua.
func TestSharedAPI(t *testing.T) {
	runLuaTest(t, "testdata/shared.lua", luabind.Options{Shared: luabind.NewShared()})
}

// TestSharedAcrossMounts: two mounts given one store see each other's
// keys; the default store is the process's.
func TestSharedAcrossMounts(t *testing.T) {
	shared := luabind.NewShared()
	script := `
return { message = function(conn, msg)
  if msg == "set" then luaws.shared:set("k", { from = "a", list = { 1, 2 } }) conn:send("ok")
  else local v = luaws.shared:get("k"); conn:send(v.from .. #v.list) end
end }
`
	a := newTestServer(t, script, serverOpts{lua: luabind.Options{Shared: shared}})
	b := newTestServer(t, script, serverOpts{workers: 2, lua: luabind.Options{Shared: shared}})
	ca, cb := a.dial(t, ""), b.dial(t, "")
	send(t, ca, "set")
	read(t, ca)
	send(t, cb, "get")
	if got := read(t, cb); got != "a2" {
		t.Fatalf("got %q, want a2", got)
	}
}
