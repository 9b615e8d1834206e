package relay_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/browsertest"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

// The dashboard, as an operator sees it in a browser, against a live relay
// with KCP and WebSocket players: the numbers shown are the relay's, and
// closing a room from the page closes it for its players.
func TestDashboardOnALiveRelay(t *testing.T) {
	browsertest.Chromium(t) // skips without a browser
	srv := &relay.Server{}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	api := startAdmin(t, srv)
	ctx := ctxT(t)
	host := dial(t, kcpAddr, "host")
	web := dial(t, wsURL, "web")
	hc := collect(host)
	j, err := host.CreateRoom(ctx, client.RoomOptions{Mode: "arena", MaxPlayers: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := web.JoinByCode(ctx, j.Code); err != nil {
		t.Fatal(err)
	}
	dial(t, kcpAddr, "lobby") // a third player, in no room

	b := browsertest.New(t)
	b.Run("load the page", chromedp.Navigate(api.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.Run("log in", chromedp.SendKeys(chromedp.CSS("#token"), adminToken),
		chromedp.Click(chromedp.CSS("#login-form button")), chromedp.WaitVisible(chromedp.CSS("#app")))
	b.WaitText("#ccu", "3")
	b.WaitText("#rooms-count", "1")
	b.WaitText("#players-kcp", "2")
	b.WaitText("#players-ws", "1")
	row := fmt.Sprintf(`#rooms-table tr[data-room="%d"]`, j.RoomID)
	b.WaitText(row+" td.code", j.Code)
	b.WaitText(row+" td.mode", "arena")
	b.WaitText(row+" td.players", "2 / 8")
	b.Wait("the chart has samples", `samples.length >= 2`)
	b.Screenshot(t, "live-dashboard.png")

	b.Click(row + " button.close")
	b.Wait("confirm dialog open", `document.getElementById("confirm-dialog").open`)
	b.Clear("#confirm-reason")
	b.Run("confirm", chromedp.SendKeys(chromedp.CSS("#confirm-reason"), "end of round"),
		chromedp.Click(chromedp.CSS("#confirm-ok")))
	b.Wait("the room's row gone", fmt.Sprintf(`!document.querySelector('%s')`, row))
	hc.waitUntil(t, ctx, "room_left room_closed", func() bool {
		for _, m := range hc.other {
			if m.Type == codec.TRoomLeft && m.Code == codec.CodeRoomClosed {
				return true
			}
		}
		return false
	})
	b.WaitText("#rooms-count", "0")
	b.Screenshot(t, "live-dashboard-after-close.png")
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}
