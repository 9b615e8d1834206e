package enginetest

// The GDScript tests in Godot 4.6: the official web export template in
// headless Chromium (godot/web), since no Godot 4 binary installs here. A
// web build has no UDP, so what runs here is every test that needs no UDP
// socket, a load (parse and compile) of every addon script and every test
// script, and the WebSocket link's tests; the KCP paths run in Godot 3.2
// (godot_test.go). Without Chromium or the engine's npm package the tests
// skip, unless RELAY_REQUIRE_GODOT=1 makes that a failure.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/godot/web"
)

var (
	webOnce   sync.Once
	webEngine *web.Engine
	webErr    error
)

// sharedWebEngine is one browser and server for all the web tests of the
// package (starting them costs about a second); TestMain closes it.
func sharedWebEngine(t *testing.T) *web.Engine {
	t.Helper()
	web.SkipUnlessAvailable(t)
	webOnce.Do(func() {
		// The pages talk to servers of the tests only, on 127.0.0.1, and
		// one serves wss:// with a self-signed certificate.
		e := &web.Engine{IgnoreCertificateErrors: true}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if webErr = e.Start(ctx); webErr == nil {
			webEngine = e
		}
	})
	if webErr != nil {
		t.Fatalf("start the web engine: %v", webErr)
	}
	return webEngine
}

func TestMain(m *testing.M) {
	code := m.Run()
	if webEngine != nil {
		if err := webEngine.Close(); err != nil && code == 0 {
			os.Stderr.WriteString("close the web engine: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// addonPack is a pack with the addon at res://addons and the GDScript tests
// at res://tests, as the Godot 3 project of godot_test.go has them.
func addonPack(t *testing.T) *web.Pack {
	t.Helper()
	godotDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	p := &web.Pack{}
	for _, dir := range []string{"addons", "tests"} {
		if err := p.AddFS(os.DirFS(godotDir), dir, dir, nil); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// scriptsIn lists the .gd files of the pack under dir, as res:// paths.
func scriptsIn(p *web.Pack, dir string) []string {
	var out []string
	for _, n := range p.Names() {
		if strings.HasPrefix(n, dir+"/") && strings.HasSuffix(n, ".gd") {
			out = append(out, "res://"+n)
		}
	}
	sort.Strings(out)
	return out
}

// runWebPlan runs plan on a pack and reports each step as a subtest (with
// the step's output when it failed); the whole run fails on a script error.
func runWebPlan(t *testing.T, p *web.Pack, plan []web.Step, timeout time.Duration) *web.Result {
	t.Helper()
	return runWebPlanWith(t, p, plan, nil, timeout)
}

// runWebPlanWith is runWebPlan with extra project settings (see AddRunner).
func runWebPlanWith(t *testing.T, p *web.Pack, plan []web.Step, settings map[string]map[string]string, timeout time.Duration) *web.Result {
	t.Helper()
	return startWebPlan(t, p, plan, settings, timeout).wait()
}

// webRun is a runner pack running on a page while the Go test goes on (the
// end-to-end tests drive Go clients alongside it).
type webRun struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{} // closed when the run has ended
	res    *web.Result   // set before done is closed
	err    error

	mu      sync.Mutex
	lines   []string      // the console so far
	newLine chan struct{} // closed (and replaced) at each line
}

// startWebPlan starts plan on a pack in the shared engine; wait() collects
// it. The page is closed after timeout, and when the test ends.
func startWebPlan(t *testing.T, p *web.Pack, plan []web.Step, settings map[string]map[string]string, timeout time.Duration) *webRun {
	t.Helper()
	e := sharedWebEngine(t)
	if err := p.AddRunner(plan, settings); err != nil {
		t.Fatal(err)
	}
	if err := p.AddClassCache(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	r := &webRun{t: t, cancel: cancel, done: make(chan struct{}), newLine: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.res, r.err = e.RunPack(ctx, p, web.PageConfig{}, func(l web.Line) {
			r.mu.Lock()
			r.lines = append(r.lines, l.Text)
			close(r.newLine)
			r.newLine = make(chan struct{})
			r.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// Done is closed when the run has ended.
func (r *webRun) Done() <-chan struct{} { return r.done }

// waitLine waits until the page has printed a line containing s (or the
// run ended, or ctx did) and returns it.
func (r *webRun) waitLine(ctx context.Context, s string) (string, error) {
	for {
		r.mu.Lock()
		for _, l := range r.lines {
			if strings.Contains(l, s) {
				r.mu.Unlock()
				return l, nil
			}
		}
		next := r.newLine
		r.mu.Unlock()
		select {
		case <-next:
		case <-r.done:
			return "", fmt.Errorf("the page ended without printing %q", s)
		case <-ctx.Done():
			return "", fmt.Errorf("no line %q: %w", s, ctx.Err())
		}
	}
}

// output is what the page printed so far.
func (r *webRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// failer returns a Fatalf for t that first reports the run's own result
// (and output) if it has ended, and otherwise appends the page's output so
// far.
func (r *webRun) failer(t *testing.T) func(format string, args ...any) {
	return func(format string, args ...any) {
		t.Helper()
		select {
		case <-r.Done():
			r.report() // with the page's output
			t.Fatalf(format, args...)
		default:
		}
		t.Fatalf(format+"\nGodot 4.6 (web) output so far:\n%s", append(args, filterNoise(r.output()))...)
	}
}

// wait waits for the run to end and reports each step as a subtest (with
// the step's output when it failed); the whole run fails on a script error.
func (r *webRun) wait() *web.Result {
	r.t.Helper()
	<-r.done
	defer r.cancel()
	return r.report()
}

func (r *webRun) report() *web.Result {
	t := r.t
	t.Helper()
	res, err := r.res, r.err
	if res != nil {
		var out strings.Builder
		for _, l := range res.Output {
			out.WriteString(l.Text + "\n")
		}
		t.Logf("Godot 4.6 (web) output, %v:\n%s", res.Duration.Round(time.Millisecond), filterNoise(out.String()))
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		name := strings.TrimPrefix(s.Script, "res://")
		if s.Passed < 0 {
			name = "load " + name
		}
		t.Run(name, func(t *testing.T) {
			if !s.OK {
				t.Errorf("%s: passed %d, failed %d\n%s", s.Script, s.Passed, s.Failed, filterNoise(strings.Join(s.Output, "\n")))
			}
		})
	}
	if len(res.ScriptErrors) > 0 {
		t.Errorf("GDScript errors:\n%s", strings.Join(res.ScriptErrors, "\n"))
	}
	if !res.OK() {
		t.Errorf("the run failed: %d of %d steps", res.FailedSteps, len(res.Steps))
	}
	return res
}

// TestGodot46 loads every addon script (plugin.gd aside: an EditorPlugin
// needs the editor), every test script and the demo's script in the Godot
// 4.6 web engine, then runs every GDScript test that needs no UDP socket,
// and the WebSocket link's tests.
func TestGodot46(t *testing.T) {
	t.Parallel()
	p := addonPack(t)
	if err := p.AddFS(os.DirFS(filepath.Join("..", "demo")), ".", "demo", func(rel string, d os.DirEntry) bool {
		return rel == "addons" || (!d.IsDir() && !strings.HasSuffix(rel, ".gd"))
	}); err != nil {
		t.Fatal(err)
	}
	var plan []web.Step
	for _, s := range append(append(scriptsIn(p, "addons"), scriptsIn(p, "tests")...), scriptsIn(p, "demo")...) {
		if strings.HasSuffix(s, "/plugin.gd") {
			continue
		}
		plan = append(plan, web.Step{Script: s, Kind: web.StepLoad})
	}
	// The data files the vector tests read, put in the pack.
	if err := p.Add("data/vectors.txt", []byte(makeVectors(t))); err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	p.Add("data/values.txt", golden)
	_, expect, _, _ := protocolExpectations(t)
	messages, err := os.ReadFile(messagesPath)
	if err != nil {
		t.Fatal(err)
	}
	p.Add("data/messages.txt", messages)
	p.Add("data/expect.txt", []byte(expect))
	tree := func(script string, args ...string) web.Step {
		s := web.Step{Script: "res://tests/" + script, Args: map[string]string{}}
		for _, a := range args {
			k, v, _ := strings.Cut(a, "=")
			s.Args[k] = v
		}
		return s
	}
	plan = append(plan,
		tree("msgpack_unit_test.gd"),
		tree("msgpack_vectors_test.gd", "vectors=res://data/vectors.txt"),
		tree("msgpack_vectors_test.gd", "vectors=res://data/values.txt"),
		tree("protocol_unit_test.gd"),
		tree("protocol_vectors_test.gd", "messages=res://data/messages.txt", "expect=res://data/expect.txt", "seed=5"),
		tree("kcp_self_test.gd", "seed=7"),
		tree("interpolation_test.gd"),
		tree("client_unit_test.gd"),
		tree("meeting_unit_test.gd"),
		tree("multiplayer_peer_unit_test.gd"),
		tree("websocket_link_test.gd"),
	)
	// The demo's script names the Relay autoload.
	autoload := map[string]map[string]string{"autoload": {"Relay": `"*res://addons/tickrelay/relay_node.gd"`}}
	runWebPlanWith(t, p, plan, autoload, 4*time.Minute)
}
