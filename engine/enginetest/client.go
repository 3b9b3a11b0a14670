package enginetest

import (
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Dial opens a WebSocket to url and closes it in t.Cleanup. A failed
// handshake fails the test.
func Dial(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	c, resp, err := DialWith(t, nil, url, nil)
	if err != nil {
		status := ""
		if resp != nil {
			status = " (" + resp.Status + ")"
		}
		t.Fatalf("dial %s: %v%s", url, err, status)
	}
	return c
}

// DialWith dials url with d (nil: a dialer whose handshake times out after
// [Timeout]) and header (may be nil). The connection is closed in
// t.Cleanup. On a failed handshake it returns the error and the response,
// if the server sent one; read its body with [Body].
func DialWith(t testing.TB, d *websocket.Dialer, url string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: Timeout}
	}
	c, resp, err := d.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, resp, nil
}

// Handshake dials like [DialWith] and returns either the connection, or nil,
// the refusing response and its body. It fails the test when the server
// sent no response at all.
func Handshake(t testing.TB, d *websocket.Dialer, url string, header http.Header) (*websocket.Conn, *http.Response, string) {
	t.Helper()
	c, resp, err := DialWith(t, d, url, header)
	if err == nil {
		return c, resp, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return nil, resp, Body(t, resp)
}

// Body reads the body of resp ("" when resp or its body is nil).
func Body(t testing.TB, resp *http.Response) string {
	t.Helper()
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// Read reads one message from c, waiting at most [Timeout], and returns its
// type and data.
func Read(t testing.TB, c *websocket.Conn) (int, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(Timeout))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, data
}

// ReadText reads one message like [Read] and fails the test unless it is
// a text message.
func ReadText(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	typ, data := Read(t, c)
	if typ != websocket.TextMessage {
		t.Fatalf("got message type %d, want text (%d)", typ, websocket.TextMessage)
	}
	return string(data)
}

// ReadClose reads until the connection ends, waiting at most [Timeout], and
// returns the close frame the server sent, with the data messages that came
// before it. Anything but a close frame fails the test.
func ReadClose(t testing.TB, c *websocket.Conn) (*websocket.CloseError, []string) {
	t.Helper()
	var msgs []string
	_ = c.SetReadDeadline(time.Now().Add(Timeout))
	for {
		_, data, err := c.ReadMessage()
		if err == nil {
			msgs = append(msgs, string(data))
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read: got %v, want a close frame", err)
		}
		return ce, msgs
	}
}

// Write writes one message of type typ to c, waiting at most [Timeout].
// The deadline holds for this write only, not for the test's own writes
// after it.
func Write(t testing.TB, c *websocket.Conn, typ int, data []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(Timeout))
	err := c.WriteMessage(typ, data)
	_ = c.SetWriteDeadline(time.Time{})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
}

// WriteText writes s to c as one text message, like [Write].
func WriteText(t testing.TB, c *websocket.Conn, s string) {
	t.Helper()
	Write(t, c, websocket.TextMessage, []byte(s))
}

// Echo sends s to c as a text message and fails the test unless the next
// message is s again: one round trip with an echoing server.
func Echo(t testing.TB, c *websocket.Conn, s string) {
	t.Helper()
	WriteText(t, c, s)
	if _, got := Read(t, c); string(got) != s {
		t.Fatalf("echo: got %q, want %q", got, s)
	}
}

// HTTPURL turns a ws:// or wss:// URL into the http:// or https:// URL of
// the same host and path.
func HTTPURL(wsURL string) string { return "http" + strings.TrimPrefix(wsURL, "ws") }

// Get sends a plain GET of url with header (may be nil) over a new
// connection, waiting at most [Timeout], and returns the response and its
// body, read and closed.
func Get(t testing.TB, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	return Do(t, http.MethodGet, url, header, nil)
}

// Do sends a request like [Get] with method, trusting tlsConfig (nil for
// the default) for https:// URLs.
func Do(t testing.TB, method, url string, header http.Header, tlsConfig *tls.Config) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	client := &http.Client{Timeout: Timeout, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsConfig}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	return resp, Body(t, resp)
}
