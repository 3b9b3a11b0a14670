package luabind

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Program is one compiled version of a mount's script: the main chunk and
// the modules it requires, each compiled once and shared by every worker VM.
// It is safe for concurrent use.
type Program struct {
	// Path is the script file.
	Path string
	// Dir is where require looks for modules.
	Dir  string
	main *lua.FunctionProto

	mu      sync.Mutex
	modules map[string]*lua.FunctionProto // by file path
	looked  map[string]bool               // every module file require looked for: true if found
	onLook  func(paths ...string)         // told of paths added to looked (the watcher)
}

// CompileError is a script that does not compile, or does not load.
type CompileError struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

// Error returns "file:line: message".
func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Compile reads and compiles the script at path.
func Compile(path string) (*Program, error) {
	proto, err := compileFile(path)
	if err != nil {
		return nil, err
	}
	return &Program{Path: path, Dir: filepath.Dir(path), main: proto,
		modules: map[string]*lua.FunctionProto{}, looked: map[string]bool{}}, nil
}

func compileFile(path string) (*lua.FunctionProto, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &CompileError{File: path, Msg: "cannot read: " + strings.TrimPrefix(err.Error(), "open "+path+": ")}
	}
	return compileSource(path, src)
}

func compileSource(name string, src []byte) (*lua.FunctionProto, error) {
	if bytes.HasPrefix(src, []byte("#")) { // a shebang line: keep line numbers
		src = append([]byte("--"), src...)
	}
	chunk, err := parse.Parse(bytes.NewReader(src), name)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			msg := strings.TrimSpace(pe.Message)
			line := pe.Pos.Line
			switch {
			case line == parse.EOF:
				// The parser names the last token it saw, which is not
				// where the trouble is: say what usually is.
				line = bytes.Count(bytes.TrimRight(src, "\n"), []byte("\n")) + 1
				msg = "unexpected end of file (a function, block, string or bracket left open?)"
			case pe.Token != "":
				msg += " near '" + pe.Token + "'"
			}
			return nil, &CompileError{File: name, Line: line, Msg: msg}
		}
		return nil, &CompileError{File: name, Msg: strings.TrimSpace(err.Error())}
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		var ce *lua.CompileError
		if errors.As(err, &ce) {
			return nil, &CompileError{File: name, Line: ce.Line, Msg: ce.Message}
		}
		return nil, &CompileError{File: name, Msg: err.Error()}
	}
	return proto, nil
}

// module returns the compiled module at path, compiling it the first time.
func (p *Program) module(path string) (*lua.FunctionProto, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if proto, ok := p.modules[path]; ok {
		return proto, nil
	}
	proto, err := compileFile(path)
	if err != nil {
		return nil, err
	}
	p.modules[path] = proto
	return proto, nil
}

// Files returns the script and every module file loaded so far, for the
// reload watcher.
func (p *Program) Files() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	files := []string{p.Path}
	for f := range p.modules {
		files = append(files, f)
	}
	slices.Sort(files[1:])
	return files
}

// findModule maps a module name to a file next to the script: "a.b" is
// dir/a/b.lua or dir/a/b/init.lua.
func (p *Program) findModule(name string) (string, bool) {
	rel := filepath.FromSlash(strings.ReplaceAll(name, ".", "/"))
	for _, cand := range []string{rel + ".lua", filepath.Join(rel, "init.lua")} {
		path := filepath.Join(p.Dir, cand)
		if st, err := os.Stat(path); err == nil && !st.IsDir() {
			return path, true
		}
	}
	return "", false
}

// loader is the package.loaders entry that finds modules next to the
// script and loads them from the shared compiled cache.
func (p *Program) loader(L *lua.LState) int {
	name := L.CheckString(1)
	path, ok := p.findModule(name)
	if !ok {
		rel := filepath.FromSlash(strings.ReplaceAll(name, ".", "/"))
		file, pkg := filepath.Join(p.Dir, rel+".lua"), filepath.Join(p.Dir, rel, "init.lua")
		p.look(false, file, pkg)
		L.Push(lua.LString("\n\tno file '" + file + "' or '" + pkg + "'"))
		return 1
	}
	p.look(true, path)
	proto, err := p.module(path)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	L.Push(L.NewFunctionFromProto(proto))
	return 1
}
