package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/luabind"
	"github.com/luaws/luaws/luabind/scripttest"
)

// runTests is luaws test [flags] [PATH...]: it runs the *_test.lua files
// under each PATH (default .) and exits 1 if a test failed.
func runTests(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: luaws test [flags] [PATH...]\n\nRuns the test_* functions of every *_test.lua file under each PATH (default .).\n\nFlags:")
		fs.PrintDefaults()
	}
	verbose := fs.Bool("v", false, "print every test, not only the failing ones")
	run := fs.String("run", "", "run only the tests whose name matches this Go regular expression")
	jsonOut := fs.Bool("json", false, "print one JSON event per line, as go test -json does")
	timeout := fs.Duration("timeout", 10*time.Second, "stop a test that runs longer than this")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitBadInput
	}
	opts := scripttest.Options{Paths: fs.Args(), Verbose: *verbose, JSON: *jsonOut, Timeout: *timeout,
		Mount: testMount, Out: stdout}
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			return printError(stderr, &usageError{msg: "test: --run: " + err.Error(), try: `luaws test --run 'test_(join|leave)'`})
		}
		opts.Run = re
	}
	if *timeout <= 0 {
		return printError(stderr, &usageError{msg: "test: --timeout must be more than 0", try: "luaws test --timeout 30s"})
	}
	res, err := scripttest.Run(ctx, opts)
	if err != nil {
		return printError(stderr, &usageError{msg: "test: " + err.Error(), try: "luaws test examples/  (files named *_test.lua)"})
	}
	if res.Failed > 0 {
		return ExitFailure
	}
	return ExitOK
}

// testMount decodes t.server's opts as a luaws.toml [[mount]] and builds
// the mount as serve does.
func testMount(script string, opts map[string]any, log *slog.Logger) (luabind.Options, engine.MountConfig, error) {
	m := make(map[string]any, len(opts)+1)
	for k, v := range opts {
		m[k] = v
	}
	m["script"] = script
	doc := &tomlDoc{file: "t.server opts", root: m, lines: map[string]int{}}
	mc := decodeMount(doc.top(), MountConfig{}, func(p string) string { return p })
	if err := doc.err(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) && ce.Try != "" {
			return luabind.Options{}, engine.MountConfig{}, fmt.Errorf("%v (%s)", err, ce.Try)
		}
		return luabind.Options{}, engine.MountConfig{}, err
	}
	return mountOptions(mc, false, log)
}
