package enginetest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/luaws/luaws/engine"
)

// shutdownTimeout bounds the shutdown of a server started by [Serve].
const shutdownTimeout = 10 * time.Second

// Serve serves srv on 127.0.0.1:0 until the test ends and returns the
// ws:// URL of its first mount. In t.Cleanup it shuts srv down and fails
// the test if Shutdown or Serve returns an error. Anything that must stop
// after the server (a luabind Mount, a broker) registers its cleanup before
// calling Serve.
func Serve(t testing.TB, srv *engine.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: got %v, want nil", err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: got %v, want nil", err)
			}
		case <-ctx.Done():
			t.Errorf("Serve did not return after Shutdown")
		}
	})
	WaitFor(t, "Serve to start", func() bool { return srv.Addr() != nil })
	return "ws://" + ln.Addr().String() + srv.Mounts()[0].Path()
}

// Logger returns a logger that writes text lines at level and above to
// t.Output() and to each of also (e.g. a [*Buffer] the test reads). Lines
// logged after the test has ended are dropped instead of panicking; create
// the logger before the server that uses it, so that t.Cleanup stops the
// server first.
func Logger(t testing.TB, level slog.Level, also ...io.Writer) *slog.Logger {
	w := &testWriter{w: io.MultiWriter(append([]io.Writer{t.Output()}, also...)...)}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// testWriter writes to w until stop.
type testWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
