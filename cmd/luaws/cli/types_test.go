package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/luaws/luaws/luabind/luatypes"
)

// TestTypes drives luaws types over a project folder with and without a
// .luarc.json of its own.
func TestTypes(t *testing.T) {
	tests := []struct {
		name     string
		luarc    string // "" = none
		wantOut  string
		wantRC   map[string]any // nil: the file is left as it was
		wantCode int
	}{
		{"no luarc", "", "wrote ", map[string]any{"runtime.version": "Lua 5.1", "workspace.library": []any{".luaws"}}, ExitOK},
		{"flat luarc", `{"diagnostics.globals": ["x"], "workspace.library": ["lib"]}`, "added .luaws",
			map[string]any{"diagnostics.globals": []any{"x"}, "workspace.library": []any{"lib", ".luaws"}}, ExitOK},
		{"nested luarc", `{"workspace": {"checkThirdParty": false}}`, "added .luaws",
			map[string]any{"workspace": map[string]any{"checkThirdParty": false, "library": []any{".luaws"}}}, ExitOK},
		{"already listed", `{"workspace.library": ["./.luaws"]}`, "already lists .luaws", nil, ExitOK},
		{"comments", "{\n  // mine\n}", "", nil, ExitBadInput},
		{"library not a list", `{"workspace.library": "lib"}`, "", nil, ExitBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rcPath := filepath.Join(dir, ".luarc.json")
			if tt.luarc != "" {
				if err := os.WriteFile(rcPath, []byte(tt.luarc), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			if code := Main(t.Context(), []string{"types", dir}, &stdout, &stderr); code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if tt.wantCode != ExitOK {
				if !strings.Contains(stderr.String(), ".luarc.json") || !strings.Contains(stderr.String(), "try:") {
					t.Errorf("stderr %q, want it to name .luarc.json and say what to do", stderr.String())
				}
			} else if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tt.wantOut)
			}
			defs, err := os.ReadFile(filepath.Join(dir, ".luaws", "luaws.lua"))
			if err != nil || !bytes.Equal(defs, luatypes.Definitions) {
				t.Errorf("DIR/.luaws/luaws.lua is not the definitions (err %v)", err)
			}
			b, err := os.ReadFile(rcPath)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantRC == nil {
				if string(b) != tt.luarc {
					t.Errorf(".luarc.json changed to %s, want it left as it was", b)
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.wantRC) {
				t.Errorf(".luarc.json is %v, want %v", got, tt.wantRC)
			}
		})
	}
}

// TestTypesArgs checks --stdout and the arguments luaws types refuses.
func TestTypesArgs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "chat.lua")
	if err := os.WriteFile(file, []byte("return {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"stdout", []string{"--stdout"}, ExitOK, ""},
		{"stdout with dir", []string{"--stdout", "."}, ExitBadInput, "takes no DIR"},
		{"two dirs", []string{"a", "b"}, ExitBadInput, "one project folder"},
		{"missing dir", []string{filepath.Join(t.TempDir(), "nope")}, ExitBadInput, "is not a folder"},
		{"a file", []string{file}, ExitBadInput, "is not a folder"},
		{"bad flag", []string{"--nope"}, ExitBadInput, "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(t.Context(), append([]string{"types"}, tt.args...), &stdout, &stderr); code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.wantErr)
			}
			if tt.wantCode == ExitOK && !bytes.Equal(stdout.Bytes(), luatypes.Definitions) {
				t.Errorf("--stdout printed %d bytes, want the %d of the definitions", stdout.Len(), len(luatypes.Definitions))
			}
		})
	}
}
