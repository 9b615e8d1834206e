package conformance

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tickrelay/tickrelay/relay"
)

// Sections 4.2 to 4.6: making, finding, joining and leaving rooms, and
// section 5.4's replies.

var codePattern = regexp.MustCompile(`^[0-9A-Z]{6}$`)

func TestSection4_2_CreateRoom(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a := e.join("ana")
		rid := a.request(TCreateRoom, "dm", 4, true, propsMap("map", 2))
		j := a.joined(rid)
		if j.RoomID == 0 || !codePattern.MatchString(j.Code) || j.Mode != "dm" || j.MaxPlayers != 4 {
			t.Errorf("room_joined %+v", j)
		}
		v := a.view
		me := a.welcome.PlayerID
		if v.id != j.RoomID || v.master != me || v.locked || !equalProps(v.props, props("map", 2)) ||
			len(v.players) != 1 || v.players[me] == nil || v.players[me].name != "ana" {
			t.Errorf("the full frame's room: %+v", v)
		}
		// max_players 0 means the server's default (16); private rooms
		// are not listed.
		b := e.join("bo")
		jb := b.joined(b.request(TCreateRoom, "ctf", 0, false, nil))
		if jb.MaxPlayers != 16 || jb.RoomID == j.RoomID || jb.Code == j.Code {
			t.Errorf("default room: %+v", jb)
		}
		l := a.reply(a.request(TListRooms, "", nil, 0))
		if len(l.Rooms) != 1 || l.Rooms[0].RoomID != j.RoomID {
			t.Errorf("listed %+v, want only the public room", l.Rooms)
		}
		// Already in a room.
		a.expectRefused(a.request(TCreateRoom, "dm", 0, true, nil), CodeAlreadyInRoom)
	})
}

// Decision 3: a create_room out of range or over a limit is answered with
// an error, nothing is created, and the session stays open.
func TestSection4_2_CreateRoomRefusals(t *testing.T) {
	many := propsMap()
	for i := range 33 {
		many = append(many, KV{string(rune('A' + i)), i})
	}
	cases := []struct {
		name   string
		fields []any
		code   int
	}{
		{"max_players over the server's limit", []any{"dm", 17, true, nil}, CodeBadRequest},
		{"max_players over the protocol's limit", []any{"dm", 65, true, nil}, CodeBadRequest},
		{"max_players negative", []any{"dm", -1, true, nil}, CodeBadRequest},
		{"mode of 33 bytes", []any{strings.Repeat("m", 33), 0, true, nil}, CodeTooLarge},
		{"33 props", []any{"dm", 0, true, many}, CodeLimit},
		{"prop key of 33 bytes", []any{"dm", 0, true, propsMap(strings.Repeat("k", 33), 1)}, CodeTooLarge},
		{"prop value of 257 bytes", []any{"dm", 0, true, propsMap("k", strings.Repeat("v", 255))}, CodeTooLarge},
	}
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{MaxPlayersPerRoom: 16})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := e.on(t).join("ana")
				c.expectRefused(c.request(TCreateRoom, tc.fields...), tc.code)
				// Nothing was created: the client is in no room and
				// can still create one.
				c.joined(c.request(TCreateRoom, "dm", 16, true, nil))
			})
		}
	})
}

// -max-rooms reached: create_room fails with limit.
func TestSection4_2_CreateRoomServerLimit(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{MaxRooms: 1})
		a, b := e.join("ana"), e.join("bo")
		a.joined(a.request(TCreateRoom, "dm", 0, true, nil))
		b.expectRefused(b.request(TCreateRoom, "dm", 0, true, nil), CodeLimit)
		b.expectRefused(b.request(TJoinOrCreate, "ctf", nil, 0), CodeLimit)
	})
}

func TestSection4_3_JoinRoomAndJoinCode(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, c := e.join("ana"), e.join("bo"), e.join("cy")
		pub := a.joined(a.request(TCreateRoom, "dm", 2, true, nil))
		priv := c.joined(c.request(TCreateRoom, "dm", 0, false, nil))
		d := e.join("dee")

		// A public room by id: both sides see each other.
		b.joined(b.request(TJoinRoom, pub.RoomID))
		if len(b.view.players) != 2 || b.view.master != a.welcome.PlayerID {
			t.Errorf("bo's full frame: %+v", b.view)
		}
		a.waitView("bo joining", func(v *roomView) bool {
			p := v.players[b.welcome.PlayerID]
			return p != nil && p.name == "bo"
		})
		// The room is full now (max 2).
		d.expectRefused(d.request(TJoinRoom, pub.RoomID), CodeRoomFull)
		d.expectRefused(d.request(TJoinCode, pub.Code), CodeRoomFull)
		// A private room is not joinable by id, only by code, in any case.
		d.expectRefused(d.request(TJoinRoom, priv.RoomID), CodeRoomNotFound)
		d.expectRefused(d.request(TJoinRoom, 999999), CodeRoomNotFound)
		d.expectRefused(d.request(TJoinCode, "ZZZZZZ"), CodeRoomNotFound)
		j := d.joined(d.request(TJoinCode, strings.ToLower(priv.Code)))
		if j.RoomID != priv.RoomID || j.Code != priv.Code {
			t.Errorf("joined %+v by code, want room %d", j, priv.RoomID)
		}
		// Already in a room.
		d.expectRefused(d.request(TJoinRoom, pub.RoomID), CodeAlreadyInRoom)
		d.expectRefused(d.request(TJoinCode, priv.Code), CodeAlreadyInRoom)
	})
}

// Decision 3: a join code over its byte limit is too_large, a room id that
// is not a u32 is bad_request; both leave the session open.
func TestSection4_3_JoinRefusals(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		cases := []struct {
			name   string
			fields []any
			code   int
		}{
			{"code of 64 bytes", []any{TJoinCode, strings.Repeat("A", 64)}, CodeTooLarge},
			{"room id 2^32", []any{TJoinRoom, uint64(1) << 32}, CodeBadRequest},
			{"room id -1", []any{TJoinRoom, -1}, CodeBadRequest},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := e.on(t).join("ana")
				c.expectRefused(c.request(tc.fields[0].(int), tc.fields[1:]...), tc.code)
			})
		}
	})
}

func TestSection4_4_ListRooms(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{MaxListedRooms: 3})
		a, b, c, d := e.join("ana"), e.join("bo"), e.join("cy"), e.join("dee")
		ra := a.joined(a.request(TCreateRoom, "dm", 4, true, propsMap("map", 2)))
		rb := b.joined(b.request(TCreateRoom, "ctf", 8, true, propsMap("map", 3)))
		c.joined(c.request(TCreateRoom, "dm", 4, false, propsMap("map", 2))) // private
		rd := d.joined(d.request(TCreateRoom, "dm", 5, true, nil))
		d.expectOK(d.request(TSetLocked, true))
		empty := e.join("eve") // a public room without players is not listed
		empty.joined(empty.request(TCreateRoom, "dm", 0, true, nil))
		empty.reply(empty.request(TLeaveRoom))
		b2 := e.join("bob2")
		b2.joined(b2.request(TJoinRoom, rb.RoomID))

		l := e.join("lister")
		list := func(mode string, filter any, limit int) []RoomEntry {
			m := l.reply(l.request(TListRooms, mode, filter, limit))
			if m.Type != TRoomList {
				t.Fatalf("got %s, want room_list", describe(m))
			}
			return m.Rooms
		}
		all := list("", nil, 0)
		if len(all) != 3 {
			t.Fatalf("listed %d rooms, want the 3 public rooms with players: %+v", len(all), all)
		}
		byID := map[uint32]RoomEntry{}
		for _, r := range all {
			byID[r.RoomID] = r
		}
		want := map[uint32]RoomEntry{
			ra.RoomID: {RoomID: ra.RoomID, Mode: "dm", Players: 1, MaxPlayers: 4, Props: props("map", 2)},
			rb.RoomID: {RoomID: rb.RoomID, Mode: "ctf", Players: 2, MaxPlayers: 8, Props: props("map", 3)},
			rd.RoomID: {RoomID: rd.RoomID, Mode: "dm", Players: 1, MaxPlayers: 5, Locked: true, Props: Props{}},
		}
		for id, w := range want {
			g, ok := byID[id]
			if !ok || g.Mode != w.Mode || g.Players != w.Players || g.MaxPlayers != w.MaxPlayers ||
				g.Locked != w.Locked || !equalProps(g.Props, w.Props) {
				t.Errorf("room %d listed as %+v, want %+v", id, g, w)
			}
		}
		if got := list("ctf", nil, 0); len(got) != 1 || got[0].RoomID != rb.RoomID {
			t.Errorf("mode ctf: %+v", got)
		}
		if got := list("", propsMap("map", 2), 0); len(got) != 1 || got[0].RoomID != ra.RoomID {
			t.Errorf("filter map=2: %+v", got)
		}
		// Filters compare encoded bytes: 2 as a uint16 is another value.
		if got := list("", propsMap("map", Raw{0xcd, 0, 2}), 0); len(got) != 0 {
			t.Errorf("filter map=cd0002: %+v", got)
		}
		if got := list("", nil, 1); len(got) != 1 {
			t.Errorf("limit 1: %d rooms", len(got))
		}
		// limit 0 is the server's maximum.
		f := e.join("fay")
		f.joined(f.request(TCreateRoom, "dm", 0, true, nil))
		if got := list("", nil, 0); len(got) != 3 {
			t.Errorf("limit 0 with 4 listable rooms and a maximum of 3: %d rooms", len(got))
		}
		// Decision 3: a negative limit is out of range.
		l.expectRefused(l.request(TListRooms, "", nil, -1), CodeBadRequest)
	})
}

func TestSection4_5_JoinOrCreate(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a := e.join("ana")
		// Nobody to match: a public room with that mode, props and size.
		ja := a.joined(a.request(TJoinOrCreate, "dm", propsMap("map", 2), 3))
		if ja.Mode != "dm" || ja.MaxPlayers != 3 || a.view.master != a.welcome.PlayerID ||
			!equalProps(a.view.props, props("map", 2)) {
			t.Errorf("created %+v, room %+v", ja, a.view)
		}
		l := a.reply(a.request(TListRooms, "", nil, 0))
		if len(l.Rooms) != 1 || l.Rooms[0].RoomID != ja.RoomID {
			t.Errorf("the quick-match room is not public: %+v", l.Rooms)
		}
		// A matching player joins it; another mode or other props do not.
		b := e.join("bo")
		if jb := b.joined(b.request(TJoinOrCreate, "dm", propsMap("map", 2), 3)); jb.RoomID != ja.RoomID {
			t.Errorf("bo quick-matched into %d, want %d", jb.RoomID, ja.RoomID)
		}
		c := e.join("cy")
		jc := c.joined(c.request(TJoinOrCreate, "dm", propsMap("map", 3), 3))
		d := e.join("dee")
		jd := d.joined(d.request(TJoinOrCreate, "ctf", propsMap("map", 2), 3))
		if jc.RoomID == ja.RoomID || jd.RoomID == ja.RoomID || jc.RoomID == jd.RoomID {
			t.Errorf("rooms %d, %d, %d: other props or mode matched", ja.RoomID, jc.RoomID, jd.RoomID)
		}
		// The fullest matching room wins: a (2 players) over c's second dm
		// room (1 player). An empty props filter matches any props.
		f := e.join("fay")
		if jf := f.joined(f.request(TJoinOrCreate, "dm", nil, 0)); jf.RoomID != ja.RoomID {
			t.Errorf("fay quick-matched into %d, want the fullest, %d", jf.RoomID, ja.RoomID)
		}
		// ja is now full (3), jc is locked: a new room.
		c.expectOK(c.request(TSetLocked, true))
		g := e.join("gus")
		if jg := g.joined(g.request(TJoinOrCreate, "dm", nil, 0)); jg.RoomID == ja.RoomID || jg.RoomID == jc.RoomID {
			t.Errorf("gus quick-matched into a full or locked room %d", jg.RoomID)
		}
		a.expectRefused(a.request(TJoinOrCreate, "dm", nil, 0), CodeAlreadyInRoom)
		// Out of range or over a limit, as for create_room (decision 3).
		for _, tc := range []struct {
			name   string
			fields []any
			code   int
		}{
			{"max_players 65", []any{"new", nil, 65}, CodeBadRequest},
			{"max_players -1", []any{"new", nil, -1}, CodeBadRequest},
			{"mode of 33 bytes", []any{strings.Repeat("m", 33), nil, 0}, CodeTooLarge},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := e.on(t).join("hal")
				h.expectRefused(h.request(TJoinOrCreate, tc.fields...), tc.code)
			})
		}
	})
}

func TestSection4_6_LeaveRoom(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, c := e.join("ana"), e.join("bo"), e.join("cy")
		j := a.joined(a.request(TCreateRoom, "dm", 0, true, nil))
		b.joined(b.request(TJoinRoom, j.RoomID))
		c.joined(c.request(TJoinRoom, j.RoomID))
		c.waitView("three players", func(v *roomView) bool { return len(v.players) == 3 })

		// The master leaves: room_left with the rid and code 0; the member
		// present longest (bo) becomes master.
		rid := a.request(TLeaveRoom)
		if m := a.reply(rid); m.Type != TRoomLeft || m.Code != 0 {
			t.Fatalf("got %s, want room_left code 0", describe(m))
		}
		aID, bID := a.welcome.PlayerID, b.welcome.PlayerID
		c.waitView("ana leaving", func(v *roomView) bool { return v.players[aID] == nil })
		if c.view.master != bID {
			t.Errorf("master %d after the master left, want %d (present longest)", c.view.master, bID)
		}
		// Outside a room: no more frames (section 5.6), and leave_room is
		// an error.
		frames := a.frames
		seen := c.frames
		c.waitFor("three more frames", func() bool { return c.frames >= seen+3 })
		a.sync()
		if a.frames != frames {
			t.Errorf("%d frames after leaving the room", a.frames-frames)
		}
		a.expectRefused(a.request(TLeaveRoom), CodeNotInRoom)
	})
}
