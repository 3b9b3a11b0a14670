package engine_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// upgradeHeader is a valid client handshake but for the version.
func upgradeHeader(version string) http.Header {
	return http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-Websocket-Version": {version},
	}
}

func TestHandshakeInvalid(t *testing.T) {
	_, wsURL := newTestServer(t, mountOf(echoHandler{}))
	noKey := upgradeHeader("13")
	noKey.Del("Sec-Websocket-Key")
	tests := []struct {
		name       string
		method     string
		header     http.Header
		wantStatus int
		wantBody   string
		wantHeader http.Header
	}{
		{"plain GET", http.MethodGet, nil, http.StatusBadRequest, "invalid request", nil},
		{"POST upgrade", http.MethodPost, upgradeHeader("13"), http.StatusBadRequest, "invalid request", nil},
		{"no key", http.MethodGet, noKey, http.StatusBadRequest, "invalid request", nil},
		{"version 8", http.MethodGet, upgradeHeader("8"), http.StatusUpgradeRequired, "invalid request",
			http.Header{"Sec-Websocket-Version": {"13"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := enginetest.Do(t, tt.method, enginetest.HTTPURL(wsURL), tt.header, nil)
			status, header := resp.StatusCode, resp.Header
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %q, want %d with %q", status, body, tt.wantStatus, tt.wantBody)
			}
			for k := range tt.wantHeader {
				if got, want := header.Get(k), tt.wantHeader.Get(k); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestOrigin(t *testing.T) {
	const same = "SAME" // replaced by the server's own origin
	tests := []struct {
		name    string
		allowed []string
		origin  string
		wantOK  bool
	}{
		{"no origin header", nil, "", true},
		{"same host", nil, same, true},
		{"other host", nil, "http://evil.example", false},
		{"other port", nil, "http://127.0.0.1:1", false},
		{"star", []string{"*"}, "http://evil.example", true},
		{"listed", []string{"https://good.example"}, "https://good.example", true},
		{"listed, other case", []string{"https://Good.Example"}, "https://good.example", true},
		{"not listed", []string{"https://good.example"}, "http://evil.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, wsURL := newTestServer(t, mountOf(echoHandler{}, func(mc *engine.MountConfig) { mc.AllowedOrigins = tt.allowed }))
			header := http.Header{}
			if tt.origin == same {
				u, _ := url.Parse(wsURL)
				header.Set("Origin", "http://"+u.Host)
			} else if tt.origin != "" {
				header.Set("Origin", tt.origin)
			}
			_, resp, err := enginetest.DialWith(t, websocket.DefaultDialer, wsURL, header)
			switch {
			case tt.wantOK && err != nil:
				t.Errorf("got %v, want a connection", err)
			case !tt.wantOK && err == nil:
				t.Errorf("got a connection, want 403")
			case !tt.wantOK:
				if body := enginetest.Body(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "origin not allowed") {
					t.Errorf("got %d %q, want 403 \"origin not allowed\"", resp.StatusCode, body)
				}
			}
		})
	}
}

func TestHandshaker(t *testing.T) {
	tests := []struct {
		name       string
		handshake  func(req *engine.Request) (engine.HandshakeReply, error)
		offer      []string // subprotocols the client offers
		mountProto []string // MountConfig.Subprotocols
		wantStatus int      // 0: the upgrade succeeds
		wantBody   string   // exact body on failure
		wantProto  string
		wantHeader http.Header
		wantData   map[string]any
	}{
		{
			name: "rejection with status and body",
			handshake: func(*engine.Request) (engine.HandshakeReply, error) {
				return engine.HandshakeReply{}, &engine.Rejection{Status: http.StatusNotFound, Body: "no such room"}
			},
			wantStatus: http.StatusNotFound, wantBody: "no such room",
		},
		{
			name: "bare rejection",
			handshake: func(*engine.Request) (engine.HandshakeReply, error) {
				return engine.HandshakeReply{}, &engine.Rejection{}
			},
			wantStatus: http.StatusForbidden, wantBody: "rejected\n",
		},
		{
			name: "plain error does not leak",
			handshake: func(*engine.Request) (engine.HandshakeReply, error) {
				return engine.HandshakeReply{}, errors.New("chat.lua:12: secret detail")
			},
			wantStatus: http.StatusForbidden, wantBody: "rejected\n",
		},
		{
			name: "subprotocol offered",
			handshake: func(*engine.Request) (engine.HandshakeReply, error) {
				return engine.HandshakeReply{Subprotocol: "b"}, nil
			},
			offer: []string{"a", "b"}, wantProto: "b",
		},
		{
			name: "subprotocol not offered",
			handshake: func(*engine.Request) (engine.HandshakeReply, error) {
				return engine.HandshakeReply{Subprotocol: "z"}, nil
			},
			offer: []string{"a", "b"}, mountProto: []string{"a"}, wantProto: "",
		},
		{
			name:      "mount subprotocol when none chosen",
			handshake: func(*engine.Request) (engine.HandshakeReply, error) { return engine.HandshakeReply{}, nil },
			offer:     []string{"x", "chat", "a"}, mountProto: []string{"a", "chat"}, wantProto: "a",
		},
		{
			name: "header injected into 101",
			handshake: func(*engine.Request) (engine.HandshakeReply, error) {
				return engine.HandshakeReply{Header: http.Header{"X-Room": {"lobby"}}}, nil
			},
			wantHeader: http.Header{"X-Room": {"lobby"}},
		},
		{
			name: "data seeds Conn.Data",
			handshake: func(req *engine.Request) (engine.HandshakeReply, error) {
				return engine.HandshakeReply{Data: map[string]any{"user": req.Query().Get("user"), "n": int64(7)}}, nil
			},
			wantData: map[string]any{"user": "ann", "n": int64(7)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			h := handshaker{recorder: rec, handshake: tt.handshake}
			_, wsURL := newTestServer(t, mountOf(h, func(mc *engine.MountConfig) { mc.Subprotocols = tt.mountProto }))
			d := *websocket.DefaultDialer
			d.Subprotocols = tt.offer
			ws, resp, err := enginetest.DialWith(t, &d, wsURL+"?user=ann", nil)
			if tt.wantStatus != 0 {
				if err == nil {
					t.Fatalf("got a connection, want %d", tt.wantStatus)
				}
				if body := enginetest.Body(t, resp); resp.StatusCode != tt.wantStatus || body != tt.wantBody {
					t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			c := rec.waitOpen(t)
			if got := ws.Subprotocol(); got != tt.wantProto {
				t.Errorf("client subprotocol: got %q, want %q", got, tt.wantProto)
			}
			if got := c.Subprotocol(); got != tt.wantProto {
				t.Errorf("Conn.Subprotocol: got %q, want %q", got, tt.wantProto)
			}
			if _, sent := resp.Header["Sec-Websocket-Protocol"]; sent != (tt.wantProto != "") {
				t.Errorf("Sec-WebSocket-Protocol sent: got %v, want %v", sent, tt.wantProto != "")
			}
			for k := range tt.wantHeader {
				if got, want := resp.Header.Get(k), tt.wantHeader.Get(k); got != want {
					t.Errorf("101 header %s: got %q, want %q", k, got, want)
				}
			}
			for k, want := range tt.wantData {
				if got, _ := c.Data().Get(k); got != want {
					t.Errorf("Data[%q]: got %#v, want %#v", k, got, want)
				}
			}
			if tt.wantData != nil && c.Data().Len() != len(tt.wantData) {
				t.Errorf("Data: got %v, want %v", c.Data().Snapshot(), tt.wantData)
			}
		})
	}
}

// TestHandshakeRequest: the Handshaker and the Conn see what the client sent.
func TestHandshakeRequest(t *testing.T) {
	reqs := make(chan *engine.Request, 1)
	hadHTTP := make(chan bool, 1) // Request.HTTP is for Handshake and Open only
	rec := newRecorder()
	h := handshaker{recorder: rec, handshake: func(req *engine.Request) (engine.HandshakeReply, error) {
		hadHTTP <- req.HTTP != nil
		reqs <- req
		return engine.HandshakeReply{}, nil
	}}
	cfg := engine.Config{Mounts: []engine.MountConfig{{Path: "/rooms/", Handler: h}}}
	_, wsURL := newTestServer(t, cfg)
	d := *websocket.DefaultDialer
	d.Subprotocols = []string{"chat", "v2"}
	enginetest.DialWith(t, &d, wsURL+"lobby?user=ann&user=bob", http.Header{"X-Test": {"yes"}})
	req := <-reqs
	c := rec.waitOpen(t)
	if c.Request() != req {
		t.Errorf("Conn.Request: got %p, want the Handshaker's %p", c.Request(), req)
	}
	host, _, _ := net.SplitHostPort(req.RemoteAddr)
	checks := []struct {
		name      string
		got, want any
	}{
		{"Path", req.Path, "/rooms/lobby"},
		{"Query", strings.Join(req.Query()["user"], ","), "ann,bob"},
		{"Header", req.Header().Get("X-Test"), "yes"},
		{"RemoteAddr", host, "127.0.0.1"},
		{"Subprotocols", strings.Join(req.Subprotocols, ","), "chat,v2"},
		{"HTTP in Handshake", <-hadHTTP, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestErrorReplier(t *testing.T) {
	type seen struct {
		reason string
		status int
		path   string
	}
	seenCh := make(chan seen, 10)
	rec := newRecorder()
	h := errorReplier{
		handshaker: handshaker{recorder: rec, handshake: func(req *engine.Request) (engine.HandshakeReply, error) {
			if req.Query().Get("let") == "" {
				return engine.HandshakeReply{}, &engine.Rejection{Status: http.StatusNotFound, Body: "no such room"}
			}
			return engine.HandshakeReply{}, nil
		}},
		reply: func(req *engine.Request, e *engine.HandshakeError) (engine.ErrorReply, bool) {
			seenCh <- seen{e.Reason, e.Status, req.Path}
			if e.Reason == engine.ReasonOriginNotAllowed {
				return engine.ErrorReply{}, false // the default
			}
			return engine.ErrorReply{
				Status: http.StatusTeapot,
				Header: http.Header{"X-Why": {e.Reason}},
				Body:   []byte("no: " + e.Reason),
			}, true
		},
	}
	_, wsURL := newTestServer(t, mountOf(h, func(mc *engine.MountConfig) { mc.AllowedOrigins = []string{"https://good.example"} }))

	tests := []struct {
		name       string
		url        string
		header     http.Header
		wantSeen   seen
		wantStatus int
		wantBody   string
		wantWhy    string
	}{
		{"rejected", wsURL, nil, seen{engine.ReasonRejected, http.StatusNotFound, "/ws"}, http.StatusTeapot, "no: rejected", engine.ReasonRejected},
		{"origin, default reply", wsURL + "?let=1", http.Header{"Origin": {"http://evil.example"}},
			seen{engine.ReasonOriginNotAllowed, http.StatusForbidden, "/ws"}, http.StatusForbidden, "origin not allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := enginetest.DialWith(t, websocket.DefaultDialer, tt.url, tt.header)
			if err == nil {
				t.Fatalf("got a connection, want %d", tt.wantStatus)
			}
			if got := <-seenCh; got != tt.wantSeen {
				t.Errorf("HandshakeFailed saw %+v, want %+v", got, tt.wantSeen)
			}
			body := enginetest.Body(t, resp)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) || resp.Header.Get("X-Why") != tt.wantWhy {
				t.Errorf("got %d %q X-Why %q, want %d %q X-Why %q", resp.StatusCode, body, resp.Header.Get("X-Why"),
					tt.wantStatus, tt.wantBody, tt.wantWhy)
			}
		})
	}
	t.Run("plain GET", func(t *testing.T) {
		resp, body := enginetest.Get(t, enginetest.HTTPURL(wsURL), nil)
		status := resp.StatusCode
		if got := <-seenCh; got.reason != engine.ReasonInvalidRequest {
			t.Errorf("HandshakeFailed saw %q, want %q", got.reason, engine.ReasonInvalidRequest)
		}
		if status != http.StatusTeapot || body != "no: invalid request" {
			t.Errorf("got %d %q, want 418 \"no: invalid request\"", status, body)
		}
	})
}

func TestMaxConnections(t *testing.T) {
	from := func(ip string) *websocket.Dialer {
		d := *websocket.DefaultDialer
		d.NetDialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
		return &d
	}
	tests := []struct {
		name    string
		cfg     func(*engine.Config)
		dialers []*websocket.Dialer // the last one is refused, then admitted once the first has closed
		other   *websocket.Dialer   // still admitted while the last is refused (nil: none)
	}{
		{
			name:    "overall",
			cfg:     func(c *engine.Config) { c.MaxConnections = 2 },
			dialers: []*websocket.Dialer{from("127.0.0.1"), from("127.0.0.1"), from("127.0.0.1")},
		},
		{
			name:    "per address",
			cfg:     func(c *engine.Config) { c.MaxConnectionsPerAddr = 1 },
			dialers: []*websocket.Dialer{from("127.0.0.1"), from("127.0.0.1")},
			other:   from("127.0.0.2"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			cfg := mountOf(rec)
			tt.cfg(&cfg)
			srv, wsURL := newTestServer(t, cfg)
			n := len(tt.dialers)
			var first *websocket.Conn
			for i, d := range tt.dialers[:n-1] {
				ws, _, err := enginetest.DialWith(t, d, wsURL, nil)
				if err != nil {
					t.Fatalf("dial %d: %v", i, err)
				}
				if first == nil {
					first = ws
				}
				rec.waitOpen(t)
			}
			_, resp, err := enginetest.DialWith(t, tt.dialers[n-1], wsURL, nil)
			if err == nil {
				t.Fatalf("dial over the limit: got a connection, want 503")
			}
			if body := enginetest.Body(t, resp); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections") {
				t.Fatalf("dial over the limit: got %d %q, want 503 \"too many connections\"", resp.StatusCode, body)
			}
			if tt.other != nil {
				if _, _, err := enginetest.DialWith(t, tt.other, wsURL, nil); err != nil {
					t.Skipf("dial from another loopback address: %v (no 127.0.0.2?)", err)
				}
				rec.waitOpen(t)
			}
			// A closed connection gives its slot back.
			first.Close()
			rec.waitClose(t, 1)
			if _, _, err := enginetest.DialWith(t, tt.dialers[n-1], wsURL, nil); err != nil {
				t.Fatalf("dial after a close: %v, want a connection", err)
			}
			rec.waitOpen(t) // the 101 may reach the client before the conn is registered
			if got, want := srv.Mount("/ws").Len(), n-1; tt.other == nil && got != want {
				t.Errorf("Len: got %d, want %d", got, want)
			}
		})
	}
}

// TestHandshakePanic: a panicking Handshaker fails that request only and
// gives its connection slot back, so Shutdown does not wait for it.
func TestHandshakePanic(t *testing.T) {
	rec := newRecorder()
	h := handshaker{recorder: rec, handshake: func(req *engine.Request) (engine.HandshakeReply, error) {
		if req.Query().Has("panic") {
			panic("boom")
		}
		return engine.HandshakeReply{}, nil
	}}
	cfg := mountOf(h)
	cfg.MaxConnections = 1
	srv, wsURL := newTestServer(t, cfg)
	if _, _, err := enginetest.DialWith(t, websocket.DefaultDialer, wsURL+"?panic", nil); err == nil {
		t.Fatalf("dial: got a connection, want an error")
	}
	ws := dial(t, wsURL)
	rec.waitOpen(t)
	ws.Close()
	rec.waitClose(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), enginetest.Timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: got %v, want nil", err)
	}
}

// TestOpenBeforeTheUpgrade: Open has run when the client sees its 101, so
// whatever it sets up is in place before the client can act; when the
// 101 cannot go out, Close follows with 1006.
func TestOpenBeforeTheUpgrade(t *testing.T) {
	rec := newRecorder()
	_, wsURL := newTestServer(t, mountOf(rec))
	ws := dial(t, wsURL)
	defer ws.Close()
	select {
	case <-rec.opens:
	default:
		t.Fatal("the client has its 101, but Open has not run")
	}

	// A client that sends bytes before the handshake is complete is
	// refused by gorilla after Open ran: Close must follow.
	u, _ := url.Parse(wsURL)
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := "GET " + u.Path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nearly bytes"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	var c *engine.Conn
	select {
	case c = <-rec.opens:
	case <-time.After(enginetest.Timeout):
		t.Fatal("no Open for the second connection")
	}
	if got := rec.waitClose(t, c.ID()); got.code != websocket.CloseAbnormalClosure || !strings.HasPrefix(got.reason, "upgrade failed") {
		t.Errorf("Close(%d, %q), want 1006 and a reason starting with \"upgrade failed\"", got.code, got.reason)
	}
	if n := rec.closeCount(c.ID()); n != 1 {
		t.Errorf("Close ran %d times, want 1", n)
	}
}
