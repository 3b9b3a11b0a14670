package cli_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/luaws/luaws/engine/enginetest"
)

// TestStaticFiles: static files come from an os.Root: nothing outside the
// folder, through a symbolic link or "..", is served; dotfiles and
// listings are off unless turned on.
func TestStaticFiles(t *testing.T) {
	dir := t.TempDir()
	enginetest.WriteFile(t, filepath.Join(dir, "index.html"), "home\n")
	enginetest.WriteFile(t, filepath.Join(dir, "app.js"), "js\n")
	enginetest.WriteFile(t, filepath.Join(dir, ".env"), "SECRET=1\n")
	enginetest.WriteFile(t, filepath.Join(dir, ".git/config"), "[core]\n")
	enginetest.WriteFile(t, filepath.Join(dir, "docs/a.txt"), "a\n")
	enginetest.WriteFile(t, filepath.Join(dir, "docs/.hidden"), "h\n")
	outside := enginetest.WriteFile(t, filepath.Join(t.TempDir(), "secret.txt"), "outside\n")
	for link, target := range map[string]string{"etc-link": "/etc", "out.txt": outside, "in.txt": "app.js"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	script := enginetest.WriteFile(t, filepath.Join(t.TempDir(), "app.lua"), "return {}\n")

	tests := []struct {
		name  string
		flags []string
		want  map[string]int // path → status
	}{
		{"defaults", nil, map[string]int{
			"/": 200, "/app.js": 200, "/in.txt": 200,
			"/.env": 404, "/.git/config": 404, "/.git/": 404, "/docs/.hidden": 404,
			"/docs/": 404, "/etc-link/passwd": 404, "/out.txt": 404, "/../secret.txt": 404, "/%2e%2e/secret.txt": 404,
		}},
		{"dotfiles and listings on", []string{"--static-dotfiles", "--static-listing"}, map[string]int{
			"/.env": 200, "/.git/config": 200, "/docs/": 200, "/docs/.hidden": 200,
			"/etc-link/passwd": 404, "/out.txt": 404,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServe(t, append(append([]string{"--static", dir}, tt.flags...), script)...)
			for path, want := range tt.want {
				resp, body := enginetest.Do(t, http.MethodGet, base(s.URL)+path, nil, nil)
				if resp.StatusCode != want {
					t.Errorf("GET %s: got %d %q, want %d", path, resp.StatusCode, body, want)
				}
			}
		})
	}
}
