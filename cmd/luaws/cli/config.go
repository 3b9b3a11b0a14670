package cli

import (
	"time"
)

// Config is everything serve needs, from flags or luaws.toml. Field docs
// give defaults.
type Config struct {
	// Listen is the address to listen on. Defaults to 127.0.0.1:8080; port 0 picks a free port.
	Listen string
	// Static maps URL prefixes to directories of static files.
	Static map[string]string
	// TLS holds the certificate and key files for wss://.
	TLS TLSConfig
	// Broker ([broker]) configures luaws.publish across nodes.
	Broker BrokerConfig
	// Mounts lists the WebSocket endpoints.
	Mounts []MountConfig
	// ShutdownTimeout bounds a graceful stop. Defaults to 10 s.
	ShutdownTimeout time.Duration
	// NoWatch turns off reloading a mount when its script or a module it
	// requires changes on disk (watch = false in luaws.toml). SIGHUP
	// reloads either way. Defaults to false: serve watches.
	NoWatch bool
	// LogFormat is "text" (default) or "json"; LogLevel is debug|info|warn|error.
	LogFormat, LogLevel string
}

// TLSConfig names the files for TLS.
type TLSConfig struct {
	Cert, Key string
}

// BrokerConfig is the [broker] section: which broker carries
// luaws.publish and luaws.broadcast between nodes.
type BrokerConfig struct {
	// Kind (kind) is "memory" (the default: one process), "nats" or "redis".
	Kind string
	// URL (url) is the broker's address, e.g. "nats://127.0.0.1:4222" or
	// "redis://127.0.0.1:6379/0".
	URL string
	// Prefix (prefix) is put before every topic, so that several luaws
	// clusters can share a broker.
	Prefix string
}

// MountConfig is one [[mount]].
type MountConfig struct {
	// Path defaults to /ws.
	Path string
	// Script is the Lua file.
	Script string
	// Serializer is none (default) or json.
	Serializer string
	// Workers is the number of Lua VMs; 0 means 1, -1 means one per CPU.
	Workers int
	// HandlerTimeout bounds one handler call. Defaults to 1 s.
	HandlerTimeout time.Duration
	// MaxMessageSize in bytes. Defaults to 1 MiB.
	MaxMessageSize int64
	// Subprotocols the mount speaks.
	Subprotocols []string
	// AllowedOrigins; empty means same host only.
	AllowedOrigins []string
}
