package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tickrelay/tickrelay/internal/browsertest"
)

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

	b := browsertest.New(t)
	b.Run("load the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))

	// A wrong token is refused and the page stays on the form.
	b.Run("wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"),
		chromedp.Click(chromedp.CSS("#login-form button")))
	b.WaitText("#login-error", "That token was refused.")
	b.Clear("#token")
	b.Run("right token", chromedp.SendKeys(chromedp.CSS("#token"), testToken),
		chromedp.Click(chromedp.CSS("#login-form button")),
		chromedp.WaitVisible(chromedp.CSS("#app")))

	// The numbers the relay reports are the numbers shown.
	b.WaitText("#ccu", "1,234")
	b.WaitText("#rooms-count", "2")
	b.WaitText("#players-kcp", "1,000")
	b.WaitText("#players-ws", "234")
	b.WaitText("#work-p99", "3.00 ms")
	b.WaitText("#late-p99", "0.40 ms")
	b.WaitText("#version", "v1.2.3")
	b.WaitText(`#rooms-table tr[data-room="7"] td.code`, "ABC123")
	b.WaitText(`#rooms-table tr[data-room="7"] td.players`, "2 / 8")
	b.WaitText(`#rooms-table tr[data-room="9"] td.mode`, "race")
	b.WaitText(`#closes tr[data-reason="kicked"] td.n`, "17")
	b.WaitText(`#drops tr[data-reason="junk"] td.n`, "5")
	// Rates from two polls' totals and times.
	b.WaitText("#rate-out", "2.0 MiB/s")
	b.WaitText("#rate-in", "512.0 KiB/s")

	// ... and follow the relay when its numbers change.
	relay.update(func(o *Overview) {
		o.Players = 1500
		o.Closes["kicked"] = 18
		o.TickWork.P99 = Millis(12500 * time.Microsecond)
	})
	b.WaitText("#ccu", "1,500")
	b.WaitText(`#closes tr[data-reason="kicked"] td.n`, "18")
	b.WaitText("#work-p99", "12.5 ms")

	// The search box filters the room table.
	b.Run("search", chromedp.SendKeys(chromedp.CSS("#room-search"), "xyz"))
	b.Wait("only room 9 listed", `document.querySelectorAll("#rooms-table tbody tr").length === 1 && !!document.querySelector('#rooms-table tr[data-room="9"]')`)
	b.Clear("#room-search")
	b.Run("clear search", chromedp.SendKeys(chromedp.CSS("#room-search"), "a")) // "a" matches both (arena, race)
	b.Wait("both rooms listed", `document.querySelectorAll("#rooms-table tbody tr").length === 2`)

	// The headline numbers and the chart fit a 1280x800 screen without
	// scrolling, and the chart has drawn both series.
	b.Wait("three samples in the chart", `samples.length >= 3`)
	fits := b.IsTrue(`["ccu", "rooms-count", "players-kcp", "players-ws", "work-p99", "late-p99", "overruns", "rate-in", "rate-out", "chart"]
		.every(id => { const r = document.getElementById(id).getBoundingClientRect();
			return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth; })
		&& document.documentElement.scrollWidth <= window.innerWidth`)
	if !fits {
		t.Errorf("headline numbers or chart outside the 1280x800 viewport")
	}
	// Pixels of both colours on the canvas: the lines are drawn. (A few
	// seconds of samples span a few pixels of the five-minute axis.)
	b.Wait("the work (blue) and lateness (orange) lines on the chart", `(() => {
		const c = document.getElementById("chart");
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		const near = (i, r, g, b) => d[i + 3] > 200 && Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 60;
		let work = 0, late = 0;
		for (let i = 0; i < d.length; i += 4) { if (near(i, 0x25, 0x63, 0xeb)) work++; if (near(i, 0xea, 0x58, 0x0c)) late++; }
		return work >= 10 && late >= 10;
	})()`)
	b.Screenshot(t, "dashboard.png")

	// Announce.
	b.Run("announce", chromedp.SendKeys(chromedp.CSS("#announce-text"), "restart at 18:00"),
		chromedp.Click(chromedp.CSS("#announce-form button")))
	b.WaitText("#status", "Announcement sent.")
	// The outcome stays on screen through the next polls (they once
	// cleared it within a second, before a person could read it).
	b.Wait("two more polls", `(() => { window.samplesAtAnnounce ??= samples.length; return samples.length >= window.samplesAtAnnounce + 2; })()`)
	b.WaitText("#status", "Announcement sent.")
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	if err := relay.waitCall(ctx, "announce restart at 18:00"); err != nil {
		t.Fatal(err)
	}

	// Room detail: its members, and kicking one.
	b.Click(`#rooms-table tr[data-room="9"] button.details`)
	b.Wait("room dialog open", `document.getElementById("room-dialog").open`)
	b.WaitText("#room-title", "Room XYZ789 (9)")
	b.WaitText(`#members-table tr[data-player="13"] td:nth-child(2)`, "carol")
	b.Screenshot(t, "room-detail.png")
	b.Click(`#members-table tr[data-player="13"] button.kick`)
	b.Wait("confirm dialog open", `document.getElementById("confirm-dialog").open`)
	b.Click("#confirm-ok")
	if err := relay.waitCall(ctx, "kick 13 kicked by the operator"); err != nil {
		t.Fatal(err)
	}
	b.Wait("carol gone from the members", `!document.querySelector('#members-table tr[data-player="13"]')`)
	b.Click("#room-dialog-close")

	// Close room 7: confirm, with a reason of the operator's.
	b.Click(`#rooms-table tr[data-room="7"] button.close`)
	b.Wait("confirm dialog open", `document.getElementById("confirm-dialog").open`)
	b.WaitText("#confirm-title", "Close room ABC123?")
	b.Clear("#confirm-reason")
	b.Run("reason", chromedp.SendKeys(chromedp.CSS("#confirm-reason"), "maintenance"),
		chromedp.Click(chromedp.CSS("#confirm-ok")))
	if err := relay.waitCall(ctx, "close 7 maintenance"); err != nil {
		t.Fatal(err)
	}
	b.Wait("row of room 7 gone", `!document.querySelector('#rooms-table tr[data-room="7"]')`)
	b.WaitText(`#rooms-table tr[data-room="9"] td.code`, "XYZ789")
	b.Screenshot(t, "dashboard-after-close.png")

	// Cancelling a confirmation does nothing.
	b.Click(`#rooms-table tr[data-room="9"] button.close`)
	b.Wait("confirm dialog open", `document.getElementById("confirm-dialog").open`)
	b.Click("#confirm-cancel")
	b.Wait("confirm dialog closed", `!document.getElementById("confirm-dialog").open`)

	// A ban from the form.
	b.Run("ban", chromedp.SendKeys(chromedp.CSS("#ban-target"), "203.0.113.0/24"),
		chromedp.SendKeys(chromedp.CSS("#ban-reason"), "flood"),
		chromedp.Click(chromedp.CSS("#ban-form button")))
	b.WaitText(`#bans-table tr[data-ban="b1"] td:first-child`, "203.0.113.0/24")
	for _, c := range relay.Calls() {
		if strings.HasPrefix(c, "close 9") {
			t.Errorf("cancelled close reached the relay: %q", c)
		}
	}

	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}
