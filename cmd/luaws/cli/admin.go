package cli

import (
	"log/slog"
	"net/http"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/metrics"
)

// adminHandlers returns /metrics and /healthz by pattern, served on the
// main listener or on --admin-listen.
func adminHandlers(srv *engine.Server, log *slog.Logger) map[string]http.Handler {
	return map[string]http.Handler{
		"/metrics": metrics.Handler(srv, log),
		"/healthz": srv.HealthHandler(),
	}
}
