package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// usageError is bad input: a flag, a file, a script. It prints as one line
// and exits with ExitBadInput.
type usageError struct {
	msg string
	try string
}

func (e *usageError) Error() string { return e.msg }

// printError prints err, and the hint of a usageError or ConfigError, as
// one line and returns its exit code.
func printError(stderr io.Writer, err error) int {
	msg := oneLine(err.Error())
	var ue *usageError
	var ce *ConfigError
	switch {
	case errors.As(err, &ue) && ue.try != "":
		msg += " (try: " + ue.try + ")"
	case errors.As(err, &ce) && ce.Try != "":
		msg += " (try: " + ce.Try + ")"
	}
	fmt.Fprintf(stderr, "luaws: %s\n", msg)
	return ExitBadInput
}

// oneLine joins the lines of a multi-line message (Lua's "module not
// found" lists every place it looked) with "; ".
func oneLine(msg string) string {
	if !strings.Contains(msg, "\n") {
		return msg
	}
	var b strings.Builder
	for l := range strings.Lines(msg) {
		l = strings.Trim(l, " \t\r\n,")
		switch {
		case l == "":
			continue
		case b.Len() == 0:
		case strings.HasSuffix(b.String(), ":"):
			b.WriteString(" ")
		default:
			b.WriteString("; ")
		}
		b.WriteString(l)
	}
	return b.String()
}
