// Package middleware holds the middleware luaws configures by name in a
// mount's `middleware` list, each set up from its `middleware_init` table:
//
//   - access_log: one log line per upgrade request (status, path,
//     remote_addr, duration);
//   - real_ip: the client address from X-Forwarded-For or X-Real-IP, only
//     when the peer is one of trusted_proxies;
//   - rate_limit: messages per second per connection (close 1008) and
//     handshakes per second per client address (HTTP 429);
//   - basic_auth and bearer: credentials checked before the upgrade (401).
//
// A middleware is an [engine.Middleware]: it wraps the upgrade request
// (http.Handler) and/or filters each connection's messages. Order
// matters: the first in the list sees a request first, so real_ip goes
// before rate_limit for the per-address limits to use the real address.
//
// The package imports engine and the standard library only.
package middleware
