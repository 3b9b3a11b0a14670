package engine_test

import (
	"testing"

	"github.com/luaws/luaws/engine/enginetest"
)

// TestMain fails the run if goroutines outlive the tests: every server is
// shut down and every client closed in t.Cleanup. os/signal's loop, which
// go test -fuzz starts to catch ^C, does not count.
func TestMain(m *testing.M) { enginetest.Main(m, "os/signal.loop") }
