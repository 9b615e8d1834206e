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

// Close says bye and the relay has it: the player is gone, not kept away
// for a resume. Over KCP the session used to be closed before its sender
// goroutine sent the bye, so the relay kept every closed player for the
// resume grace; over WebSocket, a socket closed with data unread is reset,
// which could discard the bye.
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
			// Close waited for the relay's answer (a tick, 250 ms at
			// most): the player is gone, or going. A lost bye would keep
			// it, away, for the minute of the resume grace.
			relaytest.WaitFor(t, ctx, "the player gone", func() bool {
				players, err := s.Players(ctx, admin.PlayerQuery{})
				if err != nil {
					t.Fatal(err)
				}
				return len(players) == 0
			})
		}
	}
}
