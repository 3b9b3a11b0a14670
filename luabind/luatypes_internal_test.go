package luabind

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/luabind/luatypes"
)

// sameNames reports, as test errors, the names the code has and the
// definitions of what lack, and the reverse.
func sameNames(t *testing.T, what string, code, defs []string) {
	t.Helper()
	for _, n := range code {
		if !slices.Contains(defs, n) {
			t.Errorf("%s: the code has %s, luabind/luatypes/luaws.lua does not: add it there (and to docs/lua-api.md)", what, n)
		}
	}
	for _, n := range defs {
		if !slices.Contains(code, n) {
			t.Errorf("%s: luabind/luatypes/luaws.lua has %s, the code does not: remove it there", what, n)
		}
	}
}

// TestLuaTypes checks that the LuaLS definitions `luaws types` writes
// name exactly what scripts get: every name of the luaws module, of the
// conn object, of req, of the handshake's reply, every handler and the
// timer handle's methods.
func TestLuaTypes(t *testing.T) {
	defs := luatypes.Parse()
	members := func(class string) []string {
		t.Helper()
		names, ok := defs.Classes[class]
		if !ok {
			t.Fatalf("luabind/luatypes/luaws.lua has no ---@class %s", class)
		}
		return names
	}

	t.Run("luaws module", func(t *testing.T) {
		var code, def []string
		for _, name := range moduleNames(t) {
			code = append(code, strings.Replace(name, ":", ".", 1))
		}
		for expr, class := range defs.Tables {
			if expr == "luaws" || strings.HasPrefix(expr, "luaws.") {
				for _, m := range members(class) {
					def = append(def, expr+"."+m)
				}
			}
		}
		sameNames(t, "luaws module", code, def)
	})
	t.Run("conn", func(t *testing.T) {
		sameNames(t, "luaws.Conn", connMembers(t), members("luaws.Conn"))
	})
	t.Run("req", func(t *testing.T) {
		var code []string
		for _, n := range funcStrings(t, "vm.go", "requestTable", true) {
			if !strings.HasPrefix(n, "__") {
				code = append(code, n)
			}
		}
		sameNames(t, "luaws.Request", code, members("luaws.Request"))
	})
	t.Run("tls", func(t *testing.T) {
		code := funcStrings(t, "vm.go", "tlsTable", true)
		sameNames(t, "luaws.TLS and luaws.ClientCert", code, append(members("luaws.TLS"), members("luaws.ClientCert")...))
	})
	t.Run("handshake reply", func(t *testing.T) {
		sameNames(t, "luaws.HandshakeReply", funcStrings(t, "handshake.go", "acceptTable", false), members("luaws.HandshakeReply"))
	})
	t.Run("handlers", func(t *testing.T) {
		sameNames(t, "luaws.Handlers", handlerNames, members("luaws.Handlers"))
	})
	t.Run("timer", func(t *testing.T) {
		m, err := New(Options{Script: enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), "return {}\n")})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Stop()
		var code []string
		m.workers[0].do(func(v *vm) {
			v.timerMT.RawGetString("__index").(*lua.LTable).ForEach(func(k, _ lua.LValue) { code = append(code, k.String()) })
		})
		sameNames(t, "luaws.Timer", code, members("luaws.Timer"))
	})
}
