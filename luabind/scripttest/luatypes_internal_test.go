package scripttest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/luabind/luatypes"
)

// tableKeys lists the keys of a Lua table.
func tableKeys(tbl *lua.LTable) []string {
	var names []string
	tbl.ForEach(func(k, _ lua.LValue) { names = append(names, k.String()) })
	slices.Sort(names)
	return names
}

// connectArgs lists the keys srv:connect reads from its table.
func connectArgs(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "harness.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		if fd, ok := n.(*ast.FuncDecl); ok && fd.Name.Name != "luaConnect" {
			return false
		}
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "RawGetString" {
				if lit, ok := call.Args[0].(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					names = append(names, s)
				}
			}
		}
		return true
	})
	if len(names) == 0 {
		t.Fatal("found no RawGetString in luaConnect")
	}
	return names
}

// TestLuaTypes checks that the LuaLS definitions `luaws types` writes
// name exactly the harness of `luaws test`: t, srv, a client and the
// arguments of srv:connect.
func TestLuaTypes(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	defs := luatypes.Parse()
	tests := []struct {
		class string
		code  []string
	}{
		{"luaws.T", tableKeys(newHarness(t.Context(), nil, "").table(L))},
		{"luaws.TestServer", tableKeys((&server{}).object(L))},
		{"luaws.TestClient", tableKeys((&client{}).object(L))},
		{"luaws.ConnectArgs", connectArgs(t)},
	}
	for _, tt := range tests {
		defined, ok := defs.Classes[tt.class]
		if !ok {
			t.Errorf("luabind/luatypes/luaws.lua has no ---@class %s", tt.class)
			continue
		}
		for _, n := range tt.code {
			if !slices.Contains(defined, n) {
				t.Errorf("%s: the harness has %s, luabind/luatypes/luaws.lua does not: add it there (and to docs/guide.md)", tt.class, n)
			}
		}
		for _, n := range defined {
			if !slices.Contains(tt.code, n) {
				t.Errorf("%s: luabind/luatypes/luaws.lua has %s, the harness does not: remove it there", tt.class, n)
			}
		}
	}
}
