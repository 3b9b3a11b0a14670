package middleware

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/luaws/luaws/engine"
)

// newAccessLog logs one line per upgrade request to the mount: its status
// (101 when upgraded), path, remote_addr and duration. Settings: level
// ("info", default, or "debug").
func newAccessLog(in *Init, env Env) (engine.Middleware, error) {
	level := slog.LevelInfo
	switch s := in.String("level", "info"); s {
	case "info":
	case "debug":
		level = slog.LevelDebug
	default:
		in.fail("level", "want info or debug, got %q", s)
	}
	log := env.Logger
	return engine.Middleware{HTTP: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			peer := r.RemoteAddr
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			attrs := []any{engine.LogKeyStatus, sw.status(), engine.LogKeyPath, r.URL.Path,
				engine.LogKeyRemoteAddr, r.RemoteAddr, engine.LogKeyDuration, time.Since(start)}
			if r.RemoteAddr != peer { // real_ip ran after us
				attrs = append(attrs, "peer", peer)
			}
			if ua := r.UserAgent(); ua != "" {
				attrs = append(attrs, "user_agent", ua)
			}
			log.Log(r.Context(), level, "handshake", attrs...)
		})
	}}, nil
}

// statusWriter records the status written through it. It passes Hijack
// on, for the upgrade, and counts a hijack as 101.
type statusWriter struct {
	http.ResponseWriter
	code     int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Hijack implements http.Hijacker for the WebSocket upgrade.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, brw, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	switch {
	case w.hijacked:
		return http.StatusSwitchingProtocols
	case w.code == 0:
		return http.StatusOK
	}
	return w.code
}
