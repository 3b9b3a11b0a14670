package luabind

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luaws/luaws/engine"
)

// Runaway handlers from one address
//
// A handler the watchdog stops has held its worker for HandlerTimeout:
// every other connection of that worker waited. One client that opens
// many connections and sends each the message that makes its handler
// loop stalls the worker for many timeouts in a row. So each stop is
// counted against the client's address (the host of the request's
// RemoteAddr, after any real_ip middleware; not for clients of a Unix
// socket, whose address is "@"): an address whose handlers
// were stopped BanAfterStops times within BanDuration is banned for
// BanDuration. A banned address's handshakes are refused with 429, and
// its open connections are closed with 1008 at their next message,
// without running the handler.

// maxPenaltyEntries bounds the table: past it, entries that no longer
// matter are dropped, and then the oldest.
const maxPenaltyEntries = 4096

// penalties counts stopped handlers by client address.
type penalties struct {
	limit int           // stops within window that ban; 0: off
	ttl   time.Duration // the window, and how long a ban lasts

	// banned is how many entries may be banned now (bans not yet seen
	// to expire): 0 lets every check skip the lock.
	banned atomic.Int64
	// refused counts handshakes and messages refused because of a ban;
	// bans counts bans.
	refused, bans atomic.Uint64

	mu      sync.Mutex
	entries map[string]*penalty
}

// penalty is one address's recent stops.
type penalty struct {
	stops []time.Time // within ttl, oldest first; at most limit
	until time.Time   // banned until then; zero when not banned
}

func newPenalties(limit int, ttl time.Duration) *penalties {
	if ttl <= 0 {
		limit = 0
	}
	return &penalties{limit: limit, ttl: ttl, entries: map[string]*penalty{}}
}

// clientHost is the address penalties are keyed by: the host of a
// RemoteAddr ("ip:port"), or the whole string when it has no port.
func clientHost(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// stopped counts one stopped handler of addr at now. It reports whether
// that stop banned the address (it was not banned before).
func (p *penalties) stopped(addr string, now time.Time) bool {
	if p.limit <= 0 {
		return false
	}
	host := clientHost(addr)
	if host == "" || host == "@" {
		return false // a Unix socket: every client has the same address
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[host]
	if e == nil {
		if len(p.entries) >= maxPenaltyEntries {
			p.prune(now)
		}
		e = &penalty{}
		p.entries[host] = e
	}
	if !e.until.IsZero() && now.Before(e.until) {
		return false // banned already
	}
	cut := 0
	for cut < len(e.stops) && now.Sub(e.stops[cut]) >= p.ttl {
		cut++
	}
	e.stops = append(e.stops[:0], e.stops[cut:]...)
	e.stops = append(e.stops, now)
	if len(e.stops) < p.limit {
		return false
	}
	if e.until.IsZero() {
		p.banned.Add(1)
	}
	e.until = now.Add(p.ttl)
	e.stops = e.stops[:0]
	p.bans.Add(1)
	return true
}

// isBanned reports whether addr is banned at now, and counts it refused
// if so. With no ban in force it takes no lock.
func (p *penalties) isBanned(addr string, now time.Time) bool {
	if p.banned.Load() == 0 {
		return false
	}
	host := clientHost(addr)
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[host]
	if e == nil || e.until.IsZero() {
		return false
	}
	if !now.Before(e.until) {
		e.until = time.Time{}
		p.banned.Add(-1)
		if len(e.stops) == 0 {
			delete(p.entries, host)
		}
		return false
	}
	p.refused.Add(1)
	return true
}

// prune drops the entries with no stop within ttl and no ban in force;
// if the table is still full, it drops entries until it is not, bans
// last. Only with mu held.
func (p *penalties) prune(now time.Time) {
	for host, e := range p.entries {
		if !e.until.IsZero() && now.Before(e.until) {
			continue
		}
		if n := len(e.stops); n > 0 && now.Sub(e.stops[n-1]) < p.ttl {
			continue
		}
		if !e.until.IsZero() {
			p.banned.Add(-1)
		}
		delete(p.entries, host)
	}
	for pass := 0; len(p.entries) >= maxPenaltyEntries && pass < 2; pass++ {
		for host, e := range p.entries {
			if len(p.entries) < maxPenaltyEntries {
				break
			}
			if !e.until.IsZero() {
				if pass == 0 {
					continue
				}
				p.banned.Add(-1)
			}
			delete(p.entries, host)
		}
	}
}

// penalize counts a stopped handler of a connection from remoteAddr and
// logs the ban it may cause.
func (m *Mount) penalize(remoteAddr string) {
	if m.pen.stopped(remoteAddr, time.Now()) {
		m.log.Warn("client address banned: its handlers were stopped too often (handler_timeout); its handshakes are refused with 429",
			engine.LogKeyRemoteAddr, clientHost(remoteAddr), "stops", m.pen.limit, "for", m.pen.ttl)
	}
}
