// Package metrics turns a [engine.Server]'s counters into Prometheus
// metrics on a private registry (never the global one), served by
// [Handler] at /metrics.
//
// The engine counts with plain atomics ([engine.MountStats]); nothing on
// the message path touches a Prometheus type. The [Collector] reads the
// counters when scraped. A mount whose handler is a [ScriptSource] (a
// luabind.Mount) adds its Lua figures: errors, reloads and a histogram of
// handler run times, kept in a lock-free [Histogram].
//
// The package imports engine, never luabind or gopher-lua.
package metrics
