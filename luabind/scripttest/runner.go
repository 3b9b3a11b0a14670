package scripttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/luabind"
)

// MountFunc decodes the opts of t.server(script, opts) — the keys of a
// luaws.toml [[mount]] — into the options serve would start the mount
// with. log is the mount's logger. The returned engine.MountConfig has no
// Handler yet.
type MountFunc func(script string, opts map[string]any, log *slog.Logger) (luabind.Options, engine.MountConfig, error)

// Options configures [Run].
type Options struct {
	// Paths are files or folders; folders are searched recursively for
	// *_test.lua. Defaults to ".".
	Paths []string
	// Run, when set, runs only the tests whose name it matches.
	Run *regexp.Regexp
	// Verbose prints every test, not only the failing ones.
	Verbose bool
	// JSON prints one JSON event per line, as go test -json does.
	JSON bool
	// Timeout bounds one test. Defaults to 10 s.
	Timeout time.Duration
	// Mount decodes t.server's opts. Required.
	Mount MountFunc
	// Out receives the report.
	Out io.Writer
}

// Result counts the tests run.
type Result struct {
	Passed, Failed int
}

// Find returns the *_test.lua files named by paths, sorted.
func Find(paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), "_test.lua") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// Run runs the tests of every file opts.Paths names and writes the report
// to opts.Out. A file that does not compile counts as one failed test.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	files, err := Find(opts.Paths)
	if err != nil {
		return Result{}, err
	}
	if len(files) == 0 {
		return Result{}, errors.New("no *_test.lua files found")
	}
	r := &runner{opts: opts}
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		r.file(ctx, f)
	}
	if !opts.JSON {
		fmt.Fprintf(opts.Out, "%d passed, %d failed\n", r.res.Passed, r.res.Failed)
	}
	return r.res, ctx.Err()
}

type runner struct {
	opts Options
	res  Result
}

// event is one line of --json, as go test -json writes it.
type event struct {
	Time    time.Time `json:"Time"`
	Action  string    `json:"Action"`
	Package string    `json:"Package"`
	Test    string    `json:"Test,omitempty"`
	Elapsed *float64  `json:"Elapsed,omitempty"`
	Output  string    `json:"Output,omitempty"`
}

func (r *runner) emit(ev event) {
	ev.Time = time.Now()
	b, _ := json.Marshal(ev)
	fmt.Fprintf(r.opts.Out, "%s\n", b)
}

// output writes text (whole lines) of file's test.
func (r *runner) output(file, test, text string) {
	if r.opts.JSON {
		for _, line := range strings.SplitAfter(text, "\n") {
			if line != "" {
				r.emit(event{Action: "output", Package: file, Test: test, Output: line})
			}
		}
		return
	}
	io.WriteString(r.opts.Out, text)
}

func (r *runner) end(file, test string, failed bool, d time.Duration) {
	action := "pass"
	if failed {
		action = "fail"
		r.res.Failed++
	} else {
		r.res.Passed++
	}
	if r.opts.JSON {
		sec := d.Seconds()
		r.emit(event{Action: action, Package: file, Test: test, Elapsed: &sec})
	}
}

// file runs the tests of one file.
func (r *runner) file(ctx context.Context, file string) {
	start := time.Now()
	failedBefore := r.res.Failed
	if r.opts.JSON {
		r.emit(event{Action: "start", Package: file})
	}
	proto, names, err := load(file)
	if err != nil {
		r.output(file, "", fmt.Sprintf("--- FAIL: %s\n    %s\n", file, err))
		r.end(file, "", true, time.Since(start))
		r.fileEnd(file, true, start)
		return
	}
	for _, name := range names {
		if r.opts.Run != nil && !r.opts.Run.MatchString(name) {
			continue
		}
		r.test(ctx, file, proto, name)
	}
	r.fileEnd(file, r.res.Failed > failedBefore, start)
}

func (r *runner) fileEnd(file string, failed bool, start time.Time) {
	d := time.Since(start)
	if r.opts.JSON {
		action := "pass"
		if failed {
			action = "fail"
		}
		sec := d.Seconds()
		r.emit(event{Action: action, Package: file, Elapsed: &sec})
		return
	}
	if failed {
		fmt.Fprintf(r.opts.Out, "FAIL\t%s\t%.3fs\n", file, d.Seconds())
	} else {
		fmt.Fprintf(r.opts.Out, "ok\t%s\t%.3fs\n", file, d.Seconds())
	}
}

// load compiles file and lists its tests: it runs the file once in a
// throwaway VM to read the names of its test_* functions, sorted.
func load(file string) (*lua.FunctionProto, []string, error) {
	proto, err := luabind.CompileFile(file)
	if err != nil {
		return nil, nil, err
	}
	L := newVM(context.Background())
	defer L.Close()
	tbl, err := mainChunk(L, proto, file)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	tbl.ForEach(func(k, v lua.LValue) {
		if s, ok := k.(lua.LString); ok && strings.HasPrefix(string(s), "test_") && v.Type() == lua.LTFunction {
			names = append(names, string(s))
		}
	})
	slices.Sort(names)
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("%s: no test_* functions in the table it returns", file)
	}
	return proto, names, nil
}

// mainChunk runs the compiled file in L and returns the table it returns.
func mainChunk(L *lua.LState, proto *lua.FunctionProto, file string) (*lua.LTable, error) {
	fn := L.NewFunctionFromProto(proto)
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		return nil, errors.New(errText(err))
	}
	tbl, ok := L.Get(-1).(*lua.LTable)
	L.Pop(1)
	if !ok {
		return nil, fmt.Errorf("%s: returns %s, want a table of test_* functions", file, L.Get(-1).Type())
	}
	return tbl, nil
}

// errText is the message of a Lua error, without gopher-lua's traceback.
func errText(err error) string {
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		if s, ok := ae.Object.(lua.LString); ok {
			return string(s)
		}
		return ae.Object.String()
	}
	return err.Error()
}

// test runs one test in a fresh VM.
func (r *runner) test(ctx context.Context, file string, proto *lua.FunctionProto, name string) {
	start := time.Now()
	if r.opts.JSON {
		r.emit(event{Action: "run", Package: file, Test: name})
	} else if r.opts.Verbose {
		fmt.Fprintf(r.opts.Out, "=== RUN   %s\n", name)
	}
	tctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	h := newHarness(tctx, r.opts.Mount, filepath.Dir(file))
	L := newVM(tctx)
	msg := func() (msg string) {
		defer func() {
			h.cleanup()
			L.Close()
		}()
		tbl, err := mainChunk(L, proto, file)
		if err != nil {
			return err.Error()
		}
		fn, ok := tbl.RawGetString(name).(*lua.LFunction)
		if !ok {
			return name + " is no longer a function"
		}
		L.Push(fn)
		L.Push(h.table(L))
		if err := L.PCall(1, 0, nil); err != nil {
			msg := errText(err)
			if tctx.Err() == context.DeadlineExceeded {
				msg = fmt.Sprintf("timed out after %s: %s", r.opts.Timeout, msg)
			}
			return msg
		}
		return ""
	}()
	d := time.Since(start)
	failed := msg != ""
	switch {
	case failed:
		r.output(file, name, fmt.Sprintf("--- FAIL: %s (%.2fs)\n%s", name, d.Seconds(), indent(msg)))
	case r.opts.Verbose && !r.opts.JSON:
		fmt.Fprintf(r.opts.Out, "--- PASS: %s (%.2fs)\n", name, d.Seconds())
	}
	r.end(file, name, failed, d)
}

// indent puts four spaces before each line of msg, as go test does.
func indent(msg string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}
