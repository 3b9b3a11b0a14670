package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// autobahnGroups are the cases a plain run takes: groups 1-10, about 30 s.
// Groups 12 and 13 (permessage-deflate, 1,000 messages a case) take about
// 25 minutes: LUAWS_AUTOBAHN_CASES="*" runs all 517 cases.
const autobahnGroups = "1.*,2.*,3.*,4.*,5.*,6.*,7.*,8.*,9.*,10.*"

// TestAutobahn runs the Autobahn|Testsuite fuzzing client (its copy in
// ../shared/autobahn beside the repository, or LUAWS_AUTOBAHN_DIR) against
// `luaws serve examples/echo/echo.lua` with compression on and fails listing
// every case whose behavior, or close behavior, is not OK, INFORMATIONAL
// (close codes, recorded only) or UNIMPLEMENTED. It skips when the suite
// or Debian's python3-autobahn and python3-twisted are missing, unless
// LUAWS_REQUIRE_AUTOBAHN=1 (.ci/run), and then fails.
// LUAWS_AUTOBAHN_CASES chooses the cases (comma-separated patterns, "*"
// for all; the default is groups 1-10).
func TestAutobahn(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	suite := autobahnSuite(t)
	cases, excludes := autobahnGroups, "12.*,13.*"
	if c := os.Getenv("LUAWS_AUTOBAHN_CASES"); c != "" {
		cases, excludes = c, ""
	}
	url := startChildServe(t, "--compression", "--max-message-size", "16MiB", "--ping-interval", "0",
		"--log-level", "error", filepath.Join("..", "..", "..", "examples", "echo", "echo.lua"))

	out, err := os.MkdirTemp("", "luaws-autobahn-") // kept when the test fails
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(out)
		}
	})
	limit := 300
	if cases != autobahnGroups {
		limit = 3600
	}
	cmd := exec.Command("bash", filepath.Join(suite, "run-fuzzingclient.sh"), "-s", suite, "-u", url,
		"-a", "luaws", "-c", cases, "-x", excludes, "-o", out, "-t", strconv.Itoa(limit))
	output, err := cmd.CombinedOutput()
	t.Logf("fuzzing client:\n%s", output)
	if code := cmd.ProcessState.ExitCode(); err != nil && code != 1 { // 1: some case FAILED, listed below
		t.Fatalf("run-fuzzingclient.sh: %v (exit %d); see %s/wstest.log", err, code, out)
	}

	bad, counts := autobahnVerdicts(t, filepath.Join(out, "reports", "index.json"))
	t.Logf("behaviors: %v", counts)
	if len(bad) > 0 {
		t.Errorf("%d Autobahn cases are not OK (the reports are in %s):\n%s", len(bad), out, strings.Join(bad, "\n"))
	}
}

// startChildServe builds luaws (without -race, which would slow the
// server past the suite's closing-handshake timeouts in group 9) and
// runs `luaws serve --listen 127.0.0.1:0 args...` as a child process
// until the test ends; it returns the URL of its "listening on" line.
func startChildServe(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "luaws")
	build := exec.Command("go", "build", "-o", bin, "github.com/luaws/luaws/cmd/luaws")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = t.Output()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("luaws serve: %v", err)
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "luaws listening on "); ok {
				lines <- rest
			}
		}
		close(lines)
	}()
	select {
	case url, ok := <-lines:
		if !ok {
			t.Fatal("luaws serve exited before its listening line")
		}
		return url
	case <-time.After(startTimeout):
		t.Fatalf("no listening line from luaws serve within %v", startTimeout)
		return ""
	}
}

// autobahnSuite returns the suite's directory, or skips (fails with
// LUAWS_REQUIRE_AUTOBAHN=1) when it or its Python packages are missing.
func autobahnSuite(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		msg := what + ": apt-get install python3-twisted python3-autobahn python3-jinja2 python3-openssl python3-service-identity, and put the suite in ../shared/autobahn or LUAWS_AUTOBAHN_DIR"
		if os.Getenv("LUAWS_REQUIRE_AUTOBAHN") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	suite := os.Getenv("LUAWS_AUTOBAHN_DIR")
	if suite == "" {
		root, err := filepath.Abs(filepath.Join("..", "..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		suite = filepath.Join(filepath.Dir(root), "shared", "autobahn")
	}
	if _, err := os.Stat(filepath.Join(suite, "run-fuzzingclient.sh")); err != nil {
		missing("no Autobahn suite at " + suite)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		missing("no bash")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import autobahn, twisted").Run(); err != nil {
		missing("/usr/bin/python3 cannot import autobahn and twisted")
	}
	return suite
}

// autobahnVerdicts reads the suite's index.json: the cases that are not
// fine, one line each, and the count of each behavior.
func autobahnVerdicts(t *testing.T, index string) (bad []string, counts map[string]int) {
	t.Helper()
	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatalf("no report: %v", err)
	}
	var agents map[string]map[string]struct {
		Behavior        string `json:"behavior"`
		BehaviorClose   string `json:"behaviorClose"`
		RemoteCloseCode *int   `json:"remoteCloseCode"`
		ReportFile      string `json:"reportfile"`
	}
	if err := json.Unmarshal(b, &agents); err != nil {
		t.Fatalf("%s: %v", index, err)
	}
	fine := []string{"OK", "INFORMATIONAL", "UNIMPLEMENTED"}
	counts = map[string]int{}
	for _, cases := range agents {
		for id, c := range cases {
			counts[c.Behavior]++
			if !slices.Contains(fine, c.Behavior) || !slices.Contains(fine, c.BehaviorClose) {
				code := "none"
				if c.RemoteCloseCode != nil {
					code = strconv.Itoa(*c.RemoteCloseCode)
				}
				bad = append(bad, fmt.Sprintf("  %s: behavior %s, close %s, server's close code %s (%s)", id, c.Behavior, c.BehaviorClose, code, c.ReportFile))
			}
		}
	}
	if len(counts) == 0 {
		t.Fatalf("%s lists no cases", index)
	}
	sort.Slice(bad, func(i, j int) bool { return caseLess(bad[i], bad[j]) })
	return bad, counts
}

// caseLess orders "  1.2.10: ..." lines by case number.
func caseLess(a, b string) bool {
	num := func(s string) []int {
		id, _, _ := strings.Cut(strings.TrimSpace(s), ":")
		var n []int
		for p := range strings.SplitSeq(id, ".") {
			v, _ := strconv.Atoi(p)
			n = append(n, v)
		}
		return n
	}
	return slices.Compare(num(a), num(b)) < 0
}
