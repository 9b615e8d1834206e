//go:build linux

package web

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// checkNoLeak fails if goroutines of this package, chromedp or net/http's
// server are still running (polling until a deadline for them to end).
func checkNoLeak(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		leaked := harnessGoroutines()
		if leaked == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left running:\n%s", leaked)
		}
		time.Sleep(20 * time.Millisecond) // polling for goroutine exit, not synchronising the test
	}
}

func harnessGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "chromedp") || strings.Contains(g, "godot/web.") || strings.Contains(g, "net/http.(*Server)") || strings.Contains(g, "os/exec") {
			if !strings.Contains(g, "checkNoLeak") && !strings.Contains(g, "testing.tRunner") {
				out = append(out, g)
			}
		}
	}
	return strings.Join(out, "\n\n")
}

// processAlive reports whether pid runs (and is not a zombie).
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat))
	return len(f) > 2 && f[2] != "Z"
}

// Close ends every goroutine the engine started and the browser process.
func TestEngineCloseLeavesNothing(t *testing.T) {
	SkipUnlessAvailable(t)
	e := &Engine{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var p Pack
	p.Add("t/node_test.gd", []byte("extends Node\nvar done = true\nvar h = null\n"))
	if err := p.AddRunner([]Step{{Script: "res://t/node_test.gd", Kind: StepNode}}, nil); err != nil {
		t.Fatal(err)
	}
	page, err := e.Open(ctx, &p, PageConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := page.WaitLine(ctx, 0, func(l Line) bool { return strings.HasPrefix(l.Text, "gdrun: done") }); err != nil {
		t.Fatal(err)
	}
	pid := e.browser.pid()
	if pid <= 0 {
		t.Fatal("no browser process")
	}
	page.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if processAlive(pid) {
		t.Errorf("the browser process %d still runs", pid)
	}
	checkNoLeak(t)
}
