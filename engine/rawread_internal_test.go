package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// startServer serves one mount with h on a loopback port, and returns the
// WebSocket URL of the mount.
func startServer(t *testing.T, h Handler) string {
	t.Helper()
	return startMount(t, MountConfig{Handler: h})
}

// startMount is startServer for a mount of its own making.
func startMount(t *testing.T, mc MountConfig) string {
	t.Helper()
	srv, err := New(Config{Mounts: []MountConfig{mc}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "ws://" + ln.Addr().String() + "/ws"
}

// echoer echoes every message.
type echoer struct{}

func (echoer) Open(*Conn)                        {}
func (echoer) Message(c *Conn, m Message)        { _ = c.Send(m.Type, m.Data) }
func (echoer) Close(_ *Conn, code int, _ string) {}

// TestReadPaths: whatever way the frames come (one a read, a burst, cut
// between reads, longer than the read buffer, fragmented, with a control
// frame among them), every message is handed over once, in order, as the
// raw read and serve's read take turns.
func TestReadPaths(t *testing.T) {
	const text, ping, pong, first, last = 0x81, 0x89, 0x8a, 0x01, 0x80
	long := strings.Repeat("x", 1000)
	huge := strings.Repeat("y", 70000)
	hello := clientFrame(text, "hello")
	var full []byte // 600 bytes: more than the 288-byte read buffer
	var fullWant []string
	for i := range 20 {
		s := strings.Repeat(string(rune('a'+i)), 24)
		full = append(full, clientFrame(text, s)...)
		fullWant = append(fullWant, s)
	}
	tests := []struct {
		name   string
		writes [][]byte // each one write by the client, a little apart
		want   []string
		pongs  int
	}{
		{"one message a write", [][]byte{clientFrame(text, "a"), clientFrame(text, "b")}, []string{"a", "b"}, 0},
		{"a burst", [][]byte{cat(clientFrame(text, "a"), clientFrame(text, "b"), clientFrame(text, "c"))}, []string{"a", "b", "c"}, 0},
		{"a frame cut in its payload", [][]byte{hello[:8], hello[8:]}, []string{"hello"}, 0},
		{"a frame cut in its header", [][]byte{hello[:1], hello[1:]}, []string{"hello"}, 0},
		{"a burst longer than the read buffer", [][]byte{full}, fullWant, 0},
		{"longer than the read buffer", [][]byte{clientFrame(text, long), clientFrame(text, "after")}, []string{long, "after"}, 0},
		{"a 64-bit length", [][]byte{cat(clientFrame(text, huge), clientFrame(text, "after"))}, []string{huge, "after"}, 0},
		{"a ping among messages", [][]byte{cat(clientFrame(text, "a"), clientFrame(ping, "p"), clientFrame(text, "b"))}, []string{"a", "b"}, 1},
		{"a pong among messages", [][]byte{cat(clientFrame(text, "a"), clientFrame(pong, "p"), clientFrame(text, "b"))}, []string{"a", "b"}, 0},
		{"a fragmented message", [][]byte{cat(clientFrame(first, "hel"), clientFrame(last, "lo"), clientFrame(text, "x"))}, []string{"hello", "x"}, 0},
	}
	url := startServer(t, echoer{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, _, err := websocket.DefaultDialer.Dial(url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			pongs := make(chan string, 4)
			ws.SetPongHandler(func(p string) error { pongs <- p; return nil })
			for _, w := range tt.writes {
				if _, err := ws.NetConn().Write(w); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond) // most likely a read of its own: not relied on
			}
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			var got []string
			for range tt.want {
				_, msg, err := ws.ReadMessage()
				if err != nil {
					t.Fatalf("after %d messages: %v", len(got), err)
				}
				got = append(got, string(msg))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("echoed %d messages %.40q, want %d %.40q", len(got), got, len(tt.want), tt.want)
			}
			if len(pongs) != tt.pongs {
				t.Errorf("got %d pongs, want %d", len(pongs), tt.pongs)
			}
		})
	}
}

func cat(frames ...[]byte) []byte { return slices.Concat(frames...) }

// cutter closes its connection's socket from its message handler, which
// runs inside the raw read.
type cutter struct{ closed chan int }

func (cutter) Open(*Conn)                          {}
func (cutter) Message(c *Conn, _ Message)          { c.cut() }
func (h cutter) Close(_ *Conn, code int, _ string) { h.closed <- code }

// TestCloseInRawRead: a handler running inside the raw read may close its
// own socket (a failed write, a cut at shutdown): the socket's Close must
// not wait for the read it is called from.
func TestCloseInRawRead(t *testing.T) {
	h := cutter{closed: make(chan int, 1)}
	ws, _, err := websocket.DefaultDialer.Dial(startServer(t, h), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte("cut")); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-h.closed:
		if code != websocket.CloseAbnormalClosure {
			t.Errorf("Close: got %d, want 1006", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Close: the socket's Close waits for the read that called it")
	}
}

// TestRawRead checks batchConn.Read inside the raw read: one system call
// that never waits.
func TestRawRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	b := newBatchConn(server)

	// read runs one Read the way readRaw does.
	read := func(p []byte) (int, error) {
		var n int
		var rerr error
		err := b.raw.Read(func(fd uintptr) bool {
			b.fd = int32(fd)
			b.reading.Store(true)
			n, rerr = b.Read(p)
			b.reading.Store(false)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, rerr
	}
	send := func(n int) {
		t.Helper()
		if _, err := client.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	// readSome reads once the bytes sent have arrived.
	readSome := func(size int) (int, error) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			n, err := read(make([]byte, size))
			if err != errWouldBlock || time.Now().After(deadline) {
				return n, err
			}
			time.Sleep(time.Millisecond) // polling for the bytes sent
		}
	}

	if n, err := read(make([]byte, 10)); n != 0 || err != errWouldBlock {
		t.Fatalf("nothing sent: got %d, %v; want 0, errWouldBlock", n, err)
	}
	send(5)
	if n, err := readSome(10); n != 5 || err != nil {
		t.Fatalf("5 bytes into 10: got %d, %v; want 5, nil", n, err)
	}
	send(20)
	if n, err := readSome(10); n != 10 || err != nil {
		t.Fatalf("20 bytes into 10: got %d, %v; want 10, nil", n, err)
	}
	if n, err := read(make([]byte, 16)); n != 10 || err != nil {
		t.Fatalf("the other 10 into 16: got %d, %v; want 10, nil", n, err)
	}
	client.Close()
	if _, err := readSome(10); err != io.EOF {
		t.Fatalf("after the peer's close: got %v, want io.EOF", err)
	}

	// Outside the raw read, Read is the socket's own (it waits).
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("plain Read after close: got %v, want io.EOF", err)
	}
}

func TestUnmask(t *testing.T) {
	key := []byte{0x12, 0x34, 0x56, 0x78}
	for n := range 40 {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i * 7)
		}
		got := make([]byte, n)
		unmask(got, src, key)
		for i := range got {
			if want := src[i] ^ key[i%4]; got[i] != want {
				t.Fatalf("%d bytes: byte %d is %#x, want %#x", n, i, got[i], want)
			}
		}
	}
}

// TestRespawn: a reader that ran a handler and then waited respawnIdle
// starts afresh in a new goroutine, and the connection goes on as before;
// a reader waiting in gorilla's read (after a ping from the client) is left
// alone, since a failed read there would end the connection.
func TestRespawn(t *testing.T) {
	const quiet = 300 * time.Millisecond
	h := &closeRecorder{opened: make(chan *Conn, 2), closed: make(chan [2]any, 2)}
	url := startMount(t, MountConfig{Handler: echoCloser{h}, respawnIdle: quiet})
	dial := func() (*websocket.Conn, *Conn) {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		return ws, <-h.opened
	}
	echo := func(ws *websocket.Conn, msg string) {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := ws.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("echo %q: got %q, %v", msg, got, err)
		}
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("still waiting for %s", what)
			}
		}
	}

	ws, c := dial()
	waitUntil("the mount's clock", func() bool { return c.mount.clock.Load() != 0 })
	echo(ws, "one")
	if c.activeAt.Load() <= 0 {
		t.Fatalf("activeAt = %d after a message, want the mount clock", c.activeAt.Load())
	}
	waitUntil("the reader to start afresh", func() bool { return c.activeAt.Load() == 0 })
	echo(ws, "two")

	// A ping takes the reader to gorilla's read, where it waits for the
	// next data frame: no respawn there.
	ws2, c2 := dial()
	echo(ws2, "one")
	if err := ws2.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * quiet)
	if got := c2.activeAt.Load(); got <= 0 {
		t.Errorf("activeAt = %d while the reader waits in gorilla's read, want it left alone", got)
	}
	echo(ws2, "two")
	select {
	case got := <-h.closed:
		t.Fatalf("a connection closed: %v", got)
	default:
	}
}

// echoCloser echoes, and records Open and Close.
type echoCloser struct{ *closeRecorder }

func (echoCloser) Message(c *Conn, m Message) { _ = c.Send(m.Type, m.Data) }

// TestReadPathsRandom: a seeded stream of messages of every size (some
// fragmented, with pings and pongs among them), written in pieces cut at
// random, comes back whole and in order, whichever read took each piece.
func TestReadPathsRandom(t *testing.T) {
	const text, binary, ping, pong, cont, fin = 0x01, 0x02, 0x89, 0x8a, 0x00, 0x80
	rng := rand.New(rand.NewPCG(7, 11))
	var stream []byte
	var want []string
	pings := 0
	for i := range 300 {
		size := rng.IntN(40)
		switch rng.IntN(10) {
		case 0:
			size = 200 + rng.IntN(400) // about the read buffer's size
		case 1:
			size = 2000 + rng.IntN(3000) // longer than it
		}
		msg := strings.Repeat(string(rune('a'+i%26)), size)
		switch rng.IntN(8) {
		case 0: // fragmented in two
			half := size / 2
			stream = append(stream, clientFrame(binary, msg[:half])...)
			stream = append(stream, clientFrame(fin|cont, msg[half:])...)
		default:
			stream = append(stream, clientFrame(fin|text, msg)...)
		}
		want = append(want, msg)
		switch rng.IntN(12) {
		case 0:
			stream = append(stream, clientFrame(ping, "p")...)
			pings++
		case 1:
			stream = append(stream, clientFrame(pong, "")...)
		}
	}
	// A last message: its echo comes after every pong.
	stream = append(stream, clientFrame(fin|text, "end")...)
	want = append(want, "end")
	ws, _, err := websocket.DefaultDialer.Dial(startServer(t, echoer{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var pongs atomic.Int32
	ws.SetPongHandler(func(string) error { pongs.Add(1); return nil })
	go func() {
		for rest := stream; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(700))
			if _, err := ws.NetConn().Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
			if rng.IntN(4) == 0 {
				time.Sleep(time.Millisecond) // now and then, a read of its own
			}
		}
	}()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, w := range want {
		_, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("message %d of %d: %v", i, len(want), err)
		}
		if string(got) != w {
			t.Fatalf("message %d: got %d bytes %.20q, want %d bytes %.20q", i, len(got), got, len(w), w)
		}
	}
	if got := pongs.Load(); int(got) != pings {
		t.Errorf("got %d pongs, want %d", got, pings)
	}
}

// TestEndWithLastBytes: a peer that sends a message and closes its socket
// at once (the FIN in the same segment, or the same readiness event, as
// the message's bytes) is seen to go without waiting for anything else:
// no ping, no respawn (here an hour away) rescues the reader.
func TestEndWithLastBytes(t *testing.T) {
	h := &closeRecorder{opened: make(chan *Conn, 1), closed: make(chan [2]any, 1)}
	url := startMount(t, MountConfig{Handler: h, respawnIdle: time.Hour, PingInterval: time.Hour})
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	<-h.opened
	msg := []byte{0x81, 0x82, 0, 0, 0, 0, 'h', 'i'} // "hi", masked with a zero key
	nc := ws.NetConn().(*net.TCPConn)
	if _, err := nc.Write(msg); err != nil {
		t.Fatal(err)
	}
	_ = nc.CloseWrite()
	select {
	case got := <-h.closed:
		if got[0] != websocket.CloseAbnormalClosure {
			t.Errorf("Close: got %v, want 1006", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no Close 10 s after the peer's FIN: the reader never saw the end of the stream")
	}
}

// TestRespawnTLS: a TLS connection's reader, whose goroutine ran the
// handshake and a handler, starts afresh once the connection is quiet, from
// its wait in waitReadable, and the connection goes on as before.
func TestRespawnTLS(t *testing.T) {
	const quiet = 300 * time.Millisecond
	cert, roots := testCert(t)
	h := &closeRecorder{opened: make(chan *Conn, 1), closed: make(chan [2]any, 1)}
	srv, err := New(Config{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Mounts:    []MountConfig{{Handler: echoCloser{h}, respawnIdle: quiet}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots}, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("wss://"+ln.Addr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := <-h.opened
	echo := func(msg string) {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := ws.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("echo %q: got %q, %v", msg, got, err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); c.mount.clock.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the mount's clock never started")
		}
	}
	for round := range 3 {
		echo(fmt.Sprintf("round %d", round))
		if c.activeAt.Load() <= 0 {
			t.Fatalf("activeAt = %d after a message, want the mount clock", c.activeAt.Load())
		}
		for deadline := time.Now().Add(5 * time.Second); c.activeAt.Load() != 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the reader never started afresh", round)
			}
		}
	}
	echo("after")
	select {
	case got := <-h.closed:
		t.Fatalf("the connection closed: %v", got)
	default:
	}
}

// testCert is a self-signed certificate for 127.0.0.1 and a pool that
// trusts it (enginetest's, which this package's own tests cannot import).
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
