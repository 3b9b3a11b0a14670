package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/luaws/luaws/engine"
)

// ProxyConfig is one [[proxy]]: plain HTTP under Path goes to the app at
// Upstream, so that one origin serves the app and luaws's mounts.
type ProxyConfig struct {
	// Path (path) is the URL path passed on; one ending in / takes every
	// path below it, as a mount's does. Defaults to /.
	Path string
	// Upstream (upstream) is the app's http:// or https:// URL, e.g.
	// "http://127.0.0.1:3000". A path in it is put before the request's.
	Upstream string
	// StripPrefix (strip_prefix) removes Path from the request's path
	// before passing it on: /app/users → /users. Defaults to false.
	StripPrefix bool
	// ConnectTimeout (connect_timeout) bounds connecting to the upstream.
	// Defaults to 5 s.
	ConnectTimeout time.Duration
	// ResponseTimeout (response_timeout) bounds the wait for the upstream's
	// response headers (not the body, which may stream for ever). Defaults
	// to 60 s.
	ResponseTimeout time.Duration
}

// proxyKeys are the keys of a [[proxy]], in the order the docs list them.
var proxyKeys = []string{"path", "upstream", "strip_prefix", "connect_timeout", "response_timeout"}

// Proxy defaults.
const (
	defaultProxyConnectTimeout  = 5 * time.Second
	defaultProxyResponseTimeout = 60 * time.Second
)

// Log keys of the proxy's lines, beside engine's (engine/log.go).
const (
	logKeyProxy    = "proxy"
	logKeyUpstream = "upstream"
)

// badGatewayBody is the whole body of a 502 when the upstream fails.
const badGatewayBody = "502 bad gateway: the upstream app did not answer\n"

// parseUpstream checks an upstream URL: http or https, with a host.
func parseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("want an http:// or https:// URL like \"http://127.0.0.1:3000\", got %q", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: an upstream has no query or fragment", s)
	}
	return u, nil
}

// newProxy returns the handler of one [[proxy]]: an
// httputil.ReverseProxy that sets X-Forwarded-For (appending to one it was
// given, as nginx's $proxy_add_x_forwarded_for), X-Forwarded-Host and
// X-Forwarded-Proto, passes WebSocket upgrades under its path through,
// and flushes streamed responses (server-sent events, chunked bodies) as
// they come. An upstream that does not answer gets the client a 502 and
// the log a line.
func newProxy(pc ProxyConfig, log *slog.Logger) (http.Handler, error) {
	u, err := parseUpstream(pc.Upstream)
	if err != nil {
		return nil, err
	}
	connect := pc.ConnectTimeout
	if connect <= 0 {
		connect = defaultProxyConnectTimeout
	}
	respond := pc.ResponseTimeout
	if respond <= 0 {
		respond = defaultProxyResponseTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = respond
	tr.MaxIdleConnsPerHost = 32
	log = log.With(logKeyProxy, pc.Path, logKeyUpstream, pc.Upstream)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// Rewrite starts without the client's X-Forwarded-For; put it
			// back so that SetXForwarded appends to it, as nginx's
			// $proxy_add_x_forwarded_for does.
			if xff := r.In.Header["X-Forwarded-For"]; xff != nil {
				r.Out.Header["X-Forwarded-For"] = xff
			}
			r.SetXForwarded()
		},
		Transport: tr,
		// 0: responses are flushed when the upstream streams them
		// (text/event-stream, or no Content-Length), else as the buffer
		// fills, so a large file costs no flush per write.
		FlushInterval: 0,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return // the client went away
			}
			log.Error("proxy upstream failed", "method", r.Method, engine.LogKeyPath, r.URL.Path,
				engine.LogKeyRemoteAddr, r.RemoteAddr, engine.LogKeyError, err)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(badGatewayBody))
		},
	}
	if pc.StripPrefix {
		return http.StripPrefix(strings.TrimSuffix(pc.Path, "/"), rp), nil
	}
	return rp, nil
}
