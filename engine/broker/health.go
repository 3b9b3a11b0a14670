package broker

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Log attribute keys of this package (engine's log.go has the others;
// broker cannot import engine).
const (
	logKeyBroker   = "broker"
	logKeyURL      = "url"
	logKeyError    = "err"
	logKeyDownFor  = "down_for"
	logKeySubject  = "subject"
	logKeyMessages = "messages"
)

// health tracks a broker's connection state and counters, and logs each
// change of state once.
type health struct {
	kind, url string
	log       *slog.Logger

	published, dropped, received atomic.Uint64
	up                           atomic.Bool

	mu      sync.Mutex
	since   time.Time
	lastErr string
}

func newHealth(kind, url string, log *slog.Logger) *health {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &health{kind: kind, url: url, log: log, since: time.Now()}
	h.up.Store(true)
	return h
}

// setUp records that the broker is reachable, logging the recovery.
func (h *health) setUp() {
	if h.up.Load() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.up.Load() {
		return
	}
	down := time.Since(h.since)
	h.up.Store(true)
	h.since = time.Now()
	h.log.Info("broker reconnected", logKeyBroker, h.kind, logKeyURL, h.url, logKeyDownFor, down.Round(time.Millisecond))
}

// setDown records that the broker is unreachable because of err, logging
// the loss the first time.
func (h *health) setDown(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.lastErr = err.Error()
	}
	if !h.up.Load() {
		return
	}
	h.up.Store(false)
	h.since = time.Now()
	h.log.Warn("broker connection lost; delivering locally only until it is back",
		logKeyBroker, h.kind, logKeyURL, h.url, logKeyError, h.lastErr)
}

// status returns the current state and counters.
func (h *health) status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Status{
		Kind:      h.kind,
		URL:       h.url,
		Connected: h.up.Load(),
		Since:     h.since,
		LastError: h.lastErr,
		Published: h.published.Load(),
		Dropped:   h.dropped.Load(),
		Received:  h.received.Load(),
	}
}

// drop counts a refused message and returns err.
func (h *health) drop(err error) error {
	h.dropped.Add(1)
	return err
}
