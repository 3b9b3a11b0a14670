package engine

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Plain HTTP connections
//
// Every accepted TCP connection counts against Config.MaxConnections: a
// WebSocket from its upgrade (admit), and any other connection, while it
// carries plain HTTP (static files, /metrics, a proxied app, or the
// upgrade request itself), in Server.httpConns. A connection accepted
// when WebSockets and HTTP connections together have reached the bound
// plus a headroom (acceptHeadroom) gets a 503 (plain TCP) or is closed
// (TLS, before its handshake) at once, before any request: so that idle
// keep-alive clients cannot use up the file descriptors WebSocket clients
// need. Upgrades within the headroom get their handshake's own 503 (and
// the script's error handler) once the WebSockets alone are at the bound;
// the headroom also absorbs connections that are closing but not yet
// counted out.

// fdReserve is how many file descriptors the default MaxConnections leaves
// for everything else: listeners, log files, the broker, scripts' modules.
const fdReserve = 128

// defaultMaxConnections is the process's open-file limit less fdReserve:
// a connection beyond it could not be accepted anyway, and would take the
// descriptors the rest of the server needs.
func defaultMaxConnections() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0
	}
	return max(int(rl.Cur)-fdReserve, 64)
}

// acceptHeadroom is how many connections past max may still be accepted,
// to be refused by their handshake rather than at accept.
func acceptHeadroom(max int) int { return max/8 + 8 }

// tooManyResponse is what a plain TCP connection accepted past the bound
// of max connections reads before it is closed: the body a refused
// handshake gets too.
func tooManyResponse(max int) []byte {
	body := fmt.Sprintf("%s: server limit of %d reached\n", ReasonTooManyConnections, max)
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Connection: close\r\nRetry-After: 1\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// connState is the http.Server's ConnState hook: it counts plain HTTP
// connections and turns away those over the bound.
func (s *Server) connState(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.mu.Lock()
		over := s.cfg.MaxConnections > 0 && s.total+s.httpConns >= s.cfg.MaxConnections+acceptHeadroom(s.cfg.MaxConnections)
		s.httpConns++
		s.mu.Unlock()
		if over {
			s.httpRefused.Add(1)
			if _, isTLS := c.(*tls.Conn); !isTLS {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write(tooManyResponse(s.cfg.MaxConnections))
			}
			_ = c.Close() // StateClosed follows
		}
	case http.StateHijacked, http.StateClosed:
		s.mu.Lock()
		s.httpConns--
		s.mu.Unlock()
	}
}

// HTTPConns returns how many connections carry plain HTTP now, and how
// many were turned away at accept for the MaxConnections bound.
func (s *Server) HTTPConns() (open int, refused uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpConns, s.httpRefused.Load()
}
