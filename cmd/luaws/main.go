// Command luaws serves WebSocket endpoints whose behaviour is written in Lua.
// See the README and docs/, or run "luaws help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/luaws/luaws/cmd/luaws/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
