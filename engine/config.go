package engine

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/luaws/luaws/engine/broker"
)

// Config configures a [Server]. The zero value of each field means its
// documented default.
type Config struct {
	// Logger receives the server's logs. Nil discards them.
	Logger *slog.Logger
	// ShutdownTimeout bounds [Server.Shutdown] when its context has no
	// deadline. Defaults to 10 s.
	ShutdownTimeout time.Duration
	// HandshakeTimeout bounds reading the headers of every request, the
	// upgrade request included. Defaults to 10 s.
	HandshakeTimeout time.Duration
	// HTTPIdleTimeout is how long a plain HTTP keep-alive connection may
	// wait for its next request before it is closed. Defaults to 60 s.
	HTTPIdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header (request line, query
	// string and header fields): larger ones get 431. What a WebSocket
	// connection keeps of its upgrade request for its life (the path, the
	// query string and the header fields scripts read) is bounded by it
	// too. Defaults to 32 KiB, as nginx's large_client_header_buffers.
	MaxHeaderBytes int
	// MaxConnections caps open connections over all mounts, plain HTTP
	// connections included (see httpconns.go). 0 means the process's
	// open-file limit less 128; a negative value means no cap.
	MaxConnections int
	// MaxConnectionsPerAddr caps open connections per client IP over all
	// mounts; 0 means no cap.
	MaxConnectionsPerAddr int
	// TLSConfig, when set, makes Serve speak TLS (wss://).
	TLSConfig *tls.Config
	// Mounts lists the WebSocket endpoints. At least one is required.
	Mounts []MountConfig
	// Broker connects this server to the other luaws nodes that serve the
	// same mounts: [Mount.Publish] and [Mount.Broadcast] then reach their
	// connections too. Nil keeps messages in this server. The server
	// subscribes in New and unsubscribes in Shutdown; closing the broker,
	// after Shutdown, is the caller's job. Give each Server its own NATS or
	// Redis broker; one [broker.Memory] may be shared by the servers of one
	// process.
	Broker broker.Broker
}

// MountConfig configures one WebSocket endpoint.
type MountConfig struct {
	// Path is where the endpoint is mounted, e.g. "/ws". A path ending in "/"
	// takes every path below it, as with http.ServeMux. Defaults to "/ws".
	Path string
	// Handler is the application. Required.
	Handler Handler
	// Subprotocols lists the subprotocols this mount speaks, in preference
	// order, used when the handshake does not pick one.
	Subprotocols []string
	// AllowedOrigins lists origins allowed to connect ("https://example.com",
	// or "*" for any). Empty means same host only; requests without an Origin
	// header (non-browser clients) are always allowed.
	AllowedOrigins []string
	// MaxMessageSize is the largest message accepted, in bytes; larger ones
	// close the connection with 1009. Defaults to 1 MiB.
	MaxMessageSize int64
	// SendQueueSize is how many messages may wait for one connection's
	// writer before it is closed as a slow consumer with 1008. Defaults to 1024.
	SendQueueSize int
	// SendQueueBytes is how many payload bytes may wait for one
	// connection: those queued and those its writer is writing. A message
	// that would take it past this closes the connection as a slow
	// consumer with 1008, as SendQueueSize does; a message alone in the
	// queue always goes, however large. A broadcast counts its full size
	// for every connection it is queued for. Defaults to 4 ×
	// MaxMessageSize (4 MiB with the default), so that an echo can have
	// four replies of the largest message in flight, and one client that
	// never reads holds that much and no more.
	SendQueueBytes int64
	// WriteTimeout bounds a connection's writes: a write that blocks past
	// its deadline fails and closes the connection. The deadline is moved
	// to WriteTimeout ahead when less than half of it is left, so a blocked
	// write fails after between half and all of WriteTimeout. Defaults to
	// 10 s.
	WriteTimeout time.Duration
	// PingInterval is how often a ping is sent. Defaults to 30 s; negative
	// turns keepalive off.
	PingInterval time.Duration
	// PongTimeout is how long after a ping the pong may take before the
	// connection is dropped. Defaults to 10 s.
	PongTimeout time.Duration
	// CloseTimeout is how long to wait for the peer's close frame after
	// sending ours. Defaults to 3 s.
	CloseTimeout time.Duration
	// Compression offers permessage-deflate to clients that ask for it.
	Compression bool

	// respawnIdle: see respawn.go; respawnIdle by default, shorter in tests.
	respawnIdle time.Duration
	// ReadBufferSize is the size of each connection's read buffer, which
	// an idle connection keeps: frame headers and small messages are read
	// through it, larger payloads straight into the message. Defaults to
	// 288 bytes (sizes up to 256 make gorilla allocate its own buffer, and
	// the connection's goroutine then waits on a larger stack).
	ReadBufferSize int
	// IdleTimeout closes a connection (1001, "idle timeout") that has sent
	// no data message for this long. 0 means never.
	IdleTimeout time.Duration
	// Middleware wraps the mount's upgrade requests and messages, the
	// first in the list outermost.
	Middleware []Middleware
}

// Defaults used by [MountConfig].
const (
	DefaultMountPath      = "/ws"
	DefaultMaxMessageSize = 1 << 20
	// DefaultMaxHeaderBytes and DefaultHTTPIdleTimeout are Config's.
	DefaultMaxHeaderBytes  = 32 << 10
	DefaultHTTPIdleTimeout = 60 * time.Second
	DefaultSendQueueSize   = 1024
	// DefaultSendQueueBytesPerMessage: SendQueueBytes defaults to this
	// many times MaxMessageSize.
	DefaultSendQueueBytesPerMessage = 4
	DefaultWriteTimeout             = 10 * time.Second
	DefaultPingInterval             = 30 * time.Second
	DefaultPongTimeout              = 10 * time.Second
	DefaultCloseTimeout             = 3 * time.Second
	DefaultReadBufferSize           = 288
)

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.HTTPIdleTimeout <= 0 {
		c.HTTPIdleTimeout = DefaultHTTPIdleTimeout
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = defaultMaxConnections()
	}
	return c
}

func (c MountConfig) withDefaults() MountConfig {
	if c.Path == "" {
		c.Path = DefaultMountPath
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.SendQueueSize <= 0 {
		c.SendQueueSize = DefaultSendQueueSize
	}
	if c.SendQueueBytes <= 0 {
		c.SendQueueBytes = DefaultSendQueueBytesPerMessage * c.MaxMessageSize
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	if c.respawnIdle <= 0 {
		c.respawnIdle = respawnIdle
	}
	return c
}

func (c MountConfig) validate() error {
	if !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("mount path %q must start with /", c.Path)
	}
	if c.Handler == nil {
		return errors.New("mount " + c.Path + ": no handler")
	}
	return nil
}
