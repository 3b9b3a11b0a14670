package cli

import (
	"fmt"
	"log/slog"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/middleware"
	"github.com/luaws/luaws/luabind"
)

// mountOptions turns one decoded mount into the luabind options and the
// engine mount (without its Handler) that serve starts; luaws test starts
// its servers from the same function, so both behave alike.
func mountOptions(mc MountConfig, watch bool, mlog *slog.Logger) (luabind.Options, engine.MountConfig, error) {
	var mws []engine.Middleware
	for _, name := range mc.Middleware {
		mw, err := middleware.New(name, mc.MiddlewareInit[name], middleware.Env{Mount: mc.Path, Logger: mlog})
		if err != nil {
			return luabind.Options{}, engine.MountConfig{}, &usageError{msg: fmt.Sprintf("mount %s: middleware %s: %v", mc.Path, name, err)}
		}
		mws = append(mws, mw)
	}
	lo := luabind.Options{
		Script:         mc.Script,
		Serializer:     mc.Serializer,
		Workers:        mc.Workers,
		HandlerTimeout: mc.HandlerTimeout,
		BanAfterStops:  mc.BanAfterStops,
		BanDuration:    mc.BanDuration,
		Watch:          watch,
		Logger:         mlog,
	}
	emc := engine.MountConfig{
		Path:           mc.Path,
		MaxMessageSize: mc.MaxMessageSize,
		SendQueueSize:  mc.SendQueueSize,
		SendQueueBytes: mc.SendQueueBytes,
		Subprotocols:   mc.Subprotocols,
		AllowedOrigins: mc.AllowedOrigins,
		Compression:    mc.Compression,
		PingInterval:   mc.PingInterval,
		PongTimeout:    mc.PongTimeout,
		IdleTimeout:    max(mc.IdleTimeout, 0),
		Middleware:     mws,
	}
	return lo, emc, nil
}
