package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testTimeout bounds every wait of the cli tests.
const testTimeout = 5 * time.Second

// lockedBuffer collects what the server writes from its goroutines.
type lockedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string // complete lines, when not nil
	part  string
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.lines != nil {
		b.part += string(p)
		for {
			line, rest, ok := strings.Cut(b.part, "\n")
			if !ok {
				break
			}
			b.part = rest
			select {
			case b.lines <- line:
			default:
			}
		}
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// served is a `luaws serve` running in-process.
type served struct {
	URLs   []string // one per mount, from the "listening on" lines
	Admin  string   // http://ADDR from the "metrics at" line, with --admin-listen
	Stderr *lockedBuffer
}

// startServe runs cli.Main serve with args until the test ends, and waits
// for its "listening on" lines (one per mount: wantMounts).
func startServe(t *testing.T, wantMounts int, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &lockedBuffer{lines: make(chan string, 16)}
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- Main(ctx, append([]string{"serve"}, args...), stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != ExitOK {
				t.Errorf("serve exited with %d; stderr:\n%s", code, stderr.String())
			}
		case <-time.After(testTimeout):
			t.Errorf("serve did not stop within %v", testTimeout)
		}
	})
	s := &served{Stderr: stderr}
	admin := false
	for _, a := range args {
		admin = admin || a == "--admin-listen"
	}
	timeout := time.After(testTimeout)
	for len(s.URLs) < wantMounts || (admin && s.Admin == "") {
		select {
		case line := <-stdout.lines:
			if u, ok := strings.CutPrefix(line, "luaws listening on "); ok {
				s.URLs = append(s.URLs, u)
			} else if u, ok := strings.CutPrefix(line, "luaws metrics at "); ok {
				s.Admin = strings.TrimSuffix(u, "/metrics")
			}
		case code := <-done:
			done <- code
			t.Fatalf("serve exited with %d; stderr:\n%s", code, stderr.String())
		case <-timeout:
			t.Fatalf("no listening line within %v; stdout %q, stderr:\n%s", testTimeout, stdout.String(), stderr.String())
		}
	}
	return s
}

// base returns the http:// (or https://) origin of a ws:// URL.
func base(wsURL string) string {
	u := "http" + strings.TrimPrefix(wsURL, "ws")
	scheme, rest, _ := strings.Cut(u, "://")
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}

// wsDial dials url; on a failed handshake it returns the response and body.
func wsDial(t *testing.T, d *websocket.Dialer, url string, header http.Header) (*websocket.Conn, *http.Response, string) {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: testTimeout}
	}
	c, resp, err := d.Dial(url, header)
	if err == nil {
		t.Cleanup(func() { c.Close() })
		return c, resp, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return nil, resp, string(body)
}

// get fetches url and returns status and body.
func get(t *testing.T, url string, tlsConfig *tls.Config) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: testTimeout, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsConfig}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// echo sends s and wants it back.
func echo(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(testTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(testTimeout))
	_, got, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != s {
		t.Fatalf("echo: got %q, want %q", got, s)
	}
}

// readCloseFrame reads until the close frame and returns it.
func readCloseFrame(t *testing.T, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testTimeout))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok {
			t.Fatalf("read: got %v, want a close frame", err)
		}
		return ce
	}
}
