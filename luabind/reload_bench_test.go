package luabind_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luaws/luaws/luabind"
)

// bigScript returns a script of exactly lines lines: many small functions
// and tables, the shape of a real application's handlers.
func bigScript(lines int) string {
	var b strings.Builder
	n := 0
	emit := func(s string) {
		b.WriteString(s)
		b.WriteByte('\n')
		n++
	}
	emit("local M = {}")
	emit("local handlers = {}")
	for i := 0; n+8 <= lines-5; i++ {
		emit(fmt.Sprintf("function handlers.f%d(conn, msg)", i))
		emit(fmt.Sprintf("  local n = (conn.data.n or 0) + %d", i))
		emit("  conn.data.n = n")
		emit("  if type(msg) == \"table\" and msg.kind == \"step\" then")
		emit(fmt.Sprintf("    return { id = conn.id, step = n, name = %q }", fmt.Sprintf("f%d", i)))
		emit("  end")
		emit("  return msg")
		emit("end")
		emit(fmt.Sprintf("M[%q] = handlers.f%d -- not a handler name, ignored", fmt.Sprintf("x%d", i), i))
	}
	for n < lines-5 {
		emit("-- padding")
	}
	emit("function M.message(conn, msg)")
	emit("  local h = handlers[msg] or handlers.f0")
	emit("  conn:send(h(conn, msg))")
	emit("end")
	emit("return M")
	return b.String()
}

func TestBigScriptLoads(t *testing.T) {
	src := bigScript(2000)
	if got := strings.Count(src, "\n"); got != 2000 {
		t.Fatalf("got %d lines, want 2000", got)
	}
	ts := newTestServer(t, src, serverOpts{})
	c := ts.dial(t, "")
	if got := ask(t, c, "f7"); got != "f7" {
		t.Fatalf("got %q, want f7", got)
	}
	if err := ts.Script.Reload("test"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkReload measures one Reload of a 2,000-line script: compile,
// load in a fresh VM per worker, swap.
func BenchmarkReload(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.lua")
	if err := os.WriteFile(path, []byte(bigScript(2000)), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			m, err := luabind.New(luabind.Options{Script: path, Workers: workers})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Stop()
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Reload("bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
