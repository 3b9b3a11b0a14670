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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/luabind"
)

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
