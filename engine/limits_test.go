package engine_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/engine/middleware"
)

func TestIdleTimeout(t *testing.T) { run(t, testIdleTimeout) }

func testIdleTimeout(t *testing.T, md mode) {
	rec := newRecorder()
	rec.onMessage = echo
	srv := md.serve(t, mountOf(rec, func(mc *engine.MountConfig) { mc.IdleTimeout = 300 * time.Millisecond }))

	active := srv.dial(t)
	tick := time.NewTicker(50 * time.Millisecond) // paces the sends; nothing waits on it
	defer tick.Stop()
	start := time.Now()
	for i := 0; time.Since(start) < 900*time.Millisecond; i++ {
		<-tick.C
		enginetest.Write(t, active, websocket.TextMessage, []byte("still here"))
		if got := enginetest.ReadText(t, active); got != "still here" {
			t.Fatalf("message %d: got %q", i, got)
		}
	}
	// Silent from now on: closed with 1001 "idle timeout".
	ce, _ := enginetest.ReadClose(t, active)
	if ce.Code != websocket.CloseGoingAway || ce.Text != "idle timeout" {
		t.Errorf("got close %d %q, want 1001 \"idle timeout\"", ce.Code, ce.Text)
	}
	if quiet := time.Since(start) - 900*time.Millisecond; quiet < 250*time.Millisecond {
		t.Errorf("closed after %v of silence, want about 300ms", quiet)
	}
	waitFor(t, "idle close counted", func() bool { return srv.Mounts()[0].Stats().IdleCloses == 1 })
}

func TestHandshakeTimeout(t *testing.T) {
	cfg := mountOf(echoHandler{})
	cfg.HandshakeTimeout = 200 * time.Millisecond
	_, url := newTestServer(t, cfg)
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(url, "/ws"), "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Half a request, then nothing: the server must hang up.
	if _, err := conn.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(enginetest.Timeout))
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: got %v, want the server to close the connection", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("closed after %v, want about 200ms", took)
	}
	if len(b) > 0 && !bytes.HasPrefix(b, []byte("HTTP/1.1 408")) {
		t.Errorf("got %q, want nothing or 408", b)
	}
}

func TestMaxConnectionsLimits(t *testing.T) {
	cfg := mountOf(echoHandler{})
	cfg.MaxConnections = 2
	srv, url := newTestServer(t, cfg)
	a, b := dial(t, url), dial(t, url)
	_, resp, err := enginetest.DialWith(t, websocket.DefaultDialer, url, nil)
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third connection: got %v, want 503", err)
	}
	if got := enginetest.Body(t, resp); got != "too many connections: server limit of 2 reached\n" {
		t.Errorf("body: got %q", got)
	}
	_ = b
	a.Close()
	waitFor(t, "a slot", func() bool { return srv.Mounts()[0].Len() == 1 })
	dial(t, url)
	if got := srv.Mounts()[0].Stats().HandshakesRejected[engine.ReasonTooManyConnections]; got != 1 {
		t.Errorf("rejected for too many connections: got %d, want 1", got)
	}
}

// TestMaxConnectionsPerAddr counts per client address, which real_ip
// takes from X-Forwarded-For when the peer is a trusted proxy.
func TestMaxConnectionsPerAddr(t *testing.T) {
	realIP, err := middleware.New("real_ip", nil, middleware.Env{}) // trusts loopback
	if err != nil {
		t.Fatal(err)
	}
	cfg := mountOf(echoHandler{}, func(mc *engine.MountConfig) { mc.Middleware = []engine.Middleware{realIP} })
	cfg.MaxConnectionsPerAddr = 1
	_, url := newTestServer(t, cfg)
	from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	if _, _, err := enginetest.DialWith(t, websocket.DefaultDialer, url, from("203.0.113.1")); err != nil {
		t.Fatalf("first from 203.0.113.1: %v", err)
	}
	if _, _, err := enginetest.DialWith(t, websocket.DefaultDialer, url, from("203.0.113.2")); err != nil {
		t.Fatalf("first from 203.0.113.2: %v", err)
	}
	_, resp, err := enginetest.DialWith(t, websocket.DefaultDialer, url, from("203.0.113.1"))
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second from 203.0.113.1: got %v, want 503", err)
	}
	if got := enginetest.Body(t, resp); got != "too many connections: limit of 1 per client address reached\n" {
		t.Errorf("body: got %q", got)
	}
}

func TestMaxMessageSize(t *testing.T) {
	run(t, func(t *testing.T, md mode) {
		rec := newRecorder()
		rec.onMessage = echo
		srv := md.serve(t, mountOf(rec, func(mc *engine.MountConfig) { mc.MaxMessageSize = 64 << 10 }))
		ws, resp, err := enginetest.DialWith(t, srv.dialer(false), srv.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		compress := md.compress
		ext := resp.Header.Get("Sec-Websocket-Extensions")
		if got := strings.Contains(ext, "permessage-deflate"); got != compress {
			t.Fatalf("Sec-WebSocket-Extensions %q: negotiated %v, want %v", ext, got, compress)
		}
		atLimit := bytes.Repeat([]byte("a"), 64<<10)
		enginetest.Write(t, ws, websocket.BinaryMessage, atLimit)
		if _, got := enginetest.Read(t, ws); !bytes.Equal(got, atLimit) {
			t.Fatalf("64 KiB message: got %d bytes back, want %d", len(got), len(atLimit))
		}
		// Compressed, a megabyte of zeros is about a kilobyte on the
		// wire, so only a check after decompression stops it.
		tooBig := make([]byte, 64<<10+1)
		if compress {
			tooBig = make([]byte, 1<<20)
		}
		enginetest.Write(t, ws, websocket.BinaryMessage, tooBig)
		ce, msgs := enginetest.ReadClose(t, ws)
		if ce.Code != websocket.CloseMessageTooBig {
			t.Errorf("got close %d %q, want 1009", ce.Code, ce.Text)
		}
		if len(msgs) > 0 {
			t.Errorf("got %d messages back, want none", len(msgs))
		}
		id := rec.waitOpen(t).ID()
		if e := rec.waitClose(t, id); e.code != websocket.CloseMessageTooBig {
			t.Errorf("Close handler: got %d, want 1009", e.code)
		}
		if n := len(rec.eventsOf(id)); n != 3 { // open, the 64 KiB message, close
			t.Errorf("handler saw %d events %v, want open, one message, close", n, rec.eventsOf(id))
		}
		st := srv.Mounts()[0].Stats()
		if st.MessagesIn != 1 || st.BytesIn != 64<<10 {
			t.Errorf("stats: got %d messages, %d bytes in; want 1, %d", st.MessagesIn, st.BytesIn, 64<<10)
		}
	})
}

func TestHealthHandler(t *testing.T) {
	srv, err := engine.New(mountOf(echoHandler{}))
	if err != nil {
		t.Fatal(err)
	}
	h := srv.HealthHandler()
	get := func() (int, string) {
		rr := &recorderWriter{header: http.Header{}}
		h.ServeHTTP(rr, &http.Request{Method: http.MethodGet})
		return rr.code, rr.body.String()
	}
	if code, body := get(); code != 200 || body != "ok\n" {
		t.Errorf("serving: got %d %q, want 200 ok", code, body)
	}
	if err := srv.Shutdown(t.Context()); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
	if code, body := get(); code != 503 || body != "shutting down\n" {
		t.Errorf("shutting down: got %d %q, want 503", code, body)
	}
}

// recorderWriter is a minimal http.ResponseWriter.
type recorderWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *recorderWriter) Header() http.Header { return w.header }
func (w *recorderWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	return w.body.Write(b)
}
func (w *recorderWriter) WriteHeader(code int) { w.code = code }
