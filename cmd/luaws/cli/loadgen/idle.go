package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// idle runs the idle mode: open Conns connections, have each echo Warmup
// messages, hold them for Duration, and with ServerPID report the
// server's RSS per connection.
func (r *run) idle(ctx context.Context) error {
	cfg := r.cfg
	conns, err := r.connect(ctx, cfg.Conns)
	if err != nil {
		return err
	}
	if cfg.Warmup > 0 {
		r.res.Sent = r.warmup(ctx, conns)
	}
	var (
		readers sync.WaitGroup
		open    atomic.Int64
		msgs    atomic.Int64
		stop    = make(chan struct{})
	)
	r.begin()
	for i, c := range conns {
		if c == nil {
			continue
		}
		open.Add(1)
		readers.Go(func() {
			defer open.Add(-1)
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					r.readFailed(i, err)
					return
				}
				msgs.Add(1) // a server may greet; it is counted, not an error
			}
		})
	}
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.reporter(stop, func() int { return int(open.Load()) }, nil, nil)
	}()
	timer := time.NewTimer(cfg.Duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	timer.Stop()
	close(stop)
	<-progressDone
	r.end()
	r.shutdown(conns, &readers)

	r.res.Messages = msgs.Load()
	if s := r.res.Server; s != nil && r.res.Opened > 0 {
		s.RSSPerConn = float64(s.RSSAfter-s.RSSBefore) / float64(r.res.Opened)
	}
	return nil
}

// warmup has every connection send Warmup messages, one at a time, and
// read the replies, DialConcurrency connections at once. A connection
// that fails is counted, closed and left out (nil). It returns the
// messages answered.
func (r *run) warmup(ctx context.Context, conns []*websocket.Conn) int64 {
	payload := makePayload(r.cfg.Payload, r.cfg.Size)
	sem := make(chan struct{}, r.cfg.DialConcurrency)
	var wg sync.WaitGroup
	var answered atomic.Int64
	for i, c := range conns {
		if c == nil || ctx.Err() != nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = c.SetReadDeadline(time.Now().Add(drainTimeout))
			for range r.cfg.Warmup {
				err := c.WriteMessage(websocket.TextMessage, payload)
				if err == nil {
					_, _, err = c.ReadMessage()
				}
				if err != nil {
					r.fail(fmt.Errorf("connection %d: warmup: %w", i, err))
					_ = c.Close()
					conns[i] = nil
					return
				}
				answered.Add(1)
			}
			_ = c.SetReadDeadline(time.Time{})
		})
	}
	wg.Wait()
	return answered.Load()
}
