package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/middleware"
	"github.com/luaws/luaws/luabind"
)

// Config is everything serve needs, from flags or luaws.toml. Field docs
// give the TOML key and the default.
type Config struct {
	// Listen (listen) is the address to listen on: host:port (port 0
	// picks a free port), unix:PATH, or "systemd" for the socket systemd
	// passed. Defaults to 127.0.0.1:8080, or to systemd when systemd
	// passed sockets (LISTEN_FDS).
	Listen string
	// SocketMode (socket_mode) is the permission of a unix: socket luaws
	// creates. Defaults to 0660.
	SocketMode fs.FileMode
	// AdminListen (admin_listen), when set, serves /metrics and /healthz
	// on this address instead of on Listen.
	AdminListen string
	// Static (static) maps URL prefixes to directories of static files.
	Static map[string]string
	// StaticOptions (static_dotfiles, static_listing) apply to every
	// static directory.
	StaticOptions StaticOptions
	// TLS ([tls]) holds the certificate and key files for wss://.
	TLS TLSConfig
	// Broker ([broker]) configures luaws.publish across nodes.
	Broker BrokerConfig
	// Mounts ([[mount]]) lists the WebSocket endpoints.
	Mounts []MountConfig
	// Proxies ([[proxy]]) pass plain HTTP under their paths to upstream apps.
	Proxies []ProxyConfig
	// MaxConnections (max_connections, or max_connections.total) caps open
	// connections over all mounts, plain HTTP ones included; 0 (default)
	// means the process's open-file limit less 128.
	MaxConnections int
	// MaxConnectionsPerAddr (max_connections.per_addr) caps open
	// connections per client address; 0 means no cap.
	MaxConnectionsPerAddr int
	// HandshakeTimeout (handshake_timeout) bounds reading the upgrade
	// request. Defaults to 10 s.
	HandshakeTimeout time.Duration
	// HTTPIdleTimeout (http_idle_timeout) closes a plain HTTP keep-alive
	// connection idle that long. Defaults to 60 s.
	HTTPIdleTimeout time.Duration
	// MaxHeaderBytes (max_header_bytes) bounds a request's header, and so
	// what a WebSocket keeps of its upgrade request. Defaults to 32 KiB.
	MaxHeaderBytes int64
	// ShutdownTimeout (shutdown_timeout) bounds a graceful stop. Defaults to 10 s.
	ShutdownTimeout time.Duration
	// NoWatch turns off reloading a mount when its script or a module it
	// requires changes on disk (watch = false in luaws.toml). SIGHUP
	// reloads either way. Defaults to false: serve watches.
	NoWatch bool
	// CPUProfile, when set, is a file that gets a CPU profile of the whole
	// run (--cpu-profile; not in luaws.toml).
	CPUProfile string
	// LogFormat (log_format) is "text" (default) or "json"; LogLevel
	// (log_level) is debug|info|warn|error.
	LogFormat, LogLevel string
}

// TLSConfig names the files for TLS ([tls]). SIGHUP reads them again.
type TLSConfig struct {
	// Cert (cert) and Key (key) are PEM files.
	Cert, Key string
	// ClientCA (client_ca) is a PEM file of the CAs that sign client
	// certificates; with it the server asks clients for one.
	ClientCA string
	// ClientAuth (client_auth) is "require" (the default with ClientCA:
	// no certificate, no connection) or "verify_if_given" (a certificate
	// is checked when sent; a client without one gets through, and the
	// script sees no req.tls.client).
	ClientAuth string
	// MinVersion (min_version) is the oldest TLS version accepted, "1.2"
	// (default) or "1.3".
	MinVersion string
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

// Broker kinds.
var brokerKinds = []string{"memory", "nats", "redis"}

// MountConfig is one [[mount]].
type MountConfig struct {
	// Path (path) defaults to /ws.
	Path string
	// Script (script) is the Lua file. Required.
	Script string
	// Serializer (serializer) is none (default) or json.
	Serializer string
	// Workers (workers) is the number of Lua VMs, or "auto" for one per
	// CPU. Defaults to 1.
	Workers int
	// HandlerTimeout (handler_timeout) bounds one handler call. Defaults to 1 s.
	HandlerTimeout time.Duration
	// BanAfterStops (ban_after_stops) and BanDuration (ban_duration): a
	// client address whose handlers were stopped (handler_timeout)
	// BanAfterStops times within BanDuration is refused for BanDuration.
	// Default 3 and 1 minute; ban_duration = "off" turns bans off (-1).
	BanAfterStops int
	BanDuration   time.Duration
	// MaxMessageSize (max_message_size) in bytes, e.g. "64KiB". Defaults to 1 MiB.
	MaxMessageSize int64
	// SendQueueSize (send_queue_size) is how many messages may wait for one
	// slow client before it is closed with 1008. Defaults to 1024.
	SendQueueSize int
	// SendQueueBytes (send_queue_bytes) is how many bytes of messages may
	// wait for one slow client before it is closed with 1008, e.g. "4MiB".
	// Defaults to 4 × MaxMessageSize.
	SendQueueBytes int64
	// Subprotocols (subprotocols) the mount speaks, in preference order.
	Subprotocols []string
	// AllowedOrigins (allowed_origins); empty means same host only, "*" any.
	AllowedOrigins []string
	// Compression (compression) negotiates permessage-deflate.
	Compression bool
	// PingInterval (ping_interval, or the top-level one) defaults to 30 s;
	// "off" turns keepalive off. PongTimeout (pong_timeout) defaults to 10 s.
	PingInterval, PongTimeout time.Duration
	// IdleTimeout (idle_timeout, or the top-level one) closes a connection
	// that sent no message for that long; 0 means never.
	IdleTimeout time.Duration
	// Middleware (middleware) names the mount's middleware, outermost first.
	Middleware []string
	// MiddlewareInit (middleware_init) holds each middleware's settings.
	MiddlewareInit map[string]map[string]any
}

// Keys of each table, in the order docs/config.md lists them.
var (
	topKeys = []string{"listen", "socket_mode", "admin_listen", "static", "static_dotfiles", "static_listing", "log_format", "log_level", "watch",
		"max_connections", "max_header_bytes", "handshake_timeout", "http_idle_timeout", "shutdown_timeout",
		"ping_interval", "pong_timeout", "idle_timeout", "tls", "broker", "mount", "proxy"}
	mountKeys = []string{"path", "script", "serializer", "workers", "handler_timeout",
		"ban_after_stops", "ban_duration", "max_message_size", "send_queue_size", "send_queue_bytes", "subprotocols", "allowed_origins", "compression",
		"ping_interval", "pong_timeout", "idle_timeout", "middleware", "middleware_init"}
	tlsKeys     = []string{"cert", "key", "client_ca", "client_auth", "min_version"}
	brokerKeys  = []string{"kind", "url", "prefix"}
	maxConnKeys = []string{"total", "per_addr"}
)

// defaultConfig is the configuration before flags and file.
func defaultConfig() Config {
	listen := "127.0.0.1:8080"
	if activated() {
		listen = listenSystemd
	}
	return Config{
		Listen:           listen,
		SocketMode:       defaultSocketMode,
		HandshakeTimeout: 10 * time.Second,
		HTTPIdleTimeout:  engine.DefaultHTTPIdleTimeout,
		MaxHeaderBytes:   engine.DefaultMaxHeaderBytes,
		ShutdownTimeout:  10 * time.Second,
		LogFormat:        "text",
		LogLevel:         "info",
		Broker:           BrokerConfig{Kind: "memory"},
	}
}

// loadConfig reads luaws.toml at file over cfg. Paths in the file are
// relative to the file's directory. Every error is a *ConfigError naming
// the line and key; the first one by line is returned.
func loadConfig(file string, cfg Config) (Config, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		msg := "cannot read: " + err.Error()
		if errors.Is(err, os.ErrNotExist) {
			msg = "no such file"
		}
		return cfg, &ConfigError{File: file, Msg: msg, Try: "luaws serve --config path/to/luaws.toml"}
	}
	doc, err := parseTOML(file, src)
	if err != nil {
		return cfg, err
	}
	dir := filepath.Dir(file)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	t := doc.top()
	t.str("listen", &cfg.Listen)
	t.str("admin_listen", &cfg.AdminListen)
	for _, key := range []string{"listen", "admin_listen"} {
		addr := cfg.Listen
		if key == "admin_listen" {
			addr = cfg.AdminListen
		}
		if msg := checkListen(addr); msg != "" {
			t.fail(key, "%s", msg)
		}
	}
	if cfg.AdminListen == listenSystemd {
		t.fail("admin_listen", "only listen takes the socket systemd passed")
	}
	var mode string
	t.str("socket_mode", &mode)
	if mode != "" {
		m, err := parseMode(mode)
		if err != nil {
			t.fail("socket_mode", "%v", err)
		}
		cfg.SocketMode = m
	}
	t.boolean("static_dotfiles", &cfg.StaticOptions.Dotfiles)
	t.boolean("static_listing", &cfg.StaticOptions.Listing)
	t.str("log_format", &cfg.LogFormat)
	t.str("log_level", &cfg.LogLevel)
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		t.fail("log_format", "want text or json, got %q", cfg.LogFormat)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		t.fail("log_level", "want debug, info, warn or error, got %q", cfg.LogLevel)
	}
	watch := !cfg.NoWatch
	t.boolean("watch", &watch)
	cfg.NoWatch = !watch
	t.duration("handshake_timeout", &cfg.HandshakeTimeout, false)
	t.duration("http_idle_timeout", &cfg.HTTPIdleTimeout, false)
	t.size("max_header_bytes", &cfg.MaxHeaderBytes)
	t.duration("shutdown_timeout", &cfg.ShutdownTimeout, false)
	var defaults MountConfig
	t.duration("ping_interval", &defaults.PingInterval, true)
	t.duration("pong_timeout", &defaults.PongTimeout, false)
	t.duration("idle_timeout", &defaults.IdleTimeout, true)

	if v, ok := t.m["max_connections"]; ok {
		if _, isTable := v.(map[string]any); isTable {
			mc := t.sub("max_connections")
			mc.count("total", &cfg.MaxConnections)
			mc.count("per_addr", &cfg.MaxConnectionsPerAddr)
			mc.finish("max_connections", maxConnKeys)
		} else {
			t.count("max_connections", &cfg.MaxConnections)
		}
	}

	if st := t.sub("static"); st != nil {
		cfg.Static = map[string]string{}
		for _, prefix := range st.keys() {
			var d string
			st.str(prefix, &d)
			if d == "" {
				continue
			}
			if !strings.HasPrefix(prefix, "/") {
				st.fail(prefix, "the URL prefix must start with /")
				continue
			}
			d = rel(d)
			if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
				st.fail(prefix, "%s: no such directory", d)
				continue
			}
			cfg.Static[prefix] = d
		}
	}

	if tt := t.sub("tls"); tt != nil {
		tt.str("cert", &cfg.TLS.Cert)
		tt.str("key", &cfg.TLS.Key)
		tt.str("client_ca", &cfg.TLS.ClientCA)
		tt.str("client_auth", &cfg.TLS.ClientAuth)
		tt.str("min_version", &cfg.TLS.MinVersion)
		tt.finish("[tls]", tlsKeys)
		switch {
		case cfg.TLS.Cert == "" && cfg.TLS.Key == "":
			doc.fail(tt.path, "", "give cert and key")
		case cfg.TLS.Cert == "":
			doc.fail(tt.path, "", "key without cert")
		case cfg.TLS.Key == "":
			doc.fail(tt.path, "", "cert without key")
		default:
			cfg.TLS.Cert, cfg.TLS.Key = rel(cfg.TLS.Cert), rel(cfg.TLS.Key)
			caFound := true
			if cfg.TLS.ClientCA != "" {
				cfg.TLS.ClientCA = rel(cfg.TLS.ClientCA)
				caFound = tt.fileExists("client_ca", cfg.TLS.ClientCA)
			}
			if tt.fileExists("cert", cfg.TLS.Cert) && tt.fileExists("key", cfg.TLS.Key) && caFound {
				if _, err := loadTLS(cfg.TLS); err != nil {
					var te *tlsError
					if errors.As(err, &te) && te.field != "" {
						tt.fail(te.field, "%s", te.msg)
					} else {
						doc.fail(tt.path, "", "%v", err)
					}
				}
			}
		}
	}

	if bt := t.sub("broker"); bt != nil {
		bt.str("kind", &cfg.Broker.Kind)
		bt.str("url", &cfg.Broker.URL)
		bt.str("prefix", &cfg.Broker.Prefix)
		bt.finish("[broker]", brokerKeys)
		if !contains(brokerKinds, cfg.Broker.Kind) {
			bt.fail("kind", "want memory, nats or redis, got %q", cfg.Broker.Kind)
		}
		// The URL is the broker's to check: NATS takes lists and tls://,
		// Redis unix:// sockets.
	}

	paths := map[string]string{} // path → what serves it
	for prefix := range cfg.Static {
		paths[prefix] = "static"
	}
	for _, mt := range t.tables("mount") {
		mc := decodeMount(mt, defaults, rel)
		switch paths[mc.Path] {
		case "":
		case "static":
			mt.fail("path", "%s is mounted and served as static files; give one of them another path", mc.Path)
		default:
			mt.fail("path", "%s is mounted twice", mc.Path)
		}
		paths[mc.Path] = "mount"
		cfg.Mounts = append(cfg.Mounts, mc)
	}
	for _, pt := range t.tables("proxy") {
		pc := decodeProxy(pt)
		if by := paths[pc.Path]; by != "" {
			what := map[string]string{"static": "served as static files", "mount": "mounted", "proxy": "proxied"}[by]
			pt.fail("path", "%s is already %s; each path has one handler", pc.Path, what)
		}
		paths[pc.Path] = "proxy"
		cfg.Proxies = append(cfg.Proxies, pc)
	}
	if _, ok := t.m["mount"]; !ok {
		doc.errs = append(doc.errs, &ConfigError{File: file, Msg: "no [[mount]]: give at least one WebSocket endpoint",
			Try: "add [[mount]] with path = \"/ws\" and script = \"app.lua\""})
	}
	t.finish("the file", topKeys)
	return cfg, doc.err()
}

// decodeProxy reads one [[proxy]].
func decodeProxy(t *table) ProxyConfig {
	pc := ProxyConfig{Path: "/"}
	t.str("path", &pc.Path)
	if !strings.HasPrefix(pc.Path, "/") {
		t.fail("path", "want a path starting with /, got %q", pc.Path)
	}
	t.str("upstream", &pc.Upstream)
	if _, ok := t.m["upstream"]; !ok {
		t.doc.fail(t.path, "", "no upstream: give upstream = \"http://127.0.0.1:3000\"")
	} else if _, err := parseUpstream(pc.Upstream); err != nil {
		t.fail("upstream", "%v", err)
	}
	t.boolean("strip_prefix", &pc.StripPrefix)
	t.duration("connect_timeout", &pc.ConnectTimeout, false)
	t.duration("response_timeout", &pc.ResponseTimeout, false)
	t.finish("[[proxy]]", proxyKeys)
	return pc
}

// decodeMount reads one [[mount]].
func decodeMount(t *table, defaults MountConfig, rel func(string) string) MountConfig {
	mc := defaults
	mc.Path = engine.DefaultMountPath
	t.str("path", &mc.Path)
	if !strings.HasPrefix(mc.Path, "/") {
		t.fail("path", "want a path starting with /, got %q", mc.Path)
	}
	t.str("script", &mc.Script)
	if _, ok := t.m["script"]; !ok {
		t.doc.fail(t.path, "", "no script: give script = \"app.lua\"")
	} else if mc.Script != "" {
		mc.Script = rel(mc.Script)
		t.fileExists("script", mc.Script)
	}
	t.str("serializer", &mc.Serializer)
	if err := luabind.CheckSerializer(mc.Serializer); err != nil {
		t.fail("serializer", "%v", err)
	}
	if v, ok := t.get("workers"); ok {
		switch v := v.(type) {
		case string:
			if v == "auto" {
				mc.Workers = runtime.NumCPU()
				break
			}
			t.fail("workers", `want a number from 1 or "auto", got %q`, v)
		case int64:
			if v < 1 || v > 1024 {
				t.fail("workers", `want a number from 1 to 1024 or "auto", got %d`, v)
				break
			}
			mc.Workers = int(v)
		default:
			t.fail("workers", `want a number from 1 or "auto", got %s`, tomlType(v))
		}
	}
	t.duration("handler_timeout", &mc.HandlerTimeout, false)
	t.count("ban_after_stops", &mc.BanAfterStops)
	t.duration("ban_duration", &mc.BanDuration, true)
	t.size("max_message_size", &mc.MaxMessageSize)
	t.count("send_queue_size", &mc.SendQueueSize)
	t.size("send_queue_bytes", &mc.SendQueueBytes)
	t.strings("subprotocols", &mc.Subprotocols)
	t.strings("allowed_origins", &mc.AllowedOrigins)
	t.boolean("compression", &mc.Compression)
	t.duration("ping_interval", &mc.PingInterval, true)
	t.duration("pong_timeout", &mc.PongTimeout, false)
	t.duration("idle_timeout", &mc.IdleTimeout, true)
	t.strings("middleware", &mc.Middleware)
	for i, name := range mc.Middleware {
		if !middleware.Known(name) {
			try := hint(name, middleware.Names(), "the middleware are: ")
			t.doc.fail(append(t.pathOf("middleware"), strconv.Itoa(i)), try, "unknown middleware %q", name)
		}
	}
	if it := t.sub("middleware_init"); it != nil {
		mc.MiddlewareInit = map[string]map[string]any{}
		for _, name := range it.keys() {
			settings := it.sub(name)
			if settings == nil {
				continue
			}
			if !contains(mc.Middleware, name) {
				it.fail(name, "%s is not in this mount's middleware list", name)
				continue
			}
			mc.MiddlewareInit[name] = settings.m
		}
	}
	for _, name := range mc.Middleware {
		if !middleware.Known(name) {
			continue
		}
		_, err := middleware.New(name, mc.MiddlewareInit[name], middleware.Env{Mount: mc.Path})
		var ke *middleware.KeyError
		if errors.As(err, &ke) {
			_, hasInit := mc.MiddlewareInit[name]
			path := append(t.pathOf("middleware_init"), name)
			msg := ke.Msg
			switch {
			case !hasInit:
				path = append(t.pathOf("middleware"), strconv.Itoa(indexOf(mc.Middleware, name)))
				msg = fmt.Sprintf("%s needs [mount.middleware_init.%s]: %s", name, name, ke.Error())
			case ke.Key != "":
				path = append(path, strings.Split(ke.Key, ".")...)
			}
			try := ""
			if ke.Msg == "unknown key" {
				try = hint(ke.Key, ke.Known, "the keys of "+name+" are: ")
			}
			t.doc.fail(path, try, "%s", msg)
		} else if err != nil {
			t.doc.fail(t.pathOf("middleware"), "", "%s: %v", name, err)
		}
	}
	t.finish("[[mount]]", mountKeys)
	return mc
}

// parseMode parses a socket mode: octal permission bits like "0660".
func parseMode(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("want octal permission bits like \"0660\", got %q", s)
	}
	return fs.FileMode(n), nil
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, e := range list {
		if e == s {
			return i
		}
	}
	return -1
}
