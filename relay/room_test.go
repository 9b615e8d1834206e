package relay

import (
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

func TestRoomCreate(t *testing.T) {
	x := newHarness(t)
	a := x.player("alice")
	a.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 5, Mode: []byte("dm"), MaxPlayers: 4, Public: true,
		Props: props("map", mpStr("dust"))})
	x.tick()
	ms := a.recv()
	if len(ms) != 2 || ms[0].Type != codec.TRoomJoined || ms[1].Type != codec.TFrame {
		t.Fatalf("want room_joined then a frame:%s", dump(ms))
	}
	j := ms[0]
	if j.RID != 5 || j.RoomID != 1 || j.Mode != "dm" || j.MaxPlayers != 4 || len(j.JoinCode) != 6 {
		t.Fatalf("room_joined %+v", j)
	}
	for _, ch := range j.JoinCode {
		if !strings.ContainsRune(codeAlphabet, ch) {
			t.Fatalf("join code %q has %q", j.JoinCode, ch)
		}
	}
	wantEqual(t, "first frame", ms[1].Frame.Room, &codec.RoomDelta{
		ID: 1, Full: true, Master: a.id(), Props: wantProps("map", mpStr("dust")),
		Joins: []codec.PlayerInfo{{ID: a.id(), Name: "alice", Props: codec.Props{}}},
	})
	r := x.h.rooms[1]
	if r == nil || r.master != a.p || a.p.room != r || x.h.codes[j.JoinCode] != r || x.stats.rooms.Load() != 1 {
		t.Fatal("room not registered")
	}

	// max_players 0 takes the server's; over it is refused.
	b, c := x.player("b"), x.player("c")
	b.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 6, Mode: []byte("dm")})
	c.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 7, Mode: []byte("dm"), MaxPlayers: 9})
	x.tick()
	if j := one(t, b.recv(), codec.TRoomJoined); j.MaxPlayers != 8 || j.RID != 6 {
		t.Fatalf("default max players: %+v", j)
	}
	wantError(t, c.recv(), 7, codec.CodeBadRequest)
	if c.p.room != nil || len(x.h.rooms) != 2 {
		t.Fatal("room created over the player limit")
	}
	// Creating while in a room.
	a.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 8, Mode: []byte("dm")})
	x.tick()
	wantError(t, a.recv(), 8, codec.CodeAlreadyInRoom)
}

func TestRoomCreateLimit(t *testing.T) {
	cfg := testHubConfig()
	cfg.maxRooms = 2
	x := newHarnessConfig(t, cfg)
	for i := range 2 {
		c := x.player("p")
		c.createRoom("dm", 0, i == 0, nil)
	}
	c := x.player("late")
	c.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 3, Mode: []byte("dm")})
	x.tick()
	wantError(t, c.recv(), 3, codec.CodeLimit)
}

func TestRoomJoinByCode(t *testing.T) {
	x := newHarness(t)
	a, b := x.player("a"), x.player("b")
	id, code := a.createRoom("dm", 4, false, nil)
	b.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 9, Code: []byte("  " + strings.ToLower(code) + " ")})
	x.tick()
	ms := b.recv()
	j := one(t, ms, codec.TRoomJoined)
	if j.RID != 9 || j.RoomID != id || j.JoinCode != code || j.Mode != "dm" || j.MaxPlayers != 4 {
		t.Fatalf("room_joined %+v", j)
	}
	wantEqual(t, "full frame", roomOf(t, ms), &codec.RoomDelta{ID: id, Full: true, Master: a.id(), Props: codec.Props{},
		Joins: []codec.PlayerInfo{{ID: a.id(), Name: "a", Props: codec.Props{}}, {ID: b.id(), Name: "b", Props: codec.Props{}}}})
	wantEqual(t, "joins", roomOf(t, a.recv()).Joins, []codec.PlayerInfo{{ID: b.id(), Name: "b", Props: codec.Props{}}})
}

func TestRoomJoinByID(t *testing.T) {
	x := newHarness(t)
	a, b, c, d := x.player("a"), x.player("b"), x.player("c"), x.player("d")
	pub, _ := a.createRoom("dm", 0, true, nil)
	priv, privCode := b.createRoom("dm", 0, false, nil)
	c.send(codec.ClientMsg{Type: codec.TJoinRoom, RID: 3, RoomID: pub})
	d.send(codec.ClientMsg{Type: codec.TJoinRoom, RID: 4, RoomID: priv})
	x.tick()
	if j := one(t, c.recv(), codec.TRoomJoined); j.RoomID != pub || j.RID != 3 {
		t.Fatalf("join by id: %+v", j)
	}
	wantError(t, d.recv(), 4, codec.CodeRoomNotFound)
	if d.p.room != nil {
		t.Fatal("joined a private room by id")
	}
	// The private room is joinable by its code.
	d.joinCode(privCode)
	if d.p.room == nil || d.p.room.id != priv {
		t.Fatal("not in the private room")
	}
}

func TestRoomJoinErrors(t *testing.T) {
	x := newHarness(t)
	a, b, c, d := x.player("a"), x.player("b"), x.player("c"), x.player("d")
	full, fullCode := a.createRoom("dm", 2, true, nil)
	b.joinCode(fullCode)
	locked, lockedCode := c.createRoom("dm", 0, true, nil)
	c.send(codec.ClientMsg{Type: codec.TSetLocked, RID: 1, Locked: true})
	x.tick()
	drain(a, b, c, d)

	for _, tt := range []struct {
		name string
		m    codec.ClientMsg
		who  *tc
		code codec.Code
	}{
		{"full by code", codec.ClientMsg{Type: codec.TJoinCode, Code: []byte(fullCode)}, d, codec.CodeRoomFull},
		{"full by id", codec.ClientMsg{Type: codec.TJoinRoom, RoomID: full}, d, codec.CodeRoomFull},
		{"locked by code", codec.ClientMsg{Type: codec.TJoinCode, Code: []byte(lockedCode)}, d, codec.CodeRoomLocked},
		{"locked by id", codec.ClientMsg{Type: codec.TJoinRoom, RoomID: locked}, d, codec.CodeRoomLocked},
		{"unknown code", codec.ClientMsg{Type: codec.TJoinCode, Code: []byte("ZZZZZZ")}, d, codec.CodeRoomNotFound},
		{"unknown id", codec.ClientMsg{Type: codec.TJoinRoom, RoomID: 999}, d, codec.CodeRoomNotFound},
		{"already in a room (code)", codec.ClientMsg{Type: codec.TJoinCode, Code: []byte(lockedCode)}, a, codec.CodeAlreadyInRoom},
		{"already in a room (own room)", codec.ClientMsg{Type: codec.TJoinCode, Code: []byte(fullCode)}, a, codec.CodeAlreadyInRoom},
		{"already in a room (quick match)", codec.ClientMsg{Type: codec.TJoinOrCreate, Mode: []byte("dm")}, a, codec.CodeAlreadyInRoom},
	} {
		tt.m.RID = 42
		tt.who.send(tt.m)
		x.tick()
		ms := tt.who.recv()
		if e := ofType(ms, codec.TError); len(e) != 1 || e[0].Code != tt.code || e[0].RID != 42 {
			t.Fatalf("%s: got%s", tt.name, dump(ms))
		}
		if len(ofType(ms, codec.TRoomJoined)) != 0 {
			t.Fatalf("%s: joined", tt.name)
		}
	}
	if d.p.room != nil || a.p.room.id != full || len(x.h.rooms[full].members) != 2 || len(x.h.rooms[locked].members) != 1 {
		t.Fatal("membership changed by a refused join")
	}
}

func TestRoomLeave(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b", "c")
	a, b, c := cs[0], cs[1], cs[2]
	b.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 9})
	x.tick()
	ms := b.recv()
	if len(ms) != 1 {
		t.Fatalf("want only room_left (no frame outside a room):%s", dump(ms))
	}
	if l := one(t, ms, codec.TRoomLeft); l.RID != 9 || l.Code != 0 {
		t.Fatalf("room_left %+v", l)
	}
	for _, o := range []*tc{a, c} {
		rd := roomOf(t, o.recv())
		wantEqual(t, "leaves", rd.Leaves, []uint32{b.id()})
		if len(rd.Joins) != 0 || rd.Master != a.id() {
			t.Fatalf("delta %+v", rd)
		}
	}
	if b.p.room != nil || r.member(b.id()) != nil || len(r.members) != 2 {
		t.Fatal("still a member")
	}
	// Reported once only.
	x.tick()
	if rd := roomOf(t, a.recv()); len(rd.Leaves) != 0 {
		t.Fatalf("leave repeated: %v", rd.Leaves)
	}
	b.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 10})
	x.tick()
	wantError(t, b.recv(), 10, codec.CodeNotInRoom)
}

func TestRoomList(t *testing.T) {
	x := newHarness(t)
	ps := make([]*tc, 8)
	for i := range ps {
		ps[i] = x.player("p")
	}
	r1, _ := ps[0].createRoom("dm", 4, true, props("lvl", mpInt(1)))
	r2, _ := ps[1].createRoom("ctf", 0, true, props("lvl", mpInt(2)))
	ps[2].createRoom("dm", 0, false, props("lvl", mpInt(1)))             // private
	ps[3].createRoom("dm", 0, true, props("lvl", mpInt(1)))              // emptied below
	r5, code5 := ps[4].createRoom("dm", 0, true, props("lvl", mpInt(1))) // two members, locked
	ps[5].joinCode(code5)
	ps[3].send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 1})
	ps[4].send(codec.ClientMsg{Type: codec.TSetLocked, RID: 1, Locked: true})
	x.tick()

	lister := ps[7]
	list := func(rid uint32, mode string, filter []codec.Prop, limit int) []codec.RoomInfo {
		t.Helper()
		lister.send(codec.ClientMsg{Type: codec.TListRooms, RID: rid, Mode: []byte(mode), Props: filter, Limit: limit})
		x.tick()
		l := one(t, lister.recv(), codec.TRoomList)
		if l.RID != rid {
			t.Fatalf("rid %d", l.RID)
		}
		if len(l.Rooms) == 0 {
			return []codec.RoomInfo{} // nil and empty are the same list
		}
		return l.Rooms
	}
	info1 := codec.RoomInfo{ID: r1, Mode: "dm", Players: 1, MaxPlayers: 4, Props: wantProps("lvl", mpInt(1))}
	info2 := codec.RoomInfo{ID: r2, Mode: "ctf", Players: 1, MaxPlayers: 8, Props: wantProps("lvl", mpInt(2))}
	info5 := codec.RoomInfo{ID: r5, Mode: "dm", Players: 2, MaxPlayers: 8, Locked: true, Props: wantProps("lvl", mpInt(1))}

	wantEqual(t, "all", list(1, "", nil, 0), []codec.RoomInfo{info1, info2, info5})
	wantEqual(t, "mode dm", list(2, "dm", nil, 0), []codec.RoomInfo{info1, info5})
	wantEqual(t, "mode none", list(3, "race", nil, 0), []codec.RoomInfo{})
	wantEqual(t, "lvl=1", list(4, "", props("lvl", mpInt(1)), 0), []codec.RoomInfo{info1, info5})
	wantEqual(t, "lvl=2", list(5, "", props("lvl", mpInt(2)), 0), []codec.RoomInfo{info2})
	// The same number encoded differently is a different value.
	wantEqual(t, "lvl=int16(1)", list(6, "", props("lvl", []byte{0xd1, 0x00, 0x01}), 0), []codec.RoomInfo{})
	wantEqual(t, "missing key", list(7, "", props("nope", mpInt(1)), 0), []codec.RoomInfo{})
	wantEqual(t, "limit 1", list(8, "", nil, 1), []codec.RoomInfo{info1})
	wantEqual(t, "limit 2 dm", list(9, "dm", nil, 2), []codec.RoomInfo{info1, info5})
}

func TestRoomListMaxListed(t *testing.T) {
	cfg := testHubConfig()
	cfg.maxListed = 3
	x := newHarnessConfig(t, cfg)
	for range 5 {
		x.player("p").createRoom("dm", 0, true, nil)
	}
	c := x.player("lister")
	c.send(codec.ClientMsg{Type: codec.TListRooms, RID: 1, Limit: 100})
	x.tick()
	if l := one(t, c.recv(), codec.TRoomList); len(l.Rooms) != 3 || l.Rooms[0].ID != 1 || l.Rooms[2].ID != 3 {
		t.Fatalf("rooms %+v", l.Rooms)
	}
}

func TestRoomJoinOrCreate(t *testing.T) {
	x := newHarness(t)
	lvl := props("lvl", mpInt(1))
	fill := func(maxPlayers, members int, public bool, mode string, lock bool) uint32 {
		t.Helper()
		host := x.player("host")
		id, code := host.createRoom(mode, maxPlayers, public, lvl)
		for range members - 1 {
			x.player("m").joinCode(code)
		}
		if lock {
			host.send(codec.ClientMsg{Type: codec.TSetLocked, RID: 1, Locked: true})
			x.tick()
		}
		return id
	}
	small := fill(0, 1, true, "dm", false)
	best := fill(0, 2, true, "dm", false)
	fill(0, 3, true, "dm", true)   // locked
	fill(2, 2, true, "dm", false)  // full
	fill(0, 3, false, "dm", false) // private
	fill(0, 3, true, "ctf", false) // other mode
	other := fill(0, 4, true, "dm", false)
	x.h.rooms[other].props.merge(props("lvl", mpInt(2)), 32) // other props
	rooms := len(x.h.rooms)

	j := x.player("j")
	j.send(codec.ClientMsg{Type: codec.TJoinOrCreate, RID: 3, Mode: []byte("dm"), Props: lvl})
	x.tick()
	ms := j.recv()
	if jm := one(t, ms, codec.TRoomJoined); jm.RoomID != best || jm.RID != 3 {
		t.Fatalf("quick match joined room %d, want %d (the fullest open match)", jm.RoomID, best)
	}
	if !roomOf(t, ms).Full {
		t.Fatal("no full frame")
	}
	// best now has 3 members and small 1: the next goes to best again.
	k := x.player("k")
	k.send(codec.ClientMsg{Type: codec.TJoinOrCreate, RID: 4, Mode: []byte("dm"), Props: lvl})
	x.tick()
	if jm := one(t, k.recv(), codec.TRoomJoined); jm.RoomID != best {
		t.Fatalf("joined %d, want %d", jm.RoomID, best)
	}
	if len(x.h.rooms) != rooms || len(x.h.rooms[small].members) != 1 {
		t.Fatal("rooms changed")
	}

	// No match: a new public room with the mode, props and max players.
	n := x.player("n")
	n.send(codec.ClientMsg{Type: codec.TJoinOrCreate, RID: 5, Mode: []byte("race"), Props: props("track", mpStr("monza")), MaxPlayers: 3})
	x.tick()
	ms = n.recv()
	jm := one(t, ms, codec.TRoomJoined)
	if jm.Mode != "race" || jm.MaxPlayers != 3 || jm.RID != 5 || len(x.h.rooms) != rooms+1 {
		t.Fatalf("created %+v", jm)
	}
	r := x.h.rooms[jm.RoomID]
	if !r.public || r.master != n.p || r.locked {
		t.Fatalf("new room public=%v master=%v locked=%v", r.public, r.master == n.p, r.locked)
	}
	wantEqual(t, "new room", roomOf(t, ms), &codec.RoomDelta{ID: r.id, Full: true, Master: n.id(),
		Props: wantProps("track", mpStr("monza")), Joins: []codec.PlayerInfo{{ID: n.id(), Name: "n", Props: codec.Props{}}}})
	// ...which the next quick match with the same props joins.
	o := x.player("o")
	o.send(codec.ClientMsg{Type: codec.TJoinOrCreate, RID: 6, Mode: []byte("race"), Props: props("track", mpStr("monza"))})
	x.tick()
	if jm2 := one(t, o.recv(), codec.TRoomJoined); jm2.RoomID != r.id {
		t.Fatalf("joined %d, want %d", jm2.RoomID, r.id)
	}
}

func TestRoomSetProps(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	set := func(c *tc, rid uint32, ps []codec.Prop) []*codec.ServerMsg {
		c.send(codec.ClientMsg{Type: codec.TSetRoomProps, RID: rid, Props: ps})
		x.tick()
		return c.recv()
	}
	ms := set(a, 1, props("a", mpInt(1), "b", mpInt(2)))
	wantOK(t, ms, 1)
	wantEqual(t, "props", roomOf(t, ms).Props, wantProps("a", mpInt(1), "b", mpInt(2)))
	wantEqual(t, "props seen by b", roomOf(t, b.recv()).Props, wantProps("a", mpInt(1), "b", mpInt(2)))

	ms = set(b, 2, props("a", mpInt(5)))
	wantError(t, ms, 2, codec.CodeNotMaster)
	if p := roomOf(t, ms).Props; p != nil {
		t.Fatalf("refused change sent: %v", p)
	}
	a.recv()

	ms = set(a, 3, props("b", mpInt(3), "c", mpStr("x")))
	wantOK(t, ms, 3)
	wantEqual(t, "merged", roomOf(t, ms).Props, wantProps("a", mpInt(1), "b", mpInt(3), "c", mpStr("x")))
	b.recv()

	ms = set(a, 4, []codec.Prop{{Key: []byte("a"), Value: []byte{0xc0}}, {Key: []byte("zz"), Value: []byte{0xc0}}})
	wantOK(t, ms, 4)
	wantEqual(t, "deleted", roomOf(t, ms).Props, wantProps("b", mpInt(3), "c", mpStr("x")))
	b.recv()

	// 2 keys + 31 new > 32: refused, nothing changed.
	var many []codec.Prop
	for i := range 31 {
		many = append(many, codec.Prop{Key: []byte("k" + itoa(uint64(i))), Value: mpInt(int64(i))})
	}
	many[0] = codec.Prop{Key: []byte("b"), Value: mpInt(99)} // an update in the refused set
	many = append(many, codec.Prop{Key: []byte("k99"), Value: mpInt(1)})
	ms = set(a, 5, many)
	e := wantError(t, ms, 5, codec.CodeLimit)
	if e.Message != "33 properties, limit 32" {
		t.Fatalf("limit message %q", e.Message)
	}
	if p := roomOf(t, ms).Props; p != nil {
		t.Fatalf("refused change sent: %v", p)
	}
	wantEqual(t, "keys", r.props.keys, []string{"b", "c"})
	wantEqual(t, "encoded", r.props.bytes(), append(append(append([]byte{0x82, 0xa1, 'b'}, mpInt(3)...), 0xa1, 'c'), mpStr("x")...))

	// Exactly at the limit is fine.
	ms = set(a, 6, many[1:31])
	wantOK(t, ms, 6)
	if len(r.props.keys) != 32 {
		t.Fatalf("%d keys", len(r.props.keys))
	}
	// Outside a room.
	a.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 7})
	x.tick()
	a.recv()
	ms = set(a, 8, props("a", mpInt(1)))
	wantError(t, ms, 8, codec.CodeNotInRoom)
}

func TestRoomPlayerProps(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	b.send(codec.ClientMsg{Type: codec.TSetPlayerProps, RID: 1, Props: props("team", mpStr("red"), "hp", mpInt(3))})
	x.tick()
	wantOK(t, b.recv(), 1)
	a.recv()
	b.send(codec.ClientMsg{Type: codec.TSetPlayerProps, RID: 2, Props: []codec.Prop{{Key: []byte("hp"), Value: []byte{0xc0}}, {Key: []byte("ready"), Value: []byte{0xc3}}}})
	x.tick()
	wantOK(t, b.recv(), 2)
	wantEqual(t, "player props", roomOf(t, a.recv()).PlayerProps,
		[]codec.PlayerProps{{ID: b.id(), Props: wantProps("team", mpStr("red"), "ready", []byte{0xc3})}})
	// A later joiner sees them in joins.
	c := x.player("c")
	drain(a, b)
	c.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 1, Code: []byte(r.code)})
	x.tick()
	wantEqual(t, "joins", roomOf(t, c.recv()).Joins, []codec.PlayerInfo{
		{ID: a.id(), Name: "a", Props: codec.Props{}},
		{ID: b.id(), Name: "b", Props: wantProps("team", mpStr("red"), "ready", []byte{0xc3})},
		{ID: c.id(), Name: "c", Props: codec.Props{}},
	})
	drain(a, b)
	// Over the key limit: refused, unchanged.
	var many []codec.Prop
	for i := range 31 {
		many = append(many, codec.Prop{Key: []byte("k" + itoa(uint64(i))), Value: mpInt(1)})
	}
	b.send(codec.ClientMsg{Type: codec.TSetPlayerProps, RID: 3, Props: many})
	x.tick()
	wantError(t, b.recv(), 3, codec.CodeLimit)
	if len(b.p.props.keys) != 2 {
		t.Fatalf("%d keys after a refused set", len(b.p.props.keys))
	}
	if pp := roomOf(t, a.recv()).PlayerProps; len(pp) != 0 {
		t.Fatalf("refused change sent: %v", pp)
	}
	// Player props work outside a room too.
	d := x.player("d")
	d.send(codec.ClientMsg{Type: codec.TSetPlayerProps, RID: 4, Props: props("x", mpInt(1))})
	x.tick()
	ms := d.recv()
	wantOK(t, ms, 4)
	if len(ms) != 1 {
		t.Fatalf("player in no room got a frame:%s", dump(ms))
	}
	wantEqual(t, "keys", d.p.props.keys, []string{"x"})
}

func TestRoomLock(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	c := x.player("c")
	b.send(codec.ClientMsg{Type: codec.TSetLocked, RID: 1, Locked: true})
	x.tick()
	wantError(t, b.recv(), 1, codec.CodeNotMaster)
	if r.locked {
		t.Fatal("locked by a non-master")
	}
	a.recv()
	a.send(codec.ClientMsg{Type: codec.TSetLocked, RID: 2, Locked: true})
	x.tick()
	ms := a.recv()
	wantOK(t, ms, 2)
	if !roomOf(t, ms).Locked || !roomOf(t, b.recv()).Locked {
		t.Fatal("frames do not show the lock")
	}
	c.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 3, Code: []byte(r.code)})
	x.tick()
	wantError(t, c.recv(), 3, codec.CodeRoomLocked)
	a.send(codec.ClientMsg{Type: codec.TSetLocked, RID: 4, Locked: false})
	c.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 5, Code: []byte(r.code)})
	x.tick()
	wantOK(t, a.recv(), 4)
	ms = c.recv()
	if j := one(t, ms, codec.TRoomJoined); j.RID != 5 || roomOf(t, ms).Locked {
		t.Fatal("not joined after unlock")
	}
	c.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 6})
	x.tick()
	c.recv()
	c.send(codec.ClientMsg{Type: codec.TSetLocked, RID: 7, Locked: true})
	x.tick()
	wantError(t, c.recv(), 7, codec.CodeNotInRoom)
}

func TestRoomKick(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b", "c")
	a, b, c := cs[0], cs[1], cs[2]
	outsider := x.player("d")

	b.send(codec.ClientMsg{Type: codec.TKick, RID: 1, PlayerID: c.id()})
	x.tick()
	wantError(t, b.recv(), 1, codec.CodeNotMaster)
	drain(a, c)

	a.send(codec.ClientMsg{Type: codec.TKick, RID: 2, PlayerID: a.id()})
	x.tick()
	wantError(t, a.recv(), 2, codec.CodeBadRequest)

	a.send(codec.ClientMsg{Type: codec.TKick, RID: 3, PlayerID: 999})
	x.tick()
	wantError(t, a.recv(), 3, codec.CodePlayerNotFound)
	a.send(codec.ClientMsg{Type: codec.TKick, RID: 4, PlayerID: outsider.id()})
	x.tick()
	wantError(t, a.recv(), 4, codec.CodePlayerNotFound)
	drain(b, c)

	a.send(codec.ClientMsg{Type: codec.TKick, RID: 5, PlayerID: b.id()})
	x.tick()
	ms := a.recv()
	wantOK(t, ms, 5)
	wantEqual(t, "leaves", roomOf(t, ms).Leaves, []uint32{b.id()})
	wantEqual(t, "leaves", roomOf(t, c.recv()).Leaves, []uint32{b.id()})
	ms = b.recv()
	if len(ms) != 1 {
		t.Fatalf("kicked player got:%s", dump(ms))
	}
	if l := one(t, ms, codec.TRoomLeft); l.RID != 0 || l.Code != codec.CodeKicked {
		t.Fatalf("room_left %+v", l)
	}
	if b.p.room != nil || len(r.members) != 2 || b.p.closing {
		t.Fatal("kick did not just remove the player from the room")
	}
	// A kicked player may come back.
	b.joinCode(r.code)
}

func TestRoomMasterReassign(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b", "c")
	a, b, c := cs[0], cs[1], cs[2]
	// b leaves and rejoins: c is now present longer than b.
	b.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 1})
	x.tick()
	b.joinCode(r.code)
	drain(cs...)

	a.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 2})
	x.tick()
	for _, o := range []*tc{b, c} {
		rd := roomOf(t, o.recv())
		if rd.Master != c.id() {
			t.Fatalf("master %d, want %d (longest present)", rd.Master, c.id())
		}
		wantEqual(t, "leaves", rd.Leaves, []uint32{a.id()})
	}
	if r.master != c.p {
		t.Fatal("room master not reassigned")
	}
	// The new master may use master operations, the old one no longer.
	c.send(codec.ClientMsg{Type: codec.TSetLocked, RID: 3, Locked: true})
	x.tick()
	wantOK(t, c.recv(), 3)
	drain(b)
	c.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 4})
	x.tick()
	if rd := roomOf(t, b.recv()); rd.Master != b.id() {
		t.Fatalf("master %d, want %d", rd.Master, b.id())
	}
	b.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 5})
	x.tick()
	if r.master != nil || len(r.members) != 0 {
		t.Fatal("empty room has a master")
	}
}

// Masters closed (not leaving) also hand over the role.
func TestRoomMasterClosedHandsOver(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b")
	cs[0].send(codec.ClientMsg{Type: codec.TBye})
	x.tick()
	wantClose(t, cs[0].recv(), codec.CodeClientClosed)
	rd := roomOf(t, cs[1].recv())
	if rd.Master != cs[1].id() || r.master != cs[1].p {
		t.Fatalf("master %d", rd.Master)
	}
	wantEqual(t, "leaves", rd.Leaves, []uint32{cs[0].id()})
}

func TestRoomEmptyReaped(t *testing.T) {
	x := newHarness(t)
	a, b, c := x.player("a"), x.player("b"), x.player("c")
	// Line up so that the leave is just after a reaping tick (a multiple
	// of the tick rate): the next reaping tick is inside the grace.
	for x.n%30 != 29 {
		x.tick()
	}
	id, code := a.createRoom("dm", 0, true, nil) // tick ≡ 0 (mod 30)
	a.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 1})
	x.tick() // ≡ 1
	r := x.h.rooms[id]
	if r == nil || len(r.members) != 0 || !r.emptySince.Equal(x.timeOf(x.n)) {
		t.Fatal("empty room not kept with its empty time")
	}
	x.ticks(29) // a reaping tick 29 ticks (< 1s) after the leave
	if x.n%30 != 0 || x.h.rooms[id] == nil {
		t.Fatal("room reaped within the grace")
	}
	// Joinable by code (not listed) while empty.
	lister := c
	lister.send(codec.ClientMsg{Type: codec.TListRooms, RID: 1})
	b.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 2, Code: []byte(code)})
	x.tick()
	if l := one(t, lister.recv(), codec.TRoomList); len(l.Rooms) != 0 {
		t.Fatalf("empty room listed: %+v", l.Rooms)
	}
	ms := b.recv()
	if j := one(t, ms, codec.TRoomJoined); j.RoomID != id {
		t.Fatal("joined another room")
	}
	if rd := roomOf(t, ms); !rd.Full || rd.Master != b.id() {
		t.Fatalf("rejoined empty room: %+v", rd)
	}
	if !r.emptySince.IsZero() {
		t.Fatal("emptySince not cleared by the join")
	}
	b.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 3})
	x.tick()
	left := x.n
	// The grace counts from the last leave: 1s is 30 ticks of 33.3ms, and
	// reaping runs on multiples of 30.
	for x.timeOf(x.n+1).Sub(x.timeOf(left)) < time.Second || (x.n+1)%30 != 0 {
		x.tick()
		if x.h.rooms[id] == nil {
			t.Fatalf("reaped at tick %d, %v after the leave", x.n, x.timeOf(x.n).Sub(x.timeOf(left)))
		}
	}
	x.tick()
	if x.h.rooms[id] != nil || x.h.codes[code] != nil {
		t.Fatalf("room kept at tick %d, %v after the leave", x.n, x.timeOf(x.n).Sub(x.timeOf(left)))
	}
	for _, rr := range x.h.roomOrder {
		if rr.id == id {
			t.Fatal("room still in roomOrder")
		}
	}
	if got := x.stats.rooms.Load(); got != 0 {
		t.Fatalf("rooms gauge %d", got)
	}
	c.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 4, Code: []byte(code)})
	x.tick()
	wantError(t, c.recv(), 4, codec.CodeRoomNotFound)
}
