package engine

import (
	"context"
	"net/http"
)

// Middleware adds behaviour around one mount (MountConfig.Middleware):
// around its upgrade requests, its messages, or both. Package
// engine/middleware has the ones luaws configures by name.
type Middleware struct {
	// Name is what logs call it.
	Name string
	// HTTP, when set, wraps the mount's upgrade handler: it sees every
	// request to the mount before the engine checks it, on the request's
	// goroutine. It may change the request (real_ip sets RemoteAddr, which
	// the per-address limits then use) or refuse it with [FailHandshake].
	HTTP func(next http.Handler) http.Handler
	// Conn, when set, is called once for each new connection, before
	// Handler.Open, on the connection's reader goroutine. It returns the
	// connection's message filter, or nil for none.
	Conn func(c *Conn) MessageFilter
}

// MessageFilter sees each data message of one connection before the
// Handler does, on the connection's reader goroutine, one at a time.
// Returning false drops the message (the filter may also close the
// connection, as rate_limit does with 1008).
type MessageFilter func(m Message) bool

type mountKey struct{}

// FailHandshake refuses an upgrade request from an HTTP middleware the
// way the engine refuses one itself: logged, counted in the mount's
// metrics, and replied by the handler's [ErrorReplier] if it has one,
// else in plain text with herr.Status and herr.Header.
func FailHandshake(w http.ResponseWriter, r *http.Request, herr *HandshakeError) {
	if m, ok := r.Context().Value(mountKey{}).(*Mount); ok {
		m.fail(w, newRequest(r), herr)
		return
	}
	writeErrorReply(w, defaultErrorReply(herr), herr.Status)
}

// withMount tags r with m for FailHandshake.
func withMount(r *http.Request, m *Mount) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), mountKey{}, m))
}
