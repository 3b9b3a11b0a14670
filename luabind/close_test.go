package luabind_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// closeScript logs one "close handler" line per close handler run, and
// does on each message what the message says.
const closeScript = `local M = {}

function M.message(conn, msg)
  if msg == "close" then
    conn:close(4000, "bye")
  elseif msg == "raise" then
    error("boom")
  elseif msg == "flood" then
    local big = string.rep("x", 64 * 1024)
    for i = 1, 100000 do
      local ok, err = conn:send(big)
      if not ok then
        luaws.log.info("flood stopped", "sent", i - 1, "why", err)
        return
      end
    end
  else
    conn:send(msg)
  end
end

function M.close(conn, code, reason)
  luaws.log.info("close handler", "id", conn.id, "code", code, "reason", reason)
end

return M
`

// closeLine is how closeScript logs the close handler of conn id with code.
func closeLine(id, code int) string {
	return fmt.Sprintf("line=23 id=%d code=%d", id, code)
}

// pump reads c in a goroutine, so that it answers pings and close frames,
// and hands on each data message; the channel closes when c does.
func pump(c *websocket.Conn) <-chan string {
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			ch <- string(data)
		}
	}()
	return ch
}

// shutdown stops ts now and fails if it takes too long.
func shutdown(t *testing.T, ts *testServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Server.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestCloseHandlerRunsOnce ends a connection in each way there is and
// checks that the close handler ran exactly once, with the right code,
// and that another client of the same server was not disturbed.
func TestCloseHandlerRunsOnce(t *testing.T) {
	tests := []struct {
		name     string
		json     bool // serializer json
		mount    engine.MountConfig
		end      func(t *testing.T, ts *testServer, c, other *websocket.Conn)
		wantCode int
		wantText string // in the close handler's log line
	}{
		{
			name: "peer close",
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				closeNormally(t, c, 4001, "see you")
			},
			wantCode: 4001, wantText: `reason="see you"`,
		},
		{
			name: "peer vanishes",
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				c.NetConn().Close()
			},
			wantCode: websocket.CloseAbnormalClosure,
		},
		{
			name: "conn:close",
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				send(t, c, "close")
				if code, reason := readClose(t, c); code != 4000 || reason != "bye" {
					t.Fatalf("client: got close %d %q, want 4000 \"bye\"", code, reason)
				}
			},
			wantCode: 4000, wantText: "reason=bye",
		},
		{
			name:  "conn:close, client silent",
			mount: engine.MountConfig{CloseTimeout: 100 * time.Millisecond},
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				send(t, c, "close") // and never read, so never answer the close frame
			},
			wantCode: 4000, wantText: "reason=bye",
		},
		{
			name: "script error",
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				send(t, c, "raise")
				if code, _ := readClose(t, c); code != websocket.CloseInternalServerErr {
					t.Fatalf("client: got close %d, want 1011", code)
				}
			},
			wantCode: websocket.CloseInternalServerErr,
		},
		{
			name:  "message too big",
			mount: engine.MountConfig{MaxMessageSize: 1024},
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				send(t, c, strings.Repeat("x", 1025))
				if code, _ := readClose(t, c); code != websocket.CloseMessageTooBig {
					t.Fatalf("client: got close %d, want 1009", code)
				}
			},
			wantCode: websocket.CloseMessageTooBig,
		},
		{
			name: "invalid utf-8",
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				send(t, c, "ok \xff\xfe")
				if code, _ := readClose(t, c); code != websocket.CloseInvalidFramePayloadData {
					t.Fatalf("client: got close %d, want 1007", code)
				}
			},
			wantCode: websocket.CloseInvalidFramePayloadData,
		},
		{
			name: "malformed JSON",
			json: true,
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				send(t, c, "{oops")
				if code, _ := readClose(t, c); code != websocket.CloseInvalidFramePayloadData {
					t.Fatalf("client: got close %d, want 1007", code)
				}
			},
			wantCode: websocket.CloseInvalidFramePayloadData, wantText: "invalid JSON",
		},
		{
			name:  "slow consumer",
			mount: engine.MountConfig{SendQueueSize: 8},
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				send(t, c, "flood") // and never read while the script floods
			},
			wantCode: websocket.ClosePolicyViolation, wantText: `reason="send queue full"`,
		},
		{
			name:  "dead peer",
			mount: engine.MountConfig{PingInterval: 50 * time.Millisecond, PongTimeout: 500 * time.Millisecond},
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				// A client that never reads never answers a ping.
			},
			wantCode: websocket.CloseAbnormalClosure, wantText: "pong",
		},
		{
			name: "shutdown",
			end: func(t *testing.T, ts *testServer, c, other *websocket.Conn) {
				done := make(chan struct{})
				go func() { defer close(done); shutdown(t, ts) }()
				if code, _ := readClose(t, c); code != websocket.CloseGoingAway {
					t.Errorf("client: got close %d, want 1001", code)
				}
				<-done
			},
			wantCode: websocket.CloseGoingAway, wantText: `reason="server shutting down"`,
		},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			var log enginetest.Buffer
			o := serverOpts{mount: tt.mount, log: &log}
			hello := "hello"
			if tt.json {
				o.serializer, hello = "json", `"hello"`
			}
			ts := newTestServer(t, closeScript, o)
			c := ts.dial(t, "")
			other := ts.dial(t, "")
			otherMsgs := pump(other) // keeps answering pings and close frames
			send(t, c, hello)        // conn 1 is open and served
			if got := read(t, c); got != hello {
				t.Fatalf("got %q, want %s", got, hello)
			}
			tt.end(t, ts, c, other)
			want := closeLine(1, tt.wantCode)
			log.WaitFor(t, want)
			if tt.name != "shutdown" {
				// Everybody else is fine.
				still := "still here"
				if tt.json {
					still = `"still here"`
				}
				send(t, other, still)
				if got := <-otherMsgs; got != still {
					t.Fatalf("other client: got %q, want \"still here\"", got)
				}
				if l := log.Lines(`line=23 id=2 `); len(l) != 0 {
					t.Fatalf("other client's close handler ran:\n%s", log.String())
				}
				if err := other.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
				log.WaitFor(t, closeLine(2, websocket.CloseNormalClosure))
				shutdown(t, ts)
			}
			// Shutdown has waited for every close handler: count them now.
			if n := len(log.Lines(`line=23 id=1 `)); n != 1 {
				t.Fatalf("close handler of conn 1 ran %d times, want once:\n%s", n, log.String())
			}
			if n := len(log.Lines(`line=23 id=2 `)); n != 1 {
				t.Fatalf("close handler of conn 2 ran %d times, want once:\n%s", n, log.String())
			}
			if tt.wantText != "" {
				l := log.Lines(want)[0]
				if !strings.Contains(l, tt.wantText) {
					t.Errorf("close handler line: got %s, want it to contain %s", l, tt.wantText)
				}
			}
			// Whatever the client still reads ends the connection; a close
			// frame, if one made it, carries the code the handler saw.
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				_, _, err := c.ReadMessage()
				if err == nil {
					continue
				}
				var ce *websocket.CloseError
				if errors.As(err, &ce) && ce.Code != tt.wantCode && ce.Code != websocket.CloseAbnormalClosure {
					t.Errorf("client: got close %d, want %d", ce.Code, tt.wantCode)
				}
				break
			}
		})
	}
}

// TestSlowConsumer floods one client that never reads with broadcasts while
// another client reads them: the first is closed with 1008 and its close
// handler runs; the second gets every message.
func TestSlowConsumer(t *testing.T) {
	var log enginetest.Buffer
	ts := newTestServer(t, `
local M = {}
local big = string.rep("x", 256 * 1024)
function M.message(conn, msg)
  local n = luaws.broadcast(msg .. big)
  conn:send("sent to " .. n)
end
function M.close(conn, code, reason)
  luaws.log.info("close handler", "id", conn.id, "code", code, "reason", reason)
end
return M
`, serverOpts{mount: engine.MountConfig{SendQueueSize: 16}, log: &log})
	lazy := ts.dial(t, "") // never reads
	reader := ts.dial(t, "")
	const maxTicks = 1000 // 250 MiB to the reader at most; the lazy one gives up after some MiB
	tick := 0
	for ; tick < maxTicks; tick++ {
		send(t, reader, strconv.Itoa(tick))
		if got := read(t, reader); !strings.HasPrefix(got, strconv.Itoa(tick)+"xxx") {
			t.Fatalf("reader: got %.20q, want broadcast %d", got, tick)
		}
		got := read(t, reader)
		if got == "sent to 1" {
			break // the lazy client is gone
		}
		if got != "sent to 2" {
			t.Fatalf("reader: got %q, want \"sent to 2\"", got)
		}
	}
	if tick == maxTicks {
		t.Fatalf("the lazy client was not closed after %d broadcasts of 256 KiB", maxTicks)
	}
	t.Logf("the lazy client was closed after %d broadcasts of 256 KiB", tick)
	log.WaitFor(t, `line=9 id=1 code=1008 reason="send queue full"`)
	if l := log.Lines("line=9 id=2 "); len(l) != 0 {
		t.Fatalf("the reader's close handler ran: %s", l)
	}
	_ = lazy
}

// TestShutdownClosesEveryone shuts the server down under several clients:
// each gets 1001, and every close handler has run when Shutdown returns.
func TestShutdownClosesEveryone(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { testShutdownClosesEveryone(t, workers) })
	}
}

func testShutdownClosesEveryone(t *testing.T, workers int) {
	var log enginetest.Buffer
	ts := newTestServer(t, `
local M = {}
function M.open(conn) conn:send("hi") end
function M.close(conn, code, reason)
  luaws.log.info("close handler", "id", conn.id, "code", code, "left", #luaws.connections())
end
return M
`, serverOpts{workers: workers, log: &log})
	const n = 5
	codes := make(chan int, n)
	for range n {
		c := ts.dial(t, "")
		if got := read(t, c); got != "hi" {
			t.Fatalf("got %q, want hi", got)
		}
		go func() {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				codes <- ce.Code
				return
			}
			codes <- -1
		}()
	}
	shutdown(t, ts)
	// No waiting: Shutdown returned after every close handler.
	if got := len(log.Lines(`msg="close handler"`)); got != n {
		t.Fatalf("close handlers run when Shutdown returned: got %d, want %d\n%s", got, n, log.String())
	}
	if got := len(log.Lines("code=1001")); got < n {
		t.Errorf("close handlers with 1001: got %d, want %d\n%s", got, n, log.String())
	}
	for range n {
		if code := <-codes; code != websocket.CloseGoingAway {
			t.Errorf("client: got close %d, want 1001", code)
		}
	}
	// New clients are turned away.
	if _, resp, err := websocket.DefaultDialer.Dial(ts.URL, nil); err == nil {
		t.Fatal("dial after shutdown: got a connection, want an error")
	} else if resp != nil {
		resp.Body.Close()
	}
}

// TestCloseRaces ends 40 connections in overlapping ways at once (the
// script closes while the client closes, a handler raises while the socket
// drops, a flood meets a client close, shutdown meets all of it): every
// close handler still runs exactly once.
func TestCloseRaces(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { testCloseRaces(t, workers) })
	}
}

func testCloseRaces(t *testing.T, workers int) {
	var log enginetest.Buffer
	ts := newTestServer(t, closeScript, serverOpts{workers: workers, mount: engine.MountConfig{SendQueueSize: 4, CloseTimeout: 200 * time.Millisecond}, log: &log})
	const n = 40
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = ts.dial(t, "")
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			bye := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			switch i % 4 {
			case 0:
				_ = c.WriteMessage(websocket.TextMessage, []byte("close"))
				_ = c.WriteControl(websocket.CloseMessage, bye, time.Now().Add(time.Second))
			case 1:
				_ = c.WriteMessage(websocket.TextMessage, []byte("raise"))
				c.NetConn().Close()
			case 2:
				_ = c.WriteMessage(websocket.TextMessage, []byte("flood"))
				_ = c.WriteControl(websocket.CloseMessage, bye, time.Now().Add(time.Second))
			case 3:
				// left for shutdown, not reading: its close frame times out
			}
		})
	}
	shutdown(t, ts) // while the others are at it
	wg.Wait()
	for id := 1; id <= n; id++ {
		if got := len(log.Lines(fmt.Sprintf("line=23 id=%d ", id))); got != 1 {
			t.Errorf("close handler of conn %d: ran %d times, want once", id, got)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", log.String())
	}
}
