package cli

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/luaws/luaws/engine/broker"
)

// brokerFlags adds --broker, --broker-url and --broker-prefix to fs.
func brokerFlags(fs *flag.FlagSet, b *BrokerConfig) {
	fs.StringVar(&b.Kind, "broker", "memory", "broker that carries luaws.publish and luaws.broadcast between nodes: memory, nats or redis")
	fs.StringVar(&b.URL, "broker-url", "", "broker address, e.g. nats://127.0.0.1:4222, redis://127.0.0.1:6379 or unix:///run/redis.sock")
	fs.StringVar(&b.Prefix, "broker-prefix", broker.DefaultPrefix, "put before every broker subject, so that deployments can share a broker")
}

var serverNames = map[string]string{broker.KindNATS: "NATS", broker.KindRedis: "Redis"}

// openBroker connects to the configured broker. With kind memory (or
// none) it returns nil: one process needs no broker. A broker that cannot
// be reached is a usageError (exit 2) naming its URL.
func openBroker(cfg BrokerConfig, log *slog.Logger) (broker.Broker, error) {
	if cfg.Kind == "" || cfg.Kind == broker.KindMemory {
		return nil, nil
	}
	b, err := broker.New(cfg.Kind, broker.Config{
		URL:    cfg.URL,
		Prefix: cfg.Prefix,
		Logger: log,
	})
	var ce *broker.ConnectError
	switch {
	case errors.As(err, &ce):
		return nil, &usageError{msg: fmt.Sprintf("broker %s at %s: %v", ce.Kind, ce.URL, ce.Err),
			try: fmt.Sprintf("start the %s server at %s, fix [broker] url or --broker-url, or serve one node alone with --broker memory",
				serverNames[ce.Kind], ce.URL)}
	case err != nil:
		return nil, &usageError{msg: err.Error(), try: "luaws serve -h"}
	}
	log.Info("broker connected", "broker", cfg.Kind, "url", broker.StatusOf(b).URL)
	return b, nil
}
