package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"
)

// Broker carries messages between nodes. See the package doc for the
// delivery guarantees.
type Broker interface {
	// Publish sends payload to every subscription of subject on every node,
	// this one included. It does not wait for the network. An error means
	// the message was dropped: [ErrDown], [ErrQueueFull] or [ErrClosed].
	// The broker keeps payload; the caller must not change it afterwards.
	Publish(subject string, payload []byte) error
	// Subscribe calls h for each message published on subject, from one
	// goroutine at a time and in order. It returns once the broker has the
	// subscription, so that a message published after it returns is seen.
	// h must not keep payload past its return unless it owns it: payloads
	// are not reused by the brokers in this package, so it may.
	Subscribe(subject string, h Handler) (Subscription, error)
	// Close ends the connection to the broker and every subscription.
	Close() error
}

// Handler receives the payload of one message.
type Handler func(payload []byte)

// Subscription is one call to [Broker.Subscribe].
type Subscription interface {
	// Unsubscribe stops the handler; calling it again does nothing.
	Unsubscribe() error
}

// Statuser is implemented by brokers that report their health. Every
// broker in this package does.
type Statuser interface {
	// Status returns the broker's state and counters.
	Status() Status
}

// Status is a broker's health and counters, for logs, /healthz and
// metrics. The counters only grow.
type Status struct {
	// Kind is "memory", "nats" or "redis".
	Kind string
	// URL is the broker's address with any password removed.
	URL string
	// Connected reports whether the broker is reachable now. While it is
	// false, Publish drops messages for other nodes.
	Connected bool
	// Since is when Connected last changed (or when the broker was made).
	Since time.Time
	// LastError is the error that last broke the connection, or "".
	LastError string
	// Published counts messages Publish accepted; Dropped counts messages
	// Publish refused and, for Redis, accepted messages that could not be
	// written; Received counts messages delivered to this node's
	// subscriptions (its own included).
	Published, Dropped, Received uint64
}

// StatusOf returns b's status. A nil b (no broker: one process) is a
// connected "memory" broker; a b that does not implement [Statuser] is
// reported connected.
func StatusOf(b Broker) Status {
	if b == nil {
		return Status{Kind: KindMemory, Connected: true}
	}
	if s, ok := b.(Statuser); ok {
		return s.Status()
	}
	return Status{Connected: true}
}

// Errors returned by Publish and Subscribe.
var (
	// ErrDown means the broker is unreachable: the message was dropped.
	ErrDown = errors.New("broker: not connected")
	// ErrQueueFull means the broker's outgoing queue is full: the message
	// was dropped.
	ErrQueueFull = errors.New("broker: outgoing queue full")
	// ErrClosed means the broker was closed.
	ErrClosed = errors.New("broker: closed")
)

// Kinds of broker, as [New] and the [broker] section of luaws.toml name them.
const (
	KindMemory = "memory"
	KindNATS   = "nats"
	KindRedis  = "redis"
)

// Defaults used by [Config].
const (
	DefaultPrefix           = "luaws"
	DefaultNATSURL          = "nats://127.0.0.1:4222"
	DefaultRedisURL         = "redis://127.0.0.1:6379"
	DefaultConnectTimeout   = 5 * time.Second
	DefaultReconnectWait    = 100 * time.Millisecond
	DefaultMaxReconnectWait = 5 * time.Second
	DefaultQueueSize        = 8192
)

// Config configures a broker. The zero value of each field means its
// documented default.
type Config struct {
	// URL is the broker's address: nats://host:port for NATS,
	// redis://[user:password@]host:port[/db], rediss:// or
	// unix:///path/to/redis.sock for Redis. Defaults to nats://127.0.0.1:4222
	// and redis://127.0.0.1:6379. Memory ignores it.
	URL string
	// Prefix goes in front of every subject, with a dot, so that two
	// deployments can share one broker. Letters, digits, '_', '-' and
	// inner dots. Defaults to "luaws".
	Prefix string
	// ConnectTimeout bounds the first connection and each later attempt.
	// Defaults to 5 s.
	ConnectTimeout time.Duration
	// ReconnectWait is the wait before the first reconnection attempt; it
	// doubles after each failed attempt up to MaxReconnectWait, with ±10%
	// jitter. Defaults to 100 ms and 5 s.
	ReconnectWait, MaxReconnectWait time.Duration
	// QueueSize bounds the messages waiting to be written to the broker
	// (Redis; NATS uses its client's buffer). Defaults to 8192.
	QueueSize int
	// Logger receives connection losses and recoveries. Nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults(kind string) Config {
	if c.URL == "" {
		switch kind {
		case KindNATS:
			c.URL = DefaultNATSURL
		case KindRedis:
			c.URL = DefaultRedisURL
		}
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ReconnectWait <= 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
	if c.MaxReconnectWait <= 0 {
		c.MaxReconnectWait = DefaultMaxReconnectWait
	}
	if c.MaxReconnectWait < c.ReconnectWait {
		c.MaxReconnectWait = c.ReconnectWait
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validPrefix reports whether p is usable as a subject prefix on every broker.
func validPrefix(p string) bool {
	if p == "" || p[0] == '.' || p[len(p)-1] == '.' || strings.Contains(p, "..") {
		return false
	}
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}

// validSubject reports whether s is a subject the brokers accept: printable
// ASCII, no spaces, no NATS wildcards.
func validSubject(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '*' || c == '>' {
			return false
		}
	}
	return !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".") && !strings.Contains(s, "..")
}

// New returns the broker of the given kind: "memory" (or ""), "nats" or
// "redis". For nats and redis it connects first: an unreachable broker is a
// [*ConnectError].
func New(kind string, cfg Config) (Broker, error) {
	switch kind {
	case "", KindMemory:
		return NewMemory(), nil
	case KindNATS:
		return NewNATS(cfg)
	case KindRedis:
		return NewRedis(cfg)
	}
	return nil, fmt.Errorf("broker kind %q: want memory, nats or redis", kind)
}

// ConnectError is a broker that could not be reached at start.
type ConnectError struct {
	Kind string
	URL  string // password removed
	Err  error
}

// Error says which broker could not be reached, why, and what to do.
func (e *ConnectError) Error() string {
	return fmt.Sprintf("broker %s at %s: %v (is the %s server running? check [broker] url or --broker-url)",
		e.Kind, e.URL, e.Err, serverName(e.Kind))
}

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

func serverName(kind string) string {
	switch kind {
	case KindNATS:
		return "NATS"
	case KindRedis:
		return "Redis"
	}
	return kind
}

// redact returns raw with any password replaced by "xxxxx".
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// backoff returns the wait before reconnection attempt n (from 1): base
// doubled n-1 times, capped at maxWait, with ±10% jitter.
func backoff(n int, base, maxWait time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	jitter := time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
	return d + jitter
}
