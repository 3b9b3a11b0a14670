package luabind

import (
	"reflect"
	"strings"
	"unicode"

	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"
)

// snakeCase turns a Go name into the Lua API's lower snake case:
// "SendBinary" → "send_binary", "ID" → "id", "RemoteAddr" → "remote_addr".
func snakeCase(name string) string {
	var b strings.Builder
	runes := []rune(name)
	for i, r := range runes {
		if unicode.IsUpper(r) {
			prevLower := i > 0 && unicode.IsLower(runes[i-1])
			nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1]) && i > 0 && unicode.IsUpper(runes[i-1])
			if prevLower || nextLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// configureLuar makes Go names appear to scripts in snake case only.
func configureLuar(L *lua.LState) {
	cfg := luar.GetConfig(L)
	cfg.FieldNames = func(_ reflect.Type, f reflect.StructField) []string {
		if tag := f.Tag.Get("luar"); tag == "-" {
			return nil
		}
		return []string{snakeCase(f.Name)}
	}
	cfg.MethodNames = func(_ reflect.Type, m reflect.Method) []string {
		return []string{snakeCase(m.Name)}
	}
}
