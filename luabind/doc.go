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
// # State across workers
//
// What crosses workers lives in Go: a connection's data (engine.Data, locked),
// the registry of connections (engine.Mount). Lua values are converted at
// the boundary (see [ToGo] and [ToLua]).
//
// luabind imports engine; engine never imports luabind.
package luabind
