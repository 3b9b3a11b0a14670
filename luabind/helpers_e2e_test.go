package luabind_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// logBuffer collects log output for assertions; safe for concurrent writes
// and reads. The zero value is ready to use; with out set it also writes
// there.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	out io.Writer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.out != nil {
		_, _ = b.out.Write(p)
	}
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until the log holds every one of subs, failing after 5 s.
// It returns the log.
func (b *logBuffer) waitFor(t testing.TB, subs ...string) string {
	t.Helper()
	var s string
	ok := waitUntil(5*time.Second, func() bool {
		s = b.String()
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("log: got\n%s\nwant it to contain %q", s, subs)
	}
	return s
}

// lines returns the log lines that contain every one of subs.
func (b *logBuffer) lines(subs ...string) []string {
	var out []string
next:
	for l := range strings.Lines(b.String()) {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		out = append(out, strings.TrimSuffix(l, "\n"))
	}
	return out
}

// waitUntil polls cond every 10 ms until it holds or d has passed.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// dialHeader connects a client that sends header (e.g. Sec-WebSocket-Protocol).
func (ts *testServer) dialHeader(t testing.TB, query string, header http.Header) (*websocket.Conn, *http.Response) {
	t.Helper()
	u := ts.URL
	if query != "" {
		u += "?" + query
	}
	c, resp, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, resp
}

// readFrame returns the next data message and its type, failing after 5 s.
func readFrame(t testing.TB, c *websocket.Conn) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, string(data)
}

// closeNormally sends a close frame with code and reason and waits for the
// server's answer.
func closeNormally(t testing.TB, c *websocket.Conn, code int, reason string) {
	t.Helper()
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second)); err != nil {
		t.Fatalf("write close: %v", err)
	}
	if got, _ := readClose(t, c); got != code {
		t.Fatalf("close echo: got %d, want %d", got, code)
	}
}

// deadline is when a test's read gives up.
func deadline() time.Time { return time.Now().Add(5 * time.Second) }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
