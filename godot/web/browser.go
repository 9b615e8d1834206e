package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// FindChromium returns the path of a Chromium binary on PATH ("chromium",
// Debian's package, first), or an error saying how to install one.
func FindChromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found on PATH (apt-get install -y chromium)")
}

// Browser is one headless Chromium process, driven over the DevTools
// protocol (github.com/chromedp/chromedp), that opens pages in tabs. The
// zero value uses FindChromium(); call Start before use and Close after.
type Browser struct {
	// Path is the Chromium binary; "" means FindChromium().
	Path string
	// Output receives Chromium's own stdout and stderr lines (nil: dropped).
	Output func(line string)
	// IgnoreCertificateErrors makes the browser accept any TLS certificate:
	// for pages that open wss:// to a test server with a self-signed one.
	IgnoreCertificateErrors bool

	allocCancel   context.CancelFunc
	browserCtx    context.Context
	browserCancel context.CancelFunc
}

// Start launches Chromium with a fresh profile, headless, with WebGL on the
// CPU (SwiftShader) so that pages that draw can be shown and photographed,
// and without the background services that would try to reach the
// internet. ctx bounds the start only.
func (b *Browser) Start(ctx context.Context) error {
	path := b.Path
	if path == "" {
		var err error
		if path, err = FindChromium(); err != nil {
			return err
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("use-angle", "swiftshader"),
		chromedp.Flag("enable-unsafe-swiftshader", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication"),
		// Pages in background tabs must keep their frame rate: each engine
		// runs its main loop from requestAnimationFrame.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(800, 600),
	}
	if b.Output != nil {
		opts = append(opts, chromedp.CombinedOutput(lineWriter(b.Output)))
	}
	if b.IgnoreCertificateErrors {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors", true))
	}
	// The browser lives until Close, not until ctx ends.
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, browserCancel := chromedp.NewContext(allocCtx)
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(browserCtx) }()
	var err error
	select {
	case err = <-started:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		browserCancel()
		allocCancel()
		return fmt.Errorf("start %s: %w", path, err)
	}
	b.allocCancel, b.browserCtx, b.browserCancel = allocCancel, browserCtx, browserCancel
	return nil
}

// Close closes the browser (gracefully, for up to 5 s) and waits until its
// process has exited and its profile is removed.
func (b *Browser) Close() error {
	if b.browserCtx == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(b.browserCtx, 5*time.Second)
	err := chromedp.Cancel(ctx)
	cancel()
	b.browserCancel()
	b.allocCancel() // waits for the process
	b.browserCtx = nil
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = nil // it was killed instead
	}
	return err
}

// lineWriter calls f for each complete line written to it.
type lineWriter func(string)

func (f lineWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l != "" {
			f(l)
		}
	}
	return len(p), nil
}

// Line is one line of a page's console: one print() of the engine, or a
// message of the page itself.
type Line struct {
	Text  string
	Error bool // printed as an error (push_error, printerr, engine errors)
	At    time.Time
}

// Page is a browser tab showing one URL, with its console collected.
type Page struct {
	ctx    context.Context
	cancel context.CancelFunc
	onLine func(Line)

	mu      sync.Mutex
	lines   []Line
	crashed bool
	changed chan struct{} // closed and replaced on every new line
}

// Open opens url in a new tab and returns once it has loaded (the engine
// then still starts). onLine, when not nil, is called with each console line
// as it arrives (from the browser's event loop: it must return quickly).
func (b *Browser) Open(ctx context.Context, url string, onLine func(Line)) (*Page, error) {
	return b.OpenSized(ctx, url, 0, 0, onLine)
}

// OpenSized is Open with a tab whose viewport is width x height CSS pixels
// (0 x 0: the browser window's), so that a page's screenshot is its canvas.
func (b *Browser) OpenSized(ctx context.Context, url string, width, height int, onLine func(Line)) (*Page, error) {
	if b.browserCtx == nil {
		return nil, errors.New("web: browser not started")
	}
	tabCtx, cancel := chromedp.NewContext(b.browserCtx)
	p := &Page{ctx: tabCtx, cancel: cancel, onLine: onLine, changed: make(chan struct{})}
	if err := chromedp.Listen(tabCtx, p.event); err != nil {
		cancel()
		return nil, err
	}
	nav := make(chan error, 1)
	steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(url)}
	if width > 0 && height > 0 {
		steps = append([]chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(int64(width), int64(height))}, steps...)
	}
	go func() { nav <- chromedp.Do(tabCtx, steps...) }()
	select {
	case err := <-nav:
		if err != nil {
			cancel()
			return nil, fmt.Errorf("open %s: %w", url, err)
		}
	case <-ctx.Done():
		cancel()
		<-nav
		return nil, ctx.Err()
	}
	return p, nil
}

func (p *Page) event(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, remoteString(a))
		}
		isErr := ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning
		for _, l := range strings.Split(strings.Join(parts, " "), "\n") {
			p.add(Line{Text: l, Error: isErr, At: time.Now()})
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		p.add(Line{Text: "page: uncaught exception: " + text, Error: true, At: time.Now()})
	case *inspector.EventTargetCrashed:
		p.mu.Lock()
		p.crashed = true
		p.mu.Unlock()
		p.add(Line{Text: "page: the tab crashed", Error: true, At: time.Now()})
	}
}

// remoteString is a console argument as the console would show it.
func remoteString(o *runtime.RemoteObject) string {
	if len(o.Value) > 0 {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
		return string(o.Value)
	}
	if o.UnserializableValue != "" {
		return string(o.UnserializableValue)
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Type)
}

func (p *Page) add(l Line) {
	p.mu.Lock()
	p.lines = append(p.lines, l)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	if p.onLine != nil {
		p.onLine(l)
	}
}

// Lines returns the console lines so far.
func (p *Page) Lines() []Line {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Line(nil), p.lines...)
}

// ErrCrashed is returned by waits on a page whose tab crashed.
var ErrCrashed = errors.New("web: the page crashed")

// WaitLine waits for the first console line at index from or later for which
// match is true, and returns its index; it fails when ctx ends or the tab
// crashes.
func (p *Page) WaitLine(ctx context.Context, from int, match func(Line) bool) (int, Line, error) {
	for {
		p.mu.Lock()
		for i := from; i < len(p.lines); i++ {
			if match(p.lines[i]) {
				l := p.lines[i]
				p.mu.Unlock()
				return i, l, nil
			}
		}
		if from < len(p.lines) {
			from = len(p.lines)
		}
		crashed, changed := p.crashed, p.changed
		p.mu.Unlock()
		if crashed {
			return -1, Line{}, ErrCrashed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return -1, Line{}, ctx.Err()
		}
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its JSON
// value into out (nil to ignore it).
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	raw, err := runIn(ctx, p.ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// Screenshot returns a PNG of the tab's viewport.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	return runIn(ctx, p.ctx, chromedp.CaptureScreenshot())
}

// KeyDown presses a key on the page, as a keyboard does, and holds it until
// KeyUp: key is one character or one of the keys of
// github.com/chromedp/chromedp/kb (kb.ArrowRight, ...). The page's focused
// element gets the events (the engine's canvas, when the page focuses it).
func (p *Page) KeyDown(ctx context.Context, key string) error {
	return p.key(ctx, key, true)
}

// KeyUp releases a key pressed with KeyDown.
func (p *Page) KeyUp(ctx context.Context, key string) error {
	return p.key(ctx, key, false)
}

func (p *Page) key(ctx context.Context, key string, down bool) error {
	r := []rune(key)
	if len(r) != 1 {
		return fmt.Errorf("web: %q is not one key", key)
	}
	_, err := runIn(ctx, p.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, ev := range kb.Encode(r[0]) {
			if (ev.Type == kb.KeyUp) == down {
				continue
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, *ev); err != nil {
				return err
			}
		}
		return nil
	}))
	return err
}

// Close closes the tab.
func (p *Page) Close() {
	p.cancel()
}

// runIn runs a on the tab of tabCtx, giving up when ctx ends (the action
// itself runs under tabCtx, which must outlive it).
func runIn[T any](ctx context.Context, tabCtx context.Context, a chromedp.Action[T]) (T, error) {
	actx, cancel := context.WithCancel(tabCtx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	v, err := chromedp.Run(actx, a)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return v, err
}

// pid is the browser process's id, or 0.
func (b *Browser) pid() int {
	if b.browserCtx == nil {
		return 0
	}
	c := chromedp.FromContext(b.browserCtx)
	if c == nil || c.Browser == nil || c.Browser.Process() == nil {
		return 0
	}
	return c.Browser.Process().Pid
}
