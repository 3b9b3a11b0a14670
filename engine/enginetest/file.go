package enginetest

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes content to path, making its directory, and returns path.
// It writes a temporary file and renames it into place, so that a watcher
// (luaws hot reload) never reads half a file.
func WriteFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}
