package broker_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaws/luaws/engine/broker"
	"github.com/luaws/luaws/engine/broker/brokertest"
	"github.com/luaws/luaws/engine/enginetest"
)

// testTimeout bounds waitFor: a broker reconnects within a few seconds.
const testTimeout = 10 * time.Second

// server is a broker server a test can stop and start again; nil for memory.
type server interface {
	Stop()
	Start()
}

// kind is one broker implementation under test.
type kind struct {
	name string
	// start returns a function that makes a new node's broker with prefix,
	// and the server behind it (nil for memory).
	start func(t *testing.T) (newNode func(prefix string) broker.Broker, srv server)
}

var kinds = []kind{
	{"memory", func(t *testing.T) (func(string) broker.Broker, server) {
		m := broker.NewMemory()
		t.Cleanup(func() { m.Close() })
		return func(string) broker.Broker { return m }, nil
	}},
	{"nats", func(t *testing.T) (func(string) broker.Broker, server) {
		srv := brokertest.StartNATS(t)
		return func(prefix string) broker.Broker {
			b, err := broker.NewNATS(testConfig(t, srv.URL, prefix))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		}, srv
	}},
	{"redis", func(t *testing.T) (func(string) broker.Broker, server) {
		srv := brokertest.StartRedis(t)
		return func(prefix string) broker.Broker {
			b, err := broker.NewRedis(testConfig(t, srv.URL, prefix))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		}, srv
	}},
}

func testConfig(t *testing.T, url, prefix string) broker.Config {
	return broker.Config{
		URL:              url,
		Prefix:           prefix,
		ConnectTimeout:   2 * time.Second,
		ReconnectWait:    20 * time.Millisecond,
		MaxReconnectWait: 200 * time.Millisecond,
		Logger:           enginetest.Logger(t, slog.LevelDebug),
	}
}

// run runs f for every broker kind.
func run(t *testing.T, f func(t *testing.T, newNode func(prefix string) broker.Broker, srv server)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			newNode, srv := k.start(t)
			f(t, newNode, srv)
		})
	}
}

// inbox collects the payloads a subscription receives.
type inbox struct {
	mu  sync.Mutex
	got []string
}

func (in *inbox) handle(p []byte) {
	in.mu.Lock()
	in.got = append(in.got, string(p))
	in.mu.Unlock()
}

func (in *inbox) snapshot() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.got...)
}

// waitLen waits until in has n payloads.
func (in *inbox) waitLen(t *testing.T, n int) []string {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d messages", n), func() bool { return len(in.snapshot()) >= n })
	return in.snapshot()
}

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !enginetest.Until(testTimeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", testTimeout, what)
	}
}

func subscribe(t *testing.T, b broker.Broker, subject string, in *inbox) broker.Subscription {
	t.Helper()
	sub, err := b.Subscribe(subject, in.handle)
	if err != nil {
		t.Fatalf("subscribe %s: %v", subject, err)
	}
	return sub
}

func TestPublishReachesEveryNodeInOrder(t *testing.T) {
	run(t, func(t *testing.T, newNode func(string) broker.Broker, _ server) {
		a, b := newNode("luaws"), newNode("luaws")
		var inA, inB inbox
		subscribe(t, a, "mount/chat", &inA)
		subscribe(t, b, "mount/chat", &inB)
		const n = 1000
		var want []string
		for i := range n {
			p := fmt.Sprintf("m%d", i)
			want = append(want, p)
			if err := a.Publish("mount/chat", []byte(p)); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
		for name, in := range map[string]*inbox{"a": &inA, "b": &inB} {
			got := in.waitLen(t, n)
			if len(got) != n {
				t.Fatalf("node %s: got %d messages, want %d", name, len(got), n)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("node %s: message %d: got %q, want %q", name, i, got[i], want[i])
				}
			}
		}
		st := broker.StatusOf(a)
		if !st.Connected || st.Published < n {
			t.Fatalf("status of a: got %+v, want connected with %d published", st, n)
		}
	})
}

func TestPrefixSeparatesDeployments(t *testing.T) {
	run(t, func(t *testing.T, newNode func(string) broker.Broker, _ server) {
		if _, ok := newNode("x").(*broker.Memory); ok {
			t.Skip("a memory broker is one process: no prefix")
		}
		blue, green := newNode("blue"), newNode("green.v2")
		var inBlue, inGreen inbox
		subscribe(t, blue, "mount/ws", &inBlue)
		subscribe(t, green, "mount/ws", &inGreen)
		if err := green.Publish("mount/ws", []byte("green")); err != nil {
			t.Fatal(err)
		}
		if err := blue.Publish("mount/ws", []byte("blue")); err != nil {
			t.Fatal(err)
		}
		inBlue.waitLen(t, 1)
		inGreen.waitLen(t, 1)
		// Both subscribers saw their own message; a cross message would
		// have arrived before it (same server, one connection each).
		if got := inBlue.snapshot(); len(got) != 1 || got[0] != "blue" {
			t.Fatalf("blue got %q, want [blue]", got)
		}
		if got := inGreen.snapshot(); len(got) != 1 || got[0] != "green" {
			t.Fatalf("green got %q, want [green]", got)
		}
	})
}

func TestUnsubscribe(t *testing.T) {
	run(t, func(t *testing.T, newNode func(string) broker.Broker, _ server) {
		a, b := newNode("luaws"), newNode("luaws")
		var gone, stays inbox
		sub := subscribe(t, b, "mount/a", &gone)
		subscribe(t, b, "mount/b", &stays)
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Fatalf("second unsubscribe: %v", err)
		}
		_ = a.Publish("mount/a", []byte("lost"))
		_ = a.Publish("mount/b", []byte("marker"))
		stays.waitLen(t, 1)
		if got := gone.snapshot(); len(got) != 0 {
			t.Fatalf("unsubscribed handler got %q, want nothing", got)
		}
	})
}

func TestBrokerRestart(t *testing.T) {
	run(t, func(t *testing.T, newNode func(string) broker.Broker, srv server) {
		if srv == nil {
			t.Skip("a memory broker cannot go down")
		}
		a, b := newNode("luaws"), newNode("luaws")
		var in inbox
		subscribe(t, b, "mount/r", &in)
		if err := a.Publish("mount/r", []byte("before")); err != nil {
			t.Fatal(err)
		}
		in.waitLen(t, 1)

		srv.Stop()
		// The client library reports the loss to its callback a moment
		// after the connection shows as down: wait for both.
		waitFor(t, "both nodes to see the broker down", func() bool {
			sa, sb := broker.StatusOf(a), broker.StatusOf(b)
			return !sa.Connected && !sb.Connected && sa.LastError != ""
		})
		if err := a.Publish("mount/r", []byte("during")); !errors.Is(err, broker.ErrDown) {
			t.Fatalf("publish while down: got %v, want ErrDown", err)
		}
		if st := broker.StatusOf(a); st.Dropped == 0 || st.LastError == "" {
			t.Fatalf("status while down: got %+v, want Dropped > 0 and LastError", st)
		}

		srv.Start()
		// Publish until one gets through: the subscriber's node may come
		// back a moment after the publisher's.
		waitFor(t, "a message published after recovery", func() bool {
			if broker.StatusOf(a).Connected && broker.StatusOf(b).Connected {
				_ = a.Publish("mount/r", []byte("after"))
			}
			got := in.snapshot()
			return len(got) > 1
		})
		got := in.snapshot()
		if got[0] != "before" || got[1] != "after" {
			t.Fatalf("got %q, want before, then after (nothing from the outage)", got)
		}
	})
}

func TestDownAtStart(t *testing.T) {
	addr := brokertest.ClosedAddr(t)
	cases := []struct {
		kind, url string
	}{
		{"nats", "nats://" + addr},
		{"redis", "redis://" + addr},
		{"redis", "unix://" + t.TempDir() + "/none.sock"},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			start := time.Now()
			_, err := broker.New(tc.kind, broker.Config{URL: tc.url, ConnectTimeout: 2 * time.Second})
			var ce *broker.ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ConnectError", err)
			}
			for _, want := range []string{tc.url, "is the", "server running", "--broker-url"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v to fail, want at most the connect timeout", d)
			}
		})
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	cases := []struct {
		kind string
		cfg  broker.Config
		want string
	}{
		{"kafka", broker.Config{}, `broker kind "kafka": want memory, nats or redis`},
		{"nats", broker.Config{Prefix: "a b"}, `broker prefix "a b"`},
		{"redis", broker.Config{Prefix: "x.", URL: "redis://127.0.0.1:1"}, `broker prefix "x."`},
		{"redis", broker.Config{URL: "http://x"}, "want redis://host:port"},
	}
	for _, tc := range cases {
		_, err := broker.New(tc.kind, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %+v): got %v, want an error containing %q", tc.kind, tc.cfg, err, tc.want)
		}
	}
}

func TestClosed(t *testing.T) {
	run(t, func(t *testing.T, newNode func(string) broker.Broker, _ server) {
		b := newNode("luaws")
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		if err := b.Publish("mount/x", []byte("x")); !errors.Is(err, broker.ErrClosed) {
			t.Fatalf("publish after close: got %v, want ErrClosed", err)
		}
		if _, err := b.Subscribe("mount/x", func([]byte) {}); !errors.Is(err, broker.ErrClosed) {
			t.Fatalf("subscribe after close: got %v, want ErrClosed", err)
		}
	})
}

func ExampleConnectError() {
	_, err := broker.New("redis", broker.Config{URL: "unix:///nonexistent/redis.sock"})
	fmt.Println(err)
	// Output: broker redis at unix:///nonexistent/redis.sock: dial unix /nonexistent/redis.sock: connect: no such file or directory (is the Redis server running? check [broker] url or --broker-url)
}
