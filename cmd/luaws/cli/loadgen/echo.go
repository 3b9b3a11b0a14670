package loadgen

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// echo runs the echo mode: every connection keeps up to InFlight messages
// unanswered until Duration has passed or Messages were sent, then waits
// for the replies still on their way.
func (r *run) echo(ctx context.Context) error {
	cfg := r.cfg
	conns, err := r.connect(ctx, cfg.Conns)
	if err != nil {
		return err
	}
	payload := makePayload(cfg.Payload, cfg.Size)

	var (
		h       histogram
		sent    atomic.Int64
		recv    atomic.Int64
		budget  atomic.Int64 // messages left to send
		stop    = make(chan struct{})
		writers sync.WaitGroup
		readers sync.WaitGroup
		open    atomic.Int64
	)
	budget.Store(math.MaxInt64)
	if cfg.Messages > 0 {
		budget.Store(cfg.Messages)
	}
	r.begin()
	for i, c := range conns {
		if c == nil {
			continue
		}
		open.Add(1)
		ec := newEchoConn(c, payload, cfg.InFlight)
		writers.Go(func() { ec.write(r, i, stop, &budget, &sent) })
		readers.Go(func() {
			defer open.Add(-1)
			ec.read(r, i, &h, &recv)
		})
	}
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.reporter(stop, func() int { return int(open.Load()) }, recv.Load, &h)
	}()

	// Send until the time is up, the cap is reached, every connection
	// failed, or ctx ends.
	writersDone := make(chan struct{})
	go func() { writers.Wait(); close(writersDone) }()
	timer := time.NewTimer(cfg.Duration)
	select {
	case <-timer.C:
	case <-writersDone:
	case <-ctx.Done():
	}
	timer.Stop()
	close(stop)
	<-writersDone
	<-progressDone

	// Wait for the replies still on their way, polling: a load generator
	// may spend a little of its own CPU here.
	deadline := time.Now().Add(drainTimeout)
	for recv.Load() < sent.Load() && open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if missing := sent.Load() - recv.Load(); missing > 0 && open.Load() > 0 {
		r.fail(fmt.Errorf("%d replies missing %s after the end", missing, drainTimeout))
	}
	r.end()
	r.shutdown(conns, &readers)

	res := r.res
	res.Sent, res.Messages = sent.Load(), recv.Load()
	if res.Seconds > 0 {
		res.Rate = float64(res.Messages) / res.Seconds
	}
	lat := h.latency()
	res.Latency = &lat
	if s := res.Server; s != nil && res.Messages > 0 {
		s.CPUPerMessage = s.CPUSeconds * 1e6 / float64(res.Messages)
	}
	return nil
}

// echoConn is one echo client. Its writer takes a slot of the window for
// each message and notes the time in it; its reader gives the oldest slot
// back for each reply, since an echo answers in order.
type echoConn struct {
	ws    *websocket.Conn
	batch []byte         // InFlight copies of the masked frame
	frame int            // length of one frame
	slots chan int       // taken slots, oldest first; its capacity is the window
	times []atomic.Int64 // send time of each slot, in ns since the run's start
	dead  chan struct{}  // closed when the reader stops
	start time.Time
}

func newEchoConn(ws *websocket.Conn, payload []byte, inflight int) *echoConn {
	var key [4]byte
	_, _ = rand.Read(key[:])
	frame := appendClientFrame(nil, websocket.TextMessage, payload, key)
	batch := make([]byte, 0, len(frame)*inflight)
	for range inflight {
		batch = append(batch, frame...)
	}
	return &echoConn{
		ws:    ws,
		batch: batch,
		frame: len(frame),
		slots: make(chan int, inflight),
		times: make([]atomic.Int64, inflight),
		dead:  make(chan struct{}),
		start: time.Now(),
	}
}

// reserve takes up to n messages from the budget.
func reserve(budget *atomic.Int64, n int) int {
	for {
		left := budget.Load()
		if left <= 0 {
			return 0
		}
		take := min(int64(n), left)
		if budget.CompareAndSwap(left, left-take) {
			return int(take)
		}
	}
}

// write sends messages while the window has room, as many per write as
// there are free slots.
func (ec *echoConn) write(r *run, i int, stop <-chan struct{}, budget, sent *atomic.Int64) {
	nc := ec.ws.NetConn()
	next := 0 // next slot to take, round robin
	taken := make([]int, 0, cap(ec.slots))
	for {
		select {
		case ec.slots <- next:
		case <-stop:
			return
		case <-ec.dead:
			return
		}
		taken = append(taken[:0], next)
		next = (next + 1) % cap(ec.slots)
		for len(taken) < cap(ec.slots) {
			select {
			case ec.slots <- next:
				taken = append(taken, next)
				next = (next + 1) % cap(ec.slots)
				continue
			default:
			}
			break
		}
		n := reserve(budget, len(taken))
		if n < len(taken) {
			// The cap is reached: these slots stay taken, and this writer ends.
			if n == 0 {
				return
			}
			taken = taken[:n]
		}
		now := time.Since(ec.start).Nanoseconds()
		for _, s := range taken {
			ec.times[s].Store(now)
		}
		_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write(ec.batch[:n*ec.frame]); err != nil {
			if !r.closing.Load() {
				r.fail(fmt.Errorf("connection %d: write: %w", i, err))
			}
			return
		}
		sent.Add(int64(n))
	}
}

// read times every reply against the oldest slot and discards it.
func (ec *echoConn) read(r *run, i int, h *histogram, recv *atomic.Int64) {
	defer close(ec.dead)
	for {
		_, rd, err := ec.ws.NextReader()
		if err != nil {
			r.readFailed(i, err)
			return
		}
		if _, err := io.Copy(io.Discard, rd); err != nil {
			r.readFailed(i, err)
			return
		}
		now := time.Since(ec.start).Nanoseconds()
		select {
		case s := <-ec.slots:
			h.record(time.Duration(now - ec.times[s].Load()))
			recv.Add(1)
		default:
			r.fail(fmt.Errorf("connection %d: a message that answers nothing sent", i))
		}
	}
}
