package metrics_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/broker"
	"github.com/luaws/luaws/engine/metrics"
)

// downBroker is a broker that says it is unreachable.
type downBroker struct{}

func (downBroker) Publish(string, []byte) error { return broker.ErrDown }
func (downBroker) Subscribe(string, broker.Handler) (broker.Subscription, error) {
	return noSub{}, nil
}
func (downBroker) Close() error { return nil }
func (downBroker) Status() broker.Status {
	return broker.Status{Kind: broker.KindNATS, Connected: false, Published: 3, Dropped: 2}
}

type noSub struct{}

func (noSub) Unsubscribe() error { return nil }

type nopHandler struct{}

func (nopHandler) Open(*engine.Conn)                    {}
func (nopHandler) Message(*engine.Conn, engine.Message) {}
func (nopHandler) Close(*engine.Conn, int, string)      {}

func TestBrokerMetrics(t *testing.T) {
	tests := []struct {
		name   string
		broker broker.Broker
		want   []string
	}{
		{"none", nil, []string{`luaws_broker_up{kind="memory"} 1`}},
		{"down", downBroker{}, []string{
			`luaws_broker_up{kind="nats"} 0`,
			`luaws_broker_messages_total{kind="nats",result="dropped"} 2`,
			`luaws_broker_messages_total{kind="nats",result="published"} 3`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := engine.New(engine.Config{Broker: tt.broker,
				Mounts: []engine.MountConfig{{Path: "/ws", Handler: nopHandler{}}}})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			metrics.Handler(srv, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			body := rec.Body.String()
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("got no line %q in /metrics", w)
				}
			}
		})
	}
}
