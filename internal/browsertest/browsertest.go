// Package browsertest drives Debian's headless Chromium (with chromedp) for
// tests of pages a person looks at: the operator's dashboard, web exports.
package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium returns the path of Debian's chromium, or skips the test (fails
// it with RELAY_REQUIRE_BROWSER=1) when it is not installed.
func Chromium(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("RELAY_REQUIRE_BROWSER") == "1" {
			t.Fatalf("RELAY_REQUIRE_BROWSER=1 but chromium is not installed: %v", err)
		}
		t.Skip("chromium is not installed (apt-get install -y chromium); RELAY_REQUIRE_BROWSER=1 makes this a failure")
	}
	return path
}

// Browser is a headless Chromium tab with a 1280x800 viewport that records
// the page's uncaught exceptions and console errors.
type Browser struct {
	t      testing.TB
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// Context is the tab's context, for chromedp calls of the test's own.
func (b *Browser) Context() context.Context { return b.ctx }

// Errors returns what the page reported: uncaught exceptions, console
// errors, failed loads.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

func New(t *testing.T) *Browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium(t)),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Without these Chromium tries to reach the internet.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc() // kills the browser and waits for it
	})
	b := &Browser{t: t, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				msg = "console.error"
				for _, a := range ev.Args {
					msg += " " + string(a.Value)
				}
			}
		case *cdplog.EventEntryAdded:
			// Failed loads and Content Security Policy violations; the
			// API's deliberate 401 for the wrong token is expected.
			if ev.Entry.Level == cdplog.EntryLevelError && !strings.Contains(ev.Entry.Text, "401") {
				msg = "log: " + ev.Entry.Text + " " + ev.Entry.URL
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b.Run("viewport", chromedp.EmulateViewport(1280, 800))
	return b
}

func (b *Browser) Run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Wait polls the JavaScript expression until it is true, for up to 10 s.
func (b *Browser) Wait(what, expr string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		b.t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// WaitText waits until the element sel shows exactly want, and reports
// what it showed instead if it never does.
func (b *Browser) WaitText(sel, want string) {
	b.t.Helper()
	expr := fmt.Sprintf(`(document.querySelector(%q) || {}).textContent === %q`, sel, want)
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		shown, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`String((document.querySelector(%q) || {}).textContent)`, sel)))
		b.t.Fatalf("%s shows %q, want %q (%v)", sel, shown, want, err)
	}
}

// Click clicks the element sel in one step of the page's own JavaScript:
// chromedp.Click finds the node first and clicks it later, which fails on
// a page that redraws the element in between (a table refreshed by a poll).
func (b *Browser) Click(sel string) {
	b.t.Helper()
	if !b.IsTrue(fmt.Sprintf(`(e => { if (!e) return false; e.click(); return true; })(document.querySelector(%q))`, sel)) {
		b.t.Fatalf("click %s: no such element", sel)
	}
}

// Clear empties an input. (chromedp's SetValue with "" reports a failure,
// as it reads the value back as "no value".)
func (b *Browser) Clear(sel string) {
	b.t.Helper()
	if !b.IsTrue(fmt.Sprintf(`(e => { e.value = ""; return true; })(document.querySelector(%q))`, sel)) {
		b.t.Fatalf("clearing %s failed", sel)
	}
}

// IsTrue evaluates a JavaScript expression that yields a boolean.
func (b *Browser) IsTrue(expr string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// Screenshot saves the viewport as a PNG in the test's artifact directory.
func (b *Browser) Screenshot(t *testing.T, name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != 1280 || sz.Y != 800 {
		b.t.Errorf("screenshot is %dx%d, want 1280x800", sz.X, sz.Y)
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}
