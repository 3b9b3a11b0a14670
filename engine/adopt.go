package engine

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
)

// ErrServerClosed is returned by [Server.Adopt] once [Server.Shutdown] has
// begun: the connection was closed without being served.
var ErrServerClosed = errors.New("engine: server shut down")

// Adopt serves c, a connection the caller accepted itself, as if
// [Server.Serve] had accepted it: the upgrade request is read from it and
// routed to the mount at its path, with the server's timeouts (and TLS,
// when Config.TLSConfig is set). initial holds the bytes the caller has
// already read from c (the start of the request, or all of it); they are
// read again before anything that comes from c. A request that is not
// HTTP gets 400 and c is closed, as with Serve.
//
// Adopt returns at once; c is then the server's, which closes it, and
// [Server.Shutdown] closes and waits for it as for any other connection.
// After Shutdown has begun, Adopt closes c and returns [ErrServerClosed].
// It is safe to call Adopt concurrently, with or without Serve.
func (s *Server) Adopt(c net.Conn, initial []byte) error {
	if s.isClosing() {
		c.Close()
		return ErrServerClosed
	}
	if len(initial) > 0 {
		c = &replayConn{Conn: c, rest: append([]byte(nil), initial...)}
	}
	ln := &oneConnListener{c: c}
	var l net.Listener = ln
	if s.cfg.TLSConfig != nil {
		l = tls.NewListener(l, s.cfg.TLSConfig)
	}
	// Serve hands c to its own goroutine, tracked by the http.Server as
	// Serve's connections are, and returns at the second Accept.
	_ = s.http.Serve(l)
	if !ln.handed() {
		c.Close() // the http.Server was shut down first
		return ErrServerClosed
	}
	return nil
}

// oneConnListener is a net.Listener that accepts one connection: the
// second Accept fails, so that http.Server.Serve returns, leaving the
// connection it took being served.
type oneConnListener struct {
	mu sync.Mutex
	c  net.Conn // nil once accepted
	// addr is c's local address, kept for Addr after Accept.
	addr net.Addr
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.c
	if c == nil {
		return nil, net.ErrClosed
	}
	l.c, l.addr = nil, c.LocalAddr()
	return c, nil
}

// Close does not close the connection: once accepted it is the
// http.Server's, and Adopt closes it when it was not.
func (l *oneConnListener) Close() error { return nil }

func (l *oneConnListener) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		return l.c.LocalAddr()
	}
	return l.addr
}

// handed reports whether Accept gave the connection out.
func (l *oneConnListener) handed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c == nil
}

// replayConn reads rest before reading from Conn.
type replayConn struct {
	net.Conn
	mu   sync.Mutex
	rest []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.rest) > 0 {
		n := copy(p, c.rest)
		c.rest = c.rest[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// SyscallConn gives the socket to the engine's raw reads and writes
// (batch.go, rawread.go) once the replayed bytes are read: before, a raw
// read would skip them.
func (c *replayConn) SyscallConn() (syscall.RawConn, error) {
	c.mu.Lock()
	left := len(c.rest)
	c.mu.Unlock()
	sc, ok := c.Conn.(syscall.Conn)
	if left > 0 || !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}
