package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/luaws/luaws/cmd/luaws/cli"
)

// TestTestExamples runs every example's *_test.lua, so that they keep
// passing with the scripts they test.
func TestTestExamples(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := cli.Main(t.Context(), []string{"test", "../../../examples"}, &stdout, &stderr)
	if code != cli.ExitOK {
		t.Fatalf("luaws test examples/: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, ex := range []string{"auth", "chat", "echo", "rpc", "ticker"} {
		if !strings.Contains(stdout.String(), "ok\t../../../examples/"+ex+"/"+ex+"_test.lua") {
			t.Errorf("examples/%s/%s_test.lua did not run:\n%s", ex, ex, stdout.String())
		}
	}
}

// elapsed matches the durations of go test-like output.
var elapsed = regexp.MustCompile(`\([0-9.]+s\)|\t[0-9.]+s$`)

// TestTestFailures checks the report of failing tests against
// testdata/scripttest/fail.golden: the file:line of each failure, the
// differences of t.eq, a test file that does not compile, a script that
// does not compile, a test that hangs, and the summary.
func TestTestFailures(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := cli.Main(t.Context(), []string{"test", "--timeout", "1s", "testdata/scripttest/fail"}, &stdout, &stderr)
	if code != cli.ExitFailure {
		t.Errorf("exit %d, want %d; stderr: %s", code, cli.ExitFailure, stderr.String())
	}
	var got strings.Builder
	for _, line := range strings.SplitAfter(stdout.String(), "\n") {
		got.WriteString(elapsed.ReplaceAllStringFunc(strings.TrimSuffix(line, "\n"), func(s string) string {
			if strings.HasPrefix(s, "\t") {
				return "\tELAPSED"
			}
			return "(ELAPSED)"
		}))
		if strings.HasSuffix(line, "\n") {
			got.WriteString("\n")
		}
	}
	golden := filepath.Join("testdata", "scripttest", "fail.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("luaws test output:\n%s\nwant (%s):\n%s", got.String(), golden, want)
	}
}

// TestTestFlags checks --run, -v and --json.
func TestTestFlags(t *testing.T) {
	dir := "testdata/scripttest/fail/fail_test.lua"
	tests := []struct {
		name string
		args []string
		code int
		want []string
		not  []string
	}{
		{"run", []string{"--run", "^test_pass"}, cli.ExitOK, []string{"1 passed, 0 failed"}, []string{"test_diff"}},
		{"verbose", []string{"-v", "--run", "passes|diff"}, cli.ExitFailure,
			[]string{"=== RUN   test_passes", "--- PASS: test_passes", "--- FAIL: test_diff", "1 passed, 1 failed"}, nil},
		{"bad run", []string{"--run", "("}, cli.ExitBadInput, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli.Main(t.Context(), append(append([]string{"test"}, tt.args...), dir), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.not {
				if strings.Contains(stdout.String(), w) {
					t.Errorf("output has %q:\n%s", w, stdout.String())
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := cli.Main(t.Context(), []string{"test", "--json", "--run", "passes|diff", dir}, &stdout, &stderr)
		if code != cli.ExitFailure {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
		actions := map[string]string{}
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			var ev struct{ Action, Package, Test, Output string }
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("not one JSON event per line: %q: %v", sc.Text(), err)
			}
			if ev.Test != "" && ev.Action != "output" && ev.Action != "run" {
				actions[ev.Test] = ev.Action
			}
		}
		if actions["test_passes"] != "pass" || actions["test_diff"] != "fail" {
			t.Errorf("got actions %v, want test_passes pass and test_diff fail", actions)
		}
	})
}
