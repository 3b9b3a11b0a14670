package engine_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// rawGet sends a keep-alive GET for /healthz on a new TCP connection and
// returns the connection and the status line of its answer.
func rawGet(t *testing.T, addr string, extra string) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(enginetest.Timeout))
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return c, "read: " + err.Error()
	}
	return c, strings.TrimSpace(line)
}

// TestMaxHeaderBytes: a request header over MaxHeaderBytes gets 431,
// for plain HTTP and for the upgrade alike; one under it goes through.
func TestMaxHeaderBytes(t *testing.T) {
	cfg := mountOf(echoHandler{})
	cfg.MaxHeaderBytes = 8 << 10
	srv, url := newTestServer(t, cfg)
	srv.Handle("/healthz", srv.HealthHandler())
	addr := srv.Addr().String()
	if _, got := rawGet(t, addr, "X-Big: "+strings.Repeat("a", 4<<10)+"\r\n"); got != "HTTP/1.1 200 OK" {
		t.Errorf("4 KiB header: got %q, want 200", got)
	}
	// net/http allows 4 KiB of slack over MaxHeaderBytes.
	if _, got := rawGet(t, addr, "X-Big: "+strings.Repeat("a", 1<<20)+"\r\n"); got != "HTTP/1.1 431 Request Header Fields Too Large" {
		t.Errorf("1 MiB header: got %q, want 431", got)
	}
	_, resp, err := enginetest.DialWith(t, nil, url, http.Header{"X-Big": {strings.Repeat("a", 64<<10)}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB upgrade header: got %v, %v; want 431", resp, err)
	}
	if d := engine.DefaultMaxHeaderBytes; d != 32<<10 {
		t.Errorf("DefaultMaxHeaderBytes = %d, want 32 KiB", d)
	}
}

// TestHTTPIdleTimeout: an idle keep-alive HTTP connection is closed after
// HTTPIdleTimeout; a WebSocket is not (it is no longer HTTP).
func TestHTTPIdleTimeout(t *testing.T) {
	cfg := mountOf(echoHandler{})
	cfg.HTTPIdleTimeout = 200 * time.Millisecond
	srv, url := newTestServer(t, cfg)
	srv.Handle("/healthz", srv.HealthHandler())
	ws := enginetest.Dial(t, url)
	c, got := rawGet(t, srv.Addr().String(), "")
	if got != "HTTP/1.1 200 OK" {
		t.Fatalf("got %q", got)
	}
	enginetest.WaitFor(t, "the idle HTTP connection to be closed", func() bool {
		open, _ := srv.HTTPConns()
		return open == 0
	})
	_ = c.SetReadDeadline(time.Now().Add(enginetest.Timeout))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			break // the server closed it
		}
	}
	time.Sleep(300 * time.Millisecond) // past the HTTP idle timeout
	enginetest.Echo(t, ws, "still open")
}

// TestHTTPConnsCountAgainstMaxConnections: plain HTTP connections count
// against MaxConnections: once they and the WebSockets reach the bound
// and its headroom, a new TCP connection gets 503 and is closed at once,
// and no WebSocket gets in; slots come back as HTTP connections close,
// and a WebSocket counts once, not twice.
func TestHTTPConnsCountAgainstMaxConnections(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		name := "tcp"
		if tlsOn {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			cfg := mountOf(echoHandler{})
			cfg.MaxConnections = 3
			var roots *tls.Config
			wsDialer := &websocket.Dialer{HandshakeTimeout: enginetest.Timeout}
			if tlsOn {
				cert := enginetest.SelfSigned(t)
				cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
				roots = &tls.Config{RootCAs: cert.Pool}
				wsDialer.TLSClientConfig = roots
			}
			srv, url := newTestServer(t, cfg)
			srv.Handle("/healthz", srv.HealthHandler())
			if tlsOn {
				url = "wss" + strings.TrimPrefix(url, "ws")
			}
			dial := func() (net.Conn, error) {
				if tlsOn {
					return tls.Dial("tcp", srv.Addr().String(), roots)
				}
				return net.Dial("tcp", srv.Addr().String())
			}
			ws, resp, err := enginetest.DialWith(t, wsDialer, url, nil)
			if err != nil {
				t.Fatal(err, resp)
			}
			var idle []net.Conn
			for range 2 { // with the WebSocket: 3 of 3
				c, err := dial()
				if err != nil {
					t.Fatal(err)
				}
				idle = append(idle, c)
			}
			enginetest.WaitFor(t, "two HTTP connections counted", func() bool { open, _ := srv.HTTPConns(); return open == 2 })
			for range 8 { // the headroom: 3/8 + 8
				c, err := dial()
				if err != nil {
					t.Fatal(err)
				}
				idle = append(idle, c)
			}
			enginetest.WaitFor(t, "ten HTTP connections counted", func() bool { open, _ := srv.HTTPConns(); return open == 10 })
			over, err := dial()
			if err == nil {
				_ = over.SetReadDeadline(time.Now().Add(enginetest.Timeout))
				line, _ := bufio.NewReader(over).ReadString('\n')
				if !tlsOn && strings.TrimSpace(line) != "HTTP/1.1 503 Service Unavailable" {
					t.Errorf("over the bound: got %q, want 503", line)
				}
				over.Close()
			}
			if _, refused := srv.HTTPConns(); refused == 0 {
				t.Errorf("no connection refused at the bound")
			}
			for _, c := range idle {
				c.Close()
			}
			enginetest.WaitFor(t, "the HTTP slots back", func() bool { open, _ := srv.HTTPConns(); return open == 0 })
			second, _, err := enginetest.DialWith(t, wsDialer, url, nil)
			if err != nil {
				t.Fatalf("after the HTTP connections closed: %v", err)
			}
			enginetest.Echo(t, second, "second")
			enginetest.Echo(t, ws, "first")
		})
	}
}
