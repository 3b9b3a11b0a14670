package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

func TestIDs(t *testing.T) {
	rec := newRecorder()
	rec.onOpen = func(c *engine.Conn) { _ = c.Send(websocket.TextMessage, []byte(strconv.FormatUint(c.ID(), 10))) }
	cfg := engine.Config{Mounts: []engine.MountConfig{{Path: "/a", Handler: rec}, {Path: "/b", Handler: rec}}}
	_, urlA := newTestServer(t, cfg)
	urlB := strings.TrimSuffix(urlA, "/a") + "/b"

	// Ids count from 1 over the whole server, whatever the mount.
	var clients []*websocket.Conn
	for i, url := range []string{urlA, urlB, urlA} {
		ws := dial(t, url)
		want := strconv.Itoa(i + 1)
		if got := enginetest.ReadText(t, ws); got != want {
			t.Fatalf("client %d: got id %s, want %s", i, got, want)
		}
		if got := rec.waitOpen(t).ID(); got != uint64(i+1) {
			t.Fatalf("Open %d: got id %d, want %d", i, got, i+1)
		}
		clients = append(clients, ws)
	}
	for i, ws := range clients {
		ws.Close()
		rec.waitClose(t, uint64(i+1))
	}
	// Closed ids are not reused.
	for _, want := range []string{"4", "5"} {
		ws := dial(t, urlB)
		if got := enginetest.ReadText(t, ws); got != want {
			t.Fatalf("after close: got id %s, want %s", got, want)
		}
	}
}

// TestEcho runs over every mode: each reads and writes frames its own
// way (and compression encodes broadcasts its own way).
func TestEcho(t *testing.T) { run(t, testEcho) }

func testEcho(t *testing.T, m mode) {
	rec := newRecorder()
	rec.onMessage = echo
	s := m.serve(t, mountOf(rec))
	ws, resp, err := enginetest.DialWith(t, s.dialer(false), s.url, nil) // the client always offers compression
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Contains(resp.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate"); got != m.compress {
		t.Errorf("permessage-deflate negotiated: got %v, want %v", got, m.compress)
	}
	c := rec.waitOpen(t)
	id := c.ID()

	tests := []struct {
		name string
		typ  int
		data []byte
	}{
		{"text", websocket.TextMessage, []byte("hello")},
		{"empty text", websocket.TextMessage, []byte{}},
		{"utf-8 text", websocket.TextMessage, []byte("héllo, 世界 🙂")},
		{"binary", websocket.BinaryMessage, []byte{0, 1, 2, 0xff, 0xfe}},
		{"binary not utf-8", websocket.BinaryMessage, []byte{0xc3, 0x28}},
		{"125 bytes: the longest 7-bit length", websocket.BinaryMessage, bytes.Repeat([]byte{1}, 125)},
		{"126 bytes: a 16-bit length", websocket.BinaryMessage, bytes.Repeat([]byte{2}, 126)},
		{"65535 bytes: the longest 16-bit length", websocket.BinaryMessage, bytes.Repeat([]byte{3}, 65535)},
		{"64 KiB binary: a 64-bit length", websocket.BinaryMessage, bytes.Repeat([]byte{0xab}, 64<<10)},
	}
	want := []event{{kind: "open"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enginetest.Write(t, ws, tt.typ, tt.data)
			typ, data := enginetest.Read(t, ws)
			if typ != tt.typ || !bytes.Equal(data, tt.data) {
				t.Errorf("got (%d, %d bytes), want (%d, %d bytes)", typ, len(data), tt.typ, len(tt.data))
			}
		})
		want = append(want, event{kind: "message", msg: engine.Message{Type: tt.typ, Data: tt.data}})
	}
	if got := rec.eventsOf(id); !sameEvents(got, want) {
		t.Errorf("handler calls: got %v, want %v", got, want)
	}

	// A broadcast is prepared once, for compressed and plain conns alike.
	if n, err := c.Mount().Broadcast(websocket.TextMessage, []byte("to all"), 0); n != 1 || err != nil {
		t.Fatalf("Broadcast: got (%d, %v), want (1, nil)", n, err)
	}
	if got := enginetest.ReadText(t, ws); got != "to all" {
		t.Errorf("broadcast: got %q, want %q", got, "to all")
	}
}

// TestMessageOrder: several clients at once; each connection's handler
// calls come as Open, every message in order, Close.
func TestMessageOrder(t *testing.T) { run(t, testMessageOrder) }

func testMessageOrder(t *testing.T, m mode) {
	rec := newRecorder()
	rec.onMessage = echo
	srv := m.serve(t, mountOf(rec))
	const clients, msgs = 4, 100

	var wg sync.WaitGroup
	for range clients {
		ws := srv.dial(t)
		wg.Go(func() {
			for i := range msgs {
				_ = ws.SetWriteDeadline(time.Now().Add(enginetest.Timeout))
				if err := ws.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i))); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
			for i := range msgs {
				_ = ws.SetReadDeadline(time.Now().Add(enginetest.Timeout))
				_, data, err := ws.ReadMessage()
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if got, want := string(data), strconv.Itoa(i); got != want {
					t.Errorf("echo %d: got %q, want %q", i, got, want)
				}
			}
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(enginetest.Timeout))
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for id := uint64(1); id <= clients; id++ {
		rec.waitClose(t, id)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for id := uint64(1); id <= clients; id++ {
		want := []event{{kind: "open"}}
		for i := range msgs {
			want = append(want, event{kind: "message", msg: engine.Message{Type: websocket.TextMessage, Data: []byte(strconv.Itoa(i))}})
		}
		want = append(want, event{kind: "close", code: websocket.CloseNormalClosure})
		if got := rec.eventsOf(id); !sameEvents(got, want) {
			t.Errorf("conn %d: got %v, want %v", id, got, want)
		}
	}
}

// sameEvents compares kinds, messages and close codes; ids and reasons are ignored.
func sameEvents(got, want []event) bool {
	return slices.EqualFunc(got, want, func(g, w event) bool {
		return g.kind == w.kind && g.msg.Type == w.msg.Type && bytes.Equal(g.msg.Data, w.msg.Data) && g.code == w.code
	})
}

// TestCloseCodes: whoever ends the connection, the client sees the right
// close frame and the handler's Close runs exactly once with its code.
func TestCloseCodes(t *testing.T) {
	longReason := strings.Repeat("é", 100) // 200 bytes: must be cut, on a rune boundary
	tests := []struct {
		name      string
		mount     func(*engine.MountConfig)
		onMessage func(c *engine.Conn, m engine.Message)
		act       func(t *testing.T, ws *websocket.Conn)
		// wantMsgs are read before the close frame; wantClient is the code
		// the client sees (0: the client does not read).
		wantMsgs   []string
		anyMsgs    bool // any messages may come before the close frame
		wantClient int
		wantCode   int
		wantReason string // a substring of the handler's reason
		// gorillaReason replaces wantReason where gorilla's reader fails
		// the frame itself (small-read-buffer).
		gorillaReason string
	}{
		{
			name: "client closes",
			act: func(t *testing.T, ws *websocket.Conn) {
				if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(enginetest.Timeout)); err != nil {
					t.Fatal(err)
				}
			},
			wantClient: 4001, wantCode: 4001, wantReason: "bye",
		},
		{
			// The writer is busy when the peer's close frame comes: its next
			// write fails (ErrCloseSent), which must not change the code.
			name: "client closes while the server writes",
			onMessage: func(c *engine.Conn, m engine.Message) {
				for range 20 {
					_ = c.Send(websocket.BinaryMessage, make([]byte, 64<<10)) // 25 MiB in all: more than the socket buffers
				}
			},
			act: func(t *testing.T, ws *websocket.Conn) {
				for range 20 {
					enginetest.Write(t, ws, websocket.TextMessage, []byte("burst"))
				}
				if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(enginetest.Timeout)); err != nil {
					t.Fatal(err)
				}
			},
			mount:   func(mc *engine.MountConfig) { mc.SendQueueBytes = 64 << 20 }, // all 400 replies may wait
			anyMsgs: true, wantClient: 4001, wantCode: 4001, wantReason: "bye",
		},
		{
			name: "server closes after a send",
			onMessage: func(c *engine.Conn, m engine.Message) {
				_ = c.Send(websocket.TextMessage, []byte("queued"))
				c.Close(4000, "x")
			},
			act: func(t *testing.T, ws *websocket.Conn) {
				enginetest.Write(t, ws, websocket.TextMessage, []byte("close me"))
			},
			wantMsgs: []string{"queued"}, wantClient: 4000, wantCode: 4000, wantReason: "x",
		},
		{
			name:  "message too big",
			mount: func(mc *engine.MountConfig) { mc.MaxMessageSize = 1024 },
			act: func(t *testing.T, ws *websocket.Conn) {
				enginetest.Write(t, ws, websocket.BinaryMessage, make([]byte, 1024)) // the limit itself is fine
				if _, data := enginetest.Read(t, ws); len(data) != 1024 {
					t.Fatalf("echo: got %d bytes, want 1024", len(data))
				}
				enginetest.Write(t, ws, websocket.BinaryMessage, make([]byte, 1025))
			},
			wantClient: websocket.CloseMessageTooBig, wantCode: websocket.CloseMessageTooBig,
		},
		{
			name:  "message too big, within the read buffer",
			mount: func(mc *engine.MountConfig) { mc.MaxMessageSize = 16 },
			act: func(t *testing.T, ws *websocket.Conn) {
				enginetest.Write(t, ws, websocket.TextMessage, []byte("sixteen bytes ok"))
				if got := enginetest.ReadText(t, ws); got != "sixteen bytes ok" {
					t.Fatalf("echo: got %q", got)
				}
				enginetest.Write(t, ws, websocket.TextMessage, []byte("seventeen bytes!!"))
			},
			wantClient: websocket.CloseMessageTooBig, wantCode: websocket.CloseMessageTooBig,
		},
		{
			name: "invalid utf-8",
			act: func(t *testing.T, ws *websocket.Conn) {
				enginetest.Write(t, ws, websocket.TextMessage, []byte{'o', 'k', 0xff, 0xfe})
			},
			wantClient: websocket.CloseInvalidFramePayloadData, wantCode: websocket.CloseInvalidFramePayloadData, wantReason: "UTF-8",
		},
		{
			name: "protocol error",
			act: func(t *testing.T, ws *websocket.Conn) {
				// An unmasked text frame: clients must mask.
				if _, err := ws.NetConn().Write([]byte{0x81, 0x02, 'h', 'i'}); err != nil {
					t.Fatal(err)
				}
			},
			wantClient: websocket.CloseProtocolError, wantCode: websocket.CloseProtocolError, wantReason: "unmasked", gorillaReason: "bad MASK",
		},
		{
			name:     "peer vanishes",
			act:      func(t *testing.T, ws *websocket.Conn) { ws.NetConn().Close() },
			wantCode: websocket.CloseAbnormalClosure,
		},
		{
			name:      "handler panics",
			onMessage: func(c *engine.Conn, m engine.Message) { panic("boom") },
			act: func(t *testing.T, ws *websocket.Conn) {
				enginetest.Write(t, ws, websocket.TextMessage, []byte("panic"))
			},
			wantClient: websocket.CloseInternalServerErr, wantCode: websocket.CloseInternalServerErr,
		},
		{
			name:      "long reason is cut",
			onMessage: func(c *engine.Conn, m engine.Message) { c.Close(4002, longReason) },
			act: func(t *testing.T, ws *websocket.Conn) {
				enginetest.Write(t, ws, websocket.TextMessage, []byte("close me"))
			},
			wantClient: 4002, wantCode: 4002, wantReason: longReason[:122],
		},
	}
	run(t, func(t *testing.T, m mode) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rec := newRecorder()
				rec.onMessage = echo
				if tt.onMessage != nil {
					rec.onMessage = tt.onMessage
				}
				mods := []func(*engine.MountConfig){}
				if tt.mount != nil {
					mods = append(mods, tt.mount)
				}
				srv := m.serve(t, mountOf(rec, mods...))
				ws := srv.dial(t)
				id := rec.waitOpen(t).ID()

				tt.act(t, ws)
				if tt.wantClient != 0 {
					ce, msgs := enginetest.ReadClose(t, ws)
					if ce.Code != tt.wantClient {
						t.Errorf("client: got close %d %q, want %d", ce.Code, ce.Text, tt.wantClient)
					}
					if !tt.anyMsgs && !slices.Equal(msgs, tt.wantMsgs) {
						t.Errorf("client: got messages %q before the close, want %q", msgs, tt.wantMsgs)
					}
					if !utf8.ValidString(ce.Text) || len(ce.Text) > 123 {
						t.Errorf("client: got close reason %q (%d bytes), want valid UTF-8 of at most 123 bytes", ce.Text, len(ce.Text))
					}
				}
				wantReason := tt.wantReason
				if m.readBuf > 0 && tt.gorillaReason != "" {
					wantReason = tt.gorillaReason
				}
				e := rec.waitClose(t, id)
				if e.code != tt.wantCode || !strings.Contains(e.reason, wantReason) {
					t.Errorf("Close: got %d %q, want %d %q", e.code, e.reason, tt.wantCode, wantReason)
				}
				if e.inRegistry {
					t.Errorf("Close: the conn was still in the registry, want it gone")
				}
				if err := srv.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				if n := rec.closeCount(id); n != 1 {
					t.Errorf("Close calls: got %d, want 1", n)
				}
			})
		}
	})
}

func TestSendAfterClose(t *testing.T) { run(t, testSendAfterClose) }

func testSendAfterClose(t *testing.T, md mode) {
	type result struct {
		open      bool
		send      error
		ping      error
		sendAfter error
	}
	results := make(chan result, 1)
	rec := newRecorder()
	rec.onOpen = func(c *engine.Conn) {
		var r result
		r.send = c.Send(websocket.TextMessage, []byte("hi"))
		r.ping = c.Ping(bytes.Repeat([]byte("p"), 200)) // cut to 125 bytes, still valid
		c.Close(websocket.CloseNormalClosure, "done")
		c.Close(4000, "ignored: already closing")
		r.open = c.Open()
		r.sendAfter = c.Send(websocket.TextMessage, []byte("late"))
		results <- r
	}
	srv := md.serve(t, mountOf(rec))
	ws := srv.dial(t)
	id := rec.waitOpen(t).ID()
	r := <-results
	if r.send != nil || r.ping != nil {
		t.Errorf("Send, Ping while open: got %v, %v, want nil, nil", r.send, r.ping)
	}
	if r.open {
		t.Errorf("Open after Close: got true, want false")
	}
	if !errors.Is(r.sendAfter, engine.ErrClosed) {
		t.Errorf("Send after Close: got %v, want ErrClosed", r.sendAfter)
	}
	ce, msgs := enginetest.ReadClose(t, ws)
	if ce.Code != websocket.CloseNormalClosure || ce.Text != "done" || !slices.Equal(msgs, []string{"hi"}) {
		t.Errorf("client: got %q then close %d %q, want [hi] then close 1000 \"done\"", msgs, ce.Code, ce.Text)
	}
	if e := rec.waitClose(t, id); e.code != websocket.CloseNormalClosure || e.reason != "done" {
		t.Errorf("Close: got %d %q, want 1000 \"done\"", e.code, e.reason)
	}
}

// TestSlowConsumer: a client that never reads is closed with 1008 when its
// queue is full; Send never blocks; another client notices nothing.
func TestSlowConsumer(t *testing.T) { run(t, testSlowConsumer) }

func testSlowConsumer(t *testing.T, md mode) {
	rec := newRecorder()
	flooded := make(chan error, 1)
	rec.onMessage = func(c *engine.Conn, m engine.Message) {
		if string(m.Data) != "flood" {
			echo(c, m)
			return
		}
		big := make([]byte, 64<<10)
		for range 1_000_000 {
			if err := c.Send(websocket.BinaryMessage, big); err != nil {
				flooded <- err
				return
			}
		}
		flooded <- nil
	}
	srv := md.serve(t, mountOf(rec, func(mc *engine.MountConfig) { mc.SendQueueSize = 16 }))
	slow := srv.dial(t)
	slowID := rec.waitOpen(t).ID()
	good := srv.dial(t)
	goodID := rec.waitOpen(t).ID()

	roundTrip := func(i int) {
		t.Helper()
		msg := fmt.Sprintf("ping %d", i)
		enginetest.Write(t, good, websocket.TextMessage, []byte(msg))
		_ = good.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, data, err := good.ReadMessage()
		if err != nil || string(data) != msg {
			t.Fatalf("good client, echo %d: got %q, %v, want %q", i, data, err, msg)
		}
	}
	enginetest.Write(t, slow, websocket.TextMessage, []byte("flood")) // slow never reads
	for i := range 20 {
		roundTrip(i)
	}
	select {
	case err := <-flooded:
		if !errors.Is(err, engine.ErrSlowConsumer) {
			t.Fatalf("flooding Send: got %v, want ErrSlowConsumer", err)
		}
	case <-time.After(enginetest.Timeout):
		t.Fatalf("flooding handler still running after %v: Send blocks", enginetest.Timeout)
	}
	if e := rec.waitClose(t, slowID); e.code != websocket.ClosePolicyViolation {
		t.Errorf("slow Close: got %d %q, want 1008", e.code, e.reason)
	}
	for i := 20; i < 40; i++ {
		roundTrip(i)
	}
	if n := rec.closeCount(goodID); n != 0 {
		t.Errorf("good client: got %d Close calls, want 0", n)
	}
	if srv.Mount("/ws").Conn(goodID) == nil {
		t.Errorf("good client: gone from the registry")
	}
}

// TestDeadPeer: a client that does not answer pings is dropped with 1006;
// one that does stays.
func TestDeadPeer(t *testing.T) {
	rec := newRecorder()
	// PongTimeout is generous so that a loaded machine's stalls do not
	// drop the live client; the dead one goes after about a second.
	const pingInterval, pongTimeout = 50 * time.Millisecond, time.Second
	srv, url := newTestServer(t, mountOf(rec, func(mc *engine.MountConfig) {
		mc.PingInterval = pingInterval
		mc.PongTimeout = pongTimeout
	}))
	readAll := func(ws *websocket.Conn) chan error {
		done := make(chan error, 1)
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					done <- err
					return
				}
			}
		}()
		return done
	}

	dead := dial(t, url)
	deadID := rec.waitOpen(t).ID()
	dead.SetPingHandler(func(string) error { return nil }) // reads, never pongs
	deadDone := readAll(dead)

	live := dial(t, url)
	liveID := rec.waitOpen(t).ID()
	var pings atomic.Int32
	live.SetPingHandler(func(p string) error {
		pings.Add(1)
		return live.WriteControl(websocket.PongMessage, []byte(p), time.Now().Add(time.Second))
	})
	readAll(live)

	if e := rec.waitClose(t, deadID); e.code != websocket.CloseAbnormalClosure {
		t.Errorf("dead peer Close: got %d %q, want 1006", e.code, e.reason)
	}
	select {
	case <-deadDone:
	case <-time.After(enginetest.Timeout):
		t.Errorf("dead peer: the server did not drop the socket")
	}
	// The live client answers pings for longer than PongTimeout after the
	// dead one was dropped, and stays.
	more := pings.Load() + int32(pongTimeout/pingInterval) + 2
	waitFor(t, "the live client to answer more pings", func() bool {
		return pings.Load() >= more || rec.closeCount(liveID) != 0
	})
	if srv.Mount("/ws").Conn(liveID) == nil || rec.closeCount(liveID) != 0 {
		t.Errorf("live client: dropped (%v), want it kept", rec.eventsOf(liveID))
	}
}

// TestPingStorm: a tiny PingInterval makes the keepalive timer fire at once,
// while the connection starts (for -race), and a flood of pings must not
// disturb the data.
func TestPingStorm(t *testing.T) {
	rec := newRecorder()
	rec.onMessage = echo
	_, url := newTestServer(t, mountOf(rec, func(mc *engine.MountConfig) {
		mc.PingInterval = time.Microsecond
		mc.PongTimeout = enginetest.Timeout
	}))
	for range 3 {
		ws := dial(t, url)
		id := rec.waitOpen(t).ID()
		var pings atomic.Int32
		ws.SetPingHandler(func(p string) error {
			pings.Add(1)
			return ws.WriteControl(websocket.PongMessage, []byte(p), time.Now().Add(time.Second))
		})
		// Pings are handled while the client reads: echo until some came.
		deadline := time.Now().Add(enginetest.Timeout)
		for i := 0; i < 20 || pings.Load() < 3; i++ {
			if time.Now().After(deadline) {
				t.Fatalf("got %d pings in %v, want at least 3", pings.Load(), enginetest.Timeout)
			}
			msg := strconv.Itoa(i)
			enginetest.Write(t, ws, websocket.TextMessage, []byte(msg))
			if got := enginetest.ReadText(t, ws); got != msg {
				t.Fatalf("echo: got %q, want %q", got, msg)
			}
		}
		ws.Close()
		if e := rec.waitClose(t, id); e.code != websocket.CloseAbnormalClosure {
			t.Errorf("Close: got %d, want 1006", e.code)
		}
	}
}

// burstHandler records, in order, each message with its More flag and
// each ReadIdle call.
type burstHandler struct {
	mu    sync.Mutex
	calls []string
	seen  chan struct{}
}

func (h *burstHandler) record(s string) {
	h.mu.Lock()
	h.calls = append(h.calls, s)
	h.mu.Unlock()
	h.seen <- struct{}{}
}

func (h *burstHandler) Open(*engine.Conn) {}
func (h *burstHandler) Message(_ *engine.Conn, m engine.Message) {
	h.record(fmt.Sprintf("%s more=%v", m.Data, m.More))
}
func (h *burstHandler) ReadIdle(*engine.Conn)           { h.record("idle") }
func (h *burstHandler) Close(*engine.Conn, int, string) {}

// TestBurst: messages that arrive together are handed over with More set
// on all but the last, and ReadIdle is called only when the reader has no
// whole message left: before the first read and after the burst.
//
// Not with a small read buffer: gorilla's reader cannot look ahead, so
// every message is a burst of its own (More false, ReadIdle after each).
func TestBurst(t *testing.T) { run(t, testBurst, modesExcept("small-read-buffer")...) }

func testBurst(t *testing.T, md mode) {
	h := &burstHandler{seen: make(chan struct{}, 16)}
	srv := md.serve(t, mountOf(h))
	ws := srv.dial(t)
	wait := func(n int) {
		for range n {
			select {
			case <-h.seen:
			case <-time.After(enginetest.Timeout):
				t.Fatalf("handler calls so far: %q", h.calls)
			}
		}
	}
	wait(1) // the ReadIdle before the first read
	// Three masked text frames (zero mask key) in one write: the server
	// reads them in one go.
	var burst []byte
	for _, s := range []string{"a", "b", "c"} {
		burst = append(burst, 0x81, 0x80|byte(len(s)), 0, 0, 0, 0)
		burst = append(burst, s...)
	}
	if _, err := ws.NetConn().Write(burst); err != nil {
		t.Fatal(err)
	}
	wait(4)
	want := []string{"idle", "a more=true", "b more=true", "c more=false", "idle"}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !slices.Equal(h.calls, want) {
		t.Errorf("handler calls = %q, want %q", h.calls, want)
	}
}
