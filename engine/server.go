package engine

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/broker"
)

// Server serves the mounts of one listener. Create it with [New], run it
// with [Server.Serve], stop it with [Server.Shutdown]. It is safe to call
// Server's methods concurrently.
type Server struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	mounts []*Mount
	http   *http.Server
	nextID atomic.Uint64

	mu      sync.Mutex
	closing bool
	total   int
	perAddr map[string]int
	// httpConns counts accepted connections not (yet) WebSockets; see
	// httpconns.go.
	httpConns   int
	httpRefused atomic.Uint64
	active      sync.WaitGroup // handshakes in progress and open connections

	broker        broker.Broker
	nodeID        uint64      // tells this server's broker messages from other nodes'
	brokerFailing atomic.Bool // the last broker publish failed (logged once)

	addr     atomic.Pointer[net.Addr]
	shutdown chan struct{} // closed when Shutdown has finished
	started  atomic.Bool
}

// New validates cfg and returns a server with cfg.Mounts on its mux.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		mux:      http.NewServeMux(),
		perAddr:  make(map[string]int),
		shutdown: make(chan struct{}),
		broker:   cfg.Broker,
		nodeID:   newNodeID(),
	}
	if len(cfg.Mounts) == 0 {
		return nil, errors.New("no mounts: give a script or at least one [[mount]]")
	}
	seen := make(map[string]bool)
	for _, mc := range cfg.Mounts {
		mc = mc.withDefaults()
		if err := mc.validate(); err != nil {
			return nil, err
		}
		if seen[mc.Path] {
			return nil, fmt.Errorf("mount %s: path mounted twice", mc.Path)
		}
		seen[mc.Path] = true
		m := newMount(s, mc)
		s.mounts = append(s.mounts, m)
		if err := handle(s.mux, mc.Path, m); err != nil {
			return nil, fmt.Errorf("mount %s: %w", mc.Path, err)
		}
	}
	if err := s.subscribe(); err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: cfg.HandshakeTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ConnState:         s.connState,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		TLSConfig:         cfg.TLSConfig,
	}
	return s, nil
}

// handle registers h on mux, turning the mux's panic on a malformed or
// conflicting pattern (e.g. "/ws{") into an error.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("bad path: %v", v)
			if msg := fmt.Sprint(v); strings.Contains(msg, "conflicts with") {
				err = fmt.Errorf("the path is taken: %v", v)
			}
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// Mounts returns the server's mounts in configuration order.
func (s *Server) Mounts() []*Mount { return s.mounts }

// Mount returns the mount at path, or nil.
func (s *Server) Mount(path string) *Mount {
	for _, m := range s.mounts {
		if m.cfg.Path == path {
			return m
		}
	}
	return nil
}

// Handle registers an extra HTTP handler (static files, metrics) on the
// server's mux. Call it before Serve. A pattern that is malformed or
// taken (by a mount, say) is an error.
func (s *Server) Handle(pattern string, h http.Handler) error { return handle(s.mux, pattern, h) }

// Wrap replaces the server's HTTP handler with wrap(current), for HTTP
// middleware that must see every request. Call it before Serve.
func (s *Server) Wrap(wrap func(http.Handler) http.Handler) {
	s.http.Handler = wrap(s.http.Handler)
}

// ServeHTTP serves one request that another http.Server accepted, as
// Serve would: through [Server.Wrap]'s middleware to the mount or the
// [Server.Handle] handler at its path. It lets a Go program with its own
// http.Server (and listener, TLS and timeouts) mount the server's routes
// in its own mux. A WebSocket it upgrades counts against
// Config.MaxConnections and is closed and waited for by
// [Server.Shutdown]; the plain HTTP connection it came on is the other
// server's, so Config's HandshakeTimeout, HTTPIdleTimeout and
// MaxHeaderBytes (as a bound of the request) are that server's to set.
// Once Shutdown has begun, every request gets 503 "shutting down", as a
// refused handshake does, without reaching a mount.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.isClosing() {
		writeErrorReply(w, defaultErrorReply(&HandshakeError{Reason: ReasonShuttingDown, Status: http.StatusServiceUnavailable}), 0)
		return
	}
	s.http.Handler.ServeHTTP(w, r)
}

// Serve accepts connections on ln until Shutdown. With Config.TLSConfig set
// it serves TLS. It returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	addr := ln.Addr()
	s.addr.Store(&addr)
	s.started.Store(true)
	if s.cfg.TLSConfig != nil {
		ln = tls.NewListener(ln, s.cfg.TLSConfig)
	}
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Addr returns the listener's address once Serve has been called, else nil.
func (s *Server) Addr() net.Addr {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return nil
}

// Shutdown stops accepting, closes every connection with 1001, waits for
// every close handler, and returns. Connections that have not finished the
// close handshake when ctx ends (or after Config.ShutdownTimeout, if ctx
// has no deadline) are cut. Calling it again waits for the first call.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		select {
		case <-s.shutdown:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.closing = true
	s.mu.Unlock()
	defer close(s.shutdown)

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		defer cancel()
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(ctx) }()
	s.unsubscribe()

	for _, m := range s.mounts {
		for _, c := range m.Conns() {
			c.Close(websocket.CloseGoingAway, "server shutting down")
		}
	}
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()

	// Give the close handshakes until a second before the deadline, then cut.
	deadline, _ := ctx.Deadline()
	grace := time.NewTimer(max(time.Until(deadline)-time.Second, time.Until(deadline)/2))
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		for _, m := range s.mounts {
			for _, c := range m.Conns() {
				c.cut()
			}
		}
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("shutdown: close handlers still running: %w", ctx.Err())
		}
	}
	if err := <-httpDone; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// admit reserves a connection slot for ip. Every admit that returns nil
// is matched by exactly one release: by the upgrade that fails, or by the
// connection's reader when it ends.
func (s *Server) admit(ip string) *HandshakeError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return &HandshakeError{Reason: ReasonShuttingDown, Status: http.StatusServiceUnavailable}
	}
	if s.cfg.MaxConnections > 0 && s.total >= s.cfg.MaxConnections {
		return &HandshakeError{Reason: ReasonTooManyConnections, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("server limit of %d reached", s.cfg.MaxConnections)}
	}
	if s.cfg.MaxConnectionsPerAddr > 0 && s.perAddr[ip] >= s.cfg.MaxConnectionsPerAddr {
		return &HandshakeError{Reason: ReasonTooManyConnections, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("limit of %d per client address reached", s.cfg.MaxConnectionsPerAddr)}
	}
	s.total++
	s.perAddr[ip]++
	s.active.Add(1)
	return nil
}

// release gives back the slot admit reserved for ip.
func (s *Server) release(ip string) {
	s.mu.Lock()
	s.total--
	if s.perAddr[ip]--; s.perAddr[ip] <= 0 {
		delete(s.perAddr, ip)
	}
	s.mu.Unlock()
	s.active.Done()
}

// isClosing reports whether Shutdown has begun.
func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// HealthHandler answers /healthz: 200 "ok" while the server serves, 503
// "shutting down" once Shutdown has begun, so that a load balancer stops
// sending new clients.
func (s *Server) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if s.isClosing() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("shutting down\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// subscribe subscribes every mount to its broker subject.
func (s *Server) subscribe() error {
	if s.broker == nil {
		return nil
	}
	for _, m := range s.mounts {
		sub, err := s.broker.Subscribe(m.subject, m.fromBroker)
		if err != nil {
			s.unsubscribe()
			return fmt.Errorf("mount %s: %w", m.cfg.Path, err)
		}
		m.sub = sub
	}
	return nil
}

// unsubscribe stops messages from other nodes; messages this server
// publishes during shutdown (close handlers' broadcasts) still go out.
func (s *Server) unsubscribe() {
	for _, m := range s.mounts {
		if m.sub != nil {
			if err := m.sub.Unsubscribe(); err != nil {
				m.log.Warn("broker unsubscribe", LogKeyError, err)
			}
			m.sub = nil
		}
	}
}

// Broker returns [Config.Broker], or nil.
func (s *Server) Broker() broker.Broker { return s.broker }

// newNodeID returns a random non-zero id for this server.
func newNodeID() uint64 {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		if id := binary.BigEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}
