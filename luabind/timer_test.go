package luabind_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/luabind"
)

const timerScript = `
local M = {}
loop_runs = 0
function M.message(conn, msg)
  if msg == "after" then
    luaws.after(0.02, function(h) conn:send("fired " .. tostring(h)) end)
  elseif msg == "cancel" then
    local h = luaws.after(0.02, function() conn:send("the cancelled timer fired") end)
    local first, second = h:cancel(), h:cancel()
    luaws.after(0.05, function() conn:send("later " .. tostring(first) .. " " .. tostring(second)) end)
  elseif msg == "every" then
    local n = 0
    luaws.every(0.01, function(h)
      n = n + 1
      conn:send("tick " .. n)
      if n == 3 then
        assert(h:cancel() == true)
        luaws.after(0.05, function() conn:send("done") end)
      end
    end)
  elseif msg == "errors" then
    luaws.after(0, function() error("boom") end)
    luaws.after(0.02, function() conn:send("still here") end)
  elseif msg == "every error" then
    local n = 0
    luaws.every(0.01, function(h)
      n = n + 1
      if n == 3 then h:cancel(); conn:send("ran " .. n) end
      error("tick error")
    end)
  elseif msg == "loop" then
    luaws.every(0.01, function() loop_runs = loop_runs + 1; while true do end end)
  elseif msg == "loop runs" then
    luaws.after(0.1, function() conn:send("loop runs " .. loop_runs) end)
  elseif msg == "misuse" then
    local ok1, err1 = pcall(luaws.every, 0, function() end)
    local ok2, err2 = pcall(luaws.after, -1, function() end)
    local ok3, err3 = pcall(luaws.after, 1)
    conn:send(tostring(ok1 or ok2 or ok3))
  else
    conn:send("pong")
  end
end
return M
`

// TestTimers: luaws.after and luaws.every fire on the worker, cancel,
// survive their own errors, and a looping one is stopped and cancelled.
func TestTimers(t *testing.T) {
	tests := []struct {
		msg     string
		want    []string
		wantLog []string
	}{
		{msg: "after", want: []string{"fired timer"}},
		{msg: "cancel", want: []string{"later true false"}},
		{msg: "every", want: []string{"tick 1", "tick 2", "tick 3", "done"}},
		{msg: "errors", want: []string{"still here"}, wantLog: []string{"timer failed", lineOf(timerScript, `error("boom")`), "boom"}},
		{msg: "every error", want: []string{"ran 3"}, wantLog: []string{"timer failed", "tick error"}},
		{msg: "misuse", want: []string{"false"}},
	}
	for _, workers := range []int{1, 4} {
		for _, tt := range tests {
			t.Run(tt.msg+"/workers="+strconv.Itoa(workers), func(t *testing.T) {
				logs := &enginetest.Buffer{}
				ts := newTestServer(t, timerScript, serverOpts{workers: workers, log: logs})
				c := ts.dial(t, "")
				send(t, c, tt.msg)
				for _, want := range tt.want {
					if got := read(t, c); got != want {
						t.Fatalf("got %q, want %q", got, want)
					}
				}
				logs.WaitFor(t, tt.wantLog...)
			})
		}
	}
}

// TestTimerStopped: a timer callback that loops is stopped by the
// handler timeout, logged, and (an every timer) cancelled; the worker
// goes on.
func TestTimerStopped(t *testing.T) {
	logs := &enginetest.Buffer{}
	ts := newTestServer(t, timerScript, serverOpts{lua: luabind.Options{HandlerTimeout: 100 * time.Millisecond}, log: logs})
	c := ts.dial(t, "")
	send(t, c, "loop")
	logs.WaitFor(t, "timer stopped", lineOf(timerScript, "while true do end"), "handler_timeout")
	send(t, c, "ping")
	if got := read(t, c); got != "pong" {
		t.Fatalf("got %q, want pong", got)
	}
	send(t, c, "loop runs")
	if got := read(t, c); got != "loop runs 1" {
		t.Fatalf("got %q, want loop runs 1: the stopped every timer must be cancelled", got)
	}
}

// TestTimersFromLoad: timers made by the main chunk run in every worker
// once it serves.
func TestTimersFromLoad(t *testing.T) {
	ts := newTestServer(t, `
local ticks = 0
luaws.every(0.005, function() ticks = ticks + 1 end)
return { message = function(conn) conn:send(tostring(ticks)) end }
`, serverOpts{workers: 2})
	for range 2 { // one client per worker
		c := ts.dial(t, "")
		deadline := time.Now().Add(5 * time.Second)
		for {
			send(t, c, "ticks?")
			if n, _ := strconv.Atoi(read(t, c)); n >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the timer made at load never ran twice")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
