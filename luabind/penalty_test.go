package luabind_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/luabind"
)

// TestRunawayAddressBanned: ten connections from one address, each
// sending the message that makes its handler loop. After BanAfterStops
// stops the address is banned: its other open connections are closed with
// 1008 at their next message without the handler running (so the worker
// is not held again), its handshakes are refused with 429, the ban is
// logged and counted. With bans off every loop runs to the timeout.
func TestRunawayAddressBanned(t *testing.T) {
	tests := []struct {
		name     string
		duration time.Duration
		wantStop int // handlers stopped before the ban
	}{
		{"banned after three stops", 0, 3},
		{"bans off", -1, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &enginetest.Buffer{}
			ts := newTestServer(t, misbehaving, serverOpts{workers: 1, log: logs, lua: luabind.Options{
				HandlerTimeout: 50 * time.Millisecond,
				BanAfterStops:  3,
				BanDuration:    tt.duration,
			}})
			conns := make([]*websocket.Conn, 10)
			for i := range conns {
				conns[i] = ts.dial(t, "")
			}
			for i, c := range conns {
				send(t, c, "loop")
				want := websocket.CloseInternalServerErr
				if i >= tt.wantStop {
					want = websocket.ClosePolicyViolation
				}
				if code, _ := readClose(t, c); code != want {
					t.Fatalf("connection %d: close code %d, want %d", i, code, want)
				}
			}
			if got := ts.Script.ScriptStats().LuaErrors; got != uint64(tt.wantStop) {
				t.Fatalf("%d handlers failed, want %d", got, tt.wantStop)
			}
			c, resp, body := enginetest.Handshake(t, websocket.DefaultDialer, ts.URL, nil)
			st := ts.Script.ScriptStats()
			if tt.duration < 0 {
				if c == nil {
					t.Fatalf("bans off: handshake refused with %d %q", resp.StatusCode, body)
				}
				if st.Bans != 0 || st.BanRefusals != 0 {
					t.Fatalf("bans off: %d bans, %d refusals", st.Bans, st.BanRefusals)
				}
				return
			}
			if c != nil {
				t.Fatal("banned address: handshake accepted")
			}
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("banned address: handshake status %d, want 429", resp.StatusCode)
			}
			logs.WaitFor(t, "client address banned", "remote_addr=127.0.0.1")
			if st.Bans != 1 || st.BanRefusals != 8 {
				t.Fatalf("%d bans, %d refusals; want 1 and 8 (7 messages, 1 handshake)", st.Bans, st.BanRefusals)
			}
		})
	}
}

// TestRunawayBurstBounded: ten connections from one address send the
// looping message at once, so that nine wait in the one worker's queue
// behind the first. The ban, checked again when a queued message's turn
// comes, bounds the stall: BanAfterStops handlers are stopped, the other
// connections are closed with 1008 without their handler running.
func TestRunawayBurstBounded(t *testing.T) {
	const conns, banAfter = 10, 3
	ts := newTestServer(t, misbehaving, serverOpts{workers: 1, lua: luabind.Options{
		HandlerTimeout: 50 * time.Millisecond,
		BanAfterStops:  banAfter,
	}})
	cs := make([]*websocket.Conn, conns)
	for i := range cs {
		cs[i] = ts.dial(t, "")
	}
	for _, c := range cs {
		send(t, c, "loop")
	}
	codes := map[int]int{}
	for _, c := range cs {
		code, _ := readClose(t, c)
		codes[code]++
	}
	if got := ts.Script.ScriptStats().LuaErrors; got > banAfter {
		t.Fatalf("%d handlers stopped, want at most %d (ban_after_stops)", got, banAfter)
	}
	if codes[websocket.CloseInternalServerErr]+codes[websocket.ClosePolicyViolation] != conns ||
		codes[websocket.ClosePolicyViolation] < conns-banAfter {
		t.Fatalf("close codes %v, want at most %d × 1011 and the rest 1008", codes, banAfter)
	}
}
