package engine_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/broker"
	"github.com/luaws/luaws/engine/broker/brokertest"
)

// cpuTime returns the CPU time (user and system) this process has used:
// steadier than wall time on a shared machine. It counts the server, the
// clients and an embedded NATS server, but not a redis-server process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// subscribeOnOpen subscribes every connection to one topic as it opens.
type subscribeOnOpen struct{ topic string }

func (h subscribeOnOpen) Open(c *engine.Conn)                { _ = c.Subscribe(h.topic) }
func (subscribeOnOpen) Message(*engine.Conn, engine.Message) {}
func (subscribeOnOpen) Close(*engine.Conn, int, string)      {}

// BenchmarkFanout publishes from one publisher on node A to 1,000
// subscribers: all on one node with the memory broker (the baseline), or
// split 500/500 between nodes A and B sharing an in-process memory broker,
// a NATS server or a Redis server. Each op is one Publish of a 64-byte
// message. With window-1 the publisher waits until a message has reached
// every subscriber before it publishes the next, so the latency is that of
// one fan-out; with window-16 up to 16 messages are in flight, for
// throughput (and latency includes the wait behind earlier messages). It
// reports deliveries per second (one delivery = one message read by one
// subscriber's client), the latency from Publish to the client's read, and
// the process's CPU time per delivery (server and clients together).
//
//	go test -run '^$' -bench Fanout -benchtime 500x ./engine/
func BenchmarkFanout(b *testing.B) {
	const subscribers = 1000
	cases := []struct {
		name  string
		nodes int
		make  func(b *testing.B) []broker.Broker // one per node
	}{
		{"memory-1-node", 1, func(*testing.B) []broker.Broker { return []broker.Broker{nil} }},
		{"memory-2-nodes", 2, func(*testing.B) []broker.Broker {
			m := broker.NewMemory()
			return []broker.Broker{m, m}
		}},
		{"nats-2-nodes", 2, func(b *testing.B) []broker.Broker {
			srv := brokertest.StartNATS(b)
			return []broker.Broker{benchBroker(b, broker.KindNATS, srv.URL), benchBroker(b, broker.KindNATS, srv.URL)}
		}},
		{"redis-2-nodes", 2, func(b *testing.B) []broker.Broker {
			srv := brokertest.StartRedis(b)
			return []broker.Broker{benchBroker(b, broker.KindRedis, srv.URL), benchBroker(b, broker.KindRedis, srv.URL)}
		}},
	}
	for _, tc := range cases {
		for _, window := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/window-%d", tc.name, window), func(b *testing.B) {
				brokers := tc.make(b)
				var mounts []*engine.Mount
				var urls []string
				for _, br := range brokers {
					srv, url := newTestServer(b, engine.Config{
						Logger: slog.New(slog.DiscardHandler),
						Broker: br,
						Mounts: []engine.MountConfig{{Handler: subscribeOnOpen{"bench"}, PingInterval: -1}},
					})
					mounts = append(mounts, srv.Mounts()[0])
					urls = append(urls, url)
				}
				benchFanout(b, mounts, urls, subscribers, window)
			})
		}
	}
}

func benchBroker(b *testing.B, kind, url string) broker.Broker {
	br, err := broker.New(kind, broker.Config{URL: url, QueueSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	return br
}

// benchFanout publishes to subscribers clients spread over the mounts'
// urls, with at most window messages in flight, so that no send queue fills.
func benchFanout(b *testing.B, mounts []*engine.Mount, urls []string, subscribers, window int) {
	// Flow control: slot i%ring counts the deliveries of message i; the
	// client that completes it tells the publisher.
	ring := uint64(4 * window)
	counts := make([]atomic.Int32, ring)
	complete := make(chan struct{}, ring)
	var mu sync.Mutex
	var lat []time.Duration // every delivery's latency
	var wg sync.WaitGroup

	for i := range subscribers {
		ws := dial(b, urls[i%len(urls)])
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			defer func() {
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
			data := make([]byte, 64) // reused: the allocations reported are the server's
			for {
				_, r, err := ws.NextReader()
				if err != nil {
					return
				}
				if _, err := io.ReadFull(r, data); err != nil {
					return
				}
				now := time.Now().UnixNano()
				seq := binary.BigEndian.Uint64(data)
				local = append(local, time.Duration(now-int64(binary.BigEndian.Uint64(data[8:]))))
				if counts[seq%ring].Add(1) == int32(subscribers) {
					counts[seq%ring].Store(0)
					complete <- struct{}{}
				}
			}
		}()
	}
	waitFor(b, "every subscriber", func() bool {
		n := 0
		for _, m := range mounts {
			n += m.Subscribers("bench")
		}
		return n == subscribers
	})

	pub := mounts[0]
	wait := func() {
		select {
		case <-complete:
		case <-time.After(10 * time.Second):
			b.Fatalf("a message did not reach all %d subscribers within 10s", subscribers)
		}
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	start := time.Now()
	var seq uint64
	for b.Loop() {
		if seq >= uint64(window) {
			wait()
		}
		msg := make([]byte, 64)
		binary.BigEndian.PutUint64(msg, seq)
		binary.BigEndian.PutUint64(msg[8:], uint64(time.Now().UnixNano()))
		if n, err := pub.Publish("bench", websocket.BinaryMessage, msg); err != nil || n == 0 {
			b.Fatalf("publish: %d, %v", n, err)
		}
		seq++
	}
	for range min(seq, uint64(window)) {
		wait()
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0

	// Close the clients and collect the latencies.
	for _, m := range mounts {
		for _, c := range m.Conns() {
			c.Close(websocket.CloseNormalClosure, "")
		}
	}
	wg.Wait()
	if len(lat) != int(seq)*subscribers {
		b.Fatalf("got %d deliveries, want %d (%d messages × %d subscribers)", len(lat), int(seq)*subscribers, seq, subscribers)
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(seq)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(len(lat)), "cpu-µs/delivery")
}
