package engine_test

import (
	"crypto/tls"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// mode is one way a connection's bytes move, each a route through the
// engine's read and write code:
//
//   - tcp: the raw read of the socket and the inline writes of a Flusher;
//   - tls: the connection's own buffer without the raw read, and a writer
//     goroutine;
//   - small-read-buffer: gorilla's reader (a read buffer of 256 bytes or
//     less);
//   - compression: permessage-deflate, gorilla's frames both ways.
//
// The connection tests run over every mode with [run], as net/http's run
// over HTTP/1 and HTTP/2.
type mode struct {
	name     string
	tls      bool
	compress bool
	readBuf  int
}

var modes = []mode{
	{name: "tcp"},
	{name: "tls", tls: true},
	{name: "small-read-buffer", readBuf: 128},
	{name: "compression", compress: true},
}

// run runs f as a subtest over every mode, or over only those given.
func run(t *testing.T, f func(t *testing.T, m mode), only ...mode) {
	t.Helper()
	if len(only) == 0 {
		only = modes
	}
	for _, m := range only {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

// modesExcept returns every mode but the one named.
func modesExcept(name string) []mode {
	var ms []mode
	for _, m := range modes {
		if m.name != name {
			ms = append(ms, m)
		}
	}
	return ms
}

// modeServer is a server started in one mode, and what a client needs to
// reach it.
type modeServer struct {
	*engine.Server
	url   string // the first mount's ws:// or wss:// URL
	mode  mode
	roots *tls.Config // trusts the server's certificate (tls mode)
}

// serve starts cfg's server in mode m: TLS with a fresh self-signed
// certificate, and each mount's compression and read buffer set as the
// mode says (a read buffer the test set itself is kept).
func (m mode) serve(t testing.TB, cfg engine.Config) *modeServer {
	t.Helper()
	s := &modeServer{mode: m}
	if m.tls {
		cert := enginetest.SelfSigned(t)
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
		s.roots = &tls.Config{RootCAs: cert.Pool}
	}
	for i := range cfg.Mounts {
		cfg.Mounts[i].Compression = m.compress
		if m.readBuf != 0 && cfg.Mounts[i].ReadBufferSize == 0 {
			cfg.Mounts[i].ReadBufferSize = m.readBuf
		}
	}
	s.Server, s.url = newTestServer(t, cfg)
	if m.tls {
		s.url = "wss" + strings.TrimPrefix(s.url, "ws")
	}
	return s
}

// dialer returns a dialer for s that offers compression. One made with
// slow set asks for a small receive buffer, so that a client that never
// reads fills the socket sooner.
func (s *modeServer) dialer(slow bool) *websocket.Dialer {
	nd := &net.Dialer{}
	if slow {
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
			})
		}
	}
	return &websocket.Dialer{
		HandshakeTimeout:  enginetest.Timeout,
		TLSClientConfig:   s.roots,
		EnableCompression: true,
		NetDialContext:    nd.DialContext,
	}
}

// dial connects to s's first mount, failing the test if it cannot.
func (s *modeServer) dial(t testing.TB) *websocket.Conn {
	t.Helper()
	return s.dialWith(t, s.dialer(false), s.url)
}

// dialWith connects to url with d, failing the test if it cannot.
func (s *modeServer) dialWith(t testing.TB, d *websocket.Dialer, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := enginetest.DialWith(t, d, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return ws
}

// dialHandler starts a one-mount server for h in mode m and dials it.
func (m mode) dialHandler(t testing.TB, h engine.Handler) *websocket.Conn {
	t.Helper()
	return m.serve(t, mountOf(h)).dial(t)
}
