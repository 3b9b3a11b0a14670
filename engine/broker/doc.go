// Package broker carries messages between luaws nodes: the processes that
// serve the same mounts and share one broker. The engine uses it for topics
// ([engine.Mount.Publish]) and broadcasts, so that they reach the
// connections of every node.
//
// Three implementations: [Memory] (in-process; the default, for one node),
// [NATS] (github.com/nats-io/nats.go) and [Redis] (github.com/redis/go-redis
// pub/sub). [New] picks one by name.
//
// # Delivery
//
// A broker is at-most-once: a message published while the broker is
// unreachable is dropped (Publish returns an error), and so is a message
// that was in flight when the connection broke. Messages published by one
// goroutine on one subject reach each subscriber in the order of the
// Publish calls. A subscription also receives what its own node published:
// the engine recognises and skips its own messages (see engine's doc).
//
// # Subjects
//
// A subject is an opaque string of printable ASCII without spaces, e.g.
// "mount/chat". Every broker puts its Config.Prefix and a dot in front
// ("luaws.mount/chat"), so deployments with different prefixes can share a
// broker without seeing each other's messages.
//
// # Concurrency
//
// It is safe to call a Broker's methods concurrently. Publish never waits
// for the network: it queues the message, or fails at once. A subscription's
// handler is called from one goroutine at a time, in order, and must not
// block for long: it holds back the subscription's later messages.
//
// broker must not import the engine or any Lua package.
package broker
