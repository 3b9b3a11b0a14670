package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/luaws/luaws/cmd/luaws/cli/loadgen"
	"github.com/luaws/luaws/engine/enginetest/baseline"
)

// TestModes drives each baseline mode with the load generator, briefly.
func TestModes(t *testing.T) {
	tests := []struct {
		name string
		h    http.Handler
		cfg  loadgen.Config
	}{
		{"echo", baseline.Echo(nil), loadgen.Config{Mode: loadgen.Echo, Conns: 4, InFlight: 4}},
		{"json-echo", baseline.Echo(baseline.Reencode), loadgen.Config{Mode: loadgen.Echo, Conns: 4, Payload: loadgen.PayloadJSON}},
		{"broadcast", baseline.NewHub(), loadgen.Config{Mode: loadgen.Broadcast, Conns: 20, InFlight: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.h)
			defer srv.Close()
			cfg := tt.cfg
			cfg.URL = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
			cfg.Duration = 200 * time.Millisecond
			res, err := loadgen.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Messages == 0 || res.Messages < res.Sent {
				t.Errorf("got %d errors (%s), %d sent, %d received; want no errors, every message received",
					res.Errors, res.FirstError, res.Sent, res.Messages)
			}
		})
	}
}
