package broker

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// NATS is a broker on a NATS server (core NATS, at-most-once). The client
// reconnects by itself, forever, with exponential backoff; its reconnect
// buffer is off, so a message published while it is disconnected is
// dropped at once instead of being sent late. It is safe to call NATS's
// methods concurrently.
type NATS struct {
	cfg    Config
	nc     *nats.Conn
	health *health
	closed atomic.Bool
}

// NewNATS connects to the NATS server at cfg.URL. An unreachable server is
// a [*ConnectError].
func NewNATS(cfg Config) (*NATS, error) {
	cfg = cfg.withDefaults(KindNATS)
	if !validPrefix(cfg.Prefix) {
		return nil, fmt.Errorf("broker prefix %q: use letters, digits, _ and - (dots between words)", cfg.Prefix)
	}
	b := &NATS{cfg: cfg, health: newHealth(KindNATS, redact(cfg.URL), cfg.Logger)}
	nc, err := nats.Connect(cfg.URL,
		nats.Name("luaws"),
		nats.Timeout(cfg.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			return backoff(attempts, cfg.ReconnectWait, cfg.MaxReconnectWait)
		}),
		nats.PingInterval(20*time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if b.closed.Load() {
				return
			}
			if err == nil {
				err = errors.New("disconnected")
			}
			b.health.setDown(err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) { b.health.setUp() }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			b.cfg.Logger.Warn("broker error", logKeyBroker, KindNATS, logKeySubject, subject, logKeyError, err)
		}),
	)
	if err != nil {
		return nil, &ConnectError{Kind: KindNATS, URL: redact(cfg.URL), Err: err}
	}
	b.nc = nc
	return b, nil
}

func (b *NATS) subject(s string) string { return b.cfg.Prefix + "." + s }

// Publish queues payload in the client's write buffer.
func (b *NATS) Publish(subject string, payload []byte) error {
	if b.closed.Load() {
		return b.health.drop(ErrClosed)
	}
	if !validSubject(subject) {
		return b.health.drop(fmt.Errorf("broker: bad subject %q", subject))
	}
	if !b.nc.IsConnected() {
		return b.health.drop(ErrDown)
	}
	if err := b.nc.Publish(b.subject(subject), payload); err != nil {
		if errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) {
			err = ErrDown
		}
		return b.health.drop(err)
	}
	b.health.published.Add(1)
	return nil
}

// Subscribe subscribes to subject and waits until the server has the
// subscription.
func (b *NATS) Subscribe(subject string, h Handler) (Subscription, error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	if !validSubject(subject) {
		return nil, fmt.Errorf("broker: bad subject %q", subject)
	}
	sub, err := b.nc.Subscribe(b.subject(subject), func(m *nats.Msg) {
		b.health.received.Add(1)
		h(m.Data)
	})
	if err != nil {
		return nil, fmt.Errorf("broker nats: subscribe %s: %w", subject, err)
	}
	if err := b.nc.FlushTimeout(b.cfg.ConnectTimeout); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("broker nats: subscribe %s: %w", subject, err)
	}
	return natsSub{sub}, nil
}

type natsSub struct{ s *nats.Subscription }

func (s natsSub) Unsubscribe() error {
	if err := s.s.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrBadSubscription) && !errors.Is(err, nats.ErrConnectionClosed) {
		return err
	}
	return nil
}

// Close flushes what is buffered (for up to a second) and disconnects.
func (b *NATS) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	if b.nc.IsConnected() {
		_ = b.nc.FlushTimeout(time.Second)
	}
	b.nc.Close()
	return nil
}

// Status implements [Statuser].
func (b *NATS) Status() Status {
	st := b.health.status()
	st.Connected = st.Connected && b.nc.IsConnected()
	return st
}
