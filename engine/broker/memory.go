package broker

import (
	"sync"
)

// Memory is the in-process broker: it connects the nodes (engine servers)
// of one process, and is the default for a single node. Publish calls the
// handlers of the subject's subscriptions before it returns, each under
// its own lock, so a handler must not publish on its own subject. It is
// safe to call Memory's methods concurrently.
type Memory struct {
	health *health

	mu     sync.RWMutex
	subs   map[string][]*memorySub
	closed bool
}

type memorySub struct {
	m       *Memory
	subject string
	h       Handler

	mu   sync.Mutex // one call of h at a time
	done bool
}

// NewMemory returns an empty in-process broker.
func NewMemory() *Memory {
	return &Memory{health: newHealth(KindMemory, "", nil), subs: make(map[string][]*memorySub)}
}

// Publish calls every handler subscribed to subject, in the order they
// subscribed, and returns when they have run.
func (m *Memory) Publish(subject string, payload []byte) error {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return m.health.drop(ErrClosed)
	}
	subs := m.subs[subject]
	m.mu.RUnlock()
	m.health.published.Add(1)
	for _, s := range subs {
		s.mu.Lock()
		if !s.done {
			m.health.received.Add(1)
			s.h(payload)
		}
		s.mu.Unlock()
	}
	return nil
}

// Subscribe adds h to subject.
func (m *Memory) Subscribe(subject string, h Handler) (Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	s := &memorySub{m: m, subject: subject, h: h}
	// Copy on write: Publish iterates a snapshot without the lock.
	subs := m.subs[subject]
	m.subs[subject] = append(subs[:len(subs):len(subs)], s)
	return s, nil
}

// Unsubscribe implements [Subscription].
func (s *memorySub) Unsubscribe() error {
	s.mu.Lock()
	s.done = true
	s.mu.Unlock()
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	subs := m.subs[s.subject]
	for i, x := range subs {
		if x == s {
			next := make([]*memorySub, 0, len(subs)-1)
			next = append(next, subs[:i]...)
			m.subs[s.subject] = append(next, subs[i+1:]...)
			break
		}
	}
	if len(m.subs[s.subject]) == 0 {
		delete(m.subs, s.subject)
	}
	return nil
}

// Close drops every subscription; later calls fail with [ErrClosed].
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.subs = make(map[string][]*memorySub)
	return nil
}

// Status implements [Statuser]: a memory broker is always connected.
func (m *Memory) Status() Status { return m.health.status() }
