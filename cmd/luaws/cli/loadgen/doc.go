// Package loadgen is the load generator behind `luaws bench`: it opens
// WebSocket connections to one server and measures echo throughput and
// latency, the memory of idle connections, and broadcast fan-out.
//
// # Modes
//
//   - [Echo]: Conns connections each keep up to InFlight messages of Size
//     bytes unanswered; every reply is timed against its message (the
//     server must answer each connection's messages in order, as an echo
//     does).
//   - [Idle]: Conns connections are opened and held for Duration, doing
//     nothing; with ServerPID the server's RSS before and after gives the
//     memory of one idle connection.
//   - [Broadcast]: Conns subscribers and one publisher. The publisher sends
//     {"broadcast": {"seq": N, "pad": "..."}}; the server sends the inner
//     object to every other connection (scripts/bench_broadcast.lua). Up
//     to InFlight messages may be on their way to the subscribers; a
//     message is done when every subscriber has it.
//
// # Bounds
//
// Every run ends after Duration (and, in echo and broadcast mode, after
// Messages messages if set); replies still on their way get a few more
// seconds, then the connections are closed. Targets must be loopback
// unless AllowRemote is set: a load generator is not for other people's
// servers.
//
// # Concurrency
//
// [Run] uses two goroutines per echo connection (a writer and a reader),
// one per idle or broadcast connection, and one for progress reports. The
// Progress callback is called from one goroutine at a time.
//
// The client side is cheap on purpose, so that it takes as little of the
// machine from the server it measures as it can: echo writers send
// pre-built masked frames straight to the socket, several per write when
// the window allows, and readers discard what they read.
//
// loadgen must not be imported by engine or luabind.
package loadgen
