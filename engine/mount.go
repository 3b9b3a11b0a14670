package engine

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/broker"
)

// Mount is one WebSocket endpoint of a [Server] and the registry of its
// open connections. It is safe to call Mount's methods concurrently.
type Mount struct {
	cfg      MountConfig
	srv      *Server
	upgrader websocket.Upgrader
	log      *slog.Logger
	entry    http.Handler // the HTTP middleware around upgrade
	stats    mountStats

	mu      sync.RWMutex
	conns   map[uint64]*Conn
	peak    int          // the most entries conns held since it was made: see remove
	tending bool         // tend runs (keepalive.go)
	clock   atomic.Int64 // UnixNano, set by tend at each tick

	topics  topics
	subject string              // broker subject of this mount
	sub     broker.Subscription // nil without a broker
}

func newMount(s *Server, cfg MountConfig) *Mount {
	m := &Mount{
		cfg:   cfg,
		srv:   s,
		log:   s.log.With(LogKeyMount, cfg.Path),
		conns: make(map[uint64]*Conn),

		topics:  topics{subs: make(map[string]map[*Conn]struct{})},
		subject: brokerSubject(cfg.Path),
	}
	m.upgrader = websocket.Upgrader{
		ReadBufferSize:    gorillaReadBuffer(cfg.ReadBufferSize),
		WriteBufferPool:   writeBufferPool,
		EnableCompression: cfg.Compression,
		CheckOrigin:       func(*http.Request) bool { return true }, // checked before
		Error:             m.upgradeError,
	}
	m.entry = http.HandlerFunc(m.upgrade)
	for i := len(cfg.Middleware) - 1; i >= 0; i-- {
		if h := cfg.Middleware[i].HTTP; h != nil {
			m.entry = h(m.entry)
		}
	}
	return m
}

// gorillaReadBuffer is Upgrader.ReadBufferSize for a mount's read buffer
// size: 0 when the upgrade hands gorilla a reader of that size itself
// (batchWriter), so that gorilla reads through it.
func gorillaReadBuffer(size int) int {
	if size > minOwnReadBuffer {
		return 0
	}
	return size
}

// writeBufferPool lends write buffers to connections only while they write.
var writeBufferPool = &sync.Pool{}

// Path returns the mount path.
func (m *Mount) Path() string { return m.cfg.Path }

// Logger returns the mount's logger.
func (m *Mount) Logger() *slog.Logger { return m.log }

// Conn returns the open connection with id, or nil.
func (m *Mount) Conn(id uint64) *Conn {
	m.mu.RLock()
	c := m.conns[id]
	m.mu.RUnlock()
	return c
}

// Len returns the number of open connections.
func (m *Mount) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.conns)
}

// Conns returns a snapshot of the open connections, in no order.
func (m *Mount) Conns() []*Conn {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Conn, 0, len(m.conns))
	for _, c := range m.conns {
		out = append(out, c)
	}
	return out
}

func (m *Mount) add(c *Conn) {
	m.mu.Lock()
	m.conns[c.id] = c
	m.peak = max(m.peak, len(m.conns))
	if !m.tending {
		m.tending = true
		m.clock.Store(time.Now().UnixNano())
		go m.tend()
	}
	m.mu.Unlock()
}

func (m *Mount) remove(c *Conn) {
	m.mu.Lock()
	delete(m.conns, c.id)
	if len(m.conns) <= m.peak/4 && m.peak >= shrinkMin {
		m.conns, m.peak = shrunk(m.conns), len(m.conns)
	}
	m.mu.Unlock()
	m.topics.leaveAll(c)
}

// shrinkMin is the fewest entries a map of connections must have held
// before it is rebuilt smaller: see shrunk.
const shrinkMin = 1024

// shrunk returns a copy of m sized for what it holds now. A Go map keeps
// the memory of the most entries it ever held, so the registry of
// connections is rebuilt once it shrank to a quarter of its peak:
// after a flood of connections (tens of thousands opened, then gone) a
// server goes back to the memory of the connections it has, at the cost
// of one copy of the quarter that is left.
func shrunk[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
