package cli_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/luaws/luaws/engine/enginetest"
)

const metricsScript = `
local M = {}
function M.handshake(req) if req.query.deny then return false end end
function M.open(conn) end
function M.message(conn, msg)
  if msg == "boom" then error("boom") end
  conn:send(msg)
end
return M
`

// scrape fetches and parses the Prometheus text at url.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := enginetest.Get(t, url, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include labels ("k=v" pairs), or fails.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.Metric {
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			found := false
			for _, lp := range m.Label {
				found = found || (lp.GetName() == k && lp.GetValue() == v)
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestMetrics(t *testing.T) {
	for _, admin := range []bool{false, true} {
		t.Run(fmt.Sprintf("admin-listen=%v", admin), func(t *testing.T) {
			dir := t.TempDir()
			enginetest.WriteFile(t, filepath.Join(dir, "app.lua"), metricsScript)
			args := []string{filepath.Join(dir, "app.lua")}
			if admin {
				args = append([]string{"--admin-listen", "127.0.0.1:0"}, args...)
			}
			s := startServe(t, args...)
			metricsBase := base(s.URL)
			if admin {
				metricsBase = s.Admin
				if resp, _ := enginetest.Get(t, base(s.URL)+"/metrics", nil); resp.StatusCode != 404 {
					t.Errorf("/metrics on the main listener with --admin-listen: got %d, want 404", resp.StatusCode)
				}
			}
			if resp, body := enginetest.Get(t, metricsBase+"/healthz", nil); resp.StatusCode != 200 || body != "ok\n" {
				t.Errorf("/healthz: got %d %q, want 200 ok", resp.StatusCode, body)
			}

			var clients []*websocket.Conn
			for range 3 {
				c, resp, body := enginetest.Handshake(t, nil, s.URL, nil)
				if c == nil {
					t.Fatalf("dial: %d %q", resp.StatusCode, body)
				}
				clients = append(clients, c)
			}
			for _, c := range clients {
				enginetest.Echo(t, c, "hello")
				enginetest.Echo(t, c, "hello")
			}
			if c, resp, _ := enginetest.Handshake(t, nil, s.URL+"?deny=1", nil); c != nil || resp.StatusCode != 403 {
				t.Fatalf("deny: want 403")
			}
			if resp, _ := enginetest.Get(t, base(s.URL)+"/ws", nil); resp.StatusCode != 400 {
				t.Fatalf("plain GET: got %d, want 400", resp.StatusCode)
			}
			if err := clients[0].WriteMessage(websocket.TextMessage, []byte("boom")); err != nil {
				t.Fatal(err)
			}
			if ce, _ := enginetest.ReadClose(t, clients[0]); ce.Code != websocket.CloseInternalServerErr {
				t.Fatalf("boom: got close %d, want 1011", ce.Code)
			}

			// The writer counts a message once its batch is written, which can
			// be just after the client read it: poll until the counts settle.
			want := []struct {
				name   string
				labels []string
				want   float64
			}{
				{"luaws_handshakes_accepted_total", nil, 3},
				{"luaws_handshakes_rejected_total", []string{"reason=rejected"}, 1},
				{"luaws_handshakes_rejected_total", []string{"reason=invalid request"}, 1},
				{"luaws_handshakes_rejected_total", []string{"reason=too many connections"}, 0},
				{"luaws_messages_received_total", nil, 7},
				{"luaws_received_bytes_total", nil, 34},
				{"luaws_messages_sent_total", nil, 6},
				{"luaws_sent_bytes_total", nil, 30},
				{"luaws_lua_errors_total", nil, 1},
				{"luaws_slow_consumer_closes_total", nil, 0},
				{"luaws_reloads_total", []string{"result=ok"}, 0},
				{"luaws_reloads_total", []string{"result=refused"}, 0},
				{"luaws_handler_duration_seconds", []string{"handler=message"}, 7},
				{"luaws_handler_duration_seconds", []string{"handler=handshake"}, 4},
				{"luaws_handler_duration_seconds", []string{"handler=open"}, 3},
			}
			var fams map[string]*dto.MetricFamily
			deadline := time.Now().Add(enginetest.Timeout)
			for {
				fams = scrape(t, metricsBase+"/metrics")
				var wrong []string
				if got := value(t, fams, "luaws_connections", "mount=/ws"); got != 2 {
					wrong = append(wrong, fmt.Sprintf("luaws_connections: got %v, want 2", got))
				}
				for _, c := range want {
					labels := append([]string{"mount=/ws"}, c.labels...)
					if got := value(t, fams, c.name, labels...); got != c.want {
						wrong = append(wrong, fmt.Sprintf("%s%v: got %v, want %v", c.name, c.labels, got, c.want))
					}
				}
				if len(wrong) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal(strings.Join(wrong, "\n"))
				}
				time.Sleep(5 * time.Millisecond) // polling with a deadline
			}
			if got := value(t, fams, "luaws_broker_up", "kind=memory"); got != 1 {
				t.Errorf("luaws_broker_up{kind=memory}: got %v, want 1", got)
			}
			if fams["go_goroutines"] == nil || fams["process_cpu_seconds_total"] == nil {
				t.Errorf("want the Go and process collectors too")
			}
		})
	}
}
