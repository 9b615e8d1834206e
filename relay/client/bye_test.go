package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/admin"
)

// Close says bye and the relay has it (over KCP before Close returns): the
// player is gone at once, not kept away for a resume.
// Over KCP the session used to be closed before its sender goroutine sent
// the bye, so the relay kept every closed player for the resume grace.
func TestCloseSaysBye(t *testing.T) {
	s := &relay.Server{ResumeGrace: time.Minute}
	kcpAddr, wsURL := relaytest.StartBoth(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, addr := range []string{kcpAddr, wsURL} {
		for range 5 {
			c, err := Dial(ctx, addr, Options{Name: "leaver"})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(c.Err(), ErrClosed) {
				t.Fatalf("%s: Err after Close: %v, want ErrClosed", addr, c.Err())
			}
			// Over KCP, Close waited for the relay's answer: the player
			// is gone already. A WebSocket's bye is on its way in order.
			var players []admin.PlayerSummary
			relaytest.WaitFor(t, ctx, "the player gone", func() bool {
				var err error
				if players, err = s.Players(ctx, admin.PlayerQuery{}); err != nil {
					t.Fatal(err)
				}
				return len(players) == 0 || addr == kcpAddr
			})
			if len(players) != 0 {
				t.Fatalf("%s: after Close the relay still has %+v", addr, players)
			}
		}
	}
}
