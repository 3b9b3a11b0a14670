package middleware

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/luaws/luaws/engine"
)

// newRealIP takes the client address from X-Forwarded-For (or X-Real-IP)
// when, and only when, the peer is a trusted proxy, and puts it in
// Request.RemoteAddr for everything after it: the per-address limits,
// rate_limit, the logs and the script's req.remote_addr.
//
// Settings: trusted_proxies (CIDRs or addresses, e.g. ["10.0.0.0/8"];
// defaults to loopback, 127.0.0.0/8 and ::1, for a proxy on the same
// host), header ("X-Forwarded-For", the default, or "X-Real-IP").
//
// With X-Forwarded-For the addresses are read right to left, skipping
// trusted proxies; the first one that is not trusted is the client (as
// nginx's real_ip_recursive on). A header that does not parse leaves the
// peer address.
func newRealIP(in *Init, env Env) (engine.Middleware, error) {
	proxies := []string{"127.0.0.0/8", "::1"}
	if in.Has("trusted_proxies") {
		proxies = in.Strings("trusted_proxies")
	} else {
		in.get("trusted_proxies") // a known key all the same
	}
	var trusted []netip.Prefix
	for i, s := range proxies {
		p, err := parsePrefix(s)
		if err != nil {
			in.fail("trusted_proxies."+strconv.Itoa(i), "%q is not an IP address or CIDR", s)
			break
		}
		trusted = append(trusted, p)
	}
	header := http.CanonicalHeaderKey(in.String("header", "X-Forwarded-For"))
	if header != "X-Forwarded-For" && header != "X-Real-Ip" {
		in.fail("header", "want X-Forwarded-For or X-Real-IP, got %q", header)
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	log := env.Logger
	return engine.Middleware{HTTP: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer, err := netip.ParseAddr(hostOf(r.RemoteAddr))
			if err == nil && isTrusted(peer) {
				if client, ok := clientAddr(r.Header, header, isTrusted); ok {
					r.RemoteAddr = client.String()
				} else if r.Header.Get(header) != "" {
					log.Warn("real_ip: header does not parse", "header", header, "value", r.Header.Get(header))
				}
			}
			next.ServeHTTP(w, r)
		})
	}}, nil
}

// clientAddr finds the client in header.
func clientAddr(h http.Header, header string, trusted func(netip.Addr) bool) (netip.Addr, bool) {
	if header == "X-Real-Ip" {
		a, err := netip.ParseAddr(strings.TrimSpace(h.Get(header)))
		return a.Unmap(), err == nil
	}
	var hops []string
	for _, v := range h.Values(header) {
		hops = append(hops, strings.Split(v, ",")...)
	}
	if len(hops) == 0 {
		return netip.Addr{}, false
	}
	var a netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		var err error
		if a, err = netip.ParseAddr(strings.TrimSpace(hops[i])); err != nil {
			return netip.Addr{}, false
		}
		a = a.Unmap()
		if !trusted(a) {
			return a, true
		}
	}
	return a, true // every hop is trusted: the leftmost is the client
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// hostOf returns the host of "host:port", or addr as it is.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
