package loadgen

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ringSize is how many broadcast messages are tracked at once; more than
// MaxInFlight, so a slot is reused only after its message is done.
const ringSize = 2 * MaxInFlight

// fanoutSlot tracks one broadcast message on its way.
type fanoutSlot struct {
	sent atomic.Int64 // ns since the run's start
	got  atomic.Int64 // subscribers that have it
}

// broadcast runs the broadcast mode: one publisher, Conns subscribers. The
// publisher keeps up to InFlight messages on their way; a message is done
// when every subscriber has read it.
func (r *run) broadcast(ctx context.Context) error {
	cfg := r.cfg
	conns, err := r.connect(ctx, cfg.Conns+1)
	if err != nil {
		return err
	}
	var pub *websocket.Conn
	var subs []*websocket.Conn
	for _, c := range conns {
		switch {
		case c == nil:
		case pub == nil:
			pub = c
		default:
			subs = append(subs, c)
		}
	}
	if len(subs) == 0 {
		closeAll(conns)
		return fmt.Errorf("no subscriber connected (%d errors, first: %s)", r.errors.Load(), r.firstError)
	}
	r.res.Opened = len(subs) // the publisher is not counted
	if err := r.ready(ctx, subs); err != nil {
		closeAll(conns)
		return err
	}

	var (
		ring       [ringSize]fanoutSlot
		published  atomic.Uint64 // seq of the last message published
		completed  atomic.Uint64 // messages every subscriber has
		deliveries atomic.Int64
		h, fanout  histogram
		progress   = make(chan struct{}, 1) // a message completed
		broken     = make(chan struct{})    // a subscriber is gone: no message can complete
		breakOnce  sync.Once
		readers    sync.WaitGroup
		open       atomic.Int64
		nsubs      = int64(len(subs))
	)
	r.begin()
	for i, c := range subs {
		open.Add(1)
		readers.Go(func() {
			defer open.Add(-1)
			var buf []byte
			for {
				_, rd, err := c.NextReader()
				if err == nil {
					buf, err = readInto(buf[:0], rd)
				}
				if err != nil {
					if !r.closing.Load() {
						r.readFailed(i+1, err)
						breakOnce.Do(func() { close(broken) })
					}
					return
				}
				now := time.Since(r.start).Nanoseconds()
				seq, ok := parseSeq(buf)
				last := published.Load()
				if !ok || seq == 0 || seq > last || last-seq >= ringSize {
					r.fail(fmt.Errorf("subscriber %d: unexpected message %.60q", i+1, buf))
					continue
				}
				s := &ring[seq%ringSize]
				sent := s.sent.Load()
				h.record(time.Duration(now - sent))
				deliveries.Add(1)
				if s.got.Add(1) == nsubs {
					fanout.record(time.Duration(now - sent))
					completed.Add(1)
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	// The publisher's own reader answers pings and sees a close; the
	// server sends it nothing else.
	readers.Go(func() {
		for {
			if _, _, err := pub.ReadMessage(); err != nil {
				r.readFailed(0, err)
				return
			}
		}
	})
	stop := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.reporter(stop, func() int { return int(open.Load()) }, deliveries.Load, &h)
	}()

	limit := uint64(math.MaxUint64)
	if cfg.Messages > 0 {
		limit = uint64(cfg.Messages)
	}
	timeUp := time.NewTimer(cfg.Duration)
	defer timeUp.Stop()
	wait := time.NewTimer(drainTimeout)
	defer wait.Stop()
	// waitFor waits until at most n messages are on their way; false means
	// stop publishing.
	waitFor := func(n uint64, done <-chan time.Time) bool {
		if !wait.Stop() {
			select {
			case <-wait.C:
			default:
			}
		}
		wait.Reset(drainTimeout)
		for published.Load()-completed.Load() > n {
			select {
			case <-progress:
			case <-broken:
				return false
			case <-ctx.Done():
				return false
			case <-done:
				return false
			case <-wait.C:
				seq := completed.Load() + 1
				r.fail(fmt.Errorf("message %d reached %d of %d subscribers in %s", seq, ring[seq%ringSize].got.Load(), nsubs, drainTimeout))
				return false
			}
		}
		return true
	}
publish:
	for seq := uint64(1); seq <= limit; seq++ {
		if !waitFor(uint64(cfg.InFlight)-1, timeUp.C) {
			break
		}
		s := &ring[seq%ringSize]
		s.got.Store(0)
		s.sent.Store(time.Since(r.start).Nanoseconds())
		published.Store(seq)
		_ = pub.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := pub.WriteMessage(websocket.TextMessage, broadcastMessage(seq, cfg.Size)); err != nil {
			r.fail(fmt.Errorf("publisher: write: %w", err))
			published.Store(seq - 1)
			break publish
		}
	}
	close(stop)
	<-progressDone
	waitFor(0, nil) // the messages still on their way
	r.end()
	r.shutdown(conns, &readers)

	res := r.res
	res.Sent, res.Messages = int64(published.Load()), deliveries.Load()
	if res.Seconds > 0 {
		res.Rate = float64(res.Messages) / res.Seconds
	}
	lat, fan := h.latency(), fanout.latency()
	res.Latency, res.Fanout = &lat, &fan
	if s := res.Server; s != nil {
		if res.Messages > 0 {
			s.CPUPerMessage = s.CPUSeconds * 1e6 / float64(res.Messages)
		}
		if res.Sent > 0 {
			s.CPUPerPublish = s.CPUSeconds * 1e6 / float64(res.Sent)
		}
	}
	return nil
}

// ready makes sure the server counts every subscriber in its broadcasts
// before the first one: a server may register a connection only after its
// handshake (gorilla's chat example does), so each subscriber sends a
// message, which the server echoes, and waits for the echo.
func (r *run) ready(ctx context.Context, subs []*websocket.Conn) error {
	sem := make(chan struct{}, r.cfg.DialConcurrency)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for i, c := range subs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			deadline := time.Now().Add(10 * time.Second)
			_ = c.SetWriteDeadline(deadline)
			_ = c.SetReadDeadline(deadline)
			err := c.WriteMessage(websocket.TextMessage, []byte(`{"ready":true}`))
			if err == nil {
				_, _, err = c.ReadMessage()
			}
			_ = c.SetReadDeadline(time.Time{})
			if err != nil {
				select {
				case errs <- fmt.Errorf("subscriber %d: no echo of its first message (does the server run scripts/bench_broadcast.lua?): %w", i+1, err):
				default:
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return ctx.Err()
}

// readInto appends everything rd holds to buf.
func readInto(buf []byte, rd io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
