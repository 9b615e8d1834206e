package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/admin"
)

// untilType reads c's messages until one of type typ, skipping frames.
func untilType(c *client, typ int) *ServerMsg {
	c.t.Helper()
	for {
		m := c.next()
		if m.Type == typ {
			return m
		}
		if m.Type != TFrame && m.Type != TPong {
			c.t.Fatalf("%s: got %s, want message %d", c.name, describe(m), typ)
		}
	}
}

// Sections 5.7 and 5.8: what the operator does, as the players see it.
func TestSection5_7_AnnounceAndOperatorActions(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		srv := &relay.Server{}
		e := start(t, k, srv)
		a, b, j := room2(e)
		c := e.join("cy")
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()

		if err := srv.Announce(ctx, "restart at 18:00"); err != nil {
			t.Fatal(err)
		}
		for _, x := range []*client{a, b, c} {
			m := untilType(x, TAnnounce)
			if m.Text != "restart at 18:00" || m.ServerTimeMs == 0 {
				t.Errorf("%s: announce %q at %d", x.name, m.Text, m.ServerTimeMs)
			}
		}

		if err := srv.Kick(ctx, c.welcome.PlayerID, "afk"); err != nil {
			t.Fatal(err)
		}
		c.expectClose(CodeKicked)

		if err := srv.CloseRoom(ctx, j.RoomID, ""); err != nil {
			t.Fatal(err)
		}
		for _, x := range []*client{a, b} {
			if m := untilType(x, TRoomLeft); m.RID != 0 || m.Code != CodeRoomClosed {
				t.Errorf("%s: room_left rid %d code %d, want 0 and room_closed", x.name, m.RID, m.Code)
			}
		}
		a.expectError(a.request(TJoinCode, j.Code), CodeRoomNotFound)

		if _, err := srv.Ban(ctx, admin.Ban{PlayerID: b.welcome.PlayerID, Reason: "spam", Until: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		b.expectClose(CodeBanned)
		// The ban is on 127.0.0.1 (no auth): a was closed too.
		a.expectClose(CodeBanned)
	})
}
