package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/luaws/luaws/luabind"
)

// check compiles and loads each script the way serve would and prints one
// file:line line per error.
func check(args []string, stdout, stderr io.Writer) int {
	const checkUsage = "Usage: luaws check SCRIPT.lua ..."
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // a bad flag is reported as one line below
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, checkUsage)
			return ExitOK
		}
		return printError(stderr, &usageError{msg: "check: " + err.Error(), try: "luaws check SCRIPT.lua ..."})
	}
	if fs.NArg() == 0 {
		return printError(stderr, &usageError{msg: "check: no script given", try: "luaws check SCRIPT.lua ..."})
	}
	failed := false
	for _, path := range fs.Args() {
		if err := luabind.Check(path, slog.New(slog.DiscardHandler)); err != nil {
			fmt.Fprintln(stderr, oneLine(err.Error()))
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
