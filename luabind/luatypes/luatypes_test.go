package luatypes_test

import (
	"bytes"
	"testing"

	"github.com/yuin/gopher-lua/parse"

	"github.com/luaws/luaws/luabind/luatypes"
)

// TestDefinitionsCompile checks that the definitions are valid Lua, as
// LuaLS needs them to be.
func TestDefinitionsCompile(t *testing.T) {
	if _, err := parse.Parse(bytes.NewReader(luatypes.Definitions), luatypes.File); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(luatypes.Definitions, []byte("---@meta")) {
		t.Error("the definitions do not start with ---@meta, so LuaLS would treat them as a script")
	}
}

// TestParse checks that Parse binds classes to their tables and finds
// fields, functions, methods and assigned values.
func TestParse(t *testing.T) {
	d := luatypes.Parse()
	tests := []struct {
		expr, class, member string
	}{
		{"luaws", "luaws", "get"},  // function luaws.get(
		{"luaws", "luaws", "null"}, // luaws.null = nil
		{"luaws", "luaws", "log"},  // luaws.log = {}
		{"luaws.log", "luaws.log", "warn"},
		{"luaws.shared", "luaws.Shared", "incr"}, // function luaws.shared:incr(
		{"conn", "luaws.Conn", "remote_addr"},    // ---@field
		{"conn", "luaws.Conn", "send_binary"},    // function conn:send_binary(
		{"t", "luaws.T", "log_contains"},
	}
	for _, tt := range tests {
		if got := d.Tables[tt.expr]; got != tt.class {
			t.Errorf("Tables[%q] = %q, want %q", tt.expr, got, tt.class)
		}
		found := false
		for _, m := range d.Classes[tt.class] {
			found = found || m == tt.member
		}
		if !found {
			t.Errorf("Classes[%q] = %v, want it to hold %s", tt.class, d.Classes[tt.class], tt.member)
		}
	}
	if got := d.Classes["luaws.Request"]; len(got) != 6 {
		t.Errorf("luaws.Request has %v, want its 6 fields (a class without a table keeps its ---@field names)", got)
	}
}
