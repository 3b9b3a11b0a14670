// Package brokertest starts real brokers for tests: an embedded NATS
// server and a redis-server process, each of which can be stopped and
// started again at the same address to test recovery.
package brokertest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startTimeout bounds starting and stopping a broker.
const startTimeout = 10 * time.Second

// NATS is an embedded NATS server on 127.0.0.1.
type NATS struct {
	// URL is nats://127.0.0.1:PORT; it stays the same across Stop and Start.
	URL string

	t    testing.TB
	port int
	mu   sync.Mutex
	srv  *server.Server
}

// StartNATS runs a NATS server in the test process on a free port and
// stops it in t.Cleanup.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{t: t, port: -1}
	n.Start()
	n.port = n.srv.Addr().(*net.TCPAddr).Port
	n.URL = fmt.Sprintf("nats://127.0.0.1:%d", n.port)
	t.Cleanup(n.Stop)
	return n
}

// Start starts the server (again, on the same port after Stop).
func (n *NATS) Start() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		return
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: n.port, NoSigs: true, NoLog: true})
	if err != nil {
		n.t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(startTimeout) {
		srv.Shutdown()
		n.t.Fatalf("nats server: not ready within %v", startTimeout)
	}
	n.srv = srv
}

// Stop shuts the server down and waits until it is gone.
func (n *NATS) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv == nil {
		return
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.srv = nil
}

// Redis is a redis-server process listening on a Unix socket only.
type Redis struct {
	// URL is unix:///TMP/redis.sock; it stays the same across Stop and Start.
	URL string

	t    testing.TB
	sock string
	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

// RequireRedisEnv is the environment variable that turns a missing
// redis-server from a skip into a failure (.ci/run sets it).
const RequireRedisEnv = "LUAWS_REQUIRE_REDIS"

// StartRedis runs redis-server on a Unix socket in a temporary directory,
// with persistence off, and stops it in t.Cleanup. Without redis-server
// the test is skipped, or fails when LUAWS_REQUIRE_REDIS=1.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv(RequireRedisEnv) == "1" {
			t.Fatalf("redis-server not found and %s=1: apt-get install redis-server", RequireRedisEnv)
		}
		t.Skipf("redis-server not found: apt-get install redis-server (or set %s=1 to make this a failure)", RequireRedisEnv)
	}
	dir, err := os.MkdirTemp("", "luaws-redis")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// A Unix socket path must stay under ~100 bytes: use a short temp dir.
	r := &Redis{t: t, sock: filepath.Join(dir, "r.sock")}
	r.URL = "unix://" + r.sock
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start starts the server (again, on the same socket after Stop) and
// waits until it answers PING.
func (r *Redis) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	r.out = new(bytes.Buffer)
	cmd := exec.Command("redis-server", "--port", "0", "--unixsocket", r.sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--loglevel", "warning", "--dir", filepath.Dir(r.sock))
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	r.cmd = cmd
	deadline := time.Now().Add(startTimeout)
	for !ping(r.sock) {
		if time.Now().After(deadline) {
			r.stopLocked()
			r.t.Fatalf("redis-server did not answer PING within %v: %s", startTimeout, r.out)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// Stop terminates the server and waits for it to exit.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked()
}

func (r *Redis) stopLocked() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(startTimeout):
		_ = r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
	_ = os.Remove(r.sock)
}

// ping reports whether a Redis server answers PING on sock.
func ping(sock string) bool {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// ClosedAddr returns a loopback address where nothing listens, for tests
// of a broker that is down at start.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
