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
	names := funcStrings(t, "conn.go", "installConnMeta", false)
	typ := reflect.TypeFor[*Conn]()
	for i := range typ.NumMethod() {
		if name := typ.Method(i).Name; name != "String" {
			names = append(names, snakeCase(name))
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// funcStrings lists the string literals of the function fn in file: those
// of its case clauses (a switch on a key), and with calls also the first
// argument of its RawSetString and RawGetString calls.
func funcStrings(t *testing.T, file, fn string, calls bool) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	add := func(e ast.Expr) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, _ := strconv.Unquote(lit.Value)
			names = append(names, s)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		fd, ok := n.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn {
			return true
		}
		ast.Inspect(fd, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CaseClause:
				for _, e := range n.List {
					add(e)
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && calls && len(n.Args) > 0 &&
					(sel.Sel.Name == "RawSetString" || sel.Sel.Name == "RawGetString") {
					add(n.Args[0])
				}
			}
			return true
		})
		return false
	})
	if len(names) == 0 {
		t.Fatalf("found no names in %s's %s", file, fn)
	}
	return names
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
