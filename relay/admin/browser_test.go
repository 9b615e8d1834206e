package admin

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
func chromium(t *testing.T) string {
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

// browser is a headless Chromium tab with a 1280x800 viewport that records
// the page's uncaught exceptions and console errors.
type browser struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
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
	b := &browser{t: t, ctx: ctx}
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
	b.run("viewport", chromedp.EmulateViewport(1280, 800))
	return b
}

func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// wait polls the JavaScript expression until it is true, for up to 10 s.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		b.t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// waitText waits until the element sel shows exactly want, and reports
// what it showed instead if it never does.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	expr := fmt.Sprintf(`(document.querySelector(%q) || {}).textContent === %q`, sel, want)
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		shown, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`String((document.querySelector(%q) || {}).textContent)`, sel)))
		b.t.Fatalf("%s shows %q, want %q (%v)", sel, shown, want, err)
	}
}

// clear empties an input. (chromedp's SetValue with "" reports a failure,
// as it reads the value back as "no value".)
func (b *browser) clear(sel string) {
	b.t.Helper()
	if !b.isTrue(fmt.Sprintf(`(e => { e.value = ""; return true; })(document.querySelector(%q))`, sel)) {
		b.t.Fatalf("clearing %s failed", sel)
	}
}

// isTrue evaluates a JavaScript expression that yields a boolean.
func (b *browser) isTrue(expr string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// screenshot saves the viewport as a PNG in the test's artifact directory.
func (b *browser) screenshot(name string) {
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
	path := filepath.Join(b.t.ArtifactDir(), name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

func TestDashboardInChromium(t *testing.T) {
	relay := newFakeRelay()
	now := time.Now()
	o := testOverview()
	o.Players, o.Rooms = 1234, 2
	o.PlayersByTransport = map[string]int{"kcp": 1000, "ws": 234}
	o.Closes = map[string]uint64{"idle_timeout": 40, "kicked": 17, "server_closing": 0}
	o.Drops = map[string]uint64{"junk": 5, "rate_limited": 3}
	relay.setOverview(o)
	relay.liveTime, relay.started = true, now
	relay.inPerSec, relay.outPerSec = 512<<10, 2<<20
	relay.setRooms(testRoomsAt(now)...)
	base := startServer(t, &Handler{Relay: relay, Token: testToken})

	b := newBrowser(t)
	b.run("load the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))

	// A wrong token is refused and the page stays on the form.
	b.run("wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"),
		chromedp.Click(chromedp.CSS("#login-form button")))
	b.waitText("#login-error", "That token was refused.")
	b.clear("#token")
	b.run("right token", chromedp.SendKeys(chromedp.CSS("#token"), testToken),
		chromedp.Click(chromedp.CSS("#login-form button")),
		chromedp.WaitVisible(chromedp.CSS("#app")))

	// The numbers the relay reports are the numbers shown.
	b.waitText("#ccu", "1,234")
	b.waitText("#rooms-count", "2")
	b.waitText("#players-kcp", "1,000")
	b.waitText("#players-ws", "234")
	b.waitText("#work-p99", "3.00 ms")
	b.waitText("#late-p99", "0.40 ms")
	b.waitText("#version", "v1.2.3")
	b.waitText(`#rooms-table tr[data-room="7"] td.code`, "ABC123")
	b.waitText(`#rooms-table tr[data-room="7"] td.players`, "2 / 8")
	b.waitText(`#rooms-table tr[data-room="9"] td.mode`, "race")
	b.waitText(`#closes tr[data-reason="kicked"] td.n`, "17")
	b.waitText(`#drops tr[data-reason="junk"] td.n`, "5")
	// Rates from two polls' totals and times.
	b.waitText("#rate-out", "2.0 MiB/s")
	b.waitText("#rate-in", "512.0 KiB/s")

	// ... and follow the relay when its numbers change.
	relay.update(func(o *Overview) {
		o.Players = 1500
		o.Closes["kicked"] = 18
		o.TickWork.P99 = Millis(12500 * time.Microsecond)
	})
	b.waitText("#ccu", "1,500")
	b.waitText(`#closes tr[data-reason="kicked"] td.n`, "18")
	b.waitText("#work-p99", "12.5 ms")

	// The search box filters the room table.
	b.run("search", chromedp.SendKeys(chromedp.CSS("#room-search"), "xyz"))
	b.wait("only room 9 listed", `document.querySelectorAll("#rooms-table tbody tr").length === 1 && !!document.querySelector('#rooms-table tr[data-room="9"]')`)
	b.clear("#room-search")
	b.run("clear search", chromedp.SendKeys(chromedp.CSS("#room-search"), "a")) // "a" matches both (arena, race)
	b.wait("both rooms listed", `document.querySelectorAll("#rooms-table tbody tr").length === 2`)

	// The headline numbers and the chart fit a 1280x800 screen without
	// scrolling, and the chart has drawn both series.
	b.wait("three samples in the chart", `samples.length >= 3`)
	fits := b.isTrue(`["ccu", "rooms-count", "players-kcp", "players-ws", "work-p99", "late-p99", "overruns", "rate-in", "rate-out", "chart"]
		.every(id => { const r = document.getElementById(id).getBoundingClientRect();
			return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth; })
		&& document.documentElement.scrollWidth <= window.innerWidth`)
	if !fits {
		t.Errorf("headline numbers or chart outside the 1280x800 viewport")
	}
	// Pixels of both colours on the canvas: the lines are drawn. (A few
	// seconds of samples span a few pixels of the five-minute axis.)
	b.wait("the work (blue) and lateness (orange) lines on the chart", `(() => {
		const c = document.getElementById("chart");
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		const near = (i, r, g, b) => d[i + 3] > 200 && Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 60;
		let work = 0, late = 0;
		for (let i = 0; i < d.length; i += 4) { if (near(i, 0x25, 0x63, 0xeb)) work++; if (near(i, 0xea, 0x58, 0x0c)) late++; }
		return work >= 10 && late >= 10;
	})()`)
	b.screenshot("dashboard.png")

	// Announce.
	b.run("announce", chromedp.SendKeys(chromedp.CSS("#announce-text"), "restart at 18:00"),
		chromedp.Click(chromedp.CSS("#announce-form button")))
	b.waitText("#status", "Announcement sent.")
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := relay.waitCall(ctx, "announce restart at 18:00"); err != nil {
		t.Fatal(err)
	}

	// Room detail: its members, and kicking one.
	b.run("open room 9", chromedp.Click(chromedp.CSS(`#rooms-table tr[data-room="9"] button.details`)))
	b.wait("room dialog open", `document.getElementById("room-dialog").open`)
	b.waitText("#room-title", "Room XYZ789 (9)")
	b.waitText(`#members-table tr[data-player="13"] td:nth-child(2)`, "carol")
	b.screenshot("room-detail.png")
	b.run("kick carol", chromedp.Click(chromedp.CSS(`#members-table tr[data-player="13"] button.kick`)))
	b.wait("confirm dialog open", `document.getElementById("confirm-dialog").open`)
	b.run("confirm kick", chromedp.Click(chromedp.CSS("#confirm-ok")))
	if err := relay.waitCall(ctx, "kick 13 kicked by the operator"); err != nil {
		t.Fatal(err)
	}
	b.wait("carol gone from the members", `!document.querySelector('#members-table tr[data-player="13"]')`)
	b.run("close the dialog", chromedp.Click(chromedp.CSS("#room-dialog-close")))

	// Close room 7: confirm, with a reason of the operator's.
	b.run("close room 7", chromedp.Click(chromedp.CSS(`#rooms-table tr[data-room="7"] button.close`)))
	b.wait("confirm dialog open", `document.getElementById("confirm-dialog").open`)
	b.waitText("#confirm-title", "Close room ABC123?")
	b.clear("#confirm-reason")
	b.run("reason", chromedp.SendKeys(chromedp.CSS("#confirm-reason"), "maintenance"),
		chromedp.Click(chromedp.CSS("#confirm-ok")))
	if err := relay.waitCall(ctx, "close 7 maintenance"); err != nil {
		t.Fatal(err)
	}
	b.wait("row of room 7 gone", `!document.querySelector('#rooms-table tr[data-room="7"]')`)
	b.waitText(`#rooms-table tr[data-room="9"] td.code`, "XYZ789")
	b.screenshot("dashboard-after-close.png")

	// Cancelling a confirmation does nothing.
	b.run("close room 9, then cancel", chromedp.Click(chromedp.CSS(`#rooms-table tr[data-room="9"] button.close`)))
	b.wait("confirm dialog open", `document.getElementById("confirm-dialog").open`)
	b.run("cancel", chromedp.Click(chromedp.CSS("#confirm-cancel")))
	b.wait("confirm dialog closed", `!document.getElementById("confirm-dialog").open`)

	// A ban from the form.
	b.run("ban", chromedp.SendKeys(chromedp.CSS("#ban-target"), "203.0.113.0/24"),
		chromedp.SendKeys(chromedp.CSS("#ban-reason"), "flood"),
		chromedp.Click(chromedp.CSS("#ban-form button")))
	b.waitText(`#bans-table tr[data-ban="b1"] td:first-child`, "203.0.113.0/24")
	for _, c := range relay.Calls() {
		if strings.HasPrefix(c, "close 9") {
			t.Errorf("cancelled close reached the relay: %q", c)
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(b.errors, "\n"))
	}
}
