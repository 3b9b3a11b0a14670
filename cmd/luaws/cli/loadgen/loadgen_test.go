package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest/baseline"
)

func TestHistogram(t *testing.T) {
	var h histogram
	if got := h.quantile(0.5); got != 0 {
		t.Errorf("empty: got p50 %v, want 0", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var all []time.Duration
	for range 100_000 {
		d := time.Duration(rng.ExpFloat64() * float64(500*time.Microsecond))
		all = append(all, d)
		h.record(d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := all[int(q*float64(len(all)))-1]
		got := h.quantile(q)
		if diff := float64(got-want) / float64(want); diff > 0.02 || diff < -0.02 {
			t.Errorf("p%v: got %v, want %v within 2%%", q*100, got, want)
		}
	}
	if got, want := time.Duration(h.max.Load()), all[len(all)-1]; got != want {
		t.Errorf("max: got %v, want %v", got, want)
	}
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1 << 20, 1<<40 + 12345, 1<<63 - 1} {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, i)
		}
		if mid := bucketValue(i); v >= 64 && (float64(mid) < float64(v)*0.98 || float64(mid) > float64(v)*1.02) {
			t.Errorf("bucketValue(bucketOf(%d)) = %d, want within 2%%", v, mid)
		}
	}
}

func TestPayload(t *testing.T) {
	for _, size := range []int{11, 20, 40, 64, 1000} {
		for _, kind := range []string{PayloadText, PayloadJSON} {
			p := makePayload(kind, size)
			if len(p) != size {
				t.Errorf("%s %d: got %d bytes", kind, size, len(p))
			}
			if kind == PayloadJSON && !json.Valid(p) {
				t.Errorf("json %d: got invalid JSON %s", size, p)
			}
		}
	}
	msg := broadcastMessage(4711, 64)
	var v struct{ Broadcast map[string]any }
	if err := json.Unmarshal(msg, &v); err != nil {
		t.Fatalf("broadcast message %s: %v", msg, err)
	}
	inner, _ := json.Marshal(v.Broadcast)
	if seq, ok := parseSeq(inner); !ok || seq != 4711 {
		t.Errorf("parseSeq(%s): got %d, %v, want 4711", inner, seq, ok)
	}
	if _, ok := parseSeq([]byte(`{"pad":"x"}`)); ok {
		t.Errorf("parseSeq without seq: got ok")
	}
}

// TestClientFrame checks the hand-made frames against gorilla's server.
func TestClientFrame(t *testing.T) {
	got := make(chan []byte, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			got <- msg
		}
	}))
	defer srv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payloads := [][]byte{makePayload(PayloadText, 5), makePayload(PayloadText, 300), makePayload(PayloadText, 70_000)}
	var buf []byte
	for _, p := range payloads {
		buf = appendClientFrame(buf, websocket.TextMessage, p, [4]byte{1, 2, 3, 4})
	}
	if _, err := c.NetConn().Write(buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range payloads {
		select {
		case msg := <-got:
			if !bytes.Equal(msg, want) {
				t.Errorf("got %d bytes %.20q, want %d bytes %.20q", len(msg), msg, len(want), want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the server read no message")
		}
	}
}

func TestLoopback(t *testing.T) {
	ctx := context.Background()
	for _, host := range []string{"127.0.0.1", "::1", "localhost", "127.1.2.3"} {
		if err := checkLoopback(ctx, host); err != nil {
			t.Errorf("%s: got %v, want loopback", host, err)
		}
	}
	for _, host := range []string{"192.0.2.1", "10.0.0.1", "::ffff:8.8.8.8", ""} {
		if err := checkLoopback(ctx, host); err == nil {
			t.Errorf("%s: got loopback, want an error", host)
		}
	}
}

// TestConnectMode opens connections to a plain gorilla server, drops them
// all twice and opens them again: every handshake counted and timed, each
// round reported.
func TestConnectMode(t *testing.T) {
	srv := httptest.NewServer(baseline.Echo(nil))
	defer srv.Close()
	const conns = 50
	res, err := Run(context.Background(), Config{
		URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", Mode: Connect,
		Conns: conns, Reconnects: 2, DialConcurrency: 8, ServerPID: os.Getpid(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Opened != conns || res.Messages != 3*conns || len(res.Rounds) != 2 {
		t.Fatalf("got %d errors (%s), %d opened, %d handshakes, %d rounds; want 0, %d, %d, 2",
			res.Errors, res.FirstError, res.Opened, res.Messages, len(res.Rounds), conns, 3*conns)
	}
	for i, rd := range res.Rounds {
		if rd.Opened != conns || rd.Seconds <= 0 {
			t.Errorf("round %d: %+v, want %d opened in some time", i+1, rd, conns)
		}
	}
	if res.Latency == nil || res.Latency.P50 <= 0 || res.Rate <= 0 || res.Server == nil || res.Server.CPUPerMessage <= 0 {
		t.Errorf("got latency %+v, rate %v, server %+v; want each measured", res.Latency, res.Rate, res.Server)
	}
}
