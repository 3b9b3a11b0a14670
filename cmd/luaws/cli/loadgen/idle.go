package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// idle runs the idle mode: open Conns connections, hold them for Duration,
// and with ServerPID report the server's RSS per connection.
func (r *run) idle(ctx context.Context) error {
	cfg := r.cfg
	conns, err := r.connect(ctx, cfg.Conns)
	if err != nil {
		return err
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
