// Package enginetest runs the GDScript tests of godot/tests in a real Godot
// engine (Debian's godot3-server, Godot 3.2 headless: the addon's core is
// written in the syntax Godot 3.2 and 4 share). Without the engine on PATH
// the tests skip, unless RELAY_REQUIRE_GODOT=1 makes that a failure.
// GODOT_BIN overrides the binary's name or path.
package enginetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func godotBin(t *testing.T) string {
	t.Helper()
	name := os.Getenv("GODOT_BIN")
	if name == "" {
		name = "godot3-server"
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("RELAY_REQUIRE_GODOT") == "1" {
			t.Fatalf("RELAY_REQUIRE_GODOT=1 but %s is not available: %v (apt-get install -y godot3-server)", name, err)
		}
		t.Skipf("%s not found (apt-get install -y godot3-server); set RELAY_REQUIRE_GODOT=1 to fail instead", name)
	}
	return bin
}

// project makes a throwaway Godot 3 project whose res:// holds the addon and
// the tests (symlinked), so that the repository needs no project.godot of a
// particular engine version.
func project(t *testing.T) string {
	t.Helper()
	godotDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "project.godot"), []byte(projectGodot), 0o644); err != nil {
		t.Fatal(err)
	}
	// Godot 3.2 creates user://logs before user:// itself and prints an
	// error unless the user data folder exists.
	if err := os.MkdirAll(filepath.Join(dir, ".data", "godot", "app_userdata", "tickrelay-enginetest"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"addons", "tests"} {
		if err := os.Symlink(filepath.Join(godotDir, sub), filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A Godot 3 project file; the name sets the user data folder.
const projectGodot = `config_version=4

[application]

config/name="tickrelay-enginetest"
`

type result struct {
	out      string
	passed   int
	failed   int
	duration time.Duration
}

var summaryRE = regexp.MustCompile(`(?m)^gdtest: (\d+) passed, (\d+) failed$`)

// scriptErrorWriter collects the engine's output and cancels the run at the
// first script error: a GDScript error aborts the test function and leaves
// the engine's main loop running until the timeout.
type scriptErrorWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
	failed bool
}

func (w *scriptErrorWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.failed && (bytes.Contains(w.buf.Bytes(), []byte("SCRIPT ERROR")) || bytes.Contains(w.buf.Bytes(), []byte("Parse Error"))) {
		w.failed = true
		// Let the error's location line arrive before the kill.
		time.AfterFunc(200*time.Millisecond, w.cancel)
	}
	return len(p), nil
}

func (w *scriptErrorWriter) hasFailed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

func (w *scriptErrorWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// runScript runs res://tests/<script> with args after "--" and requires exit
// code 0 and a summary line with no failures.
func runScript(t *testing.T, timeout time.Duration, script string, args ...string) result {
	t.Helper()
	return startScript(t, timeout, script, args...).wait()
}

// engineRun is a GDScript test running in the engine while the Go test
// goes on (the end-to-end tests drive Go clients alongside it).
type engineRun struct {
	t       *testing.T
	script  string
	args    []string
	timeout time.Duration
	ctx     context.Context
	cancel  context.CancelFunc
	w       *scriptErrorWriter
	start   time.Time
	done    chan struct{} // closed when the engine has exited
	err     error         // the engine's exit; set before done is closed
}

// startScript starts res://tests/<script> with args after "--"; wait()
// collects it. The engine is killed after timeout, and when the test ends.
func startScript(t *testing.T, timeout time.Duration, script string, args ...string) *engineRun {
	t.Helper()
	bin := godotBin(t)
	dir := project(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	argv := append([]string{"--no-window", "--path", dir, "-s", "res://tests/" + script, "--"}, args...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Dir = dir
	// Keep the engine's user:// and editor data out of the real home.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, ".data"), "XDG_CONFIG_HOME="+filepath.Join(dir, ".config"), "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"))
	r := &engineRun{t: t, script: script, args: args, timeout: timeout, ctx: ctx, cancel: cancel, w: &scriptErrorWriter{cancel: cancel}, done: make(chan struct{})}
	cmd.Stdout = r.w
	cmd.Stderr = r.w
	cmd.WaitDelay = 2 * time.Second
	r.start = time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s: start %s: %v", script, bin, err)
	}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// Done is closed when the engine has exited.
func (r *engineRun) Done() <-chan struct{} { return r.done }

// output is what the engine printed so far.
func (r *engineRun) output() string { return r.w.String() }

// failer returns a Fatalf for t that first reports the script's own
// failure if the engine has exited, and otherwise appends its output so far.
func (r *engineRun) failer(t *testing.T) func(format string, args ...any) {
	return func(format string, args ...any) {
		t.Helper()
		select {
		case <-r.Done():
			r.wait() // reports the script's failure and output
		default:
		}
		t.Fatalf(format+"\nengine output so far:\n%s", append(args, filterNoise(r.output()))...)
	}
}

// wait waits for the engine to exit and requires exit code 0 and a summary
// line with no failures.
func (r *engineRun) wait() result {
	t := r.t
	t.Helper()
	<-r.done
	defer r.cancel()
	res := result{out: r.w.String(), duration: time.Since(r.start)}
	t.Logf("%s %s: %v\n%s", r.script, strings.Join(r.args, " "), res.duration.Round(time.Millisecond), filterNoise(res.out))
	if r.w.hasFailed() {
		t.Fatalf("%s: GDScript error (see output above)", r.script)
	}
	if errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s: timed out after %v", r.script, r.timeout)
	}
	m := summaryRE.FindStringSubmatch(res.out)
	if m == nil {
		t.Fatalf("%s: no summary line (exit: %v)", r.script, r.err)
	}
	res.passed, _ = strconv.Atoi(m[1])
	res.failed, _ = strconv.Atoi(m[2])
	if r.err != nil || res.failed != 0 || res.passed == 0 {
		t.Fatalf("%s: exit %v, %d passed, %d failed", r.script, r.err, res.passed, res.failed)
	}
	return res
}

// filterNoise drops the locale complaints Godot 3.2 prints at every start
// in a C locale, and counts the engine's "Unicode error" lines (one per
// invalid UTF-8 string the garbage tests decode) instead of listing them.
func filterNoise(out string) string {
	var keep []string
	unicodeErrors := 0
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "Unicode error:") || strings.HasPrefix(t, "Unicode parsing error") {
			unicodeErrors++
			continue
		}
		if strings.Contains(l, "Invalid locale 'C'") || strings.Contains(l, "Unsupported locale 'C'") {
			i++ // and its "At: core/translation.cpp" line
			continue
		}
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "Godot Engine v") {
			continue
		}
		keep = append(keep, l)
	}
	if unicodeErrors > 0 {
		keep = append(keep, fmt.Sprintf("(%d engine \"Unicode error\" lines for invalid UTF-8 input)", unicodeErrors))
	}
	return strings.Join(keep, "\n")
}
