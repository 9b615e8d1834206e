package relay_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

type moveState struct {
	ID  uint32 `msgpack:"id"`
	Seq int    `msgpack:"seq"`
}

type evPayload struct {
	Seq int `msgpack:"seq"`
}

// Eight clients in two rooms exchange states and events for a few seconds
// over real KCP sessions.
func TestEightClientsTwoRooms(t *testing.T) {
	srv := &relay.Server{}
	addr := startServer(t, srv)
	ctx := ctxT(t)

	const perRoom, rooms, events = 4, 2, 40
	var all []*client.Client
	var cols []*collector
	roomOf := map[uint32]int{}
	var codes []string
	for r := 0; r < rooms; r++ {
		for i := 0; i < perRoom; i++ {
			c := dial(t, addr, fmt.Sprintf("p%d-%d", r, i))
			k := collect(c)
			if i == 0 {
				j, err := c.CreateRoom(ctx, client.RoomOptions{Mode: "arena", MaxPlayers: perRoom})
				if err != nil {
					t.Fatal(err)
				}
				codes = append(codes, j.Code)
			} else if _, err := c.JoinByCode(ctx, codes[r]); err != nil {
				t.Fatal(err)
			}
			all, cols = append(all, c), append(cols, k)
			roomOf[c.ID()] = r
		}
	}
	members := func(r int) []*client.Client { return all[r*perRoom : (r+1)*perRoom] }
	for i, c := range all {
		want := members(i / perRoom)
		if err := c.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == perRoom }); err != nil {
			t.Fatalf("client %d never saw its %d room members: %v (view %+v)", c.ID(), len(want), err, c.Room())
		}
	}

	// Every client moves for ~3 s (one state per received frame) and sends
	// numbered events to everyone in its room.
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	final := map[uint32]int{}
	var fmu sync.Mutex
	for i, c := range all {
		wg.Add(1)
		go func(c *client.Client, k *collector) {
			defer wg.Done()
			seq := 0
			for time.Now().Before(deadline) {
				seq++
				if err := c.SetState(moveState{ID: c.ID(), Seq: seq}); err != nil {
					t.Error(err)
					return
				}
				if seq <= events {
					if err := c.SendEvent(codec.TargetAll, nil, 7, evPayload{Seq: seq}); err != nil {
						t.Error(err)
						return
					}
				}
				waitFrames(t, ctx, k, 1)
			}
			fmu.Lock()
			final[c.ID()] = seq
			fmu.Unlock()
		}(c, cols[i])
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Everyone converges to every member's latest state, and sees nobody
	// from the other room.
	for _, c := range all {
		r := roomOf[c.ID()]
		if err := c.WaitFor(ctx, func(v client.RoomView) bool {
			for _, m := range members(r) {
				p, ok := v.Players[m.ID()]
				if !ok || p.State == nil {
					return false
				}
				var s moveState
				if client.Unmarshal(p.State, &s) != nil || s.Seq != final[m.ID()] || s.ID != m.ID() {
					return false
				}
			}
			return len(v.Players) == perRoom
		}); err != nil {
			t.Fatalf("client %d did not converge: %v; view %+v", c.ID(), err, c.Room())
		}
	}

	// Events: each receiver got each room member's events exactly once, in order.
	for i, k := range cols {
		r := i / perRoom
		k.waitUntil(t, ctx, "all events", func() bool { return len(k.events) >= perRoom*events })
		k.mu.Lock()
		next := map[uint32]int{}
		for _, e := range k.events {
			if roomOf[e.From] != r {
				t.Errorf("client %d got an event from player %d of another room", all[i].ID(), e.From)
			}
			var p evPayload
			if err := client.Unmarshal(e.Payload, &p); err != nil {
				t.Fatal(err)
			}
			next[e.From]++
			if p.Seq != next[e.From] {
				t.Errorf("client %d: event %d from %d arrived as number %d", all[i].ID(), p.Seq, e.From, next[e.From])
			}
		}
		for _, m := range members(r) {
			if next[m.ID()] != events {
				t.Errorf("client %d: %d events from %d, want %d", all[i].ID(), next[m.ID()], m.ID(), events)
			}
		}
		k.mu.Unlock()
	}

	// Idle players produce no bytes in frames: once nobody moves, frames
	// carry no states at all.
	for _, k := range cols {
		waitFrames(t, ctx, k, 2) // let in-flight states drain
		n := k.frameCount()
		waitFrames(t, ctx, k, 10)
		for _, f := range k.framesSince(n) {
			if f.Room == nil {
				t.Fatalf("client %d: frame without room part", k.c.ID())
			}
			if len(f.Room.States) != 0 || len(f.Room.Joins) != 0 || f.Room.Props != nil {
				t.Fatalf("client %d: idle frame %d carries %d states", k.c.ID(), f.Tick, len(f.Room.States))
			}
		}
	}
}

// Leaving, master reassignment and kick are seen by the other members.
func TestLeaveMasterReassignAndKick(t *testing.T) {
	addr := startServer(t, &relay.Server{})
	ctx := ctxT(t)
	a, b, c := dial(t, addr, "a"), dial(t, addr, "b"), dial(t, addr, "c")
	j, err := a.CreateRoom(ctx, client.RoomOptions{Mode: "m", MaxPlayers: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*client.Client{b, c} {
		if _, err := x.JoinRoom(ctx, j.RoomID); err != nil {
			t.Fatal(err)
		}
	}
	d := dial(t, addr, "d")
	if _, err := d.JoinByCode(ctx, j.Code); !isCode(err, codec.CodeRoomFull) {
		t.Fatalf("join of a full room: %v", err)
	}
	if err := b.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 3 && v.Master == a.ID() }); err != nil {
		t.Fatal(err)
	}
	if err := b.Kick(ctx, c.ID()); !isCode(err, codec.CodeNotMaster) {
		t.Fatalf("kick by non-master: %v", err)
	}

	// The master leaves: b, present longest after a, becomes master.
	if err := a.LeaveRoom(ctx); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*client.Client{b, c} {
		if err := x.WaitFor(ctx, func(v client.RoomView) bool {
			_, still := v.Players[a.ID()]
			return !still && v.Master == b.ID() && len(v.Players) == 2
		}); err != nil {
			t.Fatalf("client %d: %v (view %+v)", x.ID(), err, x.Room())
		}
	}
	// The new master locks the room and kicks c.
	if err := b.SetLocked(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.JoinByCode(ctx, j.Code); !isCode(err, codec.CodeRoomLocked) {
		t.Fatalf("join of a locked room: %v", err)
	}
	kc := collect(c)
	if err := b.Kick(ctx, c.ID()); err != nil {
		t.Fatal(err)
	}
	kc.waitUntil(t, ctx, "room_left kicked", func() bool {
		for _, m := range kc.other {
			if m.Type == codec.TRoomLeft && m.Code == codec.CodeKicked {
				return true
			}
		}
		return false
	})
	if err := b.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 1 }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.JoinRoom(ctx, 9999); !isCode(err, codec.CodeRoomNotFound) {
		t.Fatalf("join of an unknown room: %v", err)
	}
	if err := c.LeaveRoom(ctx); !isCode(err, codec.CodeNotInRoom) {
		t.Fatalf("leave while in no room: %v", err)
	}
}

// Listing, quick match, properties and chat over the wire.
func TestListQuickMatchPropsChat(t *testing.T) {
	addr := startServer(t, &relay.Server{})
	ctx := ctxT(t)
	a, b, c := dial(t, addr, "a"), dial(t, addr, "b"), dial(t, addr, "c")
	ja, err := a.JoinOrCreate(ctx, "ctf", map[string]any{"map": "dust"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := b.JoinOrCreate(ctx, "ctf", map[string]any{"map": "dust"}, 4)
	if err != nil || jb.RoomID != ja.RoomID {
		t.Fatalf("quick match put b in %d, a is in %d (%v)", jb.RoomID, ja.RoomID, err)
	}
	if _, err := c.CreateRoom(ctx, client.RoomOptions{Mode: "ctf", Private: true}); err != nil {
		t.Fatal(err)
	}
	rooms, err := c.ListRooms(ctx, "ctf", map[string]any{"map": "dust"}, 0)
	if err != nil || len(rooms) != 1 || rooms[0].ID != ja.RoomID || rooms[0].Players != 2 {
		t.Fatalf("list: %+v %v", rooms, err)
	}
	if rooms, _ := c.ListRooms(ctx, "ctf", map[string]any{"map": "other"}, 0); len(rooms) != 0 {
		t.Fatalf("filter matched %+v", rooms)
	}
	if err := a.SetRoomProps(ctx, map[string]any{"round": 2}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetPlayerProps(ctx, map[string]any{"ready": true}); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, func(v client.RoomView) bool {
		var round int
		var ready bool
		return v.Props["round"] != nil && client.Unmarshal(v.Props["round"], &round) == nil && round == 2 &&
			v.Players[a.ID()].Props["ready"] != nil && client.Unmarshal(v.Players[a.ID()].Props["ready"], &ready) == nil && ready
	}); err != nil {
		t.Fatalf("props not seen: %v %+v", err, b.Room())
	}

	kb, kc := collect(b), collect(c)
	if err := a.Chat("gl hf"); err != nil {
		t.Fatal(err)
	}
	if err := a.DirectMessage(c.ID(), "psst"); err != nil {
		t.Fatal(err)
	}
	kb.waitUntil(t, ctx, "room chat", func() bool { return len(kb.chat) == 1 && kb.chat[0].Text == "gl hf" && kb.chat[0].From == a.ID() })
	kc.waitUntil(t, ctx, "direct message", func() bool {
		return len(kc.chat) == 1 && kc.chat[0].Text == "psst" && kc.chat[0].To == c.ID() && kc.chat[0].ServerTimeMs > 0
	})
	if rtt, err := a.Ping(ctx); err != nil || rtt <= 0 || rtt > time.Second {
		t.Fatalf("ping: %v %v", rtt, err)
	}
}

func isCode(err error, code codec.Code) bool {
	e, ok := err.(*client.Error)
	return ok && e.Code == code
}
