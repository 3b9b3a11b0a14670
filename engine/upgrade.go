package engine

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// ServeHTTP upgrades a request to a connection of the mount, or replies
// with the failed handshake's HTTP error. The mount's HTTP middleware see
// the request first.
func (m *Mount) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.entry.ServeHTTP(w, withMount(r, m))
}

// upgrade is the innermost handler of the mount: checks, the Handshaker,
// the upgrade.
func (m *Mount) upgrade(w http.ResponseWriter, r *http.Request) {
	req := newRequest(r)
	if herr := checkUpgrade(r); herr != nil {
		m.fail(w, req, herr)
		return
	}
	if !m.originAllowed(r) {
		m.fail(w, req, &HandshakeError{Reason: ReasonOriginNotAllowed, Status: http.StatusForbidden,
			Detail: "origin " + r.Header.Get("Origin") + " is not in allowed_origins"})
		return
	}
	ip := hostOf(req.RemoteAddr)
	if herr := m.srv.admit(ip); herr != nil {
		m.fail(w, req, herr)
		return
	}
	handedOff := false
	defer func() {
		if !handedOff { // rejected, failed, or the Handshaker panicked
			m.srv.release(ip)
		}
	}()

	var reply HandshakeReply
	if hs, ok := m.cfg.Handler.(Handshaker); ok {
		var err error
		if reply, err = hs.Handshake(req); err != nil {
			m.fail(w, req, rejection(err))
			return
		}
	}
	header := reply.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	for _, k := range reservedHeaders {
		header.Del(k) // the upgrader writes these itself
	}
	sp := m.pickSubprotocol(req.Subprotocols, reply.Subprotocol)
	if sp != "" {
		header.Set("Sec-WebSocket-Protocol", sp)
	} else {
		header.Del("Sec-WebSocket-Protocol")
	}

	// Register the connection before the 101 goes out, so that once a
	// client has seen the 101 every broadcast reaches it, and a client that
	// connects after another one was answered gets a higher id. Until the
	// upgrade is done the connection has no socket and no writer: what is
	// sent to it waits in its queue. A failed upgrade leaves a gap in the
	// ids; ids are never reused either way.
	c := &Conn{
		id:          m.srv.nextID.Add(1),
		mount:       m,
		subprotocol: sp, // what gorilla answers, since Upgrader.Subprotocols is nil
		data:        NewData(reply.Data),
		req:         req,
		opened:      time.Now().UnixNano(),
		writing:     true, // no writer until the socket is there
	}
	for _, mw := range m.cfg.Middleware {
		if mw.Conn != nil {
			if f := mw.Conn(c); f != nil {
				c.filters = append(c.filters, f)
			}
		}
	}
	if reply.Attach != nil {
		c.Attach(reply.Attach)
	}
	m.add(c)
	c.guard("Open", func() { m.cfg.Handler.Open(c) })
	bw := &batchWriter{ResponseWriter: w, readSize: m.cfg.ReadBufferSize}
	ws, err := m.upgrader.Upgrade(bw, r, header)
	req.HTTP = nil // see Request.HTTP
	if err != nil {
		m.remove(c)
		c.mu.Lock()
		c.state.Store(stateClosed)
		c.queue = nil
		c.mu.Unlock()
		c.closeHandler(websocket.CloseAbnormalClosure, "upgrade failed: "+err.Error())
		return // the upgrader has replied
	}
	// The size limit is checked after decompression (Conn.readMessage);
	// gorilla's wire limit only stops frames no compressed message of
	// MaxMessageSize could need.
	readLimit := m.cfg.MaxMessageSize
	if m.cfg.Compression {
		readLimit += readLimit/8 + 1024 // deflate's worst-case growth is far less
	}
	ws.SetReadLimit(readLimit)
	bw.bc.upgraded()
	m.stats.accepted.Add(1)
	c.mu.Lock()
	c.ws, c.bc, c.br = ws, bw.bc, bw.br
	c.writing = false
	if len(c.queue) > 0 {
		c.kickLocked()
	}
	c.mu.Unlock()
	if m.srv.isClosing() {
		c.Close(websocket.CloseGoingAway, "server shutting down")
	}
	handedOff = true
	c.startKeepalive()
	c.startIdleTimer()
	m.log.Info("connection opened", LogKeyConn, c.id, LogKeyRemoteAddr, req.RemoteAddr, LogKeyPath, req.Path)
	go c.serve()
}

// reservedHeaders are response headers of the upgrade that a handshake
// reply may not set.
var reservedHeaders = []string{"Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Extensions"}

func newRequest(r *http.Request) *Request {
	return &Request{
		Path:         r.URL.Path,
		RemoteAddr:   r.RemoteAddr,
		Subprotocols: offeredSubprotocols(r),
		HTTP:         r,
		TLS:          newTLSInfo(r.TLS),
		rawQuery:     r.URL.RawQuery,
		header:       packHeader(r.Header),
	}
}

// offeredSubprotocols lists the subprotocols r offers, in its order,
// keeping only tokens (RFC 6455 4.1): not the empty names gorilla keeps
// for "a, , b" or a trailing comma, nor names with spaces in them.
func offeredSubprotocols(r *http.Request) []string {
	offered := websocket.Subprotocols(r)
	return slices.DeleteFunc(offered, func(p string) bool { return !isToken(p) })
}

// isToken reports whether s is an HTTP token (RFC 9110 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// checkUpgrade validates the parts of the request that make it a
// WebSocket upgrade (RFC 6455 section 4.2.1).
func checkUpgrade(r *http.Request) *HandshakeError {
	invalid := func(detail string) *HandshakeError {
		return &HandshakeError{Reason: ReasonInvalidRequest, Status: http.StatusBadRequest, Detail: detail}
	}
	switch {
	case r.Method != http.MethodGet:
		return invalid("method must be GET")
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return invalid("not a WebSocket upgrade: Connection header lacks 'upgrade'")
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return invalid("not a WebSocket upgrade: Upgrade header lacks 'websocket'")
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return invalid("missing Sec-WebSocket-Key")
	case !headerHasToken(r.Header, "Sec-WebSocket-Version", "13"):
		return &HandshakeError{Reason: ReasonInvalidRequest, Status: http.StatusUpgradeRequired,
			Detail: "unsupported WebSocket version: only 13 is spoken",
			Header: http.Header{"Sec-Websocket-Version": {"13"}}}
	}
	return nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// originAllowed applies AllowedOrigins: empty means same host, "*" any.
// Requests without Origin (non-browser clients) are allowed.
func (m *Mount) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(m.cfg.AllowedOrigins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	for _, o := range m.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// pickSubprotocol returns chosen if the client offered it; with no choice,
// the first offered subprotocol the mount speaks.
func (m *Mount) pickSubprotocol(offered []string, chosen string) string {
	if chosen != "" {
		if slices.Contains(offered, chosen) {
			return chosen
		}
		m.log.Warn("handshake chose a subprotocol the client did not offer", "subprotocol", chosen)
		return ""
	}
	for _, want := range m.cfg.Subprotocols {
		if slices.Contains(offered, want) {
			return want
		}
	}
	return ""
}

func rejection(err error) *HandshakeError {
	herr := &HandshakeError{Reason: ReasonRejected, Status: http.StatusForbidden, Err: err}
	var rej *Rejection
	if errors.As(err, &rej) {
		if rej.Status != 0 {
			herr.Status = rej.Status
		}
		herr.Detail = rej.Body
	} else {
		herr.Detail = err.Error()
	}
	return herr
}

// fail writes the HTTP reply of a failed handshake.
func (m *Mount) fail(w http.ResponseWriter, req *Request, herr *HandshakeError) {
	m.stats.reject(herr.Reason)
	m.log.Warn("handshake failed", LogKeyRemoteAddr, req.RemoteAddr, LogKeyPath, req.Path,
		LogKeyStatus, herr.Status, LogKeyReason, herr.Reason, "detail", herr.Detail)
	reply := defaultErrorReply(herr)
	if er, ok := m.cfg.Handler.(ErrorReplier); ok {
		if custom, ok := er.HandshakeFailed(req, herr); ok {
			if custom.Header == nil {
				custom.Header = http.Header{}
			}
			for k, vs := range herr.Header {
				if _, set := custom.Header[k]; !set {
					custom.Header[k] = vs
				}
			}
			reply = custom
		}
	}
	writeErrorReply(w, reply, herr.Status)
}

// writeErrorReply writes reply; a zero Status means status.
func writeErrorReply(w http.ResponseWriter, reply ErrorReply, status int) {
	for k, vs := range reply.Header {
		w.Header()[k] = vs
	}
	if reply.Status == 0 {
		reply.Status = status
	}
	w.WriteHeader(reply.Status)
	_, _ = w.Write(reply.Body)
}

func defaultErrorReply(herr *HandshakeError) ErrorReply {
	h := herr.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	body := herr.Reason
	var rej *Rejection
	switch {
	case errors.As(herr.Err, &rej) && rej.Body != "":
		return ErrorReply{Status: herr.Status, Header: h, Body: []byte(rej.Body)}
	case herr.Reason == ReasonRejected:
		// The Handshaker's error is for the log (fail logs Detail), not the client.
	case herr.Detail != "":
		body += ": " + herr.Detail
	}
	return ErrorReply{Status: herr.Status, Header: h, Body: []byte(body + "\n")}
}

// upgradeError handles what gorilla's Upgrader rejects after our checks.
func (m *Mount) upgradeError(w http.ResponseWriter, r *http.Request, status int, reason error) {
	m.fail(w, newRequest(r), &HandshakeError{Reason: ReasonInvalidRequest, Status: status, Detail: reason.Error()})
}

func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
