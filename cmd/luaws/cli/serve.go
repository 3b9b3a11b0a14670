package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
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
	return run(ctx, cfg, stdout, stderr)
}

// printError prints err, and the hint of a usageError, as one line and
// returns its exit code.
func printError(stderr io.Writer, err error) int {
	msg := oneLine(err.Error())
	var ue *usageError
	if errors.As(err, &ue) && ue.try != "" {
		msg += " (try: " + ue.try + ")"
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

// workersFlag parses --workers N|auto.
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

func parseServe(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	// Parse reports a bad flag only through its error, printed as one line.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var (
		cfg        Config
		mount      MountConfig
		workers    string
		static     string
		maxMessage string
		origins    string
	)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address to listen on; port 0 picks a free port")
	fs.StringVar(&mount.Path, "mount", engine.DefaultMountPath, "URL path of the endpoint; a path ending in / takes every path below it")
	fs.StringVar(&mount.Serializer, "serializer", "none", "message format: none or json")
	fs.StringVar(&workers, "workers", "1", "Lua VMs for the mount: a number or auto (one per CPU)")
	fs.DurationVar(&mount.HandlerTimeout, "handler-timeout", time.Second, "longest a handler may run")
	fs.StringVar(&maxMessage, "max-message-size", "1MiB", "largest message accepted")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated origins allowed to connect, or *; default: same host only")
	fs.StringVar(&static, "static", "", "directory of static files to serve at /")
	fs.StringVar(&cfg.TLS.Cert, "tls-cert", "", "TLS certificate file (PEM)")
	fs.StringVar(&cfg.TLS.Key, "tls-key", "", "TLS key file (PEM)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "longest a graceful stop may take")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&cfg.NoWatch, "no-watch", false, "do not reload when the script or a module it requires changes (SIGHUP still reloads)")
	brokerFlags(fs, &cfg.Broker)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "Usage: luaws serve [flags] SCRIPT.lua")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return cfg, err
		}
		return cfg, &usageError{msg: "serve: " + err.Error(), try: "luaws serve -h"}
	}
	switch fs.NArg() {
	case 0:
		return cfg, &usageError{msg: "serve: no script given", try: "luaws serve examples/chat/chat.lua"}
	case 1:
		mount.Script = fs.Arg(0)
	default:
		return cfg, &usageError{msg: fmt.Sprintf("serve: one script at a time, got %d (use --config for several mounts)", fs.NArg())}
	}
	n, err := parseWorkers(workers)
	if err != nil {
		return cfg, err
	}
	mount.Workers = n
	if mount.MaxMessageSize, err = ParseSize(maxMessage); err != nil {
		return cfg, &usageError{msg: "--max-message-size: " + err.Error()}
	}
	if origins != "" {
		mount.AllowedOrigins = strings.Split(origins, ",")
	}
	if static != "" {
		cfg.Static = map[string]string{"/": static}
	}
	cfg.Mounts = []MountConfig{mount}
	return cfg, nil
}

// run starts the server described by cfg and serves until ctx ends.
func run(ctx context.Context, cfg Config, stdout, stderr io.Writer) int {
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return printError(stderr, err)
	}
	var tlsConfig *tls.Config
	if cfg.TLS.Cert != "" || cfg.TLS.Key != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
		if err != nil {
			return printError(stderr, &usageError{msg: "tls: " + err.Error(), try: "check --tls-cert and --tls-key name readable PEM files"})
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
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

	var scripts []*luabind.Mount
	defer func() {
		for _, m := range scripts {
			m.Stop()
		}
	}()
	ecfg := engine.Config{Logger: log, ShutdownTimeout: cfg.ShutdownTimeout, TLSConfig: tlsConfig, Broker: b}
	for _, mc := range cfg.Mounts {
		if _, err := os.Stat(mc.Script); err != nil {
			return printError(stderr, &usageError{msg: fmt.Sprintf("script %s: no such file", mc.Script)})
		}
		lm, err := luabind.New(luabind.Options{
			Script:         mc.Script,
			Workers:        mc.Workers,
			HandlerTimeout: mc.HandlerTimeout,
			Watch:          !cfg.NoWatch,
			Logger:         log.With(engine.LogKeyMount, mountPath(mc)),
		})
		if err != nil {
			return printError(stderr, err)
		}
		scripts = append(scripts, lm)
		ecfg.Mounts = append(ecfg.Mounts, engine.MountConfig{
			Path:           mc.Path,
			Handler:        lm,
			Serializer:     mc.Serializer,
			MaxMessageSize: mc.MaxMessageSize,
			Subprotocols:   mc.Subprotocols,
			AllowedOrigins: mc.AllowedOrigins,
		})
	}
	srv, err := engine.New(ecfg)
	if err != nil {
		return printError(stderr, err)
	}
	for i, lm := range scripts {
		lm.Bind(srv.Mounts()[i])
	}
	for prefix, dir := range cfg.Static {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return printError(stderr, &usageError{msg: fmt.Sprintf("static %s: %s is not a directory", prefix, dir)})
		}
		srv.Handle(prefix, http.StripPrefix(strings.TrimSuffix(prefix, "/"), http.FileServer(http.Dir(dir))))
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return printError(stderr, &usageError{msg: "listen: " + err.Error(), try: "luaws serve --listen 127.0.0.1:0 ..."})
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

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	for _, m := range srv.Mounts() {
		fmt.Fprintf(stdout, "luaws listening on %s://%s%s\n", scheme, ln.Addr(), m.Path())
	}

wait:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			break wait
		case err := <-serveErr:
			log.Error("server stopped", engine.LogKeyError, err)
			return ExitFailure
		case <-hup:
			reloadAll(scripts)
		}
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		log.Error("shutdown", engine.LogKeyError, err)
		return ExitFailure
	}
	return ExitOK
}

// reloadAll reloads every mount, one after the other. Each reload logs its
// own line; a refused one leaves its mount on the old version.
func reloadAll(scripts []*luabind.Mount) {
	for _, m := range scripts {
		_ = m.Reload("SIGHUP")
	}
}

func mountPath(mc MountConfig) string {
	if mc.Path == "" {
		return engine.DefaultMountPath
	}
	return mc.Path
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
