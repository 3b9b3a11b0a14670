package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/luaws/luaws/luabind"
)

// check compiles and loads each script the way serve would and prints one
// file:line line per error.
func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "Usage: luaws check SCRIPT.lua ...") }
	if err := fs.Parse(args); err != nil {
		return ExitBadInput
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return ExitBadInput
	}
	failed := false
	for _, path := range fs.Args() {
		if err := luabind.Check(path, slog.New(slog.DiscardHandler)); err != nil {
			fmt.Fprintln(stderr, err)
			failed = true
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", path)
	}
	if failed {
		return ExitFailure
	}
	return ExitOK
}
