package engine_test

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// peakRecorder is a recorder that notes the most bytes a connection had
// queued after each of the handler's sends.
type peakRecorder struct {
	*recorder
	peak atomic.Int64
}

func (p *peakRecorder) note(c *engine.Conn) int64 {
	_, n := c.Queued()
	for {
		old := p.peak.Load()
		if n <= old || p.peak.CompareAndSwap(old, n) {
			return n
		}
	}
}

// TestSendQueueBytes: a client that never reads while the server sends it
// large messages, its replies or its own uploads echoed, is closed with
// 1008 once SendQueueBytes wait for it, not after SendQueueSize messages
// (1 GiB of them), and the close handler runs. What it had queued never
// goes past the bound.
func TestSendQueueBytes(t *testing.T) {
	const size = 1 << 20
	payload := make([]byte, size)
	_, _ = rand.Read(payload) // incompressible: permessage-deflate must not hide the bytes
	tests := []struct {
		name string
		// flood makes the server send 1 MiB messages to ws.
		flood func(t *testing.T, ws *websocket.Conn)
	}{
		{"replies", func(t *testing.T, ws *websocket.Conn) {
			enginetest.Write(t, ws, websocket.TextMessage, []byte("flood"))
		}},
		{"echoed uploads", func(t *testing.T, ws *websocket.Conn) {
			done := make(chan struct{})
			t.Cleanup(func() { <-done })
			ws.EnableWriteCompression(false) // the server's compression is under test, not the client's
			go func() {
				defer close(done)
				for range 128 { // 128 MiB at most; the server stops it long before
					_ = ws.SetWriteDeadline(time.Now().Add(enginetest.Timeout))
					if ws.WriteMessage(websocket.BinaryMessage, payload) != nil {
						return
					}
				}
			}()
		}},
	}
	run(t, func(t *testing.T, md mode) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				const bound = 4 * size // the default with the default MaxMessageSize
				rec := &peakRecorder{recorder: newRecorder()}
				flooded := make(chan error, 1)
				rec.onMessage = func(c *engine.Conn, m engine.Message) {
					if string(m.Data) != "flood" {
						err := c.Send(m.Type, m.Data)
						if rec.note(c); err != nil {
							flooded <- err
						}
						return
					}
					for range 1024 { // SendQueueSize: what bounded it before
						err := c.Send(websocket.BinaryMessage, payload)
						if rec.note(c) > 2*bound || err != nil {
							flooded <- err
							return
						}
					}
					flooded <- nil
				}
				s := md.serve(t, mountOf(rec))
				ws := s.dialWith(t, s.dialer(true), s.url)
				id := rec.waitOpen(t).ID()
				tt.flood(t, ws)

				select {
				case err := <-flooded:
					if !errors.Is(err, engine.ErrSlowConsumer) {
						t.Fatalf("flooding Send: got %v, want ErrSlowConsumer (peak %d bytes queued)", err, rec.peak.Load())
					}
				case <-time.After(4 * enginetest.Timeout): // compressing megabytes under -race, on a busy machine, takes seconds
					t.Fatalf("no ErrSlowConsumer within %v (peak %d bytes queued)", 4*enginetest.Timeout, rec.peak.Load())
				}
				if peak := rec.peak.Load(); peak > bound {
					t.Errorf("peak queued: got %d bytes, want at most SendQueueBytes (%d)", peak, bound)
				}
				if e := rec.waitClose(t, id); e.code != websocket.ClosePolicyViolation || e.reason != "send queue full" {
					t.Errorf("Close: got %d %q, want 1008 \"send queue full\"", e.code, e.reason)
				}
				if n := s.Mounts()[0].Stats().SlowConsumerCloses; n != 1 {
					t.Errorf("SlowConsumerCloses: got %d, want 1", n)
				}
			})
		}
	})
}

// TestSendQueueBytesOneLargeMessage: a message larger than SendQueueBytes
// still goes when nothing else waits.
func TestSendQueueBytesOneLargeMessage(t *testing.T) {
	rec := newRecorder()
	rec.onMessage = echo
	_, url := newTestServer(t, mountOf(rec, func(mc *engine.MountConfig) { mc.SendQueueBytes = 1 << 10 }))
	ws := dial(t, url)
	c := rec.waitOpen(t)
	big := strings.Repeat("x", 64<<10)
	for range 3 {
		enginetest.Write(t, ws, websocket.TextMessage, []byte(big))
		if got := enginetest.ReadText(t, ws); got != big {
			t.Fatalf("echo: got %d bytes, want %d", len(got), len(big))
		}
		// The writer counts its batch until its write returns, which
		// may be after the client has read it.
		waitFor(t, "the queue to empty", func() bool { _, n := c.Queued(); return n == 0 })
	}
}

// TestSlowConsumerAmongReaders: one client that never reads among 20
// readers of a 16 KiB broadcast every 10 ms, sent through a Flusher as a
// Lua worker sends it: the readers get every message, in order, and the
// slow one is closed with 1008 by its queue's bound (once the socket
// buffers, which loopback makes megabytes large, are full), long before
// the write timeout could.
func TestSlowConsumerAmongReaders(t *testing.T) {
	run(t, func(t *testing.T, md mode) {
		const (
			readers = 20
			most    = 1000 // 10 s of broadcasts at most; the slow one goes after about 3 s
			after   = 20   // broadcasts after the slow one is gone
			size    = 16 << 10
			timeout = 30 * time.Second // WriteTimeout: the slow one must go well before
		)
		rec := newRecorder()
		s := md.serve(t, mountOf(rec, func(mc *engine.MountConfig) {
			mc.SendQueueBytes = 2 << 20 // 128 broadcasts: a reader on a busy machine may lag behind by a second
			mc.WriteTimeout = timeout
		}))
		m := s.Mounts()[0]
		slow := s.dialWith(t, s.dialer(true), s.url)
		_ = slow // never read
		slowID := rec.waitOpen(t).ID()
		conns := make([]*websocket.Conn, readers)
		for i := range conns {
			d := s.dialer(false)
			// Only the slow one compresses: 20 clients inflating 16 KiB of
			// noise every 10 ms, on a busy machine, would fall behind and
			// be closed as slow consumers themselves.
			d.EnableCompression = false
			conns[i] = s.dialWith(t, d, s.url)
			rec.waitOpen(t)
		}

		var wg sync.WaitGroup
		var total atomic.Int64 // how many were sent, before the end marker
		const end = 1<<32 - 1  // the last broadcast's number: no more
		missed := make([]string, readers)
		for i, ws := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for want := 0; ; want++ {
					_ = ws.SetReadDeadline(time.Now().Add(enginetest.Timeout))
					_, data, err := ws.ReadMessage()
					if err != nil {
						missed[i] = "read message " + strconv.Itoa(want) + ": " + err.Error()
						return
					}
					if len(data) == 4 && binary.BigEndian.Uint32(data) == end {
						if n := int(total.Load()); want != n {
							missed[i] = "got " + strconv.Itoa(want) + " messages, want " + strconv.Itoa(n)
						}
						return
					}
					if got := int(binary.BigEndian.Uint32(data)); got != want || len(data) != size {
						missed[i] = "got message " + strconv.Itoa(got) + " of " + strconv.Itoa(len(data)) + " bytes, want " + strconv.Itoa(want)
						return
					}
				}
			}()
		}

		start := time.Now()
		var slowClosed time.Duration
		var fl engine.Flusher
		tick := time.NewTicker(10 * time.Millisecond)
		sent, left := 0, after
		for ; sent < most && left > 0; sent++ {
			<-tick.C
			data := make([]byte, size)
			_, _ = rand.Read(data) // incompressible: permessage-deflate must not shrink it
			binary.BigEndian.PutUint32(data, uint32(sent))
			if _, err := fl.Broadcast(m, websocket.BinaryMessage, data, 0); err != nil {
				t.Fatal(err)
			}
			fl.Flush()
			switch {
			case slowClosed > 0:
				left--
			case rec.closeCount(slowID) > 0:
				slowClosed = time.Since(start)
			}
		}
		tick.Stop()
		total.Store(int64(sent))
		if _, err := fl.Broadcast(m, websocket.BinaryMessage, binary.BigEndian.AppendUint32(nil, end), 0); err != nil {
			t.Fatal(err)
		}
		fl.Flush()
		wg.Wait()
		for i, s := range missed {
			if s != "" {
				t.Errorf("reader %d: %s", i, s)
			}
		}
		if slowClosed == 0 {
			t.Fatalf("slow client still open after %d broadcasts (%v), want it closed by its queue's bound", sent, time.Since(start))
		}
		e := rec.waitClose(t, slowID)
		if e.code != websocket.ClosePolicyViolation || e.reason != "send queue full" {
			t.Errorf("slow Close: got %d %q after %v, want 1008 \"send queue full\"", e.code, e.reason, slowClosed)
		}
		if slowClosed > timeout/3 {
			t.Errorf("slow client closed after %v, want well before WriteTimeout (%v)", slowClosed, timeout)
		}
		t.Logf("slow client closed after %v, %d broadcasts", slowClosed, sent)
	})
}
