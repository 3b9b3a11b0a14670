package luabind_test

import (
	"strings"
	"testing"

	"github.com/luaws/luaws/engine/enginetest"
)

// TestRequire loads modules next to the script: a file, a package in a
// subdirectory (init.lua) and a module of that package; a module that does
// not compile or raises while loading gives an error naming its file:line.
func TestRequire(t *testing.T) {
	ts := newTestServer(t, "testdata/require/main.lua", serverOpts{})
	c := ts.dial(t, "")
	tests := []struct {
		msg  string
		want []string
	}{
		{"greet", []string{"hello ann"}},
		{"lib", []string{"lib 42 true"}},
		{"broken", []string{"false ", "testdata/require/broken.lua:2:"}},
		{"raises", []string{"false ", "testdata/require/raises.lua:2: cannot load raises"}},
		{"missing", []string{"false ", "module missing not found", "testdata/require/missing.lua"}},
	}
	for _, tt := range tests {
		send(t, c, tt.msg)
		got := read(t, c)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: got %q, want it to contain %q", tt.msg, got, w)
			}
		}
	}
}

// TestLog checks that luaws.log lines carry the script, the calling line,
// the level and the key/value pairs.
func TestLog(t *testing.T) {
	var log enginetest.Buffer
	ts := newTestServer(t, `local M = {}
function M.open(conn)
  luaws.log.info("user joined", "user", "ann", "n", 3, "ok", true, "list", { 1, 2 })
  luaws.log.warn("odd", "missing")
  luaws.log.error("bad", "id", conn.id)
  luaws.log.debug("details", "obj", { a = "b" })
  conn:send("done")
end
return M
`, serverOpts{log: &log})
	c := ts.dial(t, "")
	if got := read(t, c); got != "done" {
		t.Fatalf("got %q, want done", got)
	}
	want := []string{
		`level=INFO msg="user joined" script=`,
		`script.lua line=3 user=ann n=3 ok=true list="[1 2]"`,
		`level=WARN msg=odd script=`, `line=4 missing=<nil>`,
		`level=ERROR msg=bad script=`, `line=5 id=1`,
		`level=DEBUG msg=details script=`, `line=6 obj=map[a:b]`,
	}
	log.WaitFor(t, want...)
}
