package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luaws/luaws/engine/enginetest"
)

// upstreamApp is the app behind [[proxy]]: it answers every request with
// what it got as JSON, and /events with a server-sent event stream whose
// second event waits for release.
type upstreamApp struct {
	*httptest.Server
	release chan struct{}
	seen    chan seenRequest // every request but /events
}

type seenRequest struct {
	Method, Path, Host, Body string
	Header                   http.Header
}

func newUpstreamApp(t *testing.T) *upstreamApp {
	t.Helper()
	a := &upstreamApp{release: make(chan struct{}), seen: make(chan seenRequest, 16)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-a.release:
			case <-r.Context().Done():
				return
			}
			fmt.Fprint(w, "data: two\n\n")
			return
		}
		body, _ := io.ReadAll(r.Body)
		s := seenRequest{Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host, Body: string(body), Header: r.Header}
		select {
		case a.seen <- s:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	}))
	t.Cleanup(a.Close)
	return a
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startProxied serves a Lua echo mount at /ws, the app at / and under
// /api/ (prefix stripped), and a dead upstream under /down/.
func startProxied(t *testing.T, app *upstreamApp) *server {
	t.Helper()
	dir := t.TempDir()
	script, _ := filepath.Abs("testdata/echo.lua")
	toml := enginetest.WriteFile(t, filepath.Join(dir, "luaws.toml"), fmt.Sprintf(`
[[mount]]
path = "/ws"
script = %q

[[proxy]]
path = "/"
upstream = %q

[[proxy]]
path = "/api/"
upstream = %q
strip_prefix = true

[[proxy]]
path = "/down/"
upstream = "http://%s"
connect_timeout = "2s"
`, script, app.URL, app.URL+"/v1", closedAddr(t)))
	return startServe(t, "--config", toml)
}

// TestProxy: an app behind [[proxy]] answers plain requests, with
// X-Forwarded-* set as nginx sets them, and streams server-sent events
// unbuffered, while the Lua mount answers WebSockets on the same port.
func TestProxy(t *testing.T) {
	app := newUpstreamApp(t)
	s := startProxied(t, app)
	origin := base(s.URL)
	host := strings.TrimPrefix(origin, "http://")

	ws := enginetest.Dial(t, s.URL)
	enginetest.Echo(t, ws, "lua answers /ws")

	for _, tc := range []struct {
		name, path string
		header     http.Header
		wantPath   string
		wantXFF    string
	}{
		{"root", "/users/7?x=1", nil, "/users/7?x=1", "127.0.0.1"},
		{"strip prefix and upstream path", "/api/items", nil, "/v1/items", "127.0.0.1"},
		{"appends to X-Forwarded-For", "/a", http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "/a", "203.0.113.9, 127.0.0.1"},
		{"plain GET on the mount's path is the mount's", "/ws", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := enginetest.Get(t, origin+tc.path, tc.header)
			if tc.wantPath == "" {
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("GET /ws: got %d, want 400 from the mount (not the app)", resp.StatusCode)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
			}
			var got seenRequest
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if got.Path != tc.wantPath {
				t.Errorf("upstream path: got %s, want %s", got.Path, tc.wantPath)
			}
			for k, want := range map[string]string{"X-Forwarded-For": tc.wantXFF, "X-Forwarded-Host": host, "X-Forwarded-Proto": "http"} {
				if v := got.Header.Get(k); v != want {
					t.Errorf("%s: got %q, want %q", k, v, want)
				}
			}
		})
	}

	t.Run("POST body", func(t *testing.T) {
		resp, err := http.Post(origin+"/form", "text/plain", strings.NewReader("hello app"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got seenRequest
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.Method != "POST" || got.Body != "hello app" {
			t.Errorf("got %s %q, want POST \"hello app\"", got.Method, got.Body)
		}
	})

	t.Run("server-sent events unbuffered", func(t *testing.T) {
		resp, err := http.Get(origin + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type: got %q, want text/event-stream", ct)
		}
		r := bufio.NewReader(resp.Body)
		readEvent := func() string {
			t.Helper()
			got := make(chan string, 1)
			go func() {
				line, _ := r.ReadString('\n')
				_, _ = r.ReadString('\n') // the blank line after the event
				got <- line
			}()
			select {
			case l := <-got:
				return l
			case <-time.After(5 * time.Second):
				t.Fatal("no event within 5s: the proxy buffers the stream")
				return ""
			}
		}
		// The first event arrives while the app still holds the stream open.
		if got := readEvent(); got != "data: one\n" {
			t.Fatalf("first event: got %q, want \"data: one\\n\"", got)
		}
		close(app.release)
		if got := readEvent(); got != "data: two\n" {
			t.Fatalf("second event: got %q, want \"data: two\\n\"", got)
		}
	})

	enginetest.Echo(t, ws, "the WebSocket is still open")
}

// TestProxyUpstreamDown: an upstream that does not answer gets the client
// a 502 with a short body, and the log a line naming the upstream.
func TestProxyUpstreamDown(t *testing.T) {
	s := startProxied(t, newUpstreamApp(t))
	resp, body := enginetest.Get(t, base(s.URL)+"/down/x", nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("got %d, want 502", resp.StatusCode)
	}
	if !strings.HasPrefix(body, "502 bad gateway") || len(body) > 100 {
		t.Errorf("body: got %q, want a short line starting with 502 bad gateway", body)
	}
	line := s.stderr.WaitFor(t, "proxy upstream failed")
	for _, want := range []string{"proxy=/down/", "path=/down/x", "connection refused"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q: want %q in it", line, want)
		}
	}
}

// TestProxySmuggling sends requests whose framing a front and a back end
// could read differently. net/http refuses the ambiguous ones (doubled or
// unknown framing: 400, 501). Where RFC 9112 lets a server go on, it
// normalizes, and the upstream only ever sees the request as luaws read
// it, framed again by luaws: with Transfer-Encoding and Content-Length
// both, chunked wins and Content-Length is dropped (§6.3); an obs-fold
// line is joined to the one before with a space (§5.2), so it never
// reaches the app as a fold. Nothing after a chunked body ends is read as
// a second, hidden request.
func TestProxySmuggling(t *testing.T) {
	app := newUpstreamApp(t)
	s := startProxied(t, app)
	addr := strings.TrimPrefix(base(s.URL), "http://")
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name, req  string
		wantStatus int
		wantBody   string // with 200: the body the app must see
		wantHeader string // with 200: a header the app must see, "Name: value"
	}{
		{"Content-Length and Transfer-Encoding", "POST /te HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200, "hello", ""},
		{"a request hidden after a chunked body", "POST /te HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n" + smuggled, 200, "", ""},
		{"obs-fold", "GET /fold HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nConnection: close\r\n\r\n", 200, "", "X-A: a b"},
		{"obs-fold of Transfer-Encoding", "POST /fold HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\nConnection: close\r\n\r\n0\r\n\r\n" + smuggled, 200, "", ""},
		{"two Content-Lengths", "POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello", 400, "", ""},
		{"Transfer-Encoding not chunked", "POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "", ""},
		{"Transfer-Encoding twice", "POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, "", ""},
		{"space before the colon", "POST /sp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello", 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("got %d %q, want %d", resp.StatusCode, body, tc.wantStatus)
			}
			// luaws closes the connection: nothing more is answered on it.
			if rest, _ := io.ReadAll(br); len(rest) > 0 {
				t.Errorf("after the response, more came: %q", rest)
			}
			if tc.wantStatus != 200 {
				select {
				case r := <-app.seen:
					t.Errorf("the app got %s %s, want nothing", r.Method, r.Path)
				default:
				}
				return
			}
			r := <-app.seen
			if r.Body != tc.wantBody || r.Header.Get("Content-Length") == "40" {
				t.Errorf("the app got body %q and Content-Length %q, want %q as luaws read it", r.Body, r.Header.Get("Content-Length"), tc.wantBody)
			}
			if name, value, ok := strings.Cut(tc.wantHeader, ": "); ok && r.Header.Get(name) != value {
				t.Errorf("the app got %s %q, want %q", name, r.Header.Get(name), value)
			}
			select {
			case r := <-app.seen:
				t.Errorf("the app got a second request %s %s", r.Method, r.Path)
			default:
			}
		})
	}
}
