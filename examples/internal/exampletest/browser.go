package exampletest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/luaws/luaws/engine/enginetest"
)

// RequireChromiumEnv names the environment variable that turns a missing
// Chromium from a skip into a failure; .ci/run sets it to 1.
const RequireChromiumEnv = "LUAWS_REQUIRE_CHROMIUM"

// pollInterval is how often a wait re-evaluates its condition in the page.
const pollInterval = 100 * time.Millisecond

// Browser is a headless Chromium for one test, driven through chromedp.
// Everything it does ends by its deadline, so a browser test stays bounded
// in time. Use it from the test goroutine.
type Browser struct {
	t        *testing.T
	ctx      context.Context // the browser's first tab; parent of every Tab
	deadline time.Time

	mu        sync.Mutex
	artifacts string // folder for failure screenshots, made on first need
}

// NewBrowser starts a headless Chromium (a fresh profile in t.TempDir())
// that lives for budget at most, and closes it in t.Cleanup. Without
// Chromium on the machine the test is skipped with a hint, or fails when
// LUAWS_REQUIRE_CHROMIUM=1.
func NewBrowser(t *testing.T, budget time.Duration) *Browser {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		if os.Getenv(RequireChromiumEnv) == "1" {
			t.Fatalf("browser test: %v, and %s=1 requires it: apt-get install chromium", err, RequireChromiumEnv)
		}
		t.Skipf("browser test skipped: %v; install it with `apt-get install chromium`", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 700),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully, then make sure it is gone before
		// t.TempDir (its profile) is removed.
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		defer ccancel()
		_ = chromedp.Cancel(cctx)
		cancel()
		cancelAlloc()
	})
	start := time.Now()
	// The first Run starts the browser; it must not have a timeout of its
	// own (that would stop the browser), so bound it from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start chromium %s: %v", path, err)
		}
	case <-time.After(budget):
		t.Fatalf("chromium %s did not start within %v", path, budget)
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))
	return &Browser{t: t, ctx: ctx, deadline: start.Add(budget)}
}

// chromiumPath finds Chromium on PATH.
func chromiumPath() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found on PATH")
}

// artifactDir returns the folder for failure screenshots, making it on
// first use. It is not under t.TempDir, so it outlives the test.
func (b *Browser) artifactDir() (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.artifacts == "" {
		name := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(b.t.Name(), "_")
		dir, err := os.MkdirTemp("", "luaws-"+name+"-")
		if err != nil {
			return "", err
		}
		b.artifacts = dir
	}
	return b.artifacts, nil
}

// Tab is one browser tab. Its methods fail the test on error or timeout.
type Tab struct {
	b       *Browser
	name    string
	ctx     context.Context
	console enginetest.Buffer // console output and uncaught exceptions
}

// Tab opens a new tab; name is used in failure messages and artifact file
// names. When the test fails, the tab's screenshot, HTML and console log
// are saved to a temporary folder whose path is logged.
func (b *Browser) Tab(name string) *Tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tab := &Tab{b: b, name: name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		cancel()
		b.t.Fatalf("open tab %s: %v", name, err)
	}
	go tab.record()
	b.t.Cleanup(cancel)
	b.t.Cleanup(tab.saveIfFailed) // runs before cancel
	return tab
}

// do runs steps, bounded by the browser's deadline.
func (tab *Tab) do(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithDeadline(tab.ctx, tab.b.deadline)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// record copies the tab's console and uncaught exceptions into tab.console.
func (tab *Tab) record() {
	exceptions := chromedp.Events(tab.ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text = d.Exception.Description
			}
			fmt.Fprintf(&tab.console, "uncaught %s:%d: %s\n", d.URL, d.LineNumber+1, text)
		}
	}()
	for ev, err := range chromedp.Events(tab.ctx, runtime.ConsoleAPICalled) {
		if err != nil {
			return
		}
		args := make([]string, 0, len(ev.Args))
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		fmt.Fprintf(&tab.console, "console.%s: %s\n", ev.Type, strings.Join(args, " "))
	}
}

// saveIfFailed saves the tab's screenshot, HTML and console when the test
// has failed.
func (tab *Tab) saveIfFailed() {
	t := tab.b.t
	if !t.Failed() {
		return
	}
	dir, err := tab.b.artifactDir()
	if err != nil {
		t.Logf("tab %s: no folder for the screenshot: %v", tab.name, err)
		return
	}
	ctx, cancel := context.WithTimeout(tab.ctx, 10*time.Second)
	defer cancel()
	base := filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(tab.name, "_"))
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(base+".png", png, 0o644)
	} else {
		t.Logf("tab %s: screenshot: %v", tab.name, err)
	}
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err == nil {
		_ = os.WriteFile(base+".html", []byte(html), 0o644)
	}
	_ = os.WriteFile(base+"-console.txt", []byte(tab.console.String()), 0o644)
	t.Logf("tab %s: screenshot, HTML and console saved in %s", tab.name, dir)
}

// Screenshot returns a PNG of what the tab shows.
func (tab *Tab) Screenshot() []byte {
	tab.b.t.Helper()
	ctx, cancel := context.WithDeadline(tab.ctx, tab.b.deadline)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tab.b.t.Fatalf("tab %s: screenshot: %v", tab.name, err)
	}
	return png
}

// Open navigates the tab to url and waits for the page to load.
func (tab *Tab) Open(url string) {
	tab.b.t.Helper()
	if err := tab.do(chromedp.Navigate(url)); err != nil {
		tab.b.t.Fatalf("tab %s: open %s: %v", tab.name, url, err)
	}
}

// Fill sets the value of the input with the given id.
func (tab *Tab) Fill(id, value string) {
	tab.b.t.Helper()
	if err := tab.do(chromedp.SetValue(chromedp.ID(id), value)); err != nil {
		tab.b.t.Fatalf("tab %s: fill #%s: %v", tab.name, id, err)
	}
}

// Click clicks the element with the given id, once it is visible.
func (tab *Tab) Click(id string) {
	tab.b.t.Helper()
	if err := tab.do(chromedp.WaitVisible(chromedp.ID(id)), chromedp.Click(chromedp.ID(id))); err != nil {
		tab.b.t.Fatalf("tab %s: click #%s: %v", tab.name, id, err)
	}
}

// Eval evaluates a JavaScript expression in tab and decodes its JSON value.
func Eval[T any](tab *Tab, expr string) T {
	tab.b.t.Helper()
	ctx, cancel := context.WithDeadline(tab.ctx, tab.b.deadline)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tab.b.t.Fatalf("tab %s: eval %s: %v", tab.name, expr, err)
	}
	return v
}

// WaitFor polls the JavaScript expression until it is truthy, up to the
// browser's deadline; what says what is awaited, for the failure message.
func (tab *Tab) WaitFor(what, expr string) {
	tab.b.t.Helper()
	check := fmt.Sprintf(`(() => { try { return !!(%s); } catch (e) { return false; } })()`, expr)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	last := "never evaluated"
	for {
		ctx, cancel := context.WithDeadline(tab.ctx, tab.b.deadline)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](check))
		cancel()
		switch {
		case err == nil && ok:
			return
		case err == nil:
			last = "still false"
		case ctx.Err() == nil:
			last = err.Error()
		}
		if time.Now().After(tab.b.deadline) {
			tab.b.t.Fatalf("tab %s: gave up waiting for %s at the test's deadline (last check: %s)", tab.name, what, last)
		}
		<-tick.C
	}
}

// WaitText waits until the text of the element with the given id contains text.
func (tab *Tab) WaitText(id, text string) {
	tab.b.t.Helper()
	tab.WaitFor(fmt.Sprintf("#%s to contain %q", id, text),
		fmt.Sprintf(`document.getElementById(%s).textContent.includes(%s)`, jsString(id), jsString(text)))
}

// Text returns the text of the element with the given id.
func (tab *Tab) Text(id string) string {
	tab.b.t.Helper()
	return Eval[string](tab, fmt.Sprintf(`document.getElementById(%s).textContent`, jsString(id)))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
