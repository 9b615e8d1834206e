package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

// pairInRoom connects a and b; a creates a room and b joins it.
func pairInRoom(t *testing.T, ctx context.Context, addr string) (a, b *client.Client, j client.Joined) {
	t.Helper()
	a, b = dial(t, addr, "a"), dial(t, addr, "b")
	j, err := a.CreateRoom(ctx, client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.JoinRoom(ctx, j.RoomID); err != nil {
		t.Fatal(err)
	}
	return a, b, j
}

// A client moves to a new source port mid-game (NAT rebinding): it
// resumes as the same player in the same room, gets a full snapshot, and
// receives every event sent meanwhile exactly once, in order.
func TestResumeAfterSourcePortChange(t *testing.T) {
	srv := &relay.Server{}
	addr := startServer(t, srv)
	ctx := ctxT(t)
	a, b, j := pairInRoom(t, ctx, addr)
	ka := collect(a)
	const total = 60
	sent := 0
	sendSome := func(n int) {
		for i := 0; i < n; i++ {
			sent++
			if err := b.SendEvent(codec.TargetOthers, nil, 1, sent); err != nil {
				t.Fatal(err)
			}
		}
	}
	sendSome(20)
	ka.waitUntil(t, ctx, "first events", func() bool { return len(ka.events) >= 5 })

	// The network drops: a's old connection is gone (events in flight to
	// it are lost), and it comes back from a new source port.
	a.Drop()
	sendSome(20)
	if err := b.SetState("b moved"); err != nil {
		t.Fatal(err)
	}
	oldToken := a.Welcome().ResumeToken
	if err := a.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	w := a.Welcome()
	if !w.Resumed || w.PlayerID != a.ID() || w.RoomID != j.RoomID || w.ResumeToken == oldToken {
		t.Fatalf("welcome after resume: %+v", w)
	}
	sendSome(total - 40)
	ka.waitUntil(t, ctx, "every event", func() bool { return len(ka.events) >= total })
	waitFrames(t, ctx, ka, 3)
	ka.mu.Lock()
	for i, e := range ka.events {
		var n int
		if err := client.Unmarshal(e.Payload, &n); err != nil || n != i+1 {
			t.Fatalf("event %d carries %d (%v): lost or duplicated across the resume", i, n, err)
		}
	}
	if len(ka.events) != total {
		t.Fatalf("%d events, want %d", len(ka.events), total)
	}
	ka.mu.Unlock()
	if err := a.WaitFor(ctx, func(v client.RoomView) bool {
		var s string
		return v.ID == j.RoomID && len(v.Players) == 2 && client.Unmarshal(v.Players[b.ID()].State, &s) == nil && s == "b moved"
	}); err != nil {
		t.Fatalf("no snapshot after resume: %v %+v", err, a.Room())
	}
	// b never saw a leave: a stayed in the room throughout.
	if v := b.Room(); len(v.Players) != 2 || v.Players[a.ID()].Away {
		t.Fatalf("b's view: %+v", v)
	}
	if st := srv.Stats(); st.Closes["replaced"] != 1 {
		t.Errorf("closes %v: the old session should be closed as replaced", st.Closes)
	}

	// The used token, and a foreign one, are refused.
	for _, tok := range []string{oldToken, "00000000000000000000000000000000"} {
		r := dialRaw(t, addr)
		r.send(t, codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: 1, Resume: []byte(tok), LastTick: 1}))
		r.expectClose(t, codec.CodeResumeFailed)
	}
	if v := a.Room(); v.ID != j.RoomID {
		t.Fatal("a refused resume attempt disturbed the real player")
	}
}

// Others see a lost player as away, then back; after the grace, it leaves.
func TestAwayThenBackThenGraceExpires(t *testing.T) {
	addr := startServer(t, &relay.Server{IdleTimeout: 1500 * time.Millisecond, ResumeGrace: 2 * time.Second})
	ctx := ctxT(t)
	a, b, _ := pairInRoom(t, ctx, addr)
	a.Drop() // silent: the server notices by the idle timeout
	if err := b.WaitFor(ctx, func(v client.RoomView) bool { p, ok := v.Players[a.ID()]; return ok && p.Away }); err != nil {
		t.Fatalf("a never shown away: %v", err)
	}
	if err := a.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, func(v client.RoomView) bool { p, ok := v.Players[a.ID()]; return ok && !p.Away }); err != nil {
		t.Fatalf("a never shown back: %v", err)
	}
	a.Drop()
	if err := b.WaitFor(ctx, func(v client.RoomView) bool { _, ok := v.Players[a.ID()]; return !ok }); err != nil {
		t.Fatalf("a never left after the grace: %v", err)
	}
	if err := a.Reconnect(ctx); !isCode(err, codec.CodeResumeFailed) {
		t.Fatalf("resume after the grace: %v", err)
	}
}
