package luabind

import lua "github.com/yuin/gopher-lua"

// CompileFile compiles one Lua file, such as a test file, without
// following its requires. An error is a *CompileError naming the file and
// line.
func CompileFile(path string) (*lua.FunctionProto, error) { return compileFile(path) }
