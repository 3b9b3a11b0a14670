// Package cli is the luaws command line: serve, check, bench, test, types,
// version. It is importable so that tests drive the real CLI in-process
// through [Main].
package cli

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// Exit codes.
const (
	ExitOK        = 0
	ExitFailure   = 1 // luaws check found errors; the server failed while running
	ExitBadInput  = 2 // bad flags, a missing script, a script that does not compile
	ExitInterrupt = 130
)

// Version is the luaws version, set at build time with -ldflags "-X".
var Version = "dev"

const usage = `luaws serves WebSocket endpoints whose behaviour is written in Lua.

Usage:
  luaws serve [flags] SCRIPT.lua       one endpoint, mounted at /ws
  luaws serve --config luaws.toml      several mounts, static files, TLS, broker
  luaws check SCRIPT.lua ...           compile scripts, print file:line errors
  luaws bench [flags] URL              load generator
  luaws test [flags] [PATH...]         run the *_test.lua files of scripts
  luaws types [DIR]                    write LuaLS definitions for editors
  luaws version

Run "luaws COMMAND -h" for a command's flags.
`

// Main runs the command line args (without the program name) and returns
// the exit code. ctx ends the server (SIGINT/SIGTERM in main).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitBadInput
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "test":
		return runTests(ctx, args[1:], stdout, stderr)
	case "types":
		return types(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "luaws", versionString())
		return ExitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "luaws: unknown command %q\nTry: luaws help\n", args[0])
	return ExitBadInput
}

func versionString() string {
	v := Version
	if info, ok := debug.ReadBuildInfo(); ok {
		v += " (" + info.GoVersion + ")"
	}
	return v
}
