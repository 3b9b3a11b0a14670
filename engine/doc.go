// Package engine is the Go core of luaws: the HTTP upgrade, connection ids
// and the registry of open connections, send queues and their writers,
// keepalive, limits and shutdown.
//
// The application side of a mount is a [Handler]. The engine never runs Lua:
// it must not import gopher-lua or gopher-luar (a test checks this), so that
// it can be tested and benchmarked with a plain Go handler against plain
// gorilla/websocket in the same run.
//
// # Connection life cycle
//
// A connection is accepted by [Mount.ServeHTTP]: the request is validated,
// the origin and limits are checked, the optional [Handshaker] runs, and the
// connection is given the next id (ids count from 1 across the whole
// [Server] and are never reused) and registered; [Handler.Open] runs, and
// the 101 goes out. From then on one goroutine, the connection's reader,
// calls [Handler.Message] for each message in arrival order, and
// [Handler.Close] exactly once, whatever ended the connection: the peer's
// close frame, a dead peer, [Conn.Close], a slow consumer, a protocol
// error, a panicking handler or [Server.Shutdown] (or, when the 101 could
// not be written, the upgrade's goroutine).
//
// # Limits, middleware, metrics
//
// [Config] and [MountConfig] bound connections (total and per client
// address), the handshake, idle time and message size (counted after
// permessage-deflate). A mount's [Middleware] wrap its upgrade requests
// and filter its messages; they refuse a request with [FailHandshake].
// Every mount keeps counters ([Mount.Stats]) with atomic adds, which
// engine/metrics turns into Prometheus metrics when scraped.
//
// # Concurrency
//
// Handler methods for one connection are never called concurrently; methods
// for different connections are. A Handler method may block: that holds back
// only the reads of its own connection. [Conn.Send] and [Conn.Close] never
// block and are safe to call from any goroutine. Each connection has at most
// one writer goroutine, started when something is queued and stopped after a
// quiet spell, so an idle connection holds only its reader goroutine. A
// writer sends everything queued with one system call. A goroutine that
// sends many messages in a row (a Lua worker) can hold their writing back
// with a [Flusher] and write them itself when it is done, as far as each
// socket takes them without waiting, so that no writer is woken at all.
// One goroutine per mount, while it has connections, sends the keepalive
// pings and ends idle writers. A reader whose messages arrive whole takes
// them from its own buffer without gorilla's reader (Conn.readRaw).
//
// # Memory
//
// An idle connection keeps its reader goroutine (waiting for bytes on the
// smallest stack, see Conn.readRaw and Conn.waitReadable; keepalive does
// not grow it, and a reader that ran handlers starts afresh on a new
// goroutine once its connection is quiet, see respawn.go), a small read buffer
// (MountConfig.ReadBufferSize), gorilla's connection and the request's
// headers; no write buffer, timer, logger or http.Request of its own.
//
// # Topics and nodes
//
// A connection subscribes to topics ([Conn.Subscribe]) of its mount and
// leaves them all when it closes. [Mount.Publish] sends to a topic's
// subscribers, [Mount.Broadcast] to every connection; each prepares the
// message once per node, whatever the number of recipients: one copy of
// the payload that each connection frames as it writes, or, on a mount
// that compresses, one gorilla PreparedMessage (compressed once).
//
// With [Config.Broker] set, several servers (nodes, usually processes on
// different machines) serve the same mounts as one: each mount subscribes
// to one broker subject ("mount" and its path), and every Publish and
// Broadcast is delivered to the local connections at once, directly, and
// handed to the broker as an envelope that carries the node's random id.
// Every node delivers the envelopes of the other nodes and skips its own,
// so each node delivers a message exactly once, its publisher's node
// included, and local delivery goes on when the broker is down (the
// message is then dropped for the other nodes). Messages from one
// goroutine (one Lua worker) keep their order on every node, because a
// node publishes them in call order on one subject and the brokers keep
// the order of one connection's messages.
package engine
