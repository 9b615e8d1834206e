package web

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Engine runs packs in the Godot 4.6 web engine: a Server for the engine's
// files and the pages, and a headless Browser that opens them. The zero
// value finds both on its own; Start before use, Close after. One Engine
// can run many pages, one after another or at once.
type Engine struct {
	// EngineDir holds index.js and index.wasm; "" means DefaultEngineDir().
	EngineDir string
	// Chromium is the browser binary; "" means FindChromium().
	Chromium string
	// BrowserOutput receives Chromium's own output lines (nil: dropped).
	BrowserOutput func(line string)
	// IgnoreCertificateErrors: see Browser.
	IgnoreCertificateErrors bool

	server  Server
	browser Browser
}

// Start starts the server and the browser; ctx bounds the start.
func (e *Engine) Start(ctx context.Context) error {
	e.server.EngineDir = e.EngineDir
	if err := e.server.Start(); err != nil {
		return err
	}
	e.browser.Path = e.Chromium
	e.browser.Output = e.BrowserOutput
	e.browser.IgnoreCertificateErrors = e.IgnoreCertificateErrors
	if err := e.browser.Start(ctx); err != nil {
		e.server.Close()
		return err
	}
	return nil
}

// Close closes the browser, then the server.
func (e *Engine) Close() error {
	err := e.browser.Close()
	if err2 := e.server.Close(); err == nil {
		err = err2
	}
	return err
}

// Open starts the engine with pack as its main pack in a new tab. onLine
// receives each console line as it arrives (see Browser.Open). Close the
// page when done.
func (e *Engine) Open(ctx context.Context, pack *Pack, cfg PageConfig, onLine func(Line)) (*Page, error) {
	url, err := e.server.AddPage(cfg, pack.Bytes())
	if err != nil {
		return nil, err
	}
	// A page that draws gets a viewport of its canvas's size: its
	// screenshot is what the game shows.
	w, h := 0, 0
	if cfg.Render {
		w, h = cfg.size()
	}
	p, err := e.browser.OpenSized(ctx, url, w, h, onLine)
	if err != nil {
		e.server.RemovePage(url)
		return nil, err
	}
	// The engine fetches the pack once while it starts; the page keeps it
	// until it closes.
	prev := p.cancel
	p.cancel = func() {
		prev()
		e.server.RemovePage(url)
	}
	return p, nil
}

// StepResult is what the runner printed about one step.
type StepResult struct {
	Script   string
	Loaded   bool // a load step: the script parsed and compiled
	OK       bool // exit 0: passed > 0 and failed == 0 (or loaded)
	Passed   int  // checks, as the harness counted them (-1: unknown)
	Failed   int
	Duration time.Duration
	Output   []string // the lines between begin and end
}

// Result is a runner pack's run.
type Result struct {
	Steps []StepResult
	// Done is true when the runner said it finished; FailedSteps is what it
	// counted.
	Done        bool
	FailedSteps int
	// ScriptErrors are the lines that report a GDScript error (a parse
	// error, or "SCRIPT ERROR" from the engine): any fails the run.
	ScriptErrors []string
	Output       []Line
	Duration     time.Duration
}

// OK is true when the runner finished, every step passed, and no script
// error was printed.
func (r *Result) OK() bool {
	if !r.Done || r.FailedSteps != 0 || len(r.ScriptErrors) != 0 {
		return false
	}
	for _, s := range r.Steps {
		if !s.OK {
			return false
		}
	}
	return len(r.Steps) > 0
}

// IsScriptError tells a line that reports a GDScript error.
func IsScriptError(l string) bool {
	return strings.Contains(l, "SCRIPT ERROR") || strings.Contains(l, "Parse Error")
}

// RunPack runs a pack made with AddRunner on a new page until the runner
// says it is done, and returns what it printed. It returns an error (with
// the result so far) if ctx ends or the tab crashes first.
func (e *Engine) RunPack(ctx context.Context, pack *Pack, cfg PageConfig, onLine func(Line)) (*Result, error) {
	start := time.Now()
	p, err := e.Open(ctx, pack, cfg, onLine)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	// The end: the runner's last line, or the engine gone without it (it
	// did not start, quit early, or crashed).
	_, last, err := p.WaitLine(ctx, 0, func(l Line) bool {
		for _, end := range []string{"gdrun: done ", "gdrun: the engine did not start", "gdrun: engine exited", "page: "} {
			if strings.HasPrefix(l.Text, end) {
				return true
			}
		}
		return false
	})
	res := ParseRun(p.Lines())
	res.Duration = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("the runner did not finish: %w", err)
	}
	if !res.Done {
		return res, fmt.Errorf("the runner did not finish: %s", last.Text)
	}
	return res, nil
}

var (
	beginRE = regexp.MustCompile(`^gdrun: begin (\S+)$`)
	endRE   = regexp.MustCompile(`^gdrun: end (\S+) exit=(\d+) passed=(-?\d+) failed=(-?\d+) ms=(\d+)$`)
	loadRE  = regexp.MustCompile(`^gdrun: load (\S+) (ok|failed)$`)
	doneRE  = regexp.MustCompile(`^gdrun: done (\d+)$`)
)

// ParseRun reads the runner's lines (see gdrun/runner.gd).
func ParseRun(lines []Line) *Result {
	res := &Result{Output: lines}
	var cur *StepResult
	for _, l := range lines {
		t := l.Text
		if IsScriptError(t) {
			res.ScriptErrors = append(res.ScriptErrors, t)
		}
		if m := beginRE.FindStringSubmatch(t); m != nil {
			res.Steps = append(res.Steps, StepResult{Script: m[1], Passed: -1, Failed: -1})
			cur = &res.Steps[len(res.Steps)-1]
			continue
		}
		if m := endRE.FindStringSubmatch(t); m != nil && cur != nil && cur.Script == m[1] {
			cur.OK = m[2] == "0"
			cur.Passed, _ = strconv.Atoi(m[3])
			cur.Failed, _ = strconv.Atoi(m[4])
			ms, _ := strconv.Atoi(m[5])
			cur.Duration = time.Duration(ms) * time.Millisecond
			cur = nil
			continue
		}
		if m := loadRE.FindStringSubmatch(t); m != nil {
			ok := m[2] == "ok"
			res.Steps = append(res.Steps, StepResult{Script: m[1], Loaded: ok, OK: ok, Passed: -1, Failed: -1})
			continue
		}
		if m := doneRE.FindStringSubmatch(t); m != nil {
			res.Done = true
			res.FailedSteps, _ = strconv.Atoi(m[1])
			continue
		}
		if cur != nil {
			cur.Output = append(cur.Output, t)
			if IsScriptError(t) {
				cur.OK = false
			}
		}
	}
	// A script error inside a step fails it even if its checks passed.
	for i := range res.Steps {
		for _, o := range res.Steps[i].Output {
			if IsScriptError(o) {
				res.Steps[i].OK = false
			}
		}
	}
	return res
}
