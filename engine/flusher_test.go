package engine_test

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// flushHandler answers each message "N" with replies "N.1" .. "N.k" sent
// through a Flusher, flushed after each message, as a Lua worker does.
type flushHandler struct {
	fl      engine.Flusher // used by one reader goroutine at a time (one client)
	replies int
	size    int // pad each reply to this size
	then    func(c *engine.Conn, m engine.Message)
}

func (h *flushHandler) Open(*engine.Conn)               {}
func (h *flushHandler) Close(*engine.Conn, int, string) {}
func (h *flushHandler) Message(c *engine.Conn, m engine.Message) {
	for i := 1; i <= h.replies; i++ {
		if err := h.fl.Send(c, websocket.TextMessage, reply(string(m.Data), i, h.size)); err != nil {
			panic(err)
		}
	}
	if h.then != nil {
		h.then(c, m)
	}
	h.fl.Flush()
}

// reply is "msg.i", padded with a pattern to size bytes.
func reply(msg string, i, size int) []byte {
	b := []byte(msg + "." + strconv.Itoa(i) + " ")
	for j := 0; len(b) < size; j++ {
		b = append(b, 'a'+byte(j%26))
	}
	return b
}

// TestFlusherOrder: replies sent through a Flusher arrive complete and in
// order, with messages sent by Conn.Send around them.
func TestFlusherOrder(t *testing.T) {
	h := &flushHandler{replies: 3}
	h.then = func(c *engine.Conn, m engine.Message) {
		_ = c.Send(websocket.TextMessage, []byte(string(m.Data)+".send"))
	}
	_, url := newTestServer(t, mountOf(h))
	ws := dial(t, url)
	const n = 200
	go func() {
		for i := range n {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i)))
		}
	}()
	for i := range n {
		for _, want := range []string{".1 ", ".2 ", ".3 ", ".send"} {
			if got, want := enginetest.ReadText(t, ws), strconv.Itoa(i)+want; strings.TrimSpace(got) != strings.TrimSpace(want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	}
}

// TestFlusherFullSocket: a client that does not read fills the socket; what
// a Flusher's write could not send goes through the writer goroutine,
// before a ping and a close queued later, and everything arrives intact
// and in order.
func TestFlusherFullSocket(t *testing.T) {
	const msgs, size = 1000, 16 << 10 // 16 MB of replies: more than loopback's socket buffers
	h := &flushHandler{replies: 1, size: size}
	h.then = func(c *engine.Conn, m engine.Message) {
		if string(m.Data) == strconv.Itoa(msgs-1) {
			_ = c.Ping([]byte("after"))
			c.Close(websocket.CloseNormalClosure, "done")
		}
	}
	_, url := newTestServer(t, mountOf(h, func(mc *engine.MountConfig) { mc.SendQueueSize, mc.SendQueueBytes = 2*msgs, 2*msgs*size }))
	ws := dial(t, url)
	var pings []string
	var mu sync.Mutex
	ws.SetPingHandler(func(s string) error {
		mu.Lock()
		pings = append(pings, s)
		mu.Unlock()
		return nil
	})
	for i := range msgs {
		enginetest.Write(t, ws, websocket.TextMessage, []byte(strconv.Itoa(i)))
	}
	for i := range msgs {
		_, got := enginetest.Read(t, ws)
		if want := reply(strconv.Itoa(i), 1, size); !bytes.Equal(got, want) {
			t.Fatalf("reply %d: got %d bytes %.20q, want %d bytes %.20q", i, len(got), got, len(want), want)
		}
		mu.Lock()
		early := len(pings)
		mu.Unlock()
		if early > 0 {
			t.Fatalf("reply %d: the ping came before it", i)
		}
	}
	ce, rest := enginetest.ReadClose(t, ws)
	if ce.Code != websocket.CloseNormalClosure || len(rest) != 0 {
		t.Errorf("got close %v after %d more messages, want 1000 right after the replies", ce, len(rest))
	}
	if fmt.Sprint(pings) != "[after]" {
		t.Errorf("pings: got %v, want [after]", pings)
	}
}

// TestFlushersShareConn: two goroutines' Flushers send to one connection;
// everything arrives, each goroutine's messages in its order.
func TestFlushersShareConn(t *testing.T) {
	r := newRecorder()
	_, url := newTestServer(t, mountOf(r))
	ws := dial(t, url)
	c := r.waitOpen(t)
	const n = 500
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			var fl engine.Flusher
			for i := range n {
				_ = fl.Send(c, websocket.TextMessage, []byte(fmt.Sprintf("%d:%d", g, i)))
				if i%7 == 0 {
					fl.Flush()
				}
			}
			fl.Flush()
		})
	}
	next := [2]int{}
	for range 2 * n {
		var g, i int
		if _, err := fmt.Sscanf(enginetest.ReadText(t, ws), "%d:%d", &g, &i); err != nil {
			t.Fatal(err)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: got message %d, want %d", g, i, next[g])
		}
		next[g]++
	}
	wg.Wait()
}

// TestFlusherBroadcast: a broadcast through a Flusher reaches every
// connection but the one excepted, and a publish every subscriber (all but
// that one), in order with the messages sent before and after it, with
// more connections than a Flush writes by itself.
func TestFlusherBroadcast(t *testing.T) {
	for _, via := range []string{"broadcast", "publish"} {
		t.Run(via, func(t *testing.T) { testFlusherBroadcast(t, via) })
	}
}

func testFlusherBroadcast(t *testing.T, via string) {
	rec := newRecorder()
	srv, url := newTestServer(t, mountOf(rec))
	m := srv.Mount("/ws")
	const n = 80
	clients := make([]*websocket.Conn, n)
	conns := make([]*engine.Conn, n)
	for i := range clients {
		clients[i] = dial(t, url)
		conns[i] = rec.waitOpen(t)
	}
	except := conns[0]
	if via == "publish" {
		for _, c := range conns[1:] {
			if err := c.Subscribe("news"); err != nil {
				t.Fatal(err)
			}
		}
	}
	var fl engine.Flusher
	for round := range 3 {
		for _, c := range conns {
			_ = fl.Send(c, websocket.TextMessage, []byte(fmt.Sprintf("before %d", round)))
		}
		msg := []byte(fmt.Sprintf("all %d", round))
		var got int
		var err error
		if via == "publish" {
			got, err = fl.Publish(m, "news", websocket.TextMessage, msg)
		} else {
			got, err = fl.Broadcast(m, websocket.TextMessage, msg, except.ID())
		}
		if err != nil || got != n-1 {
			t.Fatalf("%s: got %d, %v, want %d, nil", via, got, err, n-1)
		}
		for _, c := range conns {
			_ = c.Send(websocket.TextMessage, []byte(fmt.Sprintf("after %d", round)))
		}
		fl.Flush()
	}
	for i, ws := range clients {
		c := conns[0]
		for _, cc := range conns {
			if cc.Request().RemoteAddr == ws.LocalAddr().String() {
				c = cc
			}
		}
		var want []string
		for round := range 3 {
			want = append(want, fmt.Sprintf("before %d", round))
			if c != except {
				want = append(want, fmt.Sprintf("all %d", round))
			}
			want = append(want, fmt.Sprintf("after %d", round))
		}
		for _, w := range want {
			if got := enginetest.ReadText(t, ws); got != w {
				t.Fatalf("client %d (conn %d): got %q, want %q", i, c.ID(), got, w)
			}
		}
	}
}

// TestIdleWriterExits: a connection's writer goroutine ends once it has had
// nothing to write for a while, and a later send starts another.
func TestIdleWriterExits(t *testing.T) {
	rec := newRecorder()
	_, url := newTestServer(t, mountOf(rec))
	ws := dial(t, url)
	c := rec.waitOpen(t)
	writers := func() int {
		buf := make([]byte, 1<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "engine.(*Conn).writeLoop(")
	}
	for round := range 2 {
		_ = c.Send(websocket.TextMessage, []byte("hello")) // from this goroutine: through a writer
		if got := enginetest.ReadText(t, ws); got != "hello" {
			t.Fatalf("round %d: got %q, want hello", round, got)
		}
		waitFor(t, "the idle writer to exit", func() bool { return writers() == 0 })
	}
}
