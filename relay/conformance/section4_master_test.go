package conformance

import (
	"strings"
	"testing"

	"github.com/tickrelay/tickrelay/relay"
)

// Sections 4.7 to 4.9: properties, locking and kicking.

// room2 puts a master and a member in one public room.
func room2(e *env) (master, member *client, j RoomJoined) {
	e.t.Helper()
	master, member = e.join("ana"), e.join("bo")
	j = master.joined(master.request(TCreateRoom, "dm", 0, true, propsMap("map", 2)))
	member.joined(member.request(TJoinRoom, j.RoomID))
	master.waitView("bo joining", func(v *roomView) bool { return len(v.players) == 2 })
	return master, member, j
}

func keys(n int) Map {
	m := Map{}
	for i := range n {
		m = append(m, KV{"k" + string(rune('A'+i%26)) + string(rune('a'+i/26)), i})
	}
	return m
}

func TestSection4_7_SetRoomProps(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, _ := room2(e)
		// Merge: keys set; the frame carries the complete new map.
		a.expectOK(a.request(TSetRoomProps, propsMap("round", 3)))
		f := b.waitFrame("new room props", func(f *Frame) bool { return f.Room.Props != nil })
		if !equalProps(f.Room.Props, props("map", 2, "round", 3)) {
			t.Errorf("props %v, want the whole merged map", f.Room.Props)
		}
		// Unchanged props are nil in the next frames.
		if f := b.nextFrame(); f.Room.Props != nil {
			t.Errorf("props %v in a frame after no change", f.Room.Props)
		}
		// A nil value deletes the key.
		a.expectOK(a.request(TSetRoomProps, propsMap("map", nil)))
		b.waitView("map deleted", func(v *roomView) bool { return equalProps(v.props, props("round", 3)) })
		// Only the master; only in a room.
		b.expectRefused(b.request(TSetRoomProps, propsMap("x", 1)), CodeNotMaster)
		c := e.join("cy")
		c.expectRefused(c.request(TSetRoomProps, propsMap("x", 1)), CodeNotInRoom)
		// Over 32 keys after merging: limit, nothing changes.
		a.expectOK(a.request(TSetRoomProps, keys(31)))
		a.expectRefused(a.request(TSetRoomProps, propsMap("one", 1, "two", 2)), CodeLimit)
		a.sync()
		b.sync()
		if len(b.view.props) != 32 || b.view.props["one"] != "" {
			t.Errorf("%d props after a refused merge", len(b.view.props))
		}
	})
}

// Decision 3 for properties: a count over 32 is limit, a key or value over
// its size or depth is too_large; the session stays open and nothing
// changes.
func TestSection4_7_PropsRefusals(t *testing.T) {
	cases := []struct {
		name  string
		props Map
		code  int
	}{
		{"33 keys in one request", keys(33), CodeLimit},
		{"key of 33 bytes", propsMap(strings.Repeat("k", 33), 1), CodeTooLarge},
		{"value of 257 bytes", propsMap("k", strings.Repeat("v", 255)), CodeTooLarge},
		{"value nested 17 deep", propsMap("k", nested(17)), CodeTooLarge},
	}
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		for _, tc := range cases {
			for _, typ := range []int{TSetRoomProps, TSetPlayer} {
				t.Run(tc.name+map[int]string{TSetRoomProps: " room", TSetPlayer: " player"}[typ], func(t *testing.T) {
					a, b, _ := room2(e.on(t))
					a.expectRefused(a.request(typ, tc.props), tc.code)
					b.sync()
					me := b.view.players[a.welcome.PlayerID]
					if !equalProps(b.view.props, props("map", 2)) || len(me.props) != 0 {
						t.Errorf("room props %v, player props %v after a refusal", b.view.props, me.props)
					}
				})
			}
		}
	})
}

func TestSection4_7_SetPlayerProps(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		// Outside a room: the props travel with the player.
		c := e.join("cy")
		c.expectOK(c.request(TSetPlayer, propsMap("team", "red", "lvl", 3)))
		a, b, j := room2(e)
		c.joined(c.request(TJoinRoom, j.RoomID))
		cID := c.welcome.PlayerID
		if p := c.view.players[cID]; !equalProps(p.props, props("team", "red", "lvl", 3)) {
			t.Errorf("cy's props in its full frame: %v", p.props)
		}
		a.waitView("cy's join", func(v *roomView) bool {
			p := v.players[cID]
			return p != nil && equalProps(p.props, props("team", "red", "lvl", 3))
		})
		// In a room: members get player_props with the complete new map;
		// nil deletes.
		c.expectOK(c.request(TSetPlayer, propsMap("lvl", nil, "hp", 9)))
		f := b.waitFrame("cy's new props", func(f *Frame) bool { return len(f.Room.PlayerProps) > 0 })
		if pp := f.Room.PlayerProps[0]; pp.ID != cID || !equalProps(pp.Props, props("team", "red", "hp", 9)) {
			t.Errorf("player_props %+v", f.Room.PlayerProps)
		}
		// Over 32 keys after merging: limit, nothing changes.
		c.expectOK(c.request(TSetPlayer, keys(29)))
		c.expectRefused(c.request(TSetPlayer, propsMap("x", 1, "y", 2, "z", 3, "w", 4)), CodeLimit)
		a.sync()
		a.waitView("cy's 31 props", func(v *roomView) bool { return len(v.players[cID].props) == 31 })
		// Decision 3's example: 33 keys in one request is limit, the
		// session stays open and the props do not change.
		c.expectRefused(c.request(TSetPlayer, keys(33)), CodeLimit)
		c.expectOK(c.request(TSetPlayer, propsMap("last", 1)))
		a.waitView("cy's 32 props", func(v *roomView) bool { return len(v.players[cID].props) == 32 })
	})
}

func TestSection4_8_SetLocked(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, j := room2(e)
		b.expectRefused(b.request(TSetLocked, true), CodeNotMaster)
		a.expectOK(a.request(TSetLocked, true))
		b.waitView("the room locked", func(v *roomView) bool { return v.locked })
		c := e.join("cy")
		c.expectRefused(c.request(TJoinRoom, j.RoomID), CodeRoomLocked)
		c.expectRefused(c.request(TJoinCode, j.Code), CodeRoomLocked)
		if jc := c.joined(c.request(TJoinOrCreate, "dm", nil, 0)); jc.RoomID == j.RoomID {
			t.Error("quick match joined a locked room")
		}
		// Members stay; unlocking opens the room again.
		if len(a.view.players) != 2 {
			t.Errorf("%d members in the locked room", len(a.view.players))
		}
		a.expectOK(a.request(TSetLocked, false))
		d := e.join("dee")
		d.joined(d.request(TJoinCode, j.Code))
		d.expectRefused(d.request(TSetLocked, true), CodeNotMaster)
		out := e.join("eve")
		out.expectRefused(out.request(TSetLocked, true), CodeNotInRoom)
	})
}

func TestSection4_9_Kick(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, j := room2(e)
		c := e.join("cy")
		c.joined(c.request(TJoinRoom, j.RoomID))
		aID, bID := a.welcome.PlayerID, b.welcome.PlayerID
		b.expectRefused(b.request(TKick, c.welcome.PlayerID), CodeNotMaster)
		a.expectRefused(a.request(TKick, aID), CodeBadRequest)        // kicking yourself
		a.expectRefused(a.request(TKick, 999999), CodePlayerNotFound) // no such player
		a.expectRefused(a.request(TKick, e.join("out").welcome.PlayerID), CodePlayerNotFound)
		a.expectOK(a.request(TKick, bID))
		// The kicked player gets room_left with rid 0 and code kicked.
		for {
			m := b.next()
			if m.Type == TFrame {
				continue
			}
			if m.Type != TRoomLeft || m.RID != 0 || m.Code != CodeKicked {
				t.Fatalf("bo got %s, want room_left rid 0 code 19", describe(m))
			}
			break
		}
		c.waitView("bo gone", func(v *roomView) bool { return v.players[bID] == nil })
		// bo is in no room and may join again.
		b.joined(b.request(TJoinRoom, j.RoomID))
		out := e.join("dee")
		out.expectRefused(out.request(TKick, aID), CodeNotInRoom)
		a.expectRefused(a.request(TKick, uint64(1)<<32), CodeBadRequest) // decision 3: not a u32
	})
}
