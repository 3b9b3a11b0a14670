package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configFuzzSeeds start FuzzLoadConfig besides testdata/config/*.toml and
// testdata/fuzz/FuzzLoadConfig: the shapes that break parsers and line
// lookups (empty, bad UTF-8, NUL, CR line ends, deep nesting, huge numbers,
// keys that look like indexes, duplicates).
var configFuzzSeeds = []string{
	"",
	"\n\n\n",
	"[[mount]]\nscript = \"app.lua\"\n",
	"listen = \"127.0.0.1:0\"\n[[mount]]\npath = \"/ws\"\nscript = \"app.lua\"\nworkers = 2\nmax_message_size = \"64KiB\"\n",
	"[[mount]]\r\nscript = \"app.lua\"\r\nworkers = 0\r\n",
	"[[mount]]\nscript = \"app.lua\"\nworkers = 9223372036854775807\n",
	"[[mount]]\nscript = \"app.lua\"\nmax_message_size = 1e400\n",
	"[[mount]]\nscript = \"app.lua\"\nmax_message_size = \"99999999999999999999GiB\"\n",
	"[[mount]]\nscript = \"app.lua\"\nhandler_timeout = \"9999999999h\"\n",
	"[[mount]]\nscript = \"\xff\xfe\"\n",
	"\xff = 1\n",
	"a = \"\x00\"\n",
	"\"0\" = 1\n[[mount]]\nscript = \"app.lua\"\n",
	"[mount]\nscript = \"app.lua\"\n",
	"mount = 1\n",
	"mount = [1, 2]\n",
	"mount = [{script = \"app.lua\", path = \"/a\"}, {script = \"app.lua\", path = \"/a\"}]\n",
	"[[mount]]\nscript = \"app.lua\"\n[[mount]]\nscript = \"app.lua\"\n",
	"[[mount]]\nscript = \"app.lua\"\nmiddleware = [\"rate_limit\"]\n[mount.middleware_init.rate_limit]\nmessages_per_second = -1\n",
	"[[mount]]\nscript = \"app.lua\"\n[mount.middleware_init.\"a.b\"]\nx = 1\n",
	"static = { \"/\" = \".\" }\n[[mount]]\nscript = \"app.lua\"\npath = \"/\"\n",
	"[tls]\ncert = \"\"\nkey = \"\"\n",
	"[max_connections]\ntotal = -1\nper_addr = 1\n",
	"x = " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n",
	"x = " + strings.Repeat("{a=", 100) + "1" + strings.Repeat("}", 100) + "\n",
	"a.b.c.d.e.f.g = 1\n",
	"[[proxy]]\npath = \"/app\"\nupstream = \"http://[::1\"\n",
}

// FuzzLoadConfig: whatever bytes luaws.toml holds, loadConfig returns a
// config or a *ConfigError that names the file (and its line, when it is
// about a line of it), and never panics.
func FuzzLoadConfig(f *testing.F) {
	for _, s := range configFuzzSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("testdata/config/*.toml")
	for _, file := range files {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(src)
		}
	}
	dir := f.TempDir()
	app, err := os.ReadFile("testdata/config/app.lua")
	if err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.lua"), app, 0o644); err != nil {
		f.Fatal(err)
	}
	file := filepath.Join(dir, "luaws.toml")
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(file, src, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(file, defaultConfig())
		if err == nil {
			return
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("got a %T (%v), want a *ConfigError", err, err)
		}
		if ce.File != file || !strings.HasPrefix(err.Error(), file+":") {
			t.Fatalf("error %q does not name the file %s", err, file)
		}
		lines := bytes.Count(src, []byte("\n")) + 1
		if ce.Line < 0 || ce.Line > lines {
			t.Fatalf("error %q names line %d of a file of %d lines", err, ce.Line, lines)
		}
		if ce.Line == 0 && (ce.Key != "" && ce.Key != "mount") {
			// Only whole-file errors ("no [[mount]]") and the errors about a
			// whole [[mount]] (no script) may have no line.
			t.Fatalf("error %q about key %s has no line", err, ce.Key)
		}
	})
}
