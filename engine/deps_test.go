package engine_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeps: engine must not import the Lua VM or luar (house style §1), so
// that no engine goroutine can reach an LState.
func TestDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go tool not found: %v", err)
	}
	out, err := exec.Command(goTool, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == "/dev/null" {
		t.Fatalf("go env GOMOD: got %q, want the module's go.mod", gomod)
	}
	cmd := exec.Command(goTool, "list", "-deps", "./engine/...")
	cmd.Dir = filepath.Dir(gomod)
	out, err = cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps ./engine/...: %v\n%s", err, stderr)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatalf("go list -deps ./engine/...: no packages")
	}
	for _, dep := range deps {
		for _, banned := range []string{"github.com/yuin/gopher-lua", "layeh.com/gopher-luar"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("engine depends on %s, want no Lua packages", dep)
			}
		}
	}
}
