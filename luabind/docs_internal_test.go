package luabind

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine/enginetest"
)

// luaAPIDoc is the Lua API reference, seen from this package.
const luaAPIDoc = "../docs/lua-api.md"

// moduleNames lists every name of a VM's luaws global, as a script sees
// it: "luaws.get", and for tables and objects in it each of their names as
// "luaws.log.info" or "luaws.shared:get".
func moduleNames(t *testing.T) []string {
	t.Helper()
	m, err := New(Options{Script: enginetest.WriteFile(t, filepath.Join(t.TempDir(), "script.lua"), "return {}\n")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	var names []string
	m.workers[0].do(func(v *vm) {
		mod, ok := v.L.GetGlobal("luaws").(*lua.LTable)
		if !ok {
			t.Fatal("no luaws global")
		}
		mod.ForEach(func(k, val lua.LValue) {
			name := "luaws." + k.String()
			names = append(names, name)
			switch val := val.(type) {
			case *lua.LTable:
				if val.Metatable == lua.LNil { // luaws.null and arrays carry metatables
					val.ForEach(func(k, _ lua.LValue) { names = append(names, name+"."+k.String()) })
				}
			case *lua.LUserData:
				if mt, ok := val.Metatable.(*lua.LTable); ok {
					if idx, ok := mt.RawGetString("__index").(*lua.LTable); ok {
						idx.ForEach(func(k, _ lua.LValue) { names = append(names, name+":"+k.String()) })
					}
				}
			}
		})
	})
	slices.Sort(names)
	return names
}

// connMembers lists the conn object's names: those its __index answers
// itself (the cases in installConnMeta) and the methods gopher-luar finds.
func connMembers(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "conn.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "installConnMeta" {
			return true
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						names = append(names, s)
					}
				}
			}
			return true
		})
		return false
	})
	if len(names) == 0 {
		t.Fatal("found no conn members in installConnMeta")
	}
	typ := reflect.TypeFor[*Conn]()
	for i := range typ.NumMethod() {
		if name := typ.Method(i).Name; name != "String" {
			names = append(names, snakeCase(name))
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestDocsLuaAPI checks that the Lua API reference names every name of the
// luaws module and of the conn object, so that neither can grow a name the
// docs do not have.
func TestDocsLuaAPI(t *testing.T) {
	b, err := os.ReadFile(luaAPIDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	lines := strings.Split(doc, "\n")
	// documented reports whether one line of the doc names both outer and
	// the word inner ("luaws.log" and "info" in "luaws.log.debug / info").
	documented := func(outer, inner string) bool {
		word := regexp.MustCompile(`\b` + regexp.QuoteMeta(inner) + `\b`)
		for _, l := range lines {
			if strings.Contains(l, outer) && word.MatchString(l) {
				return true
			}
		}
		return false
	}
	for _, name := range moduleNames(t) {
		outer, inner := name, ""
		if i := strings.LastIndexAny(name, ".:"); i > len("luaws") {
			outer, inner = name[:i], name[i+1:]
		}
		if inner == "" && !strings.Contains(doc, "`"+name) {
			t.Errorf("docs/lua-api.md does not document %s", name)
		}
		if inner != "" && !documented(outer, inner) {
			t.Errorf("docs/lua-api.md does not document %s (no line names %s and %s)", name, outer, inner)
		}
	}
	for _, name := range connMembers(t) {
		if !strings.Contains(doc, "conn."+name) && !strings.Contains(doc, "conn:"+name+"(") {
			t.Errorf("docs/lua-api.md does not document conn.%s", name)
		}
	}
}
