package luabind

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/luaws/luaws/engine"
)

// HandlerOptions configures a [Handler]: one script at Mount.Path, and
// any number of further scripts in Mounts, all served by one
// engine.Server.
type HandlerOptions struct {
	// Options is the script's: Script (required unless Mounts is given),
	// Serializer, Workers, HandlerTimeout, Watch, Logger, ... When Logger is nil the
	// mount logs to Server.Logger.
	Options
	// Mount configures the script's endpoint: Path (defaults to "/ws"),
	// AllowedOrigins, Subprotocols, limits. Its Handler must be nil: the
	// script is the handler.
	Mount engine.MountConfig
	// Mounts lists further scripts, each at its own Mount.Path, after the
	// one above (when Script is set): what luaws serve builds from the
	// [[mount]] tables of luaws.toml.
	Mounts []MountSpec
	// Server configures what the mounts share: Logger, the connection
	// bounds, ShutdownTimeout, Broker. Its Mounts must be empty. With
	// [Handler.ServeHTTP] the HTTP connections are the calling server's,
	// so HandshakeTimeout, HTTPIdleTimeout and TLSConfig are that
	// server's to set (see [engine.Server.ServeHTTP]).
	Server engine.Config
}

// MountSpec is one script and the endpoint that serves it; see
// [HandlerOptions].
type MountSpec struct {
	Options
	Mount engine.MountConfig
}

// Handler serves Lua scripts as an [http.Handler], for a Go program that
// has its own http.Server and mux: mount it with mux.Handle("/ws", h)
// (or under a prefix with [http.StripPrefix], so that the path it sees
// is the mount's). It is luaws serve's machinery: luaws serve builds
// its mounts with [NewHandler] too, and serves [Handler.Server] on its
// listener. It is safe to call Handler's methods concurrently.
type Handler struct {
	srv    *engine.Server
	mounts []*Mount

	mu      sync.Mutex
	closing bool
	calls   int           // ServeHTTP calls in progress
	idle    chan struct{} // closed when closing and calls is 0
	stop    sync.Once
}

// NewHandler compiles and loads every script, starts its workers and
// returns the handler serving them. A script that does not compile or
// load is a *CompileError or *LoadError naming the file and line; an
// unknown serializer, or a bad endpoint (a path mounted twice, a
// malformed path), is an error naming it. Nothing is left running when
// it fails.
func NewHandler(o HandlerOptions) (*Handler, error) {
	specs := o.Mounts
	if o.Script != "" {
		specs = append([]MountSpec{{Options: o.Options, Mount: o.Mount}}, specs...)
	}
	if len(specs) == 0 {
		return nil, errors.New("luabind: no script given: set HandlerOptions.Script (or Mounts)")
	}
	if len(o.Server.Mounts) > 0 {
		return nil, errors.New("luabind: HandlerOptions.Server.Mounts is set: give the scripts in Script and Mounts")
	}
	h := &Handler{idle: make(chan struct{})}
	ecfg := o.Server
	ecfg.Mounts = nil
	for _, spec := range specs {
		path := spec.Mount.Path
		if path == "" {
			path = engine.DefaultMountPath
		}
		if spec.Mount.Handler != nil {
			h.stopMounts()
			return nil, fmt.Errorf("mount %s: MountConfig.Handler is set: the script %s is the handler, leave it nil", path, spec.Script)
		}
		if spec.Logger == nil && o.Server.Logger != nil {
			spec.Logger = o.Server.Logger.With(engine.LogKeyMount, path)
		}
		m, err := New(spec.Options)
		if err != nil {
			h.stopMounts()
			return nil, err
		}
		h.mounts = append(h.mounts, m)
		mc := spec.Mount
		mc.Handler = m
		ecfg.Mounts = append(ecfg.Mounts, mc)
	}
	srv, err := engine.New(ecfg)
	if err != nil {
		h.stopMounts()
		return nil, err
	}
	for i, m := range h.mounts {
		m.Bind(srv.Mounts()[i])
	}
	h.srv = srv
	return h, nil
}

// Server returns the engine server behind the handler: for its
// [engine.Server.Serve] on a listener of its own, [engine.Server.Adopt],
// its mounts' registries and counters, or more routes with
// [engine.Server.Handle] before serving.
func (h *Handler) Server() *engine.Server { return h.srv }

// Mounts returns the scripts' mounts, in the order of HandlerOptions
// (Script first).
func (h *Handler) Mounts() []*Mount { return h.mounts }

// ServeHTTP upgrades a request at a mount's path to a WebSocket served
// by its script, or replies with the failed handshake's error (the
// script's error handler shapes it); a path that is no mount's gets 404.
// After [Handler.Shutdown] has begun every request gets 503.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	closing := h.closing
	if !closing {
		h.calls++
	}
	h.mu.Unlock()
	if closing {
		h.srv.ServeHTTP(w, r) // the engine is shutting down: 503 without a script
		return
	}
	defer h.done()
	h.srv.ServeHTTP(w, r)
}

// done counts a ServeHTTP call out.
func (h *Handler) done() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.calls--; h.calls == 0 && h.closing {
		close(h.idle)
	}
}

// Shutdown closes every connection with 1001 ("server shutting down"),
// waits for the scripts' close handlers and for the requests in
// progress, then stops the scripts' workers. Connections still open when
// ctx ends (or after Server.ShutdownTimeout, if ctx has no deadline) are
// cut, and Shutdown returns the context's error. Calling it again waits
// for the first call. It does not stop the http.Server the handler is
// mounted in: that is the caller's.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if !h.closing {
		h.closing = true
		if h.calls == 0 {
			close(h.idle)
		}
	}
	h.mu.Unlock()
	err := h.srv.Shutdown(ctx)
	select {
	case <-h.idle:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("shutdown: requests still in progress: %w", ctx.Err())
		}
	}
	h.stopMounts()
	return err
}

// stopMounts stops every script once.
func (h *Handler) stopMounts() {
	h.stop.Do(func() {
		for _, m := range h.mounts {
			m.Stop()
		}
	})
}

// Reload loads the current version of every script, as a change on disk
// does with Options.Watch and SIGHUP does in luaws serve (see
// [Mount.Reload]): connections stay open. A script that fails to load
// keeps its old version, and its error is returned (joined with the
// others'). After Shutdown it returns [ErrStopped].
func (h *Handler) Reload() error {
	var errs []error
	for _, m := range h.mounts {
		if err := m.Reload("Handler.Reload"); err != nil {
			errs = append(errs, fmt.Errorf("mount %s: %w", m.em.Load().Path(), err))
		}
	}
	return errors.Join(errs...)
}
