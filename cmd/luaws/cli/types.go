package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/luaws/luaws/luabind/luatypes"
)

// typesDir is the folder of a project that `luaws types` writes the
// definitions into; .luarc.json names it in workspace.library.
const typesDir = ".luaws"

// types is luaws types [--stdout] [DIR]: it writes the LuaLS definitions
// of the Lua API into DIR/.luaws and a DIR/.luarc.json that points at them.
func types(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("types", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: luaws types [flags] [DIR]\n\nWrites the LuaLS definitions of the luaws Lua API into DIR/.luaws/luaws.lua and a\nDIR/.luarc.json that points at them (DIR defaults to .), so an editor completes\nand checks scripts and their tests.\n\nFlags:")
		fs.PrintDefaults()
	}
	toStdout := fs.Bool("stdout", false, "print the definitions to standard output and write no file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitBadInput
	}
	if *toStdout {
		if fs.NArg() > 0 {
			return printError(stderr, &usageError{msg: "types: --stdout writes no file, so it takes no DIR", try: "luaws types --stdout > luaws.lua"})
		}
		stdout.Write(luatypes.Definitions)
		return ExitOK
	}
	if fs.NArg() > 1 {
		return printError(stderr, &usageError{msg: "types: one project folder at a time", try: "luaws types " + fs.Arg(0)})
	}
	dir := "."
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return printError(stderr, &usageError{msg: fmt.Sprintf("types: %s is not a folder", dir), try: "luaws types DIR, the folder that holds your scripts"})
	}
	defs := filepath.Join(dir, typesDir, luatypes.File)
	if err := os.MkdirAll(filepath.Dir(defs), 0o755); err != nil {
		return printError(stderr, fmt.Errorf("types: %w", err))
	}
	if err := os.WriteFile(defs, luatypes.Definitions, 0o644); err != nil {
		return printError(stderr, fmt.Errorf("types: %w", err))
	}
	fmt.Fprintln(stdout, "wrote", defs)
	rc := filepath.Join(dir, ".luarc.json")
	msg, err := writeLuarc(rc)
	if err != nil {
		return printError(stderr, err)
	}
	fmt.Fprintln(stdout, msg)
	return ExitOK
}

// writeLuarc makes the .luarc.json at path list typesDir in its
// workspace.library: a new file, or the user's with the entry added (its
// other settings kept, its keys then sorted). It says what it did.
func writeLuarc(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		rc := map[string]any{"runtime.version": "Lua 5.1", "workspace.library": []any{typesDir}}
		return "wrote " + path, writeJSON(path, rc)
	}
	if err != nil {
		return "", fmt.Errorf("types: %w", err)
	}
	var rc map[string]any
	if err := json.Unmarshal(b, &rc); err != nil {
		return "", &usageError{msg: fmt.Sprintf("types: %s is not plain JSON (%v), so luaws leaves it alone", path, err),
			try: fmt.Sprintf(`add "%s" to its "workspace.library" list by hand`, typesDir)}
	}
	// LuaLS takes both "workspace.library" and {"workspace": {"library"}}.
	holder, key := rc, "workspace.library"
	if ws, ok := rc["workspace"].(map[string]any); ok {
		if _, flat := rc[key]; !flat {
			holder, key = ws, "library"
		}
	}
	var lib []any
	switch l := holder[key].(type) {
	case nil:
	case []any:
		lib = l
	default:
		return "", &usageError{msg: fmt.Sprintf("types: %s: workspace.library is not a list", path),
			try: fmt.Sprintf(`make it a list that holds "%s"`, typesDir)}
	}
	if slices.ContainsFunc(lib, func(e any) bool { return e == typesDir || e == "./"+typesDir }) {
		return path + " already lists " + typesDir, nil
	}
	holder[key] = append(lib, typesDir)
	return fmt.Sprintf("updated %s: added %s to workspace.library", path, typesDir), writeJSON(path, rc)
}

// writeJSON writes v to path as indented JSON.
func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("types: %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("types: %w", err)
	}
	return nil
}
