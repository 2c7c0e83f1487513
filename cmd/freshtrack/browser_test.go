package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The web app is tested in a real headless Chromium (Debian's chromium
// package) driven through the DevTools protocol by chromedp.

var chromium struct {
	once sync.Once
	path string
	err  error
}

// chromiumPath finds Chromium, installing Debian's package when it is
// missing and this test may (root with apt-get). Without one the browser
// tests skip, unless TEST_BROWSER_REQUIRED=1 (CI) makes that a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	chromium.once.Do(func() {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				chromium.path = p
				return
			}
		}
		if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
			chromium.err = fmt.Errorf("no chromium on PATH (install Debian's chromium package)")
			return
		}
		out, err := exec.Command("sh", "-c", "apt-get install -y -qq chromium || (apt-get update -qq && apt-get install -y -qq chromium)").CombinedOutput()
		if err != nil {
			chromium.err = fmt.Errorf("apt-get install chromium: %v\n%s", err, out)
			return
		}
		chromium.path, chromium.err = exec.LookPath("chromium")
	})
	if chromium.err != nil {
		if os.Getenv("TEST_BROWSER_REQUIRED") == "1" {
			t.Fatalf("browser tests need Chromium: %v", chromium.err)
		}
		t.Skipf("browser tests skipped: %v (TEST_BROWSER_REQUIRED=1 makes this a failure)", chromium.err)
	}
	return chromium.path
}

// browser is one Chromium with its own profile; tabs share its cookies.
type browser struct {
	t   *testing.T
	ctx context.Context
	js  *jsErrors
}

// jsErrors collects what the browser's tabs raised.
type jsErrors struct {
	mu   sync.Mutex
	list []string
}

// in returns the browser for a subtest: failures end the subtest.
func (b *browser) in(t *testing.T) *browser { return &browser{t: t, ctx: b.ctx, js: b.js} }

func newBrowser(t *testing.T) *browser {
	t.Helper()
	return newBrowserWith(t)
}

// newBrowserWith is newBrowser with more Chromium options.
func newBrowserWith(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, js: &jsErrors{}}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if errs := b.jsErrors(); len(errs) > 0 {
			t.Errorf("the pages raised JavaScript errors:\n%s", strings.Join(errs, "\n"))
		}
	})
	return b
}

// watch records a tab's uncaught exceptions, console.error calls and
// Content-Security-Policy violations (not the browser's own log of refused
// requests, which some tests provoke).
func (b *browser) watch(ctx context.Context) {
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			csp := strings.Contains(m.Text, "Content Security Policy")
			if m.Type != chromedp.ConsoleException && !(m.Type == chromedp.ConsoleError && len(m.Args) > 0) && !csp {
				continue
			}
			b.js.mu.Lock()
			b.js.list = append(b.js.list, fmt.Sprintf("%s: %s %s", m.Type, m.Text, m.URL))
			b.js.mu.Unlock()
		}
	}()
}

func (b *browser) jsErrors() []string {
	b.js.mu.Lock()
	defer b.js.mu.Unlock()
	return append([]string(nil), b.js.list...)
}

// tab opens a new tab of the browser (same cookies), closed at cleanup.
func (b *browser) tab() context.Context {
	ctx, cancel := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a tab: %v", err)
	}
	b.watch(ctx)
	b.t.Cleanup(cancel)
	return ctx
}

// run runs steps with a deadline and fails the test with what the page
// shows when they do not succeed.
func (b *browser) run(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(rctx, steps...); err != nil {
		sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
		url, _ := chromedp.Run(sctx, chromedp.Location())
		text, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 1500) : ''`))
		scancel()
		b.t.Fatalf("%s: %v\nat %s, the page shows:\n%s\nJavaScript errors: %v", what, err, url, text, b.jsErrors())
	}
}

// value runs one action that returns a value, failing the test on error.
func value[T any](b *browser, ctx context.Context, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	var v T
	b.run(ctx, what, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var err error
		v, err = a(ctx, t)
		return chromedp.Void{}, err
	})
	return v
}

// js evaluates a JavaScript expression, awaiting a promise.
func js[T any](expr string) chromedp.Action[T] {
	return chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise)
}

// waitJS waits until a JavaScript condition holds. It evaluates the
// condition again and again rather than with chromedp.Poll, which ends
// with an error when a navigation replaces the page meanwhile.
func waitJS(cond string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	eval := chromedp.Evaluate[bool](`(() => { try { return !!(` + cond + `); } catch (e) { return false; } })()`)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(timeout)
		var last error
		for {
			ok, err := eval(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if err != nil {
				last = err
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				return chromedp.Void{}, fmt.Errorf("waited %v for %s (last error: %v)", timeout, cond, last)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
}

// do runs a JavaScript statement.
func do(stmt string) chromedp.Action[chromedp.Void] {
	eval := chromedp.Evaluate[chromedp.Void](`(() => { ` + stmt + ` })()`)
	return eval
}

// screenshot saves a full-page PNG to TEST_SCREENSHOT_DIR (default: a
// freshtrack-screenshots folder in the temporary directory).
func screenshot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		dir := os.Getenv("TEST_SCREENSHOT_DIR")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "freshtrack-screenshots")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return chromedp.Void{}, err
		}
		png, err := chromedp.FullScreenshot(100)(ctx, target)
		if err != nil {
			return chromedp.Void{}, err
		}
		path := filepath.Join(dir, name+".png")
		t.Logf("screenshot: %s", path)
		return chromedp.Void{}, os.WriteFile(path, png, 0o644)
	}
}

// phone sets a 360-px-wide viewport (a small Android phone).
func phone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(360, 760, chromedp.EmulateScale(2), chromedp.EmulateMobile)
}

// desktop clears the viewport override.
func desktop() chromedp.Action[chromedp.Void] { return chromedp.ResetViewport() }

// signIn signs in with the development issuer's one-click persona button
// from wherever path sends an anonymous visitor, and waits until the
// browser is back on a page of the app.
func (b *browser) signIn(ctx context.Context, base, path, role string) {
	b.t.Helper()
	b.run(ctx, "sign in as "+role,
		chromedp.Navigate(base+path),
		chromedp.WaitVisible(chromedp.CSS(`a[data-role="`+role+`"]`)),
		chromedp.Click(chromedp.CSS(`a[data-role="`+role+`"]`)),
		waitJS(`!location.pathname.startsWith('/signin') && !location.pathname.startsWith('/auth') && document.readyState === 'complete'`, 15*time.Second),
	)
}
