package luabind_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/broker"
	"github.com/luaws/luaws/engine/broker/brokertest"
	"github.com/luaws/luaws/engine/enginetest"
)

// restartable is a broker server a test stops and starts again.
type restartable interface {
	Stop()
	Start()
}

// brokerKind makes the brokers of two nodes: a shared in-process one, or
// one client each of an embedded NATS server or a redis-server process.
type brokerKind struct {
	name  string
	nodes func(t *testing.T) (a, b broker.Broker, srv restartable)
}

var brokerKinds = []brokerKind{
	{"memory", func(t *testing.T) (broker.Broker, broker.Broker, restartable) {
		m := broker.NewMemory()
		t.Cleanup(func() { m.Close() })
		return m, m, nil
	}},
	{"nats", func(t *testing.T) (broker.Broker, broker.Broker, restartable) {
		srv := brokertest.StartNATS(t)
		return newBroker(t, broker.KindNATS, srv.URL), newBroker(t, broker.KindNATS, srv.URL), srv
	}},
	{"redis", func(t *testing.T) (broker.Broker, broker.Broker, restartable) {
		srv := brokertest.StartRedis(t)
		return newBroker(t, broker.KindRedis, srv.URL), newBroker(t, broker.KindRedis, srv.URL), srv
	}},
}

func newBroker(t testing.TB, kind, url string) broker.Broker {
	t.Helper()
	b, err := broker.New(kind, broker.Config{
		URL:              url,
		ConnectTimeout:   2 * time.Second,
		ReconnectWait:    20 * time.Millisecond,
		MaxReconnectWait: 200 * time.Millisecond,
		Logger:           enginetest.Logger(t, slog.LevelDebug),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: registered before the servers, the
	// broker closes after they have shut down.
	t.Cleanup(func() { b.Close() })
	return b
}

// twoNodes starts the topics script on two servers, each with its broker.
func twoNodes(t *testing.T, ba, bb broker.Broker) (a, b *testServer) {
	t.Helper()
	a = newTestServer(t, "testdata/topics.lua", serverOpts{broker: ba})
	b = newTestServer(t, "testdata/topics.lua", serverOpts{broker: bb})
	return a, b
}

// cmd sends a command and checks its reply.
func cmd(t *testing.T, c *websocket.Conn, command, reply string) {
	t.Helper()
	send(t, c, command)
	if got := read(t, c); got != reply {
		t.Fatalf("%s: got %q, want %q", command, got, reply)
	}
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatal("connection ended")
		}
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return ""
	}
}

func TestTopicsAcrossNodes(t *testing.T) {
	for _, k := range brokerKinds {
		t.Run(k.name, func(t *testing.T) {
			ba, bb, _ := k.nodes(t)
			a, b := twoNodes(t, ba, bb)
			pub := a.dial(t, "")
			onA, onB := a.dial(t, ""), b.dial(t, "")
			cmd(t, onA, "sub room", "ok sub room")
			cmd(t, onB, "sub room", "ok sub room")

			// Exactly once, in order, on both nodes.
			const n = 300
			for i := range n {
				send(t, pub, fmt.Sprintf("pub room m%d", i))
			}
			send(t, pub, "pub room end")
			for name, c := range map[string]*websocket.Conn{"A": onA, "B": onB} {
				for i := range n {
					if got, want := read(t, c), fmt.Sprintf("m%d", i); got != want {
						t.Fatalf("node %s: message %d: got %q, want %q", name, i, got, want)
					}
				}
				if got := read(t, c); got != "end" {
					t.Fatalf("node %s: got %q after the last message, want end", name, got)
				}
			}
			// The count is of this node's subscribers only.
			cmd(t, pub, "pubn room x", "published 1")
			for _, c := range []*websocket.Conn{onA, onB} {
				if got := read(t, c); got != "x" {
					t.Fatalf("got %q, want x", got)
				}
			}

			// A broadcast crosses nodes and skips its sender only.
			send(t, onA, "all hi")
			for name, c := range map[string]*websocket.Conn{"publisher on A": pub, "B": onB} {
				if got := read(t, c); got != "hi" {
					t.Fatalf("%s: got %q, want hi", name, got)
				}
			}
			// The sender's next message is the reply to its next command:
			// neither its own broadcast nor a duplicate of anything.
			cmd(t, onA, "sub mark", "ok sub mark")
			cmd(t, onB, "sub mark", "ok sub mark")

			// Unsubscribe: B leaves room; the next room message skips it.
			cmd(t, onB, "unsub room", "ok unsub room true")
			cmd(t, onB, "unsub room", "ok unsub room false")
			send(t, pub, "pub room only-a")
			send(t, pub, "pub mark m")
			if got := read(t, onA); got != "only-a" {
				t.Fatalf("A: got %q, want only-a", got)
			}
			if got := read(t, onB); got != "m" {
				t.Fatalf("B: got %q, want m (room was left)", got)
			}

			// Close: the connection leaves its topics, on its own node;
			// its close handler can no longer subscribe.
			cmd(t, onB, "sub closes", "ok sub closes")
			em := a.Server.Mounts()[0]
			if got := em.Subscribers("room"); got != 1 {
				t.Fatalf("A: Subscribers(room): got %d, want 1", got)
			}
			onA.Close()
			if got := read(t, onB); !strings.HasSuffix(got, " nil closed") {
				t.Fatalf("close handler's subscribe: got %q, want nil, closed", got)
			}
			if got := em.Subscribers("room"); got != 0 {
				t.Fatalf("A: Subscribers(room) after close: got %d, want 0", got)
			}
		})
	}
}

// TestBrokerOutage stops the broker under two nodes and starts it again:
// local delivery goes on during the outage, the health flag drops, and a
// publish after recovery reaches both nodes.
func TestBrokerOutage(t *testing.T) {
	for _, k := range brokerKinds[1:] {
		t.Run(k.name, func(t *testing.T) {
			ba, bb, srv := k.nodes(t)
			a, b := twoNodes(t, ba, bb)
			pub, onA, onB := a.dial(t, ""), a.dial(t, ""), b.dial(t, "")
			cmd(t, onA, "sub room", "ok sub room")
			cmd(t, onB, "sub room", "ok sub room")
			fromA, fromB := pump(onA), pump(onB)
			send(t, pub, "pub room before")
			for _, ch := range []<-chan string{fromA, fromB} {
				if got := next(t, ch); got != "before" {
					t.Fatalf("got %q, want before", got)
				}
			}

			srv.Stop()
			if !enginetest.Until(10*time.Second, func() bool {
				return !broker.StatusOf(ba).Connected && !broker.StatusOf(bb).Connected
			}) {
				t.Fatalf("timed out waiting for %s", "both nodes to see the broker down")
			}
			send(t, pub, "pub room during")
			if got := next(t, fromA); got != "during" {
				t.Fatalf("A during the outage: got %q, want during (local delivery goes on)", got)
			}

			srv.Start()
			if !enginetest.Until(10*time.Second, func() bool {
				return broker.StatusOf(ba).Connected && broker.StatusOf(bb).Connected
			}) {
				t.Fatalf("timed out waiting for %s", "both nodes to reconnect")
			}
			// B may be subscribed again a moment after its client says it
			// is connected: probe until a message arrives.
			var got string
			for i := 0; got == ""; i++ {
				if i == 100 {
					t.Fatal("no message reached B within 100 publishes after recovery")
				}
				send(t, pub, fmt.Sprintf("pub room after%d", i))
				select {
				case got = <-fromB:
				case <-time.After(100 * time.Millisecond):
				}
			}
			if !strings.HasPrefix(got, "after") {
				t.Fatalf("B after recovery: got %q, want after… (the outage's message is dropped for B)", got)
			}
			if got := next(t, fromA); got != "after0" {
				t.Fatalf("A after recovery: got %q, want after0", got)
			}
		})
	}
}

func TestPublishJSON(t *testing.T) {
	ts := newTestServer(t, `
local M = {}
function M.open(conn) conn:subscribe("t"); conn:send({ ready = true }) end
function M.message(conn, msg)
  if msg.go then
    conn:send({ count = luaws.publish("t", { list = luaws.array() }) })
  end
end
return M
`, serverOpts{serializer: "json"})
	c1, c2 := ts.dial(t, ""), ts.dial(t, "")
	for _, c := range []*websocket.Conn{c1, c2} {
		if got := read(t, c); got != `{"ready":true}` {
			t.Fatalf("got %s, want ready", got)
		}
	}
	send(t, c1, `{"go":true}`)
	for _, c := range []*websocket.Conn{c1, c2} {
		if got := read(t, c); got != `{"list":[]}` {
			t.Fatalf("got %s, want the published table as JSON", got)
		}
	}
	if got := read(t, c1); got != `{"count":2}` {
		t.Fatalf("got %s, want count 2", got)
	}
}

func TestTopicMisuseRaises(t *testing.T) {
	cases := []struct{ code, want string }{
		{`luaws.publish()`, "bad argument #1"},
		{`luaws.publish("", "x")`, "topic must be 1 to 1024 bytes"},
		{`luaws.publish("t")`, "bad argument #2"},
		{`luaws.publish(string.rep("x", 1025), "x")`, "topic must be 1 to 1024 bytes"},
		{`conn:subscribe()`, "bad argument"},
		{`conn:subscribe("")`, "topic must be 1 to 1024 bytes"},
		{`conn:unsubscribe({})`, "bad argument"},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			ts := newTestServer(t, `
local M = {}
function M.message(conn, msg)
  local ok, err = pcall(function() `+tc.code+` end)
  conn:send(tostring(ok) .. " " .. tostring(err))
end
return M
`, serverOpts{})
			c := ts.dial(t, "")
			send(t, c, "go")
			got := read(t, c)
			if !strings.HasPrefix(got, "false ") || !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want an error containing %q", got, tc.want)
			}
		})
	}
}

// TestSubscriptionsSurviveReload: topics live in the engine, so a hot
// reload keeps them.
func TestSubscriptionsSurviveReload(t *testing.T) {
	ts := newTestServer(t, "testdata/topics.lua", serverOpts{})
	sub, pub := ts.dial(t, ""), ts.dial(t, "")
	cmd(t, sub, "sub room", "ok sub room")
	if err := ts.Script.Reload("test"); err != nil {
		t.Fatal(err)
	}
	send(t, pub, "pub room after-reload")
	if got := read(t, sub); got != "after-reload" {
		t.Fatalf("got %q, want after-reload", got)
	}
}
