package luabind_test

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/luaws/luaws/luabind"
)

// runLuaTest runs a Lua test file (plain Lua that raises on failure) inside
// a message handler of a real mount, so that it sees the luaws module and
// the limits of a served script, and fails the test with the file's error.
func runLuaTest(t *testing.T, file string, lo luabind.Options) {
	t.Helper()
	path, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, `
return { message = function(conn)
  local ok, err = pcall(dofile, `+strconv.Quote(path)+`)
  conn:send(ok and "ok" or tostring(err))
end }
`, serverOpts{lua: lo})
	c := ts.dial(t, "")
	send(t, c, "run")
	if got := read(t, c); got != "ok" {
		t.Fatal(got)
	}
}

// TestLimits runs the checks of the bounded builtins in testdata/limits.lua.
func TestLimits(t *testing.T) {
	runLuaTest(t, "testdata/limits.lua", luabind.Options{
		MaxStringSize:  1 << 20,
		HandlerTimeout: time.Minute, // -race is slow
	})
}
