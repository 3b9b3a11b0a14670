package cli

import (
	"net/http"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/luabind"
)

// admin serves /metrics and /healthz.
type admin struct {
	srv     *engine.Server
	scripts []*luabind.Mount
}

func newAdmin(srv *engine.Server, scripts []*luabind.Mount) *admin {
	return &admin{srv: srv, scripts: scripts}
}

// handlers returns the admin endpoints by pattern.
func (a *admin) handlers() map[string]http.Handler {
	return map[string]http.Handler{
		"/healthz": a.srv.HealthHandler(),
	}
}
