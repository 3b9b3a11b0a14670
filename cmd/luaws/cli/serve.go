package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/luabind"
)

// usageError is bad input: a flag, a file, a script. It prints as one line
// and exits with ExitBadInput.
type usageError struct {
	msg string
	try string
}

func (e *usageError) Error() string { return e.msg }

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseServe(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return printError(stderr, err)
	}
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return printError(stderr, err)
		}
		defer stop()
	}
	return run(ctx, cfg, stdout, stderr)
}

// printError prints err, and the hint of a usageError or ConfigError, as
// one line and returns its exit code.
func printError(stderr io.Writer, err error) int {
	msg := oneLine(err.Error())
	var ue *usageError
	var ce *ConfigError
	switch {
	case errors.As(err, &ue) && ue.try != "":
		msg += " (try: " + ue.try + ")"
	case errors.As(err, &ce) && ce.Try != "":
		msg += " (try: " + ce.Try + ")"
	}
	fmt.Fprintf(stderr, "luaws: %s\n", msg)
	return ExitBadInput
}

// oneLine joins the lines of a multi-line message (Lua's "module not
// found" lists every place it looked) with "; ".
func oneLine(msg string) string {
	if !strings.Contains(msg, "\n") {
		return msg
	}
	var b strings.Builder
	for l := range strings.Lines(msg) {
		l = strings.Trim(l, " \t\r\n,")
		switch {
		case l == "":
			continue
		case b.Len() == 0:
		case strings.HasSuffix(b.String(), ":"):
			b.WriteString(" ")
		default:
			b.WriteString("; ")
		}
		b.WriteString(l)
	}
	return b.String()
}

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

// run starts the server described by cfg and serves until ctx ends.
func run(ctx context.Context, cfg Config, stdout, stderr io.Writer) int {
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return printError(stderr, err)
	}
	defer tuneGC()()
	var tlsConfig *tls.Config
	var tlsFiles *reloadableTLS
	if cfg.TLS.Cert != "" {
		if tlsFiles, err = newReloadableTLS(cfg.TLS); err != nil {
			return printError(stderr, &usageError{msg: tlsFlagError(err),
				try: "check that --tls-cert and --tls-key (or [tls] cert and key) name readable PEM files of one pair, and --tls-client-ca a PEM CA"})
		}
		tlsConfig = tlsFiles.config()
	} else if cfg.TLS != (TLSConfig{MinVersion: cfg.TLS.MinVersion}) {
		return printError(stderr, &usageError{msg: "--tls-client-ca and --tls-client-auth need --tls-cert and --tls-key",
			try: "luaws serve --tls-cert cert.pem --tls-key key.pem --tls-client-ca ca.pem ..."})
	}

	b, err := openBroker(cfg.Broker, log)
	if err != nil {
		return printError(stderr, err)
	}
	if b != nil {
		// Deferred first, so it runs last: after Shutdown, whose close
		// handlers may still publish to other nodes.
		defer b.Close()
	}

	ecfg := engine.Config{
		Logger:                log,
		ShutdownTimeout:       cfg.ShutdownTimeout,
		HandshakeTimeout:      cfg.HandshakeTimeout,
		HTTPIdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:        int(cfg.MaxHeaderBytes),
		MaxConnections:        cfg.MaxConnections,
		MaxConnectionsPerAddr: cfg.MaxConnectionsPerAddr,
		TLSConfig:             tlsConfig,
		Broker:                b,
	}
	var specs []luabind.MountSpec
	for _, mc := range cfg.Mounts {
		lo, emc, err := mountOptions(mc, !cfg.NoWatch, log.With(engine.LogKeyMount, mc.Path))
		if err != nil {
			return printError(stderr, err)
		}
		specs = append(specs, luabind.MountSpec{Options: lo, Mount: emc})
	}
	lh, err := luabind.NewHandler(luabind.HandlerOptions{Mounts: specs, Server: ecfg})
	if err != nil {
		return printError(stderr, err)
	}
	// Stops the scripts when serve returns before the end (a bad static
	// folder, a taken port); after the Shutdown below it returns at once.
	defer func() { _ = lh.Shutdown(context.Background()) }()
	srv := lh.Server()
	for prefix, dir := range cfg.Static {
		fh, err := staticHandler(dir, cfg.StaticOptions)
		if err != nil {
			return printError(stderr, &usageError{msg: fmt.Sprintf("static %s: %v", prefix, err)})
		}
		h := http.StripPrefix(strings.TrimSuffix(prefix, "/"), fh)
		if err := srv.Handle(prefix, h); err != nil {
			return printError(stderr, &usageError{msg: fmt.Sprintf("static %s: %v", prefix, err)})
		}
	}
	for _, pc := range cfg.Proxies {
		h, err := newProxy(pc, log)
		if err == nil {
			err = srv.Handle(pc.Path, h)
		}
		if err != nil {
			return printError(stderr, &usageError{msg: fmt.Sprintf("proxy %s: %v", pc.Path, err)})
		}
	}
	admin := adminHandlers(srv, log)
	if cfg.AdminListen == "" {
		for pattern, h := range admin {
			if err := srv.Handle(pattern, h); err != nil {
				return printError(stderr, &usageError{msg: fmt.Sprintf("%s: %v", pattern, err),
					try: "serve /metrics and /healthz elsewhere with --admin-listen 127.0.0.1:9090"})
			}
		}
	}

	ln, err := listen(cfg.Listen, cfg.SocketMode)
	if err != nil {
		return printError(stderr, &usageError{msg: "listen: " + err.Error(), try: "luaws serve --listen 127.0.0.1:0 ..."})
	}
	var adminSrv *http.Server
	var adminLn net.Listener
	if cfg.AdminListen != "" {
		if adminLn, err = listen(cfg.AdminListen, cfg.SocketMode); err != nil {
			ln.Close()
			return printError(stderr, &usageError{msg: "admin listen: " + err.Error(), try: "luaws serve --admin-listen 127.0.0.1:0 ..."})
		}
		mux := http.NewServeMux()
		for pattern, h := range admin {
			mux.Handle(pattern, h)
		}
		adminSrv = &http.Server{Handler: mux, ReadHeaderTimeout: cfg.HandshakeTimeout,
			IdleTimeout: cfg.HTTPIdleTimeout, MaxHeaderBytes: int(cfg.MaxHeaderBytes),
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	}

	scheme := "ws"
	if tlsConfig != nil {
		scheme = "wss"
	}
	// SIGHUP reloads every mount (see luabind.Mount.Reload). Registered
	// before the listening line, so that a SIGHUP sent after it never
	// takes the default action (exit).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	if adminSrv != nil {
		go func() {
			if err := adminSrv.Serve(adminLn); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("admin: %w", err)
			}
		}()
	}
	for _, m := range srv.Mounts() {
		fmt.Fprintf(stdout, "luaws listening on %s%s\n", listenURL(scheme, ln.Addr()), m.Path())
	}
	for _, prefix := range slices.Sorted(maps.Keys(cfg.Static)) {
		fmt.Fprintf(stdout, "luaws serving static files on %s%s\n", listenURL(httpScheme(tlsConfig), ln.Addr()), prefix)
	}
	for _, pc := range cfg.Proxies {
		fmt.Fprintf(stdout, "luaws proxying %s%s to %s\n", listenURL(httpScheme(tlsConfig), ln.Addr()), pc.Path, pc.Upstream)
	}
	if adminLn != nil {
		fmt.Fprintf(stdout, "luaws metrics at %s/metrics\n", listenURL("http", adminLn.Addr()))
	}

	code := ExitOK
wait:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			break wait
		case err := <-serveErr:
			log.Error("server stopped", engine.LogKeyError, err)
			code = ExitFailure
			break wait
		case <-hup:
			if tlsFiles != nil {
				tlsFiles.reload(log)
			}
			reloadAll(lh.Mounts())
		}
	}
	if err := lh.Shutdown(context.Background()); err != nil {
		log.Error("shutdown", engine.LogKeyError, err)
		code = ExitFailure
	}
	if adminSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = adminSrv.Shutdown(sctx)
		cancel()
	}
	return code
}

// reloadAll reloads every mount, one after the other. Each reload logs its
// own line; a refused one leaves its mount on the old version.
func reloadAll(scripts []*luabind.Mount) {
	for _, m := range scripts {
		_ = m.Reload("SIGHUP")
	}
}

// httpScheme is the scheme of the server's pages: https with TLS, else http.
func httpScheme(tlsConfig *tls.Config) string {
	if tlsConfig != nil {
		return "https"
	}
	return "http"
}

func newLogger(cfg Config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, &usageError{msg: fmt.Sprintf("--log-level %q: want debug, info, warn or error", cfg.LogLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.LogFormat {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, &usageError{msg: fmt.Sprintf("--log-format %q: want text or json", cfg.LogFormat)}
}
