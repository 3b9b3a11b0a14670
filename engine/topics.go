package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

// MaxTopicLen is the longest topic name, in bytes.
const MaxTopicLen = 1024

// ErrBadTopic means a topic name is empty or longer than [MaxTopicLen].
var ErrBadTopic = errors.New("engine: topic must be 1 to 1024 bytes")

// topics is a mount's subscriptions: topic → subscribers. Each Conn keeps
// its own topic set under the same lock, so that leaving every topic on
// close costs one lookup per topic the connection had.
type topics struct {
	mu   sync.RWMutex
	subs map[string]map[*Conn]struct{}
}

func checkTopic(topic string) error {
	if topic == "" || len(topic) > MaxTopicLen {
		return ErrBadTopic
	}
	return nil
}

// Subscribe adds the connection to topic's subscribers on its mount. It
// returns [ErrBadTopic], or [ErrClosed] if the connection is closing or
// closed. Subscribing twice is the same as once. A connection leaves every
// topic when it closes.
func (c *Conn) Subscribe(topic string) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	t := &c.mount.topics
	t.mu.Lock()
	defer t.mu.Unlock()
	// Checked under the lock: finish marks the conn closed before
	// Mount.remove takes this lock to drop its topics, so a subscription
	// either is refused here or is dropped there.
	if c.state.Load() != stateOpen {
		return ErrClosed
	}
	set := t.subs[topic]
	if set == nil {
		set = make(map[*Conn]struct{})
		t.subs[topic] = set
	}
	set[c] = struct{}{}
	if c.topics == nil {
		c.topics = make(map[string]struct{})
	}
	c.topics[topic] = struct{}{}
	return nil
}

// Unsubscribe removes the connection from topic's subscribers and reports
// whether it was one.
func (c *Conn) Unsubscribe(topic string) bool {
	t := &c.mount.topics
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := c.topics[topic]; !ok {
		return false
	}
	delete(c.topics, topic)
	t.dropLocked(topic, c)
	return true
}

// Topics returns the topics the connection is subscribed to, sorted.
func (c *Conn) Topics() []string {
	t := &c.mount.topics
	t.mu.RLock()
	out := make([]string, 0, len(c.topics))
	for topic := range c.topics {
		out = append(out, topic)
	}
	t.mu.RUnlock()
	slices.Sort(out)
	return out
}

// dropLocked removes c from topic's set. t.mu must be held.
func (t *topics) dropLocked(topic string, c *Conn) {
	set := t.subs[topic]
	delete(set, c)
	if len(set) == 0 {
		delete(t.subs, topic)
	}
}

// leaveAll removes c from every topic; called once c is closed.
func (t *topics) leaveAll(c *Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for topic := range c.topics {
		t.dropLocked(topic, c)
	}
	c.topics = nil
}

// Subscribers returns how many connections of this node are subscribed to
// topic.
func (m *Mount) Subscribers(topic string) int {
	m.topics.mu.RLock()
	defer m.topics.mu.RUnlock()
	return len(m.topics.subs[topic])
}

// Publish sends one message to every connection subscribed to topic on
// this mount, on this node and, through [Config.Broker], on every node
// that shares the broker. The frame is encoded once per node, whatever the
// number of subscribers. It returns how many connections of this node it
// was queued for. A broker that cannot take the message does not fail the
// call: local delivery has happened, the message is dropped for other
// nodes, and the broker's failure is logged and shown in its status.
// The engine keeps data; the caller must not change it afterwards.
func (m *Mount) Publish(topic string, messageType int, data []byte) (int, error) {
	return m.publish(topic, messageType, data, nil)
}

// Publish is [Mount.Publish] through fl, as [Flusher.Broadcast] is
// [Mount.Broadcast].
func (fl *Flusher) Publish(m *Mount, topic string, messageType int, data []byte) (int, error) {
	return m.publish(topic, messageType, data, fl)
}

func (m *Mount) publish(topic string, messageType int, data []byte, fl *Flusher) (int, error) {
	if err := checkTopic(topic); err != nil {
		return 0, err
	}
	if err := checkType(messageType); err != nil {
		return 0, err
	}
	n := m.deliverTopic(topic, messageType, data, fl)
	if fl != nil {
		fl.broadcast = true
	}
	m.toBroker(kindPublish, topic, messageType, data)
	return n, nil
}

// Broadcast sends one message to every open connection of the mount
// except the one with id except (0 for none), on this node and, through
// [Config.Broker], on every node that shares the broker (except names a
// connection of this node only). The frame is encoded once per node. It
// returns how many connections of this node it was queued for.
func (m *Mount) Broadcast(messageType int, data []byte, except uint64) (int, error) {
	return m.broadcast(messageType, data, except, nil)
}

// Broadcast is [Mount.Broadcast] through fl: the messages wait for
// fl.Flush, which writes each connection's without waking its writer when
// the socket takes it at once (see [Flusher]).
func (fl *Flusher) Broadcast(m *Mount, messageType int, data []byte, except uint64) (int, error) {
	return m.broadcast(messageType, data, except, fl)
}

func (m *Mount) broadcast(messageType int, data []byte, except uint64, fl *Flusher) (int, error) {
	if err := checkType(messageType); err != nil {
		return 0, err
	}
	n := m.deliverAll(messageType, data, except, fl)
	if fl != nil {
		fl.broadcast = true
	}
	m.toBroker(kindBroadcast, "", messageType, data)
	return n, nil
}

func checkType(messageType int) error {
	if messageType != websocket.TextMessage && messageType != websocket.BinaryMessage {
		return fmt.Errorf("engine: message type %d: want text (1) or binary (2)", messageType)
	}
	return nil
}

// deliverTopic queues one prepared message (see prepare) to topic's local
// subscribers, through fl if it is not nil.
func (m *Mount) deliverTopic(topic string, messageType int, data []byte, fl *Flusher) int {
	t := &m.topics
	t.mu.RLock()
	defer t.mu.RUnlock()
	set := t.subs[topic]
	if len(set) == 0 {
		return 0
	}
	f, ok := m.prepare(messageType, data)
	if !ok {
		return 0
	}
	n := 0
	for c := range set {
		if c.enqueue(f, fl) == nil {
			n++
		}
	}
	return n
}

// prepare makes the frame a broadcast or publish queues to every
// recipient. A mount that compresses has gorilla prepare it, compressed
// once for every connection that negotiated permessage-deflate; any other
// has a copy of data (the caller's may change once the call returns),
// which each connection frames itself (writeData).
func (m *Mount) prepare(messageType int, data []byte) (frame, bool) {
	if !m.cfg.Compression {
		return frame{typ: messageType, data: bytes.Clone(data)}, true
	}
	pm, err := websocket.NewPreparedMessage(messageType, data)
	if err != nil {
		m.log.Error("prepare message", LogKeyError, err)
		return frame{}, false
	}
	return frame{typ: messageType, pm: pm, size: len(data)}, true
}

// deliverAll queues one prepared message (see prepare) to every local connection but
// except, through fl if it is not nil.
func (m *Mount) deliverAll(messageType int, data []byte, except uint64, fl *Flusher) int {
	conns := m.Conns()
	if len(conns) == 0 || len(conns) == 1 && conns[0].id == except {
		return 0
	}
	f, ok := m.prepare(messageType, data)
	if !ok {
		return 0
	}
	n := 0
	for _, c := range conns {
		if c.id != except && c.enqueue(f, fl) == nil {
			n++
		}
	}
	return n
}

// Messages between nodes are envelopes on the mount's broker subject:
//
//	version (1 byte) | node id (8 bytes, big endian) | kind (1) | message type (1)
//	| for kindPublish: topic length (uvarint) and topic | payload
//
// A node skips envelopes carrying its own id: it has delivered them to its
// own connections already, directly, when they were published.
const (
	envelopeVersion = 1
	kindPublish     = 1
	kindBroadcast   = 2
	envelopeHeader  = 1 + 8 + 1 + 1
)

// appendEnvelope encodes one message for other nodes.
func appendEnvelope(b []byte, node uint64, kind byte, topic string, messageType int, data []byte) []byte {
	b = append(b, envelopeVersion)
	b = binary.BigEndian.AppendUint64(b, node)
	b = append(b, kind, byte(messageType))
	if kind == kindPublish {
		b = binary.AppendUvarint(b, uint64(len(topic)))
		b = append(b, topic...)
	}
	return append(b, data...)
}

// envelope is a decoded message from a node.
type envelope struct {
	node        uint64
	kind        byte
	messageType int
	topic       string
	data        []byte
}

var errBadEnvelope = errors.New("malformed message from the broker")

func parseEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) < envelopeHeader {
		return e, errBadEnvelope
	}
	if b[0] != envelopeVersion {
		return e, fmt.Errorf("message version %d from the broker: this node speaks %d (mixed luaws versions?)", b[0], envelopeVersion)
	}
	e.node = binary.BigEndian.Uint64(b[1:9])
	e.kind, e.messageType = b[9], int(b[10])
	b = b[envelopeHeader:]
	switch e.kind {
	case kindPublish:
		n, w := binary.Uvarint(b)
		if w <= 0 || n == 0 || n > MaxTopicLen || uint64(len(b)-w) < n {
			return e, errBadEnvelope
		}
		e.topic = string(b[w : w+int(n)])
		b = b[w+int(n):]
	case kindBroadcast:
	default:
		return e, errBadEnvelope
	}
	if checkType(e.messageType) != nil {
		return e, errBadEnvelope
	}
	e.data = b
	return e, nil
}

// toBroker hands a message to the other nodes, if there is a broker.
func (m *Mount) toBroker(kind byte, topic string, messageType int, data []byte) {
	s := m.srv
	if s.broker == nil {
		return
	}
	env := appendEnvelope(make([]byte, 0, envelopeHeader+binary.MaxVarintLen64+len(topic)+len(data)),
		s.nodeID, kind, topic, messageType, data)
	err := s.broker.Publish(m.subject, env)
	if err == nil {
		if s.brokerFailing.Load() && s.brokerFailing.CompareAndSwap(true, false) {
			m.log.Info("broker publish works again")
		}
		return
	}
	if s.brokerFailing.CompareAndSwap(false, true) {
		m.log.Warn("broker publish failed; delivered on this node only", LogKeyError, err)
	}
}

// fromBroker delivers a message published by another node.
func (m *Mount) fromBroker(payload []byte) {
	e, err := parseEnvelope(payload)
	if err != nil {
		m.log.Warn("dropped broker message", LogKeyError, err)
		return
	}
	if e.node == m.srv.nodeID {
		return // ours: delivered locally when published
	}
	switch e.kind {
	case kindPublish:
		m.deliverTopic(e.topic, e.messageType, e.data, nil)
	case kindBroadcast:
		m.deliverAll(e.messageType, e.data, 0, nil)
	}
}

// brokerSubject is the subject that carries a mount's messages between
// nodes: "mount" and the path, with bytes other than letters, digits and
// "/_-~" written as %XX (so "/chat" is "mount/chat").
func brokerSubject(path string) string {
	var b strings.Builder
	b.WriteString("mount")
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '/', c == '_', c == '-', c == '~':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
