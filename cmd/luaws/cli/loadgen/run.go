package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Result is what a run measured.
type Result struct {
	Mode     Mode   `json:"mode"`
	URL      string `json:"url"`
	Conns    int    `json:"conns"`
	InFlight int    `json:"inflight,omitempty"`
	Size     int    `json:"size,omitempty"`
	Payload  string `json:"payload,omitempty"`
	// Opened is the connections that opened, ConnectSeconds how long
	// opening them all took.
	Opened         int     `json:"opened"`
	ConnectSeconds float64 `json:"connect_seconds"`
	// Seconds is how long the measured part lasted: sending and receiving
	// (echo, broadcast) or holding the connections (idle).
	Seconds float64 `json:"seconds"`
	// Sent is the messages sent (echo) or published (broadcast).
	Sent int64 `json:"sent"`
	// Messages is the replies received (echo) or the deliveries to
	// subscribers (broadcast), and Rate their number per second.
	Messages int64   `json:"messages"`
	Rate     float64 `json:"messages_per_second"`
	// Latency is, for echo, from a message's write to its reply; for
	// broadcast, from the publisher's write to each subscriber's read.
	Latency *Latency `json:"latency_us,omitempty"`
	// Fanout is, for broadcast, from the publisher's write to the last
	// subscriber's read of the same message.
	Fanout *Latency `json:"fanout_us,omitempty"`
	// Errors counts failed dials, reads and writes and unexpected
	// messages; FirstError describes the first.
	Errors     int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// ClientCPUSeconds is the CPU time of this process (the load
	// generator) during the measured part.
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
	// Rounds are, for connect with Reconnects, each reconnect round.
	Rounds []Round `json:"rounds,omitempty"`
	// Server is read from /proc when Config.ServerPID is set.
	Server *ServerStats `json:"server,omitempty"`
}

// ServerStats is the server's cost, read from /proc/PID.
type ServerStats struct {
	PID int `json:"pid"`
	// CPUSeconds is the server's user plus system CPU time during the
	// measured part, CPUPerMessage the same per message in microseconds
	// (per reply for echo, per delivery for broadcast, per handshake for
	// connect).
	CPUSeconds    float64 `json:"cpu_seconds"`
	CPUPerMessage float64 `json:"cpu_us_per_message,omitempty"`
	// CPUPerPublish is, for broadcast, the CPU per published message.
	CPUPerPublish float64 `json:"cpu_us_per_publish,omitempty"`
	// RSSBefore is the server's resident memory before the connections
	// opened, RSSAfter at the end of the measured part.
	RSSBefore int64 `json:"rss_before_bytes"`
	RSSAfter  int64 `json:"rss_after_bytes"`
	// RSSPerConn is, for idle, (RSSAfter-RSSBefore)/Opened.
	RSSPerConn float64 `json:"rss_per_conn_bytes,omitempty"`
}

// Run runs one benchmark described by cfg and returns what it measured.
// An error means the run could not start (bad config, a target that is
// not loopback, no connection opened); failures during the run are
// counted in Result.Errors.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(ctx); err != nil {
		return nil, err
	}
	need := cfg.Conns + fdMargin
	if cfg.Mode == Broadcast {
		need++
	}
	if err := raiseFileLimit(need); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, res: &Result{Mode: cfg.Mode, URL: cfg.URL, Conns: cfg.Conns}}
	if cfg.Mode == Echo || cfg.Mode == Broadcast {
		r.res.InFlight, r.res.Size, r.res.Payload = cfg.InFlight, cfg.Size, cfg.Payload
	}
	var err error
	switch cfg.Mode {
	case Echo:
		err = r.echo(ctx)
	case Idle:
		err = r.idle(ctx)
	case Broadcast:
		err = r.broadcast(ctx)
	case Connect:
		err = r.connectMode(ctx)
	}
	if err != nil {
		return nil, err
	}
	r.res.Errors = r.errors.Load()
	r.res.FirstError = r.firstError
	return r.res, nil
}

// run is the state of one Run.
type run struct {
	cfg Config
	res *Result

	errors     atomic.Int64
	errMu      sync.Mutex
	firstError string
	closing    atomic.Bool // the run is closing its connections: read errors are expected

	// measured part
	start            time.Time
	cpu0, serverCPU0 time.Duration
}

// fail counts an error; the first one is kept for the summary.
func (r *run) fail(err error) {
	if r.errors.Add(1) == 1 {
		r.errMu.Lock()
		r.firstError = err.Error()
		r.errMu.Unlock()
	}
}

// readFailed counts a reader's error unless the run is closing.
func (r *run) readFailed(i int, err error) {
	if r.closing.Load() {
		return
	}
	r.fail(fmt.Errorf("connection %d: read: %w", i, err))
}

// dialer returns the Dialer for this run's connections. Reads are small
// for idle connections, so that the client holds little per connection.
func (r *run) dialer() *websocket.Dialer {
	d := &websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferPool:  &sync.Pool{},
		Proxy:            http.ProxyFromEnvironment,
	}
	if r.cfg.Mode == Idle || r.cfg.Mode == Connect {
		d.ReadBufferSize = 256
	}
	if r.cfg.Insecure {
		d.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with --insecure
	}
	return d
}

// connect reads the server's figures before the run (with ServerPID) and
// opens n connections; on error none is left open.
func (r *run) connect(ctx context.Context, n int) ([]*websocket.Conn, error) {
	if err := r.serverBefore(); err != nil {
		return nil, err
	}
	conns, err := r.dialAll(ctx, n, nil)
	if err != nil {
		closeAll(conns)
		return nil, err
	}
	return conns, nil
}

// dialAll opens n connections, DialConcurrency at a time, recording each
// handshake's time in hist unless it is nil. A failed dial is counted and
// leaves a nil in its place; it is an error only if none opened.
func (r *run) dialAll(ctx context.Context, n int, hist *histogram) ([]*websocket.Conn, error) {
	d := r.dialer()
	conns := make([]*websocket.Conn, n)
	sem := make(chan struct{}, r.cfg.DialConcurrency)
	var wg sync.WaitGroup
	var opened atomic.Int64
	var lastErr atomic.Value
	start := time.Now()
	for i := range conns {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := time.Now()
			c, resp, err := d.DialContext(ctx, r.cfg.URL, nil)
			if err != nil {
				if resp != nil {
					err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
				}
				err = fmt.Errorf("dial %s: %w", r.cfg.URL, err)
				lastErr.Store(err)
				r.fail(err)
				return
			}
			if hist != nil {
				hist.record(time.Since(t0))
			}
			conns[i] = c
			opened.Add(1)
		})
	}
	wg.Wait()
	r.res.Opened = int(opened.Load())
	r.res.ConnectSeconds = time.Since(start).Seconds()
	if r.res.Opened == 0 {
		closeAll(conns)
		if err, ok := lastErr.Load().(error); ok {
			return nil, err
		}
		return nil, errors.Join(ctx.Err(), errors.New("no connection opened"))
	}
	return conns, ctx.Err()
}

// begin starts the measured part: the clock, and the CPU counters.
func (r *run) begin() {
	r.cpu0 = selfCPU()
	if r.cfg.ServerPID > 0 {
		r.serverCPU0, _ = procCPU(r.cfg.ServerPID)
	}
	r.start = time.Now()
}

// end closes the measured part: elapsed time, CPU, RSS after.
func (r *run) end() {
	r.res.Seconds = time.Since(r.start).Seconds()
	r.res.ClientCPUSeconds = (selfCPU() - r.cpu0).Seconds()
	if s := r.res.Server; s != nil {
		if cpu, err := procCPU(s.PID); err == nil {
			s.CPUSeconds = (cpu - r.serverCPU0).Seconds()
		} else {
			r.fail(err)
		}
		if rss, err := procRSS(s.PID); err == nil {
			s.RSSAfter = rss
		} else {
			r.fail(err)
		}
	}
}

// serverBefore reads the server's RSS before any connection opens, and
// checks that ServerPID names a process this user can read.
func (r *run) serverBefore() error {
	if r.cfg.ServerPID <= 0 {
		return nil
	}
	rss, err := procRSS(r.cfg.ServerPID)
	if err != nil {
		return err
	}
	if _, err := procCPU(r.cfg.ServerPID); err != nil {
		return err
	}
	r.res.Server = &ServerStats{PID: r.cfg.ServerPID, RSSBefore: rss}
	return nil
}

// shutdown sends a close frame on every connection, waits (briefly) for
// the readers to see the server's answer, and closes the sockets.
func (r *run) shutdown(conns []*websocket.Conn, readers *sync.WaitGroup) {
	r.closing.Store(true)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	deadline := time.Now().Add(time.Second)
	for _, c := range conns {
		if c != nil {
			_ = c.WriteControl(websocket.CloseMessage, msg, deadline)
		}
	}
	done := make(chan struct{})
	go func() { readers.Wait(); close(done) }()
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	closeAll(conns)
	<-done // the readers end once their socket is closed
}

func closeAll(conns []*websocket.Conn) {
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
}

// reporter calls cfg.Progress about once a second until stop is closed.
func (r *run) reporter(stop <-chan struct{}, conns func() int, msgs func() int64, h *histogram) {
	if r.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last, lastAt := int64(0), time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			p := Progress{Mode: r.cfg.Mode, Elapsed: now.Sub(r.start), Conns: conns(), Errors: r.errors.Load()}
			if msgs != nil {
				p.Messages = msgs()
				p.Rate = float64(p.Messages-last) / now.Sub(lastAt).Seconds()
				last, lastAt = p.Messages, now
			}
			if h != nil {
				p.P99 = h.quantile(0.99)
			}
			r.cfg.Progress(p)
		}
	}
}
