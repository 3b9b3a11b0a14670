// Command baseline is a plain gorilla/websocket server, the yardstick that
// `luaws bench` figures are compared with: no luaws, no Lua, just what a Go
// programmer would write by hand.
//
// Usage:
//
//	go build -o /tmp/baseline ./cmd/luaws/cli/loadgen/baseline
//	/tmp/baseline --mode echo|json-echo|broadcast [--listen 127.0.0.1:0] [--cpu-profile FILE]
//
// It prints "baseline listening on ws://ADDR/ws (pid N)" and serves every
// path until SIGINT or SIGTERM. The modes match these luaws servers:
//
//	echo       luaws serve examples/echo/echo.lua
//	json-echo  luaws serve --serializer json examples/echo/echo.lua
//	broadcast  luaws serve --serializer json scripts/bench_broadcast.lua
//
// The servers themselves are in engine/enginetest/baseline, which the
// Go benchmarks use too.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/luaws/luaws/engine/enginetest/baseline"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	mode := flag.String("mode", "echo", "echo, json-echo or broadcast")
	cpuProfile := flag.String("cpu-profile", "", "write a CPU profile (for go tool pprof) to this file, from start to exit")
	flag.Parse()
	var h http.Handler
	switch *mode {
	case "echo":
		h = baseline.Echo(nil)
	case "json-echo":
		h = baseline.Echo(baseline.Reencode)
	case "broadcast":
		h = baseline.NewHub()
	default:
		fmt.Fprintf(os.Stderr, "baseline: --mode %q: want echo, json-echo or broadcast\n", *mode)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "baseline: %v\n", err)
		os.Exit(2)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "baseline: --cpu-profile: %v\n", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("baseline listening on ws://%s/ws (pid %d)\n", ln.Addr(), os.Getpid())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintf(os.Stderr, "baseline: %v\n", err)
		os.Exit(1)
	}
}
