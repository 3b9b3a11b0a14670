package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/broker"
	"github.com/luaws/luaws/engine/enginetest"
)

// topicHandler speaks a tiny command protocol for the topic tests:
// "sub T", "unsub T", "pub T text" and "all text" (broadcast, except the
// sender). It answers "ok sub T" and friends so that a client knows its
// command has run.
func topicHandler() *recorder {
	r := newRecorder()
	r.onMessage = func(c *engine.Conn, m engine.Message) {
		cmd, rest, _ := strings.Cut(string(m.Data), " ")
		switch cmd {
		case "sub":
			if err := c.Subscribe(rest); err != nil {
				_ = c.Send(websocket.TextMessage, []byte("err "+err.Error()))
				return
			}
		case "unsub":
			if !c.Unsubscribe(rest) {
				_ = c.Send(websocket.TextMessage, []byte("not subscribed "+rest))
				return
			}
		case "pub":
			topic, text, _ := strings.Cut(rest, " ")
			if _, err := c.Mount().Publish(topic, websocket.TextMessage, []byte(text)); err != nil {
				_ = c.Send(websocket.TextMessage, []byte("err "+err.Error()))
			}
			return
		case "all":
			_, _ = c.Mount().Broadcast(websocket.TextMessage, []byte(rest), c.ID())
			return
		}
		_ = c.Send(websocket.TextMessage, []byte("ok "+string(m.Data)))
	}
	return r
}

// node is one engine server of a test cluster.
type node struct {
	srv *engine.Server
	url string
	rec *recorder
}

// startNodes starts n servers sharing b (nil: no broker).
func startNodes(t *testing.T, n int, b broker.Broker) []node {
	t.Helper()
	var nodes []node
	for range n {
		rec := topicHandler()
		cfg := mountOf(rec)
		cfg.Broker = b
		srv, url := newTestServer(t, cfg)
		nodes = append(nodes, node{srv, url, rec})
	}
	return nodes
}

// command sends cmd and waits for its "ok".
func command(t *testing.T, ws *websocket.Conn, cmd string) {
	t.Helper()
	enginetest.Write(t, ws, websocket.TextMessage, []byte(cmd))
	if got := enginetest.ReadText(t, ws); got != "ok "+cmd {
		t.Fatalf("%s: got %q, want %q", cmd, got, "ok "+cmd)
	}
}

func TestTopicsOneNode(t *testing.T) {
	n := startNodes(t, 1, nil)[0]
	sub1, sub2, other := dial(t, n.url), dial(t, n.url), dial(t, n.url)
	command(t, sub1, "sub news")
	command(t, sub1, "sub news") // twice is once
	command(t, sub2, "sub news")
	command(t, other, "sub sport")
	m := n.srv.Mounts()[0]
	if got := m.Subscribers("news"); got != 2 {
		t.Fatalf("Subscribers(news): got %d, want 2", got)
	}

	enginetest.Write(t, other, websocket.TextMessage, []byte("pub news hello"))
	for i, ws := range []*websocket.Conn{sub1, sub2} {
		if got := enginetest.ReadText(t, ws); got != "hello" {
			t.Fatalf("subscriber %d: got %q, want hello", i+1, got)
		}
	}

	command(t, sub1, "unsub news")
	enginetest.Write(t, sub1, websocket.TextMessage, []byte("unsub news"))
	if got := enginetest.ReadText(t, sub1); got != "not subscribed news" {
		t.Fatalf("second unsub: got %q, want %q", got, "not subscribed news")
	}
	enginetest.Write(t, other, websocket.TextMessage, []byte("pub news again"))
	enginetest.Write(t, other, websocket.TextMessage, []byte("pub sport goal"))
	if got := enginetest.ReadText(t, sub2); got != "again" {
		t.Fatalf("sub2: got %q, want again", got)
	}
	if got := enginetest.ReadText(t, other); got != "goal" {
		t.Fatalf("other: got %q, want goal", got)
	}
	// sub1 left news: the next thing it reads is the reply to its next command.
	command(t, sub1, "sub weather")

	// A closed connection leaves its topics.
	sub2.Close()
	other.Close()
	waitFor(t, "closed connections to leave their topics", func() bool {
		return m.Subscribers("news") == 0 && m.Subscribers("sport") == 0
	})
	if got := m.Subscribers("weather"); got != 1 {
		t.Fatalf("Subscribers(weather): got %d, want 1", got)
	}
}

func TestSubscribeErrors(t *testing.T) {
	rec := newRecorder()
	_, url := newTestServer(t, mountOf(rec))
	ws := dial(t, url)
	c := rec.waitOpen(t)
	for _, topic := range []string{"", strings.Repeat("x", engine.MaxTopicLen+1)} {
		if err := c.Subscribe(topic); !errors.Is(err, engine.ErrBadTopic) {
			t.Errorf("Subscribe(%d bytes): got %v, want ErrBadTopic", len(topic), err)
		}
		if _, err := c.Mount().Publish(topic, websocket.TextMessage, nil); !errors.Is(err, engine.ErrBadTopic) {
			t.Errorf("Publish(%d bytes): got %v, want ErrBadTopic", len(topic), err)
		}
	}
	if _, err := c.Mount().Publish("t", websocket.PingMessage, nil); err == nil {
		t.Errorf("Publish of a ping: got nil, want an error")
	}
	if err := c.Subscribe("a"); err != nil {
		t.Fatal(err)
	}
	if got := c.Topics(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("Topics: got %q, want [a]", got)
	}
	ws.Close()
	rec.waitClose(t, c.ID())
	if err := c.Subscribe("b"); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Subscribe after close: got %v, want ErrClosed", err)
	}
	if got := c.Topics(); len(got) != 0 {
		t.Fatalf("Topics after close: got %q, want none", got)
	}
	if got := c.Mount().Subscribers("a"); got != 0 {
		t.Fatalf("Subscribers(a) after close: got %d, want 0", got)
	}
}

// TestTwoNodes runs two servers sharing an in-process broker: a publish
// on A reaches the subscribers on A and on B exactly once, in order, and
// a broadcast crosses nodes.
func TestTwoNodes(t *testing.T) {
	b := broker.NewMemory()
	nodes := startNodes(t, 2, b)
	a, bn := nodes[0], nodes[1]
	pub := dial(t, a.url)
	onA, onB := dial(t, a.url), dial(t, bn.url)
	command(t, onA, "sub room")
	command(t, onB, "sub room")

	const n = 200
	for i := range n {
		enginetest.Write(t, pub, websocket.TextMessage, fmt.Appendf(nil, "pub room m%d", i))
	}
	enginetest.Write(t, pub, websocket.TextMessage, []byte("pub room end"))
	for name, ws := range map[string]*websocket.Conn{"A": onA, "B": onB} {
		for i := range n {
			if got, want := enginetest.ReadText(t, ws), fmt.Sprintf("m%d", i); got != want {
				t.Fatalf("node %s: message %d: got %q, want %q", name, i, got, want)
			}
		}
		if got := enginetest.ReadText(t, ws); got != "end" {
			t.Fatalf("node %s: got %q after the last message, want end (a duplicate?)", name, got)
		}
	}

	// A broadcast crosses nodes; except names a connection of A only.
	enginetest.Write(t, onA, websocket.TextMessage, []byte("all hi"))
	for name, ws := range map[string]*websocket.Conn{"A publisher": pub, "B": onB} {
		if got := enginetest.ReadText(t, ws); got != "hi" {
			t.Fatalf("%s: got %q, want hi", name, got)
		}
	}
	// onA sent it: its next message is the reply to its next command.
	command(t, onA, "sub other")
	if st := broker.StatusOf(b); st.Received < 2*n {
		t.Fatalf("broker status: got %+v, want Received >= %d", st, 2*n)
	}
}

// TestShutdownUnsubscribes checks that a stopped node no longer takes
// messages from the broker.
func TestShutdownUnsubscribes(t *testing.T) {
	b := broker.NewMemory()
	rec := topicHandler()
	cfg := mountOf(rec)
	cfg.Broker = b
	srv, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := broker.StatusOf(b).Received
	_ = b.Publish("mount/ws", []byte("x"))
	if got := broker.StatusOf(b).Received; got != before {
		t.Fatalf("a stopped server still receives: Received went from %d to %d", before, got)
	}
}
