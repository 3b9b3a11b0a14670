package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/luaws/luaws/engine/enginetest"
)

// updating reports whether -update was given (the flag is cli_test's).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestConfigErrors runs `luaws serve --config X.toml` on every
// testdata/config/*.toml file that is not valid and compares what it
// prints with X.golden. Run `go test ./cmd/luaws/cli -run TestConfigErrors -update`
// after changing a message.
func TestConfigErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "testdata/config/does_not_exist.toml")
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".toml")
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a config that loads would serve until ctx ends
			code := Main(ctx, []string{"serve", "--config", file, "--listen", "127.0.0.1:0"}, &stdout, &stderr)
			if code != ExitBadInput {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, ExitBadInput, stderr.String())
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: got %q, want nothing", stdout.String())
			}
			golden := strings.TrimSuffix(file, ".toml") + ".golden"
			if updating() {
				if err := os.WriteFile(golden, stderr.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := stderr.String(); got != string(want) {
				t.Errorf("stderr:\ngot  %q\nwant %q", got, want)
			}
		})
	}
}

// TestConfigErrorLines checks that every golden message names the file and
// the line, bar the few about the whole file.
func TestConfigErrorLines(t *testing.T) {
	goldens, _ := filepath.Glob("testdata/config/*.golden")
	if len(goldens) < 25 {
		t.Fatalf("got %d golden files, want at least 25", len(goldens))
	}
	wholeFile := map[string]bool{"no_mount": true, "does_not_exist": true}
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(g), ".golden")
		first, _, _ := strings.Cut(string(b), "\n")
		prefix := "luaws: testdata/config/" + name + ".toml:"
		if wholeFile[name] {
			prefix = "luaws: testdata/config/" + name + ".toml: "
		}
		if !strings.HasPrefix(first, prefix) {
			t.Errorf("%s: got %q, want it to start with %q", name, first, prefix)
		}
	}
}

// TestSpecExample loads the luaws.toml of the spec, with the files it
// names, and checks every value.
func TestSpecExample(t *testing.T) {
	dir := t.TempDir()
	enginetest.WriteFile(t, filepath.Join(dir, "examples/chat/chat.lua"), "return {}\n")
	if err := os.MkdirAll(filepath.Join(dir, "examples/chat/public"), 0o755); err != nil {
		t.Fatal(err)
	}
	enginetest.SelfSigned(t).WriteFiles(t, dir)
	enginetest.WriteFile(t, filepath.Join(dir, "luaws.toml"), specExample)

	cfg, err := loadConfig(filepath.Join(dir, "luaws.toml"), defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.Listen = "127.0.0.1:8080"
	want.Static = map[string]string{"/": filepath.Join(dir, "examples/chat/public")}
	want.TLS = TLSConfig{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	want.Broker = BrokerConfig{Kind: "nats", URL: "nats://127.0.0.1:4222"}
	want.Mounts = []MountConfig{{
		Path:           "/chat",
		Script:         filepath.Join(dir, "examples/chat/chat.lua"),
		Serializer:     "json",
		Workers:        2,
		Subprotocols:   []string{"chat"},
		MaxMessageSize: 64 << 10,
		Middleware:     []string{"access_log", "real_ip", "rate_limit"},
		MiddlewareInit: map[string]map[string]any{"rate_limit": {"messages_per_second": int64(20)}},
	}}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}

// The spec's example, but for real_ip's required trusted_proxies.
const specExample = `listen = "127.0.0.1:8080"
static = { "/" = "examples/chat/public" }

[[mount]]
path = "/chat"
script = "examples/chat/chat.lua"
serializer = "json"
workers = 2
subprotocols = ["chat"]
max_message_size = "64KiB"
middleware = ["access_log", "real_ip", "rate_limit"]
[mount.middleware_init.rate_limit]
messages_per_second = 20

[tls]
cert = "cert.pem"
key = "key.pem"

[broker]               # "memory" (default) | "nats" | "redis"
kind = "nats"
url = "nats://127.0.0.1:4222"
`

func TestConfigValues(t *testing.T) {
	dir := t.TempDir()
	enginetest.WriteFile(t, filepath.Join(dir, "app.lua"), "return {}\n")
	enginetest.WriteFile(t, filepath.Join(dir, "luaws.toml"), `
admin_listen = "127.0.0.1:9090"
max_connections = { total = 100, per_addr = 3 }
handshake_timeout = "2s"
shutdown_timeout = 5
ping_interval = "off"
idle_timeout = "1m"
log_format = "json"
log_level = "debug"

[[mount]]
path = "/a/"
script = "app.lua"
workers = "auto"
handler_timeout = 0.25
max_message_size = 4096
send_queue_size = 16
send_queue_bytes = "2MiB"
allowed_origins = ["*"]
compression = true
middleware = ["real_ip", "bearer"]
middleware_init.real_ip.trusted_proxies = ["10.0.0.0/8"]
middleware_init.bearer = { tokens = ["t1"], query = "token" }

[[mount]]
path = "/b"
script = "app.lua"
ping_interval = "5s"
pong_timeout = "2s"
idle_timeout = "off"
`)
	cfg, err := loadConfig(filepath.Join(dir, "luaws.toml"), defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Mounts[0], cfg.Mounts[1]
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"admin_listen", cfg.AdminListen, "127.0.0.1:9090"},
		{"max_connections.total", cfg.MaxConnections, 100},
		{"max_connections.per_addr", cfg.MaxConnectionsPerAddr, 3},
		{"handshake_timeout", cfg.HandshakeTimeout, 2 * time.Second},
		{"shutdown_timeout", cfg.ShutdownTimeout, 5 * time.Second},
		{"log", cfg.LogFormat + " " + cfg.LogLevel, "json debug"},
		{"a.ping_interval", a.PingInterval, time.Duration(-1)},
		{"a.idle_timeout", a.IdleTimeout, time.Minute},
		{"a.workers", a.Workers > 0, true},
		{"a.handler_timeout", a.HandlerTimeout, 250 * time.Millisecond},
		{"a.max_message_size", a.MaxMessageSize, int64(4096)},
		{"a.send_queue_size", a.SendQueueSize, 16},
		{"a.send_queue_bytes", a.SendQueueBytes, int64(2 << 20)},
		{"a.allowed_origins", a.AllowedOrigins, []string{"*"}},
		{"a.compression", a.Compression, true},
		{"a.middleware_init.bearer.query", a.MiddlewareInit["bearer"]["query"], "token"},
		{"b.ping_interval", b.PingInterval, 5 * time.Second},
		{"b.pong_timeout", b.PongTimeout, 2 * time.Second},
		{"b.idle_timeout", b.IdleTimeout, time.Duration(-1)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestConfigReferenceExample loads the annotated luaws.toml of
// docs/config.md, with the files it names, so that the example stays true.
func TestConfigReferenceExample(t *testing.T) {
	readme, err := os.ReadFile("../../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Configuration file (luaws.toml)")
	if !ok {
		t.Fatal("docs/config.md has no configuration section")
	}
	_, block, ok := strings.Cut(section, "```toml\n")
	if !ok {
		t.Fatal("docs/config.md's configuration section has no toml block")
	}
	block, _, _ = strings.Cut(block, "```")

	dir := t.TempDir()
	enginetest.WriteFile(t, filepath.Join(dir, "chat.lua"), "return {}\n")
	enginetest.WriteFile(t, filepath.Join(dir, "echo.lua"), "return {}\n")
	enginetest.WriteFile(t, filepath.Join(dir, "public/index.html"), "hi\n")
	enginetest.SelfSigned(t).WriteFiles(t, dir)
	enginetest.WriteFile(t, filepath.Join(dir, "luaws.toml"), block)
	cfg, err := loadConfig(filepath.Join(dir, "luaws.toml"), defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Mounts) != 2 || len(cfg.Mounts[0].Middleware) != 4 || cfg.MaxConnectionsPerAddr != 50 || cfg.TLS.Cert == "" {
		t.Errorf("got %+v", cfg)
	}
}

// TestFlagsOverrideConfig: flags given on the command line win over
// luaws.toml; mount flags apply to every mount; the rest stays.
func TestFlagsOverrideConfig(t *testing.T) {
	dir := t.TempDir()
	enginetest.WriteFile(t, filepath.Join(dir, "app.lua"), "return {}\n")
	enginetest.WriteFile(t, filepath.Join(dir, "luaws.toml"), `
listen = "127.0.0.1:7000"
shutdown_timeout = "3s"
[[mount]]
path = "/a"
script = "app.lua"
workers = 2
serializer = "json"
[[mount]]
path = "/b"
script = "app.lua"
`)
	cfg, err := parseServe([]string{"--config", filepath.Join(dir, "luaws.toml"),
		"--listen", "127.0.0.1:0", "--workers", "3", "--idle-timeout", "1m", "--max-connections-per-addr", "9"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Listen, "127.0.0.1:0"},
		{"shutdown_timeout", cfg.ShutdownTimeout, 3 * time.Second},
		{"per_addr", cfg.MaxConnectionsPerAddr, 9},
		{"a.workers", cfg.Mounts[0].Workers, 3},
		{"b.workers", cfg.Mounts[1].Workers, 3},
		{"a.serializer", cfg.Mounts[0].Serializer, "json"},
		{"b.idle_timeout", cfg.Mounts[1].IdleTimeout, time.Minute},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}
