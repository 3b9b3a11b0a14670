package metrics

import (
	"log/slog"
	"maps"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/broker"
)

// rejectReasons are reported even at zero, so that dashboards and alerts
// find the series before the first rejection.
var rejectReasons = []string{
	engine.ReasonInvalidRequest, engine.ReasonRejected, engine.ReasonOriginNotAllowed,
	engine.ReasonTooManyConnections, engine.ReasonShuttingDown,
}

var (
	descConns = prometheus.NewDesc("luaws_connections",
		"Open WebSocket connections.", []string{"mount"}, nil)
	descAccepted = prometheus.NewDesc("luaws_handshakes_accepted_total",
		"Upgrade requests accepted.", []string{"mount"}, nil)
	descRejected = prometheus.NewDesc("luaws_handshakes_rejected_total",
		"Upgrade requests refused, by reason: invalid request, rejected (by the script's handshake), origin not allowed, too many connections, shutting down, unauthorized, rate limited.",
		[]string{"mount", "reason"}, nil)
	descMsgsIn = prometheus.NewDesc("luaws_messages_received_total",
		"Data messages received from clients.", []string{"mount"}, nil)
	descBytesIn = prometheus.NewDesc("luaws_received_bytes_total",
		"Payload bytes of the data messages received, after decompression.", []string{"mount"}, nil)
	descMsgsOut = prometheus.NewDesc("luaws_messages_sent_total",
		"Data messages written to clients; a broadcast counts once per recipient.", []string{"mount"}, nil)
	descBytesOut = prometheus.NewDesc("luaws_sent_bytes_total",
		"Payload bytes of the data messages written to clients, before compression.", []string{"mount"}, nil)
	descSlow = prometheus.NewDesc("luaws_slow_consumer_closes_total",
		"Connections closed with 1008 because their send queue was full.", []string{"mount"}, nil)
	descIdle = prometheus.NewDesc("luaws_idle_closes_total",
		"Connections closed because they sent nothing for idle_timeout.", []string{"mount"}, nil)
	descLuaErrors = prometheus.NewDesc("luaws_lua_errors_total",
		"Lua handlers that raised an error or timed out.", []string{"mount"}, nil)
	descReloads = prometheus.NewDesc("luaws_reloads_total",
		"Hot reloads of the mount's script, by result: ok or refused (the old code kept serving).",
		[]string{"mount", "result"}, nil)
	descBans = prometheus.NewDesc("luaws_address_bans_total",
		"Client addresses banned for ban_duration because their handlers were stopped ban_after_stops times.",
		[]string{"mount"}, nil)
	descBanRefusals = prometheus.NewDesc("luaws_ban_refusals_total",
		"Handshakes (429) and messages (1008) of banned client addresses refused.", []string{"mount"}, nil)
	descDuration = prometheus.NewDesc("luaws_handler_duration_seconds",
		"Run time of the script's handlers, by handler.", []string{"mount", "handler"}, nil)
	descBrokerUp = prometheus.NewDesc("luaws_broker_up",
		"1 while the broker that links the nodes is reachable, 0 while it is down (local delivery goes on).", []string{"kind"}, nil)
	descBrokerMsgs = prometheus.NewDesc("luaws_broker_messages_total",
		"Messages through the broker, by result: published, dropped (not sent to other nodes), received.",
		[]string{"kind", "result"}, nil)
)

// Collector is a prometheus.Collector of a server's metrics. It is safe
// for concurrent scrapes.
type Collector struct {
	srv *engine.Server
}

// NewCollector returns the collector of srv's mounts.
func NewCollector(srv *engine.Server) *Collector { return &Collector{srv: srv} }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descAccepted, descRejected, descMsgsIn, descBytesIn,
		descMsgsOut, descBytesOut, descSlow, descIdle, descLuaErrors, descReloads, descBans, descBanRefusals, descDuration,
		descBrokerUp, descBrokerMsgs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	bs := broker.StatusOf(c.srv.Broker())
	up := 0.0
	if bs.Connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descBrokerUp, prometheus.GaugeValue, up, bs.Kind)
	counter(descBrokerMsgs, bs.Published, bs.Kind, "published")
	counter(descBrokerMsgs, bs.Dropped, bs.Kind, "dropped")
	counter(descBrokerMsgs, bs.Received, bs.Kind, "received")
	for _, m := range c.srv.Mounts() {
		path := m.Path()
		st := m.Stats()
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(st.Open), path)
		counter(descAccepted, st.HandshakesAccepted, path)
		reasons := slices.Clone(rejectReasons)
		for r := range st.HandshakesRejected {
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
		for _, r := range reasons {
			counter(descRejected, st.HandshakesRejected[r], path, r)
		}
		counter(descMsgsIn, st.MessagesIn, path)
		counter(descBytesIn, st.BytesIn, path)
		counter(descMsgsOut, st.MessagesOut, path)
		counter(descBytesOut, st.BytesOut, path)
		counter(descSlow, st.SlowConsumerCloses, path)
		counter(descIdle, st.IdleCloses, path)

		src, ok := m.Handler().(ScriptSource)
		if !ok {
			continue
		}
		ss := src.ScriptStats()
		counter(descLuaErrors, ss.LuaErrors, path)
		counter(descReloads, ss.ReloadsOK, path, "ok")
		counter(descReloads, ss.ReloadsRefused, path, "refused")
		counter(descBans, ss.Bans, path)
		counter(descBanRefusals, ss.BanRefusals, path)
		for _, name := range slices.Sorted(maps.Keys(ss.Durations)) {
			h := ss.Durations[name]
			ch <- prometheus.MustNewConstHistogram(descDuration, h.Count, h.Sum, h.Buckets, path, name)
		}
	}
}

// Handler serves srv's metrics in the Prometheus text format, from a
// private registry with the Collector and the Go runtime and process
// collectors. Errors while gathering go to log (nil discards).
func Handler(srv *engine.Server, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(srv),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	opts := promhttp.HandlerOpts{Registry: reg}
	if log != nil {
		opts.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return promhttp.HandlerFor(reg, opts)
}
