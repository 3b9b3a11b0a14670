package middleware_test

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/engine/middleware"
)

// echo sends every message back and hands out each connection's request.
type echo struct {
	once sync.Once
	reqs chan *engine.Request
}

func (e *echo) ch() chan *engine.Request {
	e.once.Do(func() { e.reqs = make(chan *engine.Request, 64) })
	return e.reqs
}

func (e *echo) Open(c *engine.Conn)                      { e.ch() <- c.Request() }
func (e *echo) Message(c *engine.Conn, m engine.Message) { _ = c.Send(m.Type, m.Data) }
func (e *echo) Close(*engine.Conn, int, string)          {}

// nextRequest returns the request of the next opened connection.
func (e *echo) nextRequest(t *testing.T) *engine.Request {
	t.Helper()
	select {
	case r := <-e.ch():
		return r
	case <-time.After(enginetest.Timeout):
		t.Fatal("no connection opened")
		return nil
	}
}

// replier is an echo whose failed handshakes reply "custom: REASON".
type replier struct{ echo }

func (*replier) HandshakeFailed(_ *engine.Request, e *engine.HandshakeError) (engine.ErrorReply, bool) {
	return engine.ErrorReply{Body: []byte("custom: " + e.Reason)}, true
}

// serve runs h behind the named middleware (name, settings, name,
// settings, ...) and returns the ws:// URL and the log.
func serve(t *testing.T, h engine.Handler, mws ...any) (string, *enginetest.Buffer) {
	t.Helper()
	logs := &enginetest.Buffer{}
	log := enginetest.Logger(t, slog.LevelInfo, logs)
	var list []engine.Middleware
	for i := 0; i < len(mws); i += 2 {
		settings, _ := mws[i+1].(map[string]any)
		mw, err := middleware.New(mws[i].(string), settings, middleware.Env{Mount: "/ws", Logger: log})
		if err != nil {
			t.Fatalf("middleware %s: %v", mws[i], err)
		}
		list = append(list, mw)
	}
	srv, err := engine.New(engine.Config{Logger: log, Mounts: []engine.MountConfig{{Handler: h, Middleware: list}}})
	if err != nil {
		t.Fatal(err)
	}
	return enginetest.Serve(t, srv), logs
}

func TestAccessLog(t *testing.T) {
	url, logs := serve(t, &echo{}, "access_log", nil, "real_ip", nil, "bearer", map[string]any{"tokens": []any{"s3cret"}})
	c, _, _ := enginetest.Handshake(t, nil, url, http.Header{"Authorization": {"Bearer s3cret"}, "X-Forwarded-For": {"198.51.100.7"}, "User-Agent": {"test-agent"}})
	if c == nil {
		t.Fatal("dial failed")
	}
	if c, resp, _ := enginetest.Handshake(t, nil, url, nil); c != nil || resp.StatusCode != 401 {
		t.Fatal("want 401 without a token")
	}
	enginetest.WaitFor(t, "two access log lines", func() bool { return strings.Count(logs.String(), "msg=handshake") == 2 })
	find := func(status string) string {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "msg=handshake "+status) {
				return l
			}
		}
		return ""
	}
	for status, want := range map[string][]string{
		"status=101": {"path=/ws", "remote_addr=198.51.100.7", "peer=127.0.0.1:", "duration=", "user_agent=test-agent"},
		"status=401": {"path=/ws", "remote_addr=127.0.0.1:", "duration="},
	} {
		line := find(status)
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("%s line %q lacks %q", status, line, w)
			}
		}
	}
}

func TestRealIP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]any
		header   http.Header
		want     string // remote address the handler sees; "peer" for unchanged
	}{
		{"no header", nil, nil, "peer"},
		{"one hop", nil, http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"rightmost untrusted", map[string]any{"trusted_proxies": []any{"127.0.0.1", "10.0.0.0/8"}},
			http.Header{"X-Forwarded-For": {"1.1.1.1, 203.0.113.9, 10.1.2.3"}}, "203.0.113.9"},
		{"spoofed left part ignored", nil, http.Header{"X-Forwarded-For": {"6.6.6.6", "203.0.113.9"}}, "203.0.113.9"},
		{"all trusted", map[string]any{"trusted_proxies": []any{"127.0.0.1", "10.0.0.0/8"}},
			http.Header{"X-Forwarded-For": {"10.0.0.5, 10.0.0.6"}}, "10.0.0.5"},
		{"ipv6", nil, http.Header{"X-Forwarded-For": {"2001:db8::1"}}, "2001:db8::1"},
		{"garbage", nil, http.Header{"X-Forwarded-For": {"not-an-ip"}}, "peer"},
		{"untrusted peer", map[string]any{"trusted_proxies": []any{"10.0.0.0/8"}},
			http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "peer"},
		{"x-real-ip", map[string]any{"header": "X-Real-IP"},
			http.Header{"X-Real-Ip": {"203.0.113.10"}, "X-Forwarded-For": {"6.6.6.6"}}, "203.0.113.10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &echo{}
			url, _ := serve(t, h, "real_ip", tc.settings)
			if c, resp, body := enginetest.Handshake(t, nil, url, tc.header); c == nil {
				t.Fatalf("dial: %d %q", resp.StatusCode, body)
			}
			got := h.nextRequest(t).RemoteAddr
			if tc.want == "peer" {
				if !strings.HasPrefix(got, "127.0.0.1:") {
					t.Errorf("got %q, want the peer address", got)
				}
			} else if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRateLimitMessages(t *testing.T) {
	url, _ := serve(t, &echo{}, "rate_limit", map[string]any{"messages_per_second": 0.1, "burst": int64(3)})
	c, _, _ := enginetest.Handshake(t, nil, url, nil)
	for range 3 {
		enginetest.Echo(t, c, "within burst")
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("one too many")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(enginetest.Timeout))
	_, msg, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "rate limit exceeded" {
		t.Fatalf("got %q %v, want close 1008 \"rate limit exceeded\"", msg, err)
	}
	// Other connections have their own bucket.
	c2, _, _ := enginetest.Handshake(t, nil, url, nil)
	enginetest.Echo(t, c2, "fresh bucket")
}

func TestRateLimitHandshakes(t *testing.T) {
	h := &replier{}
	url, _ := serve(t, h, "real_ip", nil, "rate_limit", map[string]any{"handshakes_per_second": 0.1, "handshake_burst": int64(2)})
	from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	for range 2 {
		if c, resp, body := enginetest.Handshake(t, nil, url, from("203.0.113.1")); c == nil {
			t.Fatalf("within burst: %d %q", resp.StatusCode, body)
		}
	}
	c, resp, body := enginetest.Handshake(t, nil, url, from("203.0.113.1"))
	if c != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third handshake: got %v, want 429", resp.Status)
	}
	if got := resp.Header.Get("Retry-After"); got != "10" {
		t.Errorf("Retry-After: got %q, want 10", got)
	}
	if body != "custom: rate limited" {
		t.Errorf("body: got %q, want the handler's error reply", body)
	}
	if c, resp, _ := enginetest.Handshake(t, nil, url, from("203.0.113.2")); c == nil {
		t.Fatalf("another address: got %d, want 101", resp.StatusCode)
	}
}

func TestBasicAuth(t *testing.T) {
	h := &echo{}
	url, _ := serve(t, h, "basic_auth", map[string]any{"users": map[string]any{"ann": "pw1", "bob": "pw2"}, "realm": "chat"})
	basic := func(user, pass string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}}
	}
	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{"none", nil},
		{"wrong password", basic("ann", "pw2")},
		{"no such user", basic("eve", "pw1")},
		{"bearer", http.Header{"Authorization": {"Bearer pw1"}}},
	} {
		c, resp, body := enginetest.Handshake(t, nil, url, tc.header)
		if c != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: got %v, want 401", tc.name, resp.Status)
		}
		if got, want := resp.Header.Get("Www-Authenticate"), `Basic realm="chat", charset="UTF-8"`; got != want {
			t.Errorf("%s: WWW-Authenticate: got %q, want %q", tc.name, got, want)
		}
		if !strings.HasPrefix(body, "unauthorized") {
			t.Errorf("%s: body %q", tc.name, body)
		}
	}
	spoof := basic("bob", "pw2")
	spoof.Set(middleware.UserHeader, "ann")
	c, resp, body := enginetest.Handshake(t, nil, url, spoof)
	if c == nil {
		t.Fatalf("bob: got %d %q, want 101", resp.StatusCode, body)
	}
	if got := h.nextRequest(t).Header().Get(middleware.UserHeader); got != "bob" {
		t.Errorf("%s: got %q, want bob", middleware.UserHeader, got)
	}
}

func TestBearer(t *testing.T) {
	url, _ := serve(t, &echo{}, "bearer", map[string]any{"tokens": []any{"t-one", "t-two"}, "query": "access_token"})
	for _, tc := range []struct {
		name   string
		query  string
		header http.Header
		status int
		auth   string
	}{
		{"header", "", http.Header{"Authorization": {"Bearer t-two"}}, 101, ""},
		{"lower case scheme", "", http.Header{"Authorization": {"bearer t-one"}}, 101, ""},
		{"query", "?access_token=t-one", nil, 101, ""},
		{"none", "", nil, 401, `Bearer realm="luaws"`},
		{"unknown", "", http.Header{"Authorization": {"Bearer t-three"}}, 401, `Bearer realm="luaws", error="invalid_token"`},
		{"prefix of a token", "?access_token=t-on", nil, 401, `Bearer realm="luaws", error="invalid_token"`},
	} {
		c, resp, _ := enginetest.Handshake(t, nil, url+tc.query, tc.header)
		if got := resp.StatusCode; got != tc.status {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.status)
		}
		if c == nil && resp.Header.Get("Www-Authenticate") != tc.auth {
			t.Errorf("%s: WWW-Authenticate: got %q, want %q", tc.name, resp.Header.Get("Www-Authenticate"), tc.auth)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]any
		want     string
	}{
		{"nope", nil, `unknown middleware "nope" (known: access_log, basic_auth, bearer, rate_limit, real_ip)`},
		{"rate_limit", nil, "set messages_per_second, handshakes_per_second or both"},
		{"rate_limit", map[string]any{"messages_per_second": "fast"}, `messages_per_second: want a positive number, got "fast"`},
		{"rate_limit", map[string]any{"messages_per_second": int64(5), "burst": 0.5}, "burst: want a whole number from 1, got 0.5"},
		{"rate_limit", map[string]any{"handshakes_per_second": int64(5), "burst": int64(2)}, "burst: burst needs messages_per_second"},
		{"rate_limit", map[string]any{"messages_per_second": int64(5), "per_ip": true}, "per_ip: unknown key"},
		{"real_ip", map[string]any{"trusted_proxies": []any{"10.0.0.0/8", int64(1)}}, "trusted_proxies.1: want a string, got 1"},
		{"real_ip", map[string]any{"header": "Forwarded"}, `header: want X-Forwarded-For or X-Real-IP, got "Forwarded"`},
		{"basic_auth", nil, `users: required: a table of name = "password"`},
		{"basic_auth", map[string]any{"users": map[string]any{"ann": int64(1)}}, "users.ann: want a string, got 1"},
		{"bearer", map[string]any{"tokens": []any{}}, "tokens: required: an array of accepted tokens"},
		{"bearer", map[string]any{"tokens": []any{""}}, "tokens: a token may not be empty"},
		{"access_log", map[string]any{"level": "loud"}, `level: want info or debug, got "loud"`},
	} {
		_, err := middleware.New(tc.name, tc.settings, middleware.Env{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s %v:\ngot  %v\nwant %s", tc.name, tc.settings, err, tc.want)
		}
	}
}
