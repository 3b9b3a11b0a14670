package middleware

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
)

// newRateLimit limits messages per second per connection and handshakes
// per second per client address, each as a token bucket.
//
// Settings: messages_per_second and burst (default: the rate, at least
// 1): a connection that sends faster is closed with 1008 "rate limit
// exceeded". handshakes_per_second and handshake_burst: a client address
// that opens connections faster gets HTTP 429 with Retry-After. At least
// one of the two rates is required.
func newRateLimit(in *Init, env Env) (engine.Middleware, error) {
	msgRate := in.Rate("messages_per_second", 0)
	msgBurst := in.Count("burst", max(1, int(math.Ceil(msgRate))))
	hsRate := in.Rate("handshakes_per_second", 0)
	hsBurst := in.Count("handshake_burst", max(1, int(math.Ceil(hsRate))))
	if !in.Has("messages_per_second") && !in.Has("handshakes_per_second") {
		in.fail("", "set messages_per_second, handshakes_per_second or both")
	}
	if in.Has("burst") && !in.Has("messages_per_second") {
		in.fail("burst", "burst needs messages_per_second")
	}
	if in.Has("handshake_burst") && !in.Has("handshakes_per_second") {
		in.fail("handshake_burst", "handshake_burst needs handshakes_per_second")
	}
	var mw engine.Middleware
	if msgRate > 0 {
		mw.Conn = func(c *engine.Conn) engine.MessageFilter {
			b := newBucket(msgRate, msgBurst, time.Now())
			return func(engine.Message) bool {
				if b.take(time.Now()) {
					return true
				}
				c.Logger().Warn("rate limit exceeded", "messages_per_second", msgRate, "burst", msgBurst)
				c.Close(websocket.ClosePolicyViolation, "rate limit exceeded")
				return false
			}
		}
	}
	if hsRate > 0 {
		limits := &addrBuckets{rate: hsRate, burst: hsBurst, m: map[string]*bucket{}}
		retry := strconv.Itoa(max(1, int(math.Ceil(1/hsRate))))
		mw.HTTP = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				addr := hostOf(r.RemoteAddr)
				if !limits.take(addr, time.Now()) {
					engine.FailHandshake(w, r, &engine.HandshakeError{
						Reason: engine.ReasonRateLimited, Status: http.StatusTooManyRequests,
						Detail: fmt.Sprintf("more than %g handshakes per second from %s", hsRate, addr),
						Header: http.Header{"Retry-After": {retry}},
					})
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	return mw, nil
}

// bucket is a token bucket: rate tokens a second, up to burst.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// take spends one token if there is one.
func (b *bucket) take(now time.Time) bool {
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *bucket) refill(now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt*b.rate)
		b.last = now
	}
}

// addrBuckets holds one bucket per client address. Full buckets are
// dropped now and then, so the map holds only recent clients.
type addrBuckets struct {
	rate  float64
	burst int

	mu    sync.Mutex
	m     map[string]*bucket
	swept time.Time
}

func (a *addrBuckets) take(addr string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.swept) > time.Minute {
		for k, b := range a.m {
			if b.refill(now); b.tokens >= b.burst {
				delete(a.m, k)
			}
		}
		a.swept = now
	}
	b, ok := a.m[addr]
	if !ok {
		b = newBucket(a.rate, a.burst, now)
		a.m[addr] = b
	}
	return b.take(now)
}
