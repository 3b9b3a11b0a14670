package loadgen

import (
	"context"
	"fmt"
	"sync"
)

// connectMode runs the connect mode: open Conns connections,
// DialConcurrency handshakes at a time, timing each handshake; then, for
// each of Reconnects rounds, drop every connection at once (as a deploy
// does) and open them all again, timing the round. The measured part is
// the handshakes, so the server's CPU is per handshake.
func (r *run) connectMode(ctx context.Context) error {
	cfg := r.cfg
	if err := r.serverBefore(); err != nil {
		return err
	}
	hist := &histogram{}
	r.begin()
	conns, err := r.dialAll(ctx, cfg.Conns, hist)
	if err != nil {
		closeAll(conns)
		return err
	}
	handshakes, firstOpen := int64(r.res.Opened), r.res.ConnectSeconds
	for round := range cfg.Reconnects {
		if ctx.Err() != nil {
			break
		}
		closeAll(conns) // no close frame: the sockets just go, as in a crash or a deploy
		conns, err = r.dialAll(ctx, cfg.Conns, hist)
		if err != nil {
			return fmt.Errorf("reconnect round %d: %w", round+1, err)
		}
		handshakes += int64(r.res.Opened)
		r.res.Rounds = append(r.res.Rounds, Round{Opened: r.res.Opened, Seconds: r.res.ConnectSeconds})
	}
	r.res.ConnectSeconds = firstOpen
	r.end()
	r.shutdown(conns, &sync.WaitGroup{})

	r.res.Sent = handshakes
	r.res.Messages = handshakes
	if r.res.Seconds > 0 {
		r.res.Rate = float64(handshakes) / r.res.Seconds
	}
	lat := hist.latency()
	r.res.Latency = &lat
	if s := r.res.Server; s != nil && handshakes > 0 {
		s.CPUPerMessage = s.CPUSeconds * 1e6 / float64(handshakes)
	}
	return nil
}

// Round is one reconnect round of the connect mode: every connection
// dropped at once and opened again.
type Round struct {
	// Opened is how many connections were open again at the round's end,
	// Seconds how long it took until the last one was.
	Opened  int     `json:"opened"`
	Seconds float64 `json:"seconds"`
}
