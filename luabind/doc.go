// Package luabind runs a mount's Lua script: it compiles the script once per
// (re)load, runs it in one or more worker VMs, turns engine events into
// calls of the script's handlers, and gives scripts the luaws module and the
// conn object.
//
// # Workers
//
// A [Mount] has Options.Workers workers, each owning one gopher-lua LState,
// which is not goroutine-safe: a worker's events run one at a time, on
// whichever goroutine holds its drain (worker.go). A connection is given
// to one worker for its life; its events (open, each message, close) are
// posted to that worker in the order the engine produced them and run in
// that order. A message that finds its worker idle (nothing posted and not
// yet run) runs at once on the connection's reader goroutine, which then
// holds the drain for what others post meanwhile, up to a budget; past it
// the worker's own goroutine takes over. With one message in flight, that
// saves two goroutine switches, which cost more than a short handler.
//
// # Handshake
//
// When the script has a handshake handler, [Mount.Handshake] runs it on a
// worker (the one the connection will belong to) while the upgrade request
// waits; its reply seeds conn.data, the subprotocol and the 101's headers.
// The error handler ([Mount.HandshakeFailed]) shapes the reply of every
// failed handshake the same way.
//
// # State across workers
//
// What crosses workers lives in Go: a connection's data (engine.Data, locked),
// luaws.shared ([Shared], one per process unless Options.Shared says
// otherwise), the registry of connections (engine.Mount). Lua values are
// converted at the boundary (see [ToGo] and [ToLua]).
//
// # Timers
//
// luaws.after and luaws.every belong to the VM that made them. Their Go
// timers only post an event to the worker's queue; the callback runs on
// the worker between two events. Closing a VM (reload, stop) cancels its
// timers.
//
// # Stopping a script
//
// Each VM runs under a cancellable context that gopher-lua checks between
// instructions. One watchdog goroutine per Mount looks at the workers every
// tick (a tenth of Options.HandlerTimeout, at most 50 ms) and cancels the
// context of a call that has run past the handler timeout, or past one tick
// while the Go heap is over Options.MemoryLimit; the worker then gives the
// VM a fresh context. A call costs two atomic operations and no
// allocation. The builtins that could build a huge string in one call,
// which no context check can interrupt, are bounded (limits.go).
//
// # Hot reload
//
// [Mount.Reload] compiles a new [Program] and loads it in a fresh VM per
// worker, off the workers' goroutines (a VM being loaded is reachable from
// nowhere else). Only when all load does each worker swap VMs, through its
// event queue, so the swap falls between two events, and runs the
// script's reload(conn) handlers; if one fails on any worker, every worker
// goes back to its old VM (kept open until all have run them). The old VM
// is then closed on its worker; what lives in Go (connections, conn.data, the registry)
// is untouched. With Options.Watch a watcher (fsnotify, on the files'
// directories) calls Reload when the script or a module changes.
//
// luabind imports engine; engine never imports luabind.
package luabind
