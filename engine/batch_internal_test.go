package engine

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestBatchConnTryFlush fills a socket whose peer does not read with
// tryFlush until it leaves bytes behind, then checks that a later Write (a
// control frame from another goroutine) sends those bytes first, and that
// the peer gets every byte in order.
func TestBatchConnTryFlush(t *testing.T) {
	server, client := tcpPair(t)
	b := newBatchConn(server)
	if !b.canTry() {
		t.Fatal("a TCP connection: got canTry false")
	}
	var want bytes.Buffer
	var w rawWriter
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	for i := 0; ; i++ {
		if i > 10_000 {
			t.Fatal("160 MB written without the socket filling up")
		}
		chunk[0] = byte(i)
		b.hold()
		if _, err := b.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want.Write(chunk)
		done, err := b.tryFlush(&w)
		if err != nil {
			t.Fatal(err)
		}
		if !done {
			break
		}
	}
	if !b.pending() {
		t.Fatal("tryFlush returned not done, and left nothing pending")
	}
	last := []byte("the last write")
	want.Write(last)
	wrote := make(chan error, 1)
	go func() {
		_ = b.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := b.Write(last) // blocks until the peer reads
		wrote <- err
	}()
	got := make([]byte, want.Len())
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the peer got %d bytes that differ from the %d written", len(got), want.Len())
	}
	if b.pending() {
		t.Error("bytes still pending after the peer read everything")
	}
}

// TestBatchConnHold: writes during a hold go out in one flush.
func TestBatchConnHold(t *testing.T) {
	server, client := tcpPair(t)
	b := newBatchConn(server)
	b.hold()
	for _, s := range []string{"one ", "two ", "three"} {
		if _, err := b.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if !b.pending() {
		t.Fatal("nothing held during a hold")
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("one two three"))
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "one two three" {
		t.Errorf("got %q, %v, want \"one two three\"", got, err)
	}
}

// TestBatchConnTryNeverWaits: while a write blocks on a full socket (a
// keepalive ping's, the reader's pong), holding the batchConn, the writes
// that must not wait (a Flusher's tryWrite for many connections, tend's
// ping) return at once, written or not, instead of waiting up to the
// write timeout behind it.
func TestBatchConnTryNeverWaits(t *testing.T) {
	server, client := tcpPair(t)
	b := newBatchConn(server)
	b.upgraded()
	var w rawWriter
	chunk := make([]byte, 16<<10)
	for i := 0; ; i++ { // fill the socket: the peer never reads
		if i > 10_000 {
			t.Fatal("160 MB written without the socket filling up")
		}
		n, err := w.write(b.raw, chunk)
		if err != nil || n < len(chunk) {
			break
		}
	}
	_ = server.SetWriteDeadline(time.Now().Add(3 * time.Second))
	blocked := make(chan error, 1)
	go func() { _, err := b.Write([]byte{0x89, 0}); blocked <- err }() // a ping through gorilla: blocks, holding b
	// Until the blocked write holds b: a tryControl finds it locked, or
	// the write already failed.
	for b.mu.TryLock() {
		b.mu.Unlock()
		select {
		case err := <-blocked:
			t.Fatalf("the write on a full socket returned %v, want it to block", err)
		case <-time.After(time.Millisecond): // polls for the goroutine; no timing is asserted
		}
	}

	start := time.Now()
	written, _, err := b.tryWrite(&w, []frame{{typ: 2, data: []byte("x")}}, 1+maxFrameHeader)
	if written || err != nil {
		t.Errorf("tryWrite behind a blocked write: got written %v, err %v, want false, nil", written, err)
	}
	if got := b.tryControl(&w, pingFrame); got != controlNotWritten {
		t.Errorf("tryControl behind a blocked write: got %d, want controlNotWritten", got)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("tryWrite and tryControl waited %v for the blocked write", waited)
	}
	client.Close()
	<-blocked
}

// TestBatchConnFollowsFrames: Write knows which Write starts a control
// frame and when a close frame goes out, also when gorilla writes a long
// payload with a Write of its own (as it does over TLS) whose first byte
// looks like a close frame's.
func TestBatchConnFollowsFrames(t *testing.T) {
	closeFrame := frameHeader(nil, websocket.CloseMessage, 2)
	closeFrame = append(closeFrame, 0x03, 0xe8)
	lookalike := append([]byte{0x88}, bytes.Repeat([]byte{0x88}, 299)...) // payload bytes that look like a close frame
	tests := []struct {
		name        string
		writes      [][]byte
		wantControl []bool
		wantClosed  bool
	}{
		{"one data frame", [][]byte{append(frameHeader(nil, websocket.BinaryMessage, 300), lookalike...)}, []bool{false}, false},
		{"header, then payload", [][]byte{frameHeader(nil, websocket.BinaryMessage, 300), lookalike}, []bool{false, false}, false},
		{"header and part, then the rest", [][]byte{append(frameHeader(nil, websocket.BinaryMessage, 300), lookalike[:10]...), lookalike[10:]}, []bool{false, false}, false},
		{"64 KiB payload after its header", [][]byte{frameHeader(nil, websocket.BinaryMessage, 70000), bytes.Repeat([]byte{0x88}, 70000)}, []bool{false, false}, false},
		{"data, then close", [][]byte{frameHeader(nil, websocket.BinaryMessage, 300), lookalike, closeFrame}, []bool{false, false, true}, true},
		{"ping is control", [][]byte{frameHeader(nil, websocket.PingMessage, 0)}, []bool{true}, false},
		{"two frames in one write, the second a close", [][]byte{append(append(frameHeader(nil, websocket.TextMessage, 1), 'x'), closeFrame...)}, []bool{false}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &batchConn{framing: true}
			closed := false
			for i, p := range tt.writes {
				control, closing := b.frames(p)
				closed = closed || closing
				if control != tt.wantControl[i] {
					t.Errorf("write %d: control %v, want %v", i, control, tt.wantControl[i])
				}
			}
			if closed != tt.wantClosed || b.frameRest != 0 {
				t.Errorf("closed %v, %d bytes still to come; want closed %v, 0", closed, b.frameRest, tt.wantClosed)
			}
		})
	}
}
