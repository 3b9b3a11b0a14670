package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"
)

// Mode is what a run measures.
type Mode string

// The modes of a run.
const (
	Echo      Mode = "echo"
	Idle      Mode = "idle"
	Broadcast Mode = "broadcast"
	Connect   Mode = "connect"
)

// Payloads of echo and broadcast messages.
const (
	PayloadText = "text"
	PayloadJSON = "json"
)

// Limits on a run, so that a typo cannot start one without end.
const (
	MaxConns    = 100_000
	MaxInFlight = 1024
	MaxSize     = 16 << 20
	MaxDuration = time.Hour
	MaxWarmup   = 1000
	MaxRounds   = 100
	// drainTimeout is how long replies still on their way may take after
	// the run's end.
	drainTimeout = 5 * time.Second
)

// Config describes one run. The zero value of a field means its default.
type Config struct {
	// URL is the ws:// (or wss://) endpoint.
	URL string
	// Mode is echo (default), idle, broadcast or connect.
	Mode Mode
	// Conns is the number of connections: echo clients, idle connections
	// or broadcast subscribers. Defaults to 64 for echo, 1,000 for the
	// others.
	Conns int
	// InFlight is how many messages each echo connection keeps unanswered,
	// or how many broadcast messages may be on their way at once.
	// Defaults to 1.
	InFlight int
	// Size is the payload size in bytes. Defaults to 64.
	Size int
	// Payload is "text" (default) or "json". Broadcast always sends JSON.
	Payload string
	// Duration is how long the run sends (echo, broadcast) or holds the
	// connections (idle). Defaults to 10 s; at most MaxDuration.
	Duration time.Duration
	// Messages caps the messages sent (echo: over all connections;
	// broadcast: published); 0 means no cap but Duration.
	Messages int64
	// Warmup is, for idle, how many messages each connection sends (the
	// echo payload) and has answered before it goes idle: the memory of
	// connections that have been used, not only opened.
	Warmup int
	// Reconnects is, for connect, how many times every connection is
	// dropped at once and opened again after the first opening.
	Reconnects int
	// ServerPID, when set, is the server process whose CPU time and RSS
	// are read from /proc before and after the run.
	ServerPID int
	// DialConcurrency is how many handshakes may be in progress at once.
	// Defaults to 64.
	DialConcurrency int
	// AllowRemote allows a URL whose host is not a loopback address.
	AllowRemote bool
	// Insecure skips the verification of a wss:// server's certificate
	// (e.g. a self-signed one on loopback).
	Insecure bool
	// Progress, when set, is called about once a second while the run
	// sends or holds its connections.
	Progress func(Progress)
}

// Progress is a live report.
type Progress struct {
	Mode    Mode
	Elapsed time.Duration
	// Conns is the number of open connections.
	Conns int
	// Messages is the replies (echo) or deliveries (broadcast) so far, and
	// Rate their number per second over the last report's interval.
	Messages int64
	Rate     float64
	// P99 is the 99th percentile latency so far.
	P99    time.Duration
	Errors int64
}

func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = Echo
	}
	if c.Conns <= 0 {
		c.Conns = 1000
		if c.Mode == Echo {
			c.Conns = 64
		}
	}
	if c.InFlight <= 0 {
		c.InFlight = 1
	}
	if c.Size <= 0 {
		c.Size = 64
	}
	if c.Payload == "" {
		c.Payload = PayloadText
	}
	if c.Mode == Broadcast {
		c.Payload = PayloadJSON
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = 64
	}
	return c
}

func (c Config) validate(ctx context.Context) error {
	switch c.Mode {
	case Echo, Idle, Broadcast, Connect:
	default:
		return fmt.Errorf("mode %q: want echo, idle, broadcast or connect", c.Mode)
	}
	switch c.Payload {
	case PayloadText, PayloadJSON:
	default:
		return fmt.Errorf("payload %q: want text or json", c.Payload)
	}
	switch {
	case c.Conns > MaxConns:
		return fmt.Errorf("conns %d: at most %d", c.Conns, MaxConns)
	case c.InFlight > MaxInFlight:
		return fmt.Errorf("inflight %d: at most %d", c.InFlight, MaxInFlight)
	case c.Size > MaxSize:
		return fmt.Errorf("size %d: at most %d bytes", c.Size, MaxSize)
	case c.Duration > MaxDuration:
		return fmt.Errorf("duration %s: at most %s", c.Duration, MaxDuration)
	case c.Messages < 0:
		return fmt.Errorf("messages %d: want 0 (no cap) or more", c.Messages)
	case c.Warmup < 0 || c.Warmup > MaxWarmup:
		return fmt.Errorf("warmup %d: want 0 to %d", c.Warmup, MaxWarmup)
	case c.Reconnects < 0 || c.Reconnects > MaxRounds:
		return fmt.Errorf("reconnects %d: want 0 to %d", c.Reconnects, MaxRounds)
	case c.Reconnects > 0 && c.Mode != Connect:
		return fmt.Errorf("reconnects %d: only for --mode connect", c.Reconnects)
	case c.Warmup > 0 && c.Mode != Idle:
		return fmt.Errorf("warmup %d: only for --mode idle", c.Warmup)
	case c.Payload == PayloadJSON && c.Size < minJSONSize:
		return fmt.Errorf("size %d: a JSON payload takes at least %d bytes", c.Size, minJSONSize)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("url %q: %w", c.URL, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("url %q: want ws:// or wss://", c.URL)
	}
	if !c.AllowRemote {
		if err := checkLoopback(ctx, u.Hostname()); err != nil {
			return fmt.Errorf("url %q: %w", c.URL, err)
		}
	}
	return nil
}

// checkLoopback fails unless every address host resolves to is a
// loopback address.
func checkLoopback(ctx context.Context, host string) error {
	if host == "" {
		return fmt.Errorf("no host")
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !a.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address (%s); pass --allow-remote to load a server that is yours", host, a)
		}
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%s has no address", host)
	}
	return nil
}
