package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/luabind"
)

// parseWorkers parses --workers N|auto.
func parseWorkers(s string) (int, error) {
	if s == "auto" {
		return runtime.NumCPU(), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, &usageError{msg: fmt.Sprintf("--workers %q: want a number from 1 or auto", s)}
	}
	return n, nil
}

// serveFlags are serve's flags. Those given on the command line override
// luaws.toml; mount flags then apply to every [[mount]].
type serveFlags struct {
	fs *flag.FlagSet

	config, listen, adminListen, static, tlsCert, tlsKey string
	tlsClientCA, tlsClientAuth, tlsMinVersion            string
	socketMode                                           string
	logFormat, logLevel                                  string
	maxConns, maxConnsPerAddr                            int
	handshakeTimeout, shutdownTimeout, httpIdleTimeout   time.Duration
	maxHeaderBytes                                       string
	staticOpts                                           StaticOptions

	path, serializer, workers, maxMessage, origins, subprotocols string
	handlerTimeout, pingInterval, pongTimeout, idleTimeout       time.Duration
	compression, noWatch                                         bool
	cpuProfile                                                   string

	broker BrokerConfig
}

func newServeFlags() *serveFlags {
	f := &serveFlags{fs: flag.NewFlagSet("serve", flag.ContinueOnError)}
	fs := f.fs
	// Parse reports a bad flag only through its error, printed as one line.
	fs.SetOutput(io.Discard)
	def := defaultConfig()
	fs.StringVar(&f.config, "config", "", "luaws.toml with mounts, static files, TLS, broker; flags given too override it")
	fs.StringVar(&f.listen, "listen", def.Listen, "address to listen on: host:port (port 0 picks a free port), unix:PATH, or systemd (the socket systemd passed; the default when it passed one)")
	fs.StringVar(&f.socketMode, "socket-mode", "0660", "permission bits of a unix: socket luaws creates (octal)")
	fs.StringVar(&f.adminListen, "admin-listen", "", "serve /metrics and /healthz on this address instead of --listen")
	fs.StringVar(&f.static, "static", "", "directory of static files to serve at /")
	fs.BoolVar(&f.staticOpts.Dotfiles, "static-dotfiles", false, "serve static files and folders whose names start with a dot (.env, .git)")
	fs.BoolVar(&f.staticOpts.Listing, "static-listing", false, "list static folders that have no index.html")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (PEM): serve wss://")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS key file (PEM)")
	fs.StringVar(&f.tlsClientCA, "tls-client-ca", "", "CA file (PEM) that signs client certificates: ask clients for one")
	fs.StringVar(&f.tlsClientAuth, "tls-client-auth", "", "with --tls-client-ca: require (default) or verify_if_given")
	fs.StringVar(&f.tlsMinVersion, "tls-min-version", "1.2", "oldest TLS version accepted: 1.2 or 1.3")
	fs.StringVar(&f.logFormat, "log-format", def.LogFormat, "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", def.LogLevel, "log level: debug, info, warn or error")
	fs.IntVar(&f.maxConns, "max-connections", 0, "most open connections, plain HTTP included; 0: the open-file limit less 128")
	fs.IntVar(&f.maxConnsPerAddr, "max-connections-per-addr", 0, "most open connections per client address; 0: no cap")
	fs.DurationVar(&f.handshakeTimeout, "handshake-timeout", def.HandshakeTimeout, "longest the upgrade request may take to arrive")
	fs.DurationVar(&f.httpIdleTimeout, "http-idle-timeout", def.HTTPIdleTimeout, "close a plain HTTP keep-alive connection idle this long")
	fs.StringVar(&f.maxHeaderBytes, "max-header-bytes", "32KiB", "largest request header (431 beyond); also what a WebSocket keeps of its request")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", def.ShutdownTimeout, "longest a graceful stop may take")
	fs.BoolVar(&f.noWatch, "no-watch", false, "do not reload when the script or a module it requires changes (SIGHUP still reloads)")
	fs.StringVar(&f.cpuProfile, "cpu-profile", "", "write a CPU profile (for go tool pprof) to this file, from start to exit")

	fs.StringVar(&f.path, "mount", engine.DefaultMountPath, "URL path of the endpoint; a path ending in / takes every path below it")
	fs.StringVar(&f.serializer, "serializer", "none", "message format: none or json")
	fs.StringVar(&f.workers, "workers", "1", "Lua VMs for the mount: a number or auto (one per CPU)")
	fs.DurationVar(&f.handlerTimeout, "handler-timeout", time.Second, "longest a handler may run")
	fs.StringVar(&f.maxMessage, "max-message-size", "1MiB", "largest message accepted, after decompression")
	fs.StringVar(&f.origins, "allowed-origins", "", "comma-separated origins allowed to connect, or *; default: same host only")
	fs.StringVar(&f.subprotocols, "subprotocols", "", "comma-separated subprotocols the mount speaks, preferred first")
	fs.BoolVar(&f.compression, "compression", false, "negotiate permessage-deflate")
	fs.DurationVar(&f.pingInterval, "ping-interval", engine.DefaultPingInterval, "how often to ping each client; 0 turns pings off")
	fs.DurationVar(&f.pongTimeout, "pong-timeout", engine.DefaultPongTimeout, "how long a pong may take")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 0, "close a connection that sent no message for this long; 0: never")
	brokerFlags(fs, &f.broker)
	fs.Usage = func() {}
	return f
}

func parseServe(args []string, stderr io.Writer) (Config, error) {
	f := newServeFlags()
	cfg := defaultConfig()
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "Usage: luaws serve [flags] SCRIPT.lua\n       luaws serve --config luaws.toml [flags]")
			f.fs.SetOutput(stderr)
			f.fs.PrintDefaults()
			return cfg, err
		}
		return cfg, &usageError{msg: "serve: " + err.Error(), try: "luaws serve -h"}
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	if f.config != "" {
		if f.fs.NArg() > 0 {
			return cfg, &usageError{msg: fmt.Sprintf("serve: a script (%s) and --config: give scripts in [[mount]] tables", f.fs.Arg(0)),
				try: "luaws serve --config luaws.toml"}
		}
		var err error
		if cfg, err = loadConfig(f.config, cfg); err != nil {
			return cfg, err
		}
		if set["mount"] && len(cfg.Mounts) > 1 {
			return cfg, &usageError{msg: fmt.Sprintf("--mount: %s has %d mounts; set each path in its [[mount]]", f.config, len(cfg.Mounts))}
		}
	} else {
		switch f.fs.NArg() {
		case 0:
			return cfg, &usageError{msg: "serve: no script given", try: "luaws serve examples/chat/chat.lua"}
		case 1:
			cfg.Mounts = []MountConfig{{Path: engine.DefaultMountPath, Script: f.fs.Arg(0)}}
		default:
			return cfg, &usageError{msg: fmt.Sprintf("serve: one script at a time, got %d (use --config for several mounts)", f.fs.NArg())}
		}
		if _, err := os.Stat(f.fs.Arg(0)); err != nil {
			return cfg, &usageError{msg: fmt.Sprintf("%s: no such file", f.fs.Arg(0))}
		}
	}
	return cfg, f.apply(&cfg, set)
}

// apply puts the flags given on the command line over cfg.
func (f *serveFlags) apply(cfg *Config, set map[string]bool) error {
	if set["listen"] {
		cfg.Listen = f.listen
	}
	if set["admin-listen"] {
		cfg.AdminListen = f.adminListen
	}
	if set["socket-mode"] {
		mode, err := parseMode(f.socketMode)
		if err != nil {
			return &usageError{msg: "--socket-mode: " + err.Error()}
		}
		cfg.SocketMode = mode
	}
	for flag, addr := range map[string]string{"--listen": cfg.Listen, "--admin-listen": cfg.AdminListen} {
		if msg := checkListen(addr); msg != "" {
			return &usageError{msg: flag + " " + msg}
		}
	}
	if cfg.AdminListen == listenSystemd {
		return &usageError{msg: "--admin-listen systemd: only --listen takes the socket systemd passed", try: "--admin-listen unix:/run/luaws/admin.sock"}
	}
	if set["log-format"] {
		cfg.LogFormat = f.logFormat
	}
	if set["log-level"] {
		cfg.LogLevel = f.logLevel
	}
	if set["max-connections"] {
		cfg.MaxConnections = f.maxConns
	}
	if set["max-connections-per-addr"] {
		cfg.MaxConnectionsPerAddr = f.maxConnsPerAddr
	}
	if set["handshake-timeout"] {
		cfg.HandshakeTimeout = f.handshakeTimeout
	}
	if set["shutdown-timeout"] {
		cfg.ShutdownTimeout = f.shutdownTimeout
	}
	if set["http-idle-timeout"] {
		cfg.HTTPIdleTimeout = f.httpIdleTimeout
	}
	if set["max-header-bytes"] {
		n, err := ParseSize(f.maxHeaderBytes)
		if err != nil {
			return &usageError{msg: "--max-header-bytes: " + err.Error()}
		}
		cfg.MaxHeaderBytes = n
	}
	if set["no-watch"] {
		cfg.NoWatch = f.noWatch
	}
	cfg.CPUProfile = f.cpuProfile
	if set["broker"] {
		cfg.Broker.Kind = f.broker.Kind
	}
	if set["broker-url"] {
		cfg.Broker.URL = f.broker.URL
	}
	if set["broker-prefix"] {
		cfg.Broker.Prefix = f.broker.Prefix
	}
	if set["tls-cert"] {
		cfg.TLS.Cert = f.tlsCert
	}
	if set["tls-key"] {
		cfg.TLS.Key = f.tlsKey
	}
	if set["tls-client-ca"] {
		cfg.TLS.ClientCA = f.tlsClientCA
	}
	if set["tls-client-auth"] {
		cfg.TLS.ClientAuth = f.tlsClientAuth
	}
	if set["tls-min-version"] {
		cfg.TLS.MinVersion = f.tlsMinVersion
	}
	if (cfg.TLS.Cert == "") != (cfg.TLS.Key == "") {
		return &usageError{msg: "--tls-cert and --tls-key go together", try: "luaws serve --tls-cert cert.pem --tls-key key.pem ..."}
	}
	if set["static-dotfiles"] {
		cfg.StaticOptions.Dotfiles = f.staticOpts.Dotfiles
	}
	if set["static-listing"] {
		cfg.StaticOptions.Listing = f.staticOpts.Listing
	}
	if set["static"] {
		if fi, err := os.Stat(f.static); err != nil || !fi.IsDir() {
			return &usageError{msg: fmt.Sprintf("--static %s: no such directory", f.static)}
		}
		if cfg.Static == nil {
			cfg.Static = map[string]string{}
		}
		cfg.Static["/"] = f.static
	}

	var (
		workers int
		maxMsg  int64
		err     error
	)
	if set["workers"] {
		if workers, err = parseWorkers(f.workers); err != nil {
			return err
		}
	}
	if set["max-message-size"] {
		if maxMsg, err = ParseSize(f.maxMessage); err != nil {
			return &usageError{msg: "--max-message-size: " + err.Error()}
		}
	}
	if err := luabind.CheckSerializer(f.serializer); set["serializer"] && err != nil {
		return &usageError{msg: "--serializer: " + err.Error()}
	}
	for i := range cfg.Mounts {
		mc := &cfg.Mounts[i]
		if set["mount"] {
			mc.Path = f.path
		}
		if set["serializer"] {
			mc.Serializer = f.serializer
		}
		if set["workers"] {
			mc.Workers = workers
		}
		if set["handler-timeout"] {
			mc.HandlerTimeout = f.handlerTimeout
		}
		if set["max-message-size"] {
			mc.MaxMessageSize = maxMsg
		}
		if set["allowed-origins"] {
			mc.AllowedOrigins = splitList(f.origins)
		}
		if set["subprotocols"] {
			mc.Subprotocols = splitList(f.subprotocols)
		}
		if set["compression"] {
			mc.Compression = f.compression
		}
		if set["ping-interval"] {
			mc.PingInterval = f.pingInterval
			if f.pingInterval <= 0 {
				mc.PingInterval = -1
			}
		}
		if set["pong-timeout"] {
			mc.PongTimeout = f.pongTimeout
		}
		if set["idle-timeout"] {
			mc.IdleTimeout = f.idleTimeout
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
