package engine

import (
	"net/http"
	"net/url"
)

// Handler is the application side of a mount.
//
// For one connection the engine calls Open once, then Message for each
// message in the order it arrived, then Close exactly once, one at a
// time: Open on the upgrade request's goroutine, the others on the
// connection's reader goroutine. A method may block; Message and Close
// hold back the reads of that connection only, Open its 101 response. A
// panic in Open or Message is logged and closes the connection with 1011
// (websocket.CloseInternalServerErr); a panic in Close is logged. The
// server and the other connections go on.
type Handler interface {
	// Open is called once the upgrade is accepted and the connection
	// registered, just before the 101 response goes out: what it sends
	// follows the 101, and whatever it sets up (a topic subscription, a
	// presence entry) is in place before the client can see the
	// connection open. If the 101 cannot be written, Close follows with
	// 1006.
	Open(c *Conn)
	// Message is called for each data message. The handler owns m.Data.
	Message(c *Conn, m Message)
	// Close is called once when the connection has ended, with the close
	// code and reason: the peer's if it closed first, the server's if the
	// server did, 1006 (websocket.CloseAbnormalClosure) if the peer vanished.
	// The connection is already gone from the registry.
	Close(c *Conn, code int, reason string)
}

// Handshaker is implemented by a Handler that wants to see, and may reject
// or shape, each upgrade request before the 101 response. It is called on the
// request's own goroutine, concurrently for different requests.
type Handshaker interface {
	// Handshake returns the reply that completes the upgrade, or an error
	// that rejects it: a [*Rejection] for a chosen status and body, any
	// other error for 403 "rejected".
	Handshake(req *Request) (HandshakeReply, error)
}

// ErrorReplier is implemented by a Handler that shapes the HTTP reply of a
// failed handshake (Plack::App::WebSocket's error app). It is called on the
// request's goroutine.
type ErrorReplier interface {
	// HandshakeFailed returns the reply for e; ok false means "use the default".
	HandshakeFailed(req *Request, e *HandshakeError) (reply ErrorReply, ok bool)
}

// ErrorReply is an HTTP response for a failed handshake. Headers of the
// [HandshakeError] that Header does not set (Sec-WebSocket-Version on a 426,
// WWW-Authenticate on a 401) are added to it.
type ErrorReply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Request is what a client sent to open a connection. It is read-only once
// the handshake has begun and safe to read from any goroutine.
//
// A connection keeps its Request as long as it lives, so the query string
// and the headers are kept packed in one string each, not as maps (about
// 600 bytes a connection); [Request.Query] and [Request.Header] unpack
// them into a fresh map on every call.
type Request struct {
	// Path is the request path, e.g. "/rooms/lobby".
	Path string
	// RemoteAddr is the client address ("ip:port"), after any real_ip middleware.
	RemoteAddr string
	// Subprotocols lists the subprotocols the client offered, in its order.
	Subprotocols []string
	// HTTP is the underlying request, for Handshake and Open. The engine
	// sets it to nil once Open has returned, so that a long-lived
	// connection does not keep it (its context, URL and the rest) alive:
	// read it in those two only.
	HTTP *http.Request
	// TLS is what the TLS handshake settled, or nil without TLS.
	TLS *TLSInfo

	rawQuery string
	header   packedHeader
}

// Query returns the parsed query string, a map of the caller's own. Pairs
// that do not parse are left out, as url.ParseQuery does.
func (r *Request) Query() url.Values {
	q, _ := url.ParseQuery(r.rawQuery)
	return q
}

// Header returns the request headers with canonical names, a map of the
// caller's own.
func (r *Request) Header() http.Header { return r.header.unpack() }

// HandshakeReply completes an accepted upgrade.
type HandshakeReply struct {
	// Subprotocol is the chosen subprotocol; it must be one the client
	// offered, otherwise no subprotocol is sent. Empty means "pick the first
	// offered one that the mount lists in MountConfig.Subprotocols".
	Subprotocol string
	// Header holds extra headers for the 101 response.
	Header http.Header
	// Data seeds the connection's [Data].
	Data map[string]any
	// Attach, when not nil, is given to [Conn.Attach] before Open, so that
	// the handler can hand per-connection state from Handshake to Open.
	Attach any
}

// Rejection is the error a [Handshaker] returns to refuse an upgrade with a
// given status (default 403) and body. The default reply's body is Body as
// is, or "rejected" when Body is empty. Any other error from a Handshaker
// gives 403 "rejected": its text goes to the log, not to the client.
type Rejection struct {
	Status int
	Body   string
}

// Error implements error.
func (r *Rejection) Error() string {
	if r.Body != "" {
		return "rejected: " + r.Body
	}
	return "rejected"
}

// Handshake failure reasons, as the Lua error handler sees them.
const (
	ReasonInvalidRequest     = "invalid request"
	ReasonRejected           = "rejected"
	ReasonOriginNotAllowed   = "origin not allowed"
	ReasonTooManyConnections = "too many connections"
	ReasonShuttingDown       = "shutting down"
	ReasonUnauthorized       = "unauthorized" // basic_auth, bearer: 401
	ReasonRateLimited        = "rate limited" // rate_limit: 429
)

// HandshakeError describes a failed handshake.
type HandshakeError struct {
	// Reason is one of the Reason constants.
	Reason string
	// Status is the HTTP status the default reply uses.
	Status int
	// Detail says more, for logs and the default body.
	Detail string
	// Header holds headers the default reply must carry (e.g. Sec-WebSocket-Version on 426).
	Header http.Header
	// Err is the error a [Handshaker] returned, for ReasonRejected; nil otherwise.
	Err error
}

// Unwrap returns e.Err.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Error implements error.
func (e *HandshakeError) Error() string {
	if e.Detail != "" {
		return e.Reason + ": " + e.Detail
	}
	return e.Reason
}

// Message is one data message.
type Message struct {
	// Type is websocket.TextMessage or websocket.BinaryMessage.
	Type int
	// Data is the payload.
	Data []byte
	// More reports that the next message has arrived whole already: the
	// reader hands it over as soon as this call returns (unless a
	// middleware filter drops it). A handler may hold back its writes
	// while More is set, to write the replies of a burst together, if it
	// also implements [ReadIdler].
	More bool
}

// ReadIdler is implemented by a Handler that wants to know when a
// connection's reader is about to wait for the peer: it has no whole
// message left to hand over. ReadIdle is called on the reader goroutine,
// before that wait; a handler that held back writes while [Message.More]
// was set writes them now.
type ReadIdler interface {
	ReadIdle(c *Conn)
}

// Syncer is implemented by a Handler that handles messages after Message
// has returned (on a worker of its own). Before the engine fails a
// connection for a protocol error, it calls Sync on the reader goroutine,
// after ReadIdle: Sync returns once every message handed to Message has
// been handled, so that the replies it queued go out before the close
// frame.
type Syncer interface {
	Sync(c *Conn)
}
