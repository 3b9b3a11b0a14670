package engine

import (
	"maps"
	"sync"
	"sync/atomic"
)

// mountStats are a mount's counters. Counting a message is an atomic add;
// rejections, rare, go into a map under a lock.
type mountStats struct {
	// The readers count messages in, the writers (and Flushers) messages
	// out, on different cores: each pair on a cache line of its own, away
	// from the mount's read-mostly fields too.
	_        [cacheLine]byte
	msgsIn   atomic.Uint64
	bytesIn  atomic.Uint64
	_        [cacheLine - 16]byte
	msgsOut  atomic.Uint64
	bytesOut atomic.Uint64
	_        [cacheLine - 16]byte

	accepted   atomic.Uint64
	slowCloses atomic.Uint64
	idleCloses atomic.Uint64

	mu       sync.Mutex
	rejected map[string]uint64
}

// cacheLine is the size of a CPU cache line on the machines luaws runs on.
const cacheLine = 64

func (s *mountStats) reject(reason string) {
	s.mu.Lock()
	if s.rejected == nil {
		s.rejected = map[string]uint64{}
	}
	s.rejected[reason]++
	s.mu.Unlock()
}

// MountStats is a snapshot of a mount's counters, for metrics.
type MountStats struct {
	// Open is the number of open connections.
	Open int
	// HandshakesAccepted counts upgrades; HandshakesRejected counts failed
	// handshakes by reason (ReasonInvalidRequest, ReasonRejected, ...).
	HandshakesAccepted uint64
	HandshakesRejected map[string]uint64
	// MessagesIn and BytesIn count data messages received and their
	// payload bytes (after decompression).
	MessagesIn, BytesIn uint64
	// MessagesOut and BytesOut count data messages written to clients;
	// a broadcast counts once per recipient.
	MessagesOut, BytesOut uint64
	// SlowConsumerCloses counts connections closed because their send
	// queue was full; IdleCloses those closed by MountConfig.IdleTimeout.
	SlowConsumerCloses, IdleCloses uint64
}

// Stats returns the mount's counters. It is cheap enough to call on every
// metrics scrape.
func (m *Mount) Stats() MountStats {
	st := MountStats{
		Open:               m.Len(),
		HandshakesAccepted: m.stats.accepted.Load(),
		MessagesIn:         m.stats.msgsIn.Load(),
		BytesIn:            m.stats.bytesIn.Load(),
		MessagesOut:        m.stats.msgsOut.Load(),
		BytesOut:           m.stats.bytesOut.Load(),
		SlowConsumerCloses: m.stats.slowCloses.Load(),
		IdleCloses:         m.stats.idleCloses.Load(),
	}
	m.stats.mu.Lock()
	st.HandshakesRejected = maps.Clone(m.stats.rejected)
	m.stats.mu.Unlock()
	if st.HandshakesRejected == nil {
		st.HandshakesRejected = map[string]uint64{}
	}
	return st
}

// Handler returns the mount's handler, e.g. to find optional interfaces
// such as a script runtime's statistics.
func (m *Mount) Handler() Handler { return m.cfg.Handler }
