package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
)

// soakEnv names how long TestSoak loads the server, e.g. LUAWS_SOAK=10m;
// unset, the test is skipped. Run it without -race, on a quiet machine:
//
//	LUAWS_SOAK=10m nice go test ./cmd/luaws/cli/ -run TestSoak -v -timeout 20m
const soakEnv = "LUAWS_SOAK"

// soakScript echoes, broadcasts what starts with "b:" and counts messages
// in luaws.shared; VERSION is rewritten to reload it.
const soakScript = `-- VERSION %d
local M = {}
function M.open(conn) luaws.shared:incr("opens") end
function M.message(conn, msg)
  if msg:sub(1, 2) == "b:" then
    luaws.broadcast(msg, conn)
  else
    conn:send(msg)
  end
end
function M.close(conn) luaws.shared:incr("closes") end
return M
`

// soakSample is one reading of the server's /metrics.
type soakSample struct {
	rss        float64 // process_resident_memory_bytes
	goroutines float64 // go_goroutines
	conns      float64 // luaws_connections
	reloads    float64 // luaws_reloads_total
	heap       float64 // go_memstats_heap_inuse_bytes
}

// readEcho returns the next message that is not another client's
// broadcast.
func readEcho(ws *websocket.Conn) (string, error) {
	for {
		_, got, err := ws.ReadMessage()
		if err != nil || !strings.HasPrefix(string(got), "b:") {
			return string(got), err
		}
	}
}

// TestSoak drives a real `luaws serve` (this test binary run as luaws, a
// child process of its own, so that its RSS is the server's alone) for
// $LUAWS_SOAK: clients that connect, echo, broadcast and go (half of them
// with a close frame, half by a reset), listeners that read every
// broadcast, and a rewrite of the script every few seconds, which the
// server reloads. After the load it waits for the server to settle and
// checks that RSS and goroutines are back within 10 % of the start.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv(soakEnv))
	if err != nil || d <= 0 {
		t.Skipf("set %s to a duration (e.g. 10m) to run the soak", soakEnv)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "soak.lua")
	version := 0
	writeScript := func() {
		version++
		tmp := script + ".tmp"
		enginetest.WriteFile(t, tmp, fmt.Sprintf(soakScript, version))
		if err := os.Rename(tmp, script); err != nil {
			t.Fatal(err)
		}
	}
	writeScript()

	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--log-level", "warn", "--workers", "2", script)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("luaws serve: %v", err)
			}
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			t.Errorf("luaws serve did not stop within %v", stopTimeout)
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
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var url string
	select {
	case url = <-lines:
	case <-time.After(startTimeout):
		t.Fatalf("no listening line within %v", startTimeout)
	}
	metricsURL := "http" + strings.TrimSuffix(strings.TrimPrefix(url, "ws"), "/ws") + "/metrics"
	sample := func() soakSample {
		t.Helper()
		resp, err := http.Get(metricsURL)
		if err != nil {
			t.Fatalf("metrics: %v", err)
		}
		defer resp.Body.Close()
		var s soakSample
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			name, value, ok := strings.Cut(sc.Text(), " ")
			if !ok || strings.HasPrefix(name, "#") {
				continue
			}
			v, _ := strconv.ParseFloat(value, 64)
			switch {
			case name == "process_resident_memory_bytes":
				s.rss = v
			case name == "go_memstats_heap_inuse_bytes":
				s.heap = v
			case name == "go_goroutines":
				s.goroutines = v
			case strings.HasPrefix(name, "luaws_connections"):
				s.conns += v
			case strings.HasPrefix(name, "luaws_reloads_total"):
				s.reloads += v
			}
		}
		return s
	}

	dialer := &websocket.Dialer{HandshakeTimeout: enginetest.Timeout}
	settle := func(want func(soakSample) bool) soakSample {
		deadline := time.Now().Add(90 * time.Second)
		for {
			s := sample()
			if want(s) || time.Now().After(deadline) {
				return s
			}
			time.Sleep(time.Second) // polling the server with a deadline
		}
	}
	var cycles, echoes, broadcasts, received, failures atomic.Int64
	var peak soakSample
	// run loads the server for d.
	run := func(d time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var wg sync.WaitGroup
		// Listeners: connected for a while, reading every broadcast, then
		// replaced.
		for range 20 {
			wg.Go(func() {
				for ctx.Err() == nil {
					ws, _, err := dialer.Dial(url, nil)
					if err != nil {
						failures.Add(1)
						time.Sleep(100 * time.Millisecond) // the server is busy: back off
						continue
					}
					until := time.Now().Add(time.Duration(5+rand.IntN(10)) * time.Second)
					for time.Now().Before(until) && ctx.Err() == nil {
						_ = ws.SetReadDeadline(time.Now().Add(time.Second))
						if _, _, err := ws.ReadMessage(); err != nil {
							break // a quiet second (which leaves the conn unusable), or the server closed it: reconnect
						}
						received.Add(1)
					}
					_ = ws.Close()
				}
			})
		}
		// Clients: connect, echo, broadcast, go.
		for range 8 {
			wg.Go(func() {
				payload := make([]byte, 1024)
				for ctx.Err() == nil {
					ws, _, err := dialer.Dial(url, nil)
					if err != nil {
						failures.Add(1)
						time.Sleep(100 * time.Millisecond)
						continue
					}
					_ = ws.SetReadDeadline(time.Now().Add(enginetest.Timeout))
					for i := range 1 + rand.IntN(20) {
						msg := strconv.Itoa(i) + string(payload[:rand.IntN(len(payload))])
						if ws.WriteMessage(websocket.TextMessage, []byte(msg)) != nil {
							failures.Add(1)
							break
						}
						got, err := readEcho(ws)
						if err != nil || got != msg {
							failures.Add(1)
							break
						}
						echoes.Add(1)
					}
					if ws.WriteMessage(websocket.TextMessage, []byte("b:"+strconv.Itoa(rand.IntN(1e6)))) == nil {
						broadcasts.Add(1)
					}
					if rand.IntN(2) == 0 {
						_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
					} else if tc, ok := ws.NetConn().(*net.TCPConn); ok {
						_ = tc.SetLinger(0) // a reset
					}
					_ = ws.Close()
					cycles.Add(1)
				}
			})
		}
		// Reloads, and the samples.
		tick := time.NewTicker(5 * time.Second)
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-tick.C:
				writeScript()
				s := sample()
				peak.rss, peak.goroutines = max(peak.rss, s.rss), max(peak.goroutines, s.goroutines)
			}
		}
		tick.Stop()
		wg.Wait()
	}
	// A warm-up of the same load, so that the start is a server that has
	// run every path once (its code paged in, its pools and caches made).
	warm := min(max(d/20, 5*time.Second), 30*time.Second)
	run(warm)
	settle(func(s soakSample) bool { return s.conns == 0 })
	time.Sleep(5 * time.Second) // the server's quiet-time collection (cli/gc.go) runs
	start := sample()
	startRSS := rssOf(t, cmd.Process.Pid)
	t.Logf("start (after %v of warm-up): rss %.1f MiB (%s), heap %.1f MiB, %v goroutines", warm, start.rss/(1<<20), startRSS, start.heap/(1<<20), start.goroutines)
	cycles.Store(0)
	echoes.Store(0)
	broadcasts.Store(0)
	received.Store(0)
	failures.Store(0)
	peak = start
	run(d)
	loaded := sample()

	end := settle(func(s soakSample) bool {
		return s.conns == 0 && s.goroutines <= start.goroutines*1.1 && s.rss <= start.rss*1.1
	})
	t.Logf("load: %v, %d connect/close cycles, %d echoes, %d broadcasts, %d broadcast deliveries read, %d reloads, %d failures",
		d, cycles.Load(), echoes.Load(), broadcasts.Load(), received.Load(), int(loaded.reloads-start.reloads), failures.Load())
	t.Logf("end: rss %s", rssOf(t, cmd.Process.Pid))
	t.Logf("rss: start %.1f MiB, peak %.1f MiB, end %.1f MiB (end/start %.2f)", start.rss/(1<<20), peak.rss/(1<<20), end.rss/(1<<20), end.rss/start.rss)
	t.Logf("heap in use: start %.1f MiB, end %.1f MiB", start.heap/(1<<20), end.heap/(1<<20))
	t.Logf("goroutines: start %v, peak %v, end %v (end/start %.2f)", start.goroutines, peak.goroutines, end.goroutines, end.goroutines/start.goroutines)
	if end.conns != 0 {
		t.Errorf("connections after the load: got %v, want 0", end.conns)
	}
	if end.rss > start.rss*1.1 {
		t.Errorf("rss after the load: got %.1f MiB, want within 10%% of the start (%.1f MiB)", end.rss/(1<<20), start.rss/(1<<20))
	}
	if end.goroutines > start.goroutines*1.1 {
		t.Errorf("goroutines after the load: got %v, want within 10%% of the start (%v)", end.goroutines, start.goroutines)
	}
	if loaded.reloads-start.reloads < 1 {
		t.Errorf("reloads: got none, want one per script rewrite")
	}
}

// rssOf returns the RssAnon and RssFile lines of /proc/PID/status: what
// the process allocated, and the pages of its binary it has touched.
func rssOf(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "RssAnon:") || strings.HasPrefix(l, "RssFile:") {
			parts = append(parts, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(parts, ", ")
}
