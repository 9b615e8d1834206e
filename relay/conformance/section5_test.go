package conformance

import (
	"bytes"
	"slices"
	"testing"

	"github.com/tickrelay/tickrelay/relay"
)

// Section 5: what the server sends. Every message a test reads is checked
// against section 5's field list by ParseServer; these tests check the
// frame's meaning.

// A member gets a frame every tick, even when nothing changed, stamped
// with the tick's time.
func TestSection5_6_FrameEveryTick(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		const rate = 30
		e := start(t, k, &relay.Server{TickRate: rate})
		c := e.join("ana")
		c.joined(c.request(TCreateRoom, "dm", 0, true, nil))
		var frames []*Frame
		for len(frames) < 30 {
			frames = append(frames, c.nextFrame())
		}
		first, last := frames[0], frames[len(frames)-1]
		if span := last.Tick - first.Tick; span > 2*uint64(len(frames)) {
			t.Errorf("%d frames spread over %d ticks", len(frames), span)
		}
		for i, f := range frames {
			if f.Room == nil || i > 0 && len(f.Room.States)+len(f.Room.Joins)+len(f.Room.Leaves) != 0 {
				t.Errorf("frame %d of an idle room: %+v", f.Tick, f.Room)
			}
		}
		// Tick n is at start + n periods: the frames' times follow the
		// ticks (within a late tick's slack).
		want := int64(last.Tick-first.Tick) * 1000 / rate
		got := int64(last.ServerTimeMs - first.ServerTimeMs)
		if got < want-100 || got > want+100 {
			t.Errorf("ticks %d to %d took %d ms of server time, want about %d", first.Tick, last.Tick, got, want)
		}
	})
}

// A player can leave and join again between two of a member's frames: the
// frame lists it in leaves and in joins, and leaves apply first.
func TestSection5_6_LeavesApplyBeforeJoins(t *testing.T) {
	t.Parallel()
	// Needs both messages in one tick: one datagram over KCP.
	e := startKCP(t, &relay.Server{})
	a, b, j := room2(e)
	bID := b.welcome.PlayerID
	b.sendTogether(Msg(TLeaveRoom, 50), Msg(TJoinRoom, 51, j.RoomID))
	f := a.waitFrame("bo leaving and joining", func(f *Frame) bool { return len(f.Room.Leaves) > 0 })
	if !slices.Contains(f.Room.Leaves, bID) || len(f.Room.Joins) != 1 || f.Room.Joins[0].ID != bID {
		t.Fatalf("frame room %+v, want bo in leaves and joins", f.Room)
	}
	if a.view.players[bID] == nil {
		t.Fatal("bo is gone from ana's view: leaves were applied after joins")
	}
}

// A client whose frames are held back (it stopped taking them) gets, in
// its next frame, everything since its last one: the latest states, and
// every event and chat line in order.
func TestSection5_6_HeldBackFramesCarryEverything(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		srv := &relay.Server{}
		e := start(t, k, srv)
		a := e.connectWith("ana", dialOptions{recvWindow: 4})
		a.hello("ana", nil)
		b := e.join("bo")
		j := a.joined(a.request(TCreateRoom, "dm", 0, true, nil))
		b.joined(b.request(TJoinRoom, j.RoomID))
		a.waitView("bo", func(v *roomView) bool { return len(v.players) == 2 })
		a.sync()
		stall, ok := a.tr.(Staller)
		if !ok {
			t.Skip("the transport cannot stall")
		}
		stall.Stall(true)
		behind := srv.Stats().FramesBehind
		for i := range 6 {
			b.send(TState, i)
			b.send(TEvent, 0, i, nil, nil)
			if i < 3 {
				b.send(TChat, 0, string(rune('a'+i)))
			}
			// One tick at least between them: wait for bo's own frame.
			b.waitFor("bo's event", func() bool { return len(b.events) == i+1 })
		}
		for i := 0; srv.Stats().FramesBehind == behind; i++ {
			padFrames(b, i)
			b.nextFrame() // ticks pass until ana's frames are held back
		}
		stall.Stall(false)
		bID := b.welcome.PlayerID
		a.waitFor("everything", func() bool { return len(a.events) == 6 && len(a.chat) == 3 })
		a.sync()
		if got := eventCodes(a); !slices.Equal(got, []uint32{0, 1, 2, 3, 4, 5}) {
			t.Errorf("events %v", got)
		}
		if a.chat[0].Text != "a" || a.chat[1].Text != "b" || a.chat[2].Text != "c" || len(a.chat) != 3 {
			t.Errorf("chat %+v", a.chat)
		}
		if !bytes.Equal(a.view.players[bID].state, Encode(5)) {
			t.Errorf("bo's state % x, want the latest, 5", a.view.players[bID].state)
		}
	})
}

// Requests sent with rid 0 are still answered, with rid 0 (decision 5).
func TestSection5_4_RequestWithRID0(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		c := e.join("ana")
		c.send(TSetPlayer, 0, propsMap("a", 1))
		c.expectOK(0)
		c.send(TLeaveRoom, 0)
		c.expectError(0, CodeNotInRoom)
		c.send(TCreateRoom, 0, "dm", 0, true, nil)
		c.joined(0)
	})
}
