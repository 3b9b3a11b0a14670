// Package scripttest runs the Lua tests of luaws scripts: the *_test.lua
// files behind `luaws test`. Each file returns a table; every function of
// it named test_* is a test, run in name order, and gets the harness t as
// its argument. t.server starts a script's mount in-process as serve
// does: a real engine.Server on 127.0.0.1:0 with a luabind.Mount behind
// it, and its clients are real gorilla WebSocket clients.
//
// # Concurrency
//
// Each test runs in a Lua VM of its own, on the goroutine that called
// [Run]. That VM only talks to the servers it starts through their
// sockets: a server's script runs in the Mount's own VMs, on their
// workers, so no VM is shared between goroutines.
//
// The package imports luabind and engine; cli imports it.
package scripttest
