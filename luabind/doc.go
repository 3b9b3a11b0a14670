// Package luabind runs a mount's Lua script: it compiles the script once per
// (re)load, runs it in one or more worker VMs, turns engine events into
// calls of the script's handlers, and gives scripts the luaws module and the
// conn object.
//
// # Workers
//
// A [Mount] has Options.Workers worker goroutines, each owning one
// gopher-lua LState, which is not goroutine-safe. Every Lua call happens on
// the worker that owns the VM. A connection is given to one worker for its
// life; its events (open, each message, close) are queued to that worker in
// the order the engine produced them, so they run one at a time, in order.
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
// the registry of connections (engine.Mount). Lua values are converted at
// the boundary (see [ToGo] and [ToLua]).
//
// # Hot reload
//
// [Mount.Reload] compiles a new [Program] and loads it in a fresh VM per
// worker, off the workers' goroutines (a VM being loaded is reachable from
// nowhere else). Only when all load does each worker swap VMs, through its
// event queue, so the swap falls between two events. The old VM is closed
// on its worker; what lives in Go (connections, conn.data, the registry)
// is untouched. With Options.Watch a watcher (fsnotify, on the files'
// directories) calls Reload when the script or a module changes.
//
// luabind imports engine; engine never imports luabind.
package luabind
