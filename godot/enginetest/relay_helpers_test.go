package enginetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/internal/relaytest"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

func startRelay(t testing.TB, s *relay.Server) string { return relaytest.Start(t, s) }

// untilEngineExits returns a context that ends at the deadline or when the
// engine exits, whichever comes first: a Go wait on something the GDScript
// side should do then fails at once instead of at the deadline.
func untilEngineExits(t *testing.T, r *engineRun, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	go func() {
		select {
		case <-r.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx
}

// recorder drains a Go client's messages (a client that does not is
// throttled by the server) and keeps the events and chat lines it saw, and
// the comings and goings of the room's members.
type recorder struct {
	c *client.Client

	mu      sync.Mutex
	events  []codec.Event
	chat    []codec.ChatMsg
	members []memberChange
	changed chan struct{} // closed and replaced whenever something arrives
	ended   bool
}

// memberChange is a leave, join, away or back of player id in a frame.
type memberChange struct {
	id   uint32
	what string
}

func dialRecorded(t *testing.T, ctx context.Context, addr, name string) *recorder {
	t.Helper()
	c, err := client.Dial(ctx, addr, client.Options{Name: name})
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	return record(t, c)
}

// dialInLobby is dialRecorded for a player who then joins the lobby
// channel "global" and says line there.
func dialInLobby(t *testing.T, ctx context.Context, addr, name, line string) *recorder {
	t.Helper()
	r := dialRecorded(t, ctx, addr, name)
	if _, err := r.c.JoinChannel(ctx, "global"); err != nil {
		t.Fatal(err)
	}
	if err := r.c.ChannelSay("global", line); err != nil {
		t.Fatal(err)
	}
	return r
}

// record starts draining c's messages into a recorder; c is closed when
// the test ends.
func record(t *testing.T, c *client.Client) *recorder {
	r := &recorder{c: c, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range c.Messages() {
			if m.Type != codec.TFrame {
				continue
			}
			r.mu.Lock()
			if d := m.Frame.Room; d != nil {
				for _, id := range d.Leaves {
					r.members = append(r.members, memberChange{id, "leave"})
				}
				for _, j := range d.Joins {
					r.members = append(r.members, memberChange{j.ID, "join"})
				}
				for _, pr := range d.Presence {
					what := "away"
					if pr.Connected {
						what = "back"
					}
					r.members = append(r.members, memberChange{pr.ID, what})
				}
			}
			r.events = append(r.events, m.Frame.Events...)
			r.chat = append(r.chat, m.Frame.Chat...)
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.ended = true
		close(r.changed)
		r.mu.Unlock()
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return r
}

// waitFor blocks until cond holds on what r recorded, or ctx ends.
func (r *recorder) waitFor(ctx context.Context, what string, cond func(events []codec.Event, chat []codec.ChatMsg) bool) error {
	for {
		r.mu.Lock()
		ok := cond(r.events, r.chat)
		ch, ended := r.changed, r.ended
		r.mu.Unlock()
		if ok {
			return nil
		}
		if ended {
			return fmt.Errorf("%s: the client's messages ended (%v)", what, r.c.Err())
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
	}
}

// membership lists the leaves, joins, aways and backs of player id, in order.
func (r *recorder) membership(id uint32) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.members {
		if m.id == id {
			out = append(out, m.what)
		}
	}
	return out
}

func (r *recorder) snapshot() ([]codec.Event, []codec.ChatMsg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]codec.Event(nil), r.events...), append([]codec.ChatMsg(nil), r.chat...)
}

// hasEvent reports whether events hold one from `from` with code.
func hasEvent(events []codec.Event, from, code uint32) bool {
	for _, e := range events {
		if e.From == from && e.Code == code {
			return true
		}
	}
	return false
}

// waitForPlayer waits until c's room view has a player with that name and
// returns its id.
func waitForPlayer(ctx context.Context, c *client.Client, name string) (uint32, error) {
	var id uint32
	err := c.WaitFor(ctx, func(v client.RoomView) bool {
		for pid, p := range v.Players {
			if p.Name == name {
				id = pid
				return true
			}
		}
		return false
	})
	return id, err
}
