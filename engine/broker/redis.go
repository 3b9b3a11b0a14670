package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisLog receives go-redis's own log lines, which it writes to stderr by
// default. Its logger is global; the lines go, at debug level, to the
// logger of the latest Redis broker: the broker logs outages itself.
var (
	redisLogOnce sync.Once
	redisLog     atomic.Pointer[slog.Logger]
)

type redisLogger struct{}

func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := redisLog.Load(); l != nil {
		l.DebugContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), logKeyBroker, KindRedis)
	}
}

// redisHealthInterval is how long the subscriber waits for traffic before
// it pings the server to check the connection.
const redisHealthInterval = 3 * time.Second

// redisBatch bounds the PUBLISH commands sent in one pipeline.
const redisBatch = 256

// Redis is a broker on Redis pub/sub (at-most-once). Publish puts the
// message on a bounded queue that one goroutine writes to Redis in
// pipelines, in order. One more goroutine reads the subscriptions; when
// the connection breaks it reconnects with exponential backoff and
// subscribes again. While Redis is unreachable Publish drops messages at
// once. It is safe to call Redis's methods concurrently.
type Redis struct {
	cfg    Config
	client *redis.Client
	ps     *redis.PubSub
	health *health
	queue  chan redisMsg

	ctx        context.Context // ends at Close
	cancel     context.CancelFunc
	quit       chan struct{} // closed by Close: the writer drains and stops
	writerDone chan struct{}
	wg         sync.WaitGroup
	closed     atomic.Bool

	mu       sync.Mutex
	handlers map[string]Handler         // by full channel name
	waiters  map[string][]chan struct{} // Subscribe calls waiting for the server's reply
	writeErr bool                       // the last pipeline failed (logged once)
}

type redisMsg struct {
	channel string
	payload []byte
}

// NewRedis connects to the Redis server at cfg.URL. An unreachable server
// is a [*ConnectError].
func NewRedis(cfg Config) (*Redis, error) {
	cfg = cfg.withDefaults(KindRedis)
	if !validPrefix(cfg.Prefix) {
		return nil, fmt.Errorf("broker prefix %q: use letters, digits, _ and - (dots between words)", cfg.Prefix)
	}
	redisLog.Store(cfg.Logger)
	redisLogOnce.Do(func() { redis.SetLogger(redisLogger{}) })
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("broker redis url %q: %v (want redis://host:port, rediss://host:port or unix:///path/redis.sock)", redact(cfg.URL), err)
	}
	opt.Protocol = 2 // plain RESP2 pub/sub: every Redis since 2.x
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.DialTimeout = cfg.ConnectTimeout
	opt.DialerRetries = 1 // the subscriber's loop backs off instead
	opt.ReadTimeout = cfg.ConnectTimeout
	opt.WriteTimeout = cfg.ConnectTimeout
	opt.MaxRetries = -1 // at-most-once: never send a PUBLISH twice
	opt.PoolSize = 4
	opt.ClientName = "luaws"

	b := &Redis{
		cfg:        cfg,
		client:     redis.NewClient(opt),
		health:     newHealth(KindRedis, redact(cfg.URL), cfg.Logger),
		queue:      make(chan redisMsg, cfg.QueueSize),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
		handlers:   make(map[string]Handler),
		waiters:    make(map[string][]chan struct{}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ConnectTimeout)
	defer cancel()
	if err := b.client.Ping(ctx).Err(); err != nil {
		_ = b.client.Close()
		return nil, &ConnectError{Kind: KindRedis, URL: redact(cfg.URL), Err: err}
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.ps = b.client.Subscribe(b.ctx)
	b.wg.Add(2)
	go b.readLoop()
	go b.writeLoop()
	return b, nil
}

func (b *Redis) channel(s string) string { return b.cfg.Prefix + "." + s }

// Publish queues payload for the writer.
func (b *Redis) Publish(subject string, payload []byte) error {
	if b.closed.Load() {
		return b.health.drop(ErrClosed)
	}
	if !validSubject(subject) {
		return b.health.drop(fmt.Errorf("broker: bad subject %q", subject))
	}
	if !b.health.up.Load() {
		return b.health.drop(ErrDown)
	}
	select {
	case b.queue <- redisMsg{channel: b.channel(subject), payload: payload}:
		b.health.published.Add(1)
		return nil
	default:
		return b.health.drop(ErrQueueFull)
	}
}

// writeLoop sends the queue to Redis in pipelines, in order. After Close
// it sends what is still queued, then returns.
func (b *Redis) writeLoop() {
	defer b.wg.Done()
	defer close(b.writerDone)
	batch := make([]redisMsg, 0, redisBatch)
	for {
		select {
		case m := <-b.queue:
			batch = b.fill(append(batch[:0], m))
			b.write(batch)
		case <-b.quit:
			for {
				batch = b.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				b.write(batch)
			}
		}
	}
}

// fill adds what is queued to batch, up to redisBatch, without waiting.
func (b *Redis) fill(batch []redisMsg) []redisMsg {
	for len(batch) < redisBatch {
		select {
		case m := <-b.queue:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

// write sends one pipeline of PUBLISH commands.
func (b *Redis) write(batch []redisMsg) {
	if !b.health.up.Load() {
		b.health.dropped.Add(uint64(len(batch)))
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.ConnectTimeout)
	defer cancel()
	pipe := b.client.Pipeline()
	for _, m := range batch {
		pipe.Publish(ctx, m.channel, m.payload)
	}
	_, err := pipe.Exec(ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.health.dropped.Add(uint64(len(batch)))
		if !b.writeErr && b.ctx.Err() == nil {
			b.cfg.Logger.Warn("broker publish failed; messages dropped for other nodes",
				logKeyBroker, KindRedis, logKeyURL, b.health.url, logKeyError, err, logKeyMessages, len(batch))
		}
		b.writeErr = true
		return
	}
	b.writeErr = false
}

// readLoop reads the subscriptions, dispatches messages, and keeps the
// health flag: a read error marks Redis down and backs off; the client
// reconnects and subscribes again on the next read, and the server's
// reply marks it up.
func (b *Redis) readLoop() {
	defer b.wg.Done()
	attempt := 0
	pinged := 0 // health pings without an answer
	for {
		msg, err := b.ps.ReceiveTimeout(b.ctx, redisHealthInterval)
		if b.ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if pinged++; pinged > 2 {
					b.health.setDown(errors.New("no answer to ping"))
				}
				_ = b.ps.Ping(b.ctx)
				continue
			}
			b.health.setDown(err)
			attempt++
			select {
			case <-time.After(backoff(attempt, b.cfg.ReconnectWait, b.cfg.MaxReconnectWait)):
			case <-b.ctx.Done():
				return
			}
			// Reconnect now (subscribing again); the PONG marks Redis up
			// even when this node has no subscription.
			_ = b.ps.Ping(b.ctx)
			continue
		}
		attempt, pinged = 0, 0
		b.health.setUp()
		switch m := msg.(type) {
		case *redis.Message:
			b.mu.Lock()
			h := b.handlers[m.Channel]
			b.mu.Unlock()
			if h != nil {
				b.health.received.Add(1)
				h([]byte(m.Payload))
			}
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.mu.Lock()
				for _, w := range b.waiters[m.Channel] {
					close(w)
				}
				delete(b.waiters, m.Channel)
				b.mu.Unlock()
			}
		}
	}
}

// Subscribe subscribes to subject and waits for the server's reply.
func (b *Redis) Subscribe(subject string, h Handler) (Subscription, error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	if !validSubject(subject) {
		return nil, fmt.Errorf("broker: bad subject %q", subject)
	}
	ch := b.channel(subject)
	ok := make(chan struct{})
	b.mu.Lock()
	if _, dup := b.handlers[ch]; dup {
		b.mu.Unlock()
		return nil, fmt.Errorf("broker redis: %s already has a subscription", subject)
	}
	b.handlers[ch] = h
	b.waiters[ch] = append(b.waiters[ch], ok)
	b.mu.Unlock()
	s := &redisSub{b: b, channel: ch}
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.ConnectTimeout)
	defer cancel()
	err := b.ps.Subscribe(ctx, ch)
	if err == nil {
		select {
		case <-ok:
			return s, nil
		case <-ctx.Done():
			err = errors.New("no reply from the server")
		}
	}
	_ = s.Unsubscribe()
	return nil, fmt.Errorf("broker redis: subscribe %s: %w", subject, err)
}

type redisSub struct {
	b       *Redis
	channel string
	once    sync.Once
}

func (s *redisSub) Unsubscribe() error {
	var err error
	s.once.Do(func() {
		b := s.b
		b.mu.Lock()
		delete(b.handlers, s.channel)
		delete(b.waiters, s.channel)
		b.mu.Unlock()
		if b.closed.Load() || !b.health.up.Load() {
			// Down: do not wait for a dial. The handler is gone, so what
			// the channel still brings after a reconnect is ignored.
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.ConnectTimeout)
		defer cancel()
		if e := b.ps.Unsubscribe(ctx, s.channel); e != nil && !strings.Contains(e.Error(), "closed") {
			err = fmt.Errorf("broker redis: unsubscribe: %w", e)
		}
	})
	return err
}

// Close sends what is queued (for up to ConnectTimeout), then disconnects.
func (b *Redis) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	close(b.quit)
	t := time.NewTimer(b.cfg.ConnectTimeout)
	select {
	case <-b.writerDone:
	case <-t.C:
	}
	t.Stop()
	b.cancel() // fails a pipeline still waiting for Redis
	_ = b.ps.Close()
	b.wg.Wait()
	return b.client.Close()
}

// Status implements [Statuser].
func (b *Redis) Status() Status { return b.health.status() }
