package conformance

import (
	"bytes"
	"path"
	"strings"
	"testing"

	"github.com/tickrelay/tickrelay/relay"
)

// Section 2: frames.

// paddedSetProps returns a set_player_props body of exactly n bytes.
func paddedSetProps(t *testing.T, rid uint32, n int) []byte {
	for pad := 0; pad < n; pad++ {
		b := Msg(TSetPlayer, rid, Map{{"k", strings.Repeat("x", pad)}})
		if len(b) == n {
			return b
		}
	}
	t.Fatalf("no set_player_props body of %d bytes", n)
	return nil
}

// A body of exactly -max-message-bytes is taken; one byte more closes the
// session with frame_too_large.
func TestSection2_FrameSizeLimit(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{MaxFrameSize: 64})
		c := e.join("ana")
		c.sendBody(paddedSetProps(t, 1, 64))
		c.expectOK(1)
		c.sendBody(paddedSetProps(t, 2, 65))
		c.expectClose(CodeFrameTooLarge)
	})
}

// Over KCP the declared length alone closes the session, before any body.
func TestSection2_DeclaredLengthOverLimit(t *testing.T) {
	t.Parallel()
	e := startKCP(t, &relay.Server{MaxFrameSize: 64})
	c := e.join("ana")
	if err := c.tr.(StreamSender).SendStream([]byte{0, 0, 0, 65}); err != nil {
		t.Fatal(err)
	}
	c.expectClose(CodeFrameTooLarge)
}

// A zero-length frame is malformed.
func TestSection2_ZeroLengthFrame(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		c := e.join("ana")
		c.sendBody(nil)
		c.expectClose(CodeMalformed)
	})
}

// The body is one msgpack array whose first element is the type.
func TestSection2_BodyIsATypedArray(t *testing.T) {
	bodies := map[string][]byte{
		"not an array":    Encode(23),
		"empty array":     Msg(),
		"type not an int": Msg("ping", 1),
		"map":             Encode(Map{{23, 1}}),
	}
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		for name, body := range bodies {
			t.Run(name, func(t *testing.T) {
				c := e.on(t).join("ana")
				c.sendBody(body)
				c.expectClose(CodeMalformed)
			})
		}
	})
}

// Section 3: msgpack conventions.

// Every integer the server sends outside opaque values is in its smallest
// encoding.
func TestSection3_ServerUsesSmallestIntegers(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b := e.join("ana"), e.join("bo")
		j := a.joined(a.request(TCreateRoom, "dm", 200-190, true, propsMap("map", 300)))
		b.joined(b.request(TJoinRoom, j.RoomID))
		a.send(TState, []any{1000, -1000, 70000})
		a.send(TEvent, 0, 1<<20, "x", nil)
		a.send(TChat, 0, "hi")
		b.expectOK(b.request(TSetPlayer, propsMap("n", 1)))
		b.reply(b.request(TListRooms, "", nil, 0))
		b.expectError(b.request(TJoinCode, j.Code), CodeAlreadyInRoom)
		b.send(TPing, -1<<40)
		b.waitFor("the event and chat", func() bool { return len(b.chat) > 0 && len(b.events) > 0 })
		b.sync()
		a.sync()
		// Opaque values are the clients' bytes: skip them.
		// Opaque values are the clients' bytes: skip them. Paths are
		// element indexes from the message array (section 5's lists).
		opaque := map[int][]string{
			TFrame: {
				"/3/4",     // room props
				"/3/6/*/2", // joins: props
				"/3/7/*/1", // player_props: props
				"/3/8/*/1", // states: value
				"/4/*/3",   // events: payload
			},
			TRoomList: {"/2/*/5"}, // rooms: props
		}
		n := 0
		for _, c := range []*client{a, b} {
			for _, m := range c.log {
				skip := func(p string) bool {
					for _, pattern := range opaque[m.Type] {
						if ok, _ := path.Match(pattern, p); ok {
							return true
						}
					}
					return false
				}
				if s := Minimal(m.Body, skip); s != "" {
					t.Errorf("%s: message %d: %s", c.name, m.Type, s)
				}
				n++
			}
		}
		if n < 10 {
			t.Fatalf("only %d messages checked", n)
		}
	})
}

// The server accepts integers of any width.
func TestSection3_AnyIntegerWidth(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		c := e.connect("ana")
		c.send(THello, Raw{0xcf, 0, 0, 0, 0, 0, 0, 0, 1}, "ana", nil)
		c.expectWelcome()
		c.send(TCreateRoom, Raw{0xce, 0, 0, 0, 7}, "dm", Raw{0xd0, 4}, true, nil)
		if j := c.joined(7); j.MaxPlayers != 4 {
			t.Fatalf("max_players %d, want 4", j.MaxPlayers)
		}
		c.send(TPing, Raw{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb})
		for {
			m := c.next()
			if m.Type == TPong {
				if m.Pong.ClientTime != -5 {
					t.Fatalf("pong echoes %d, want -5", m.Pong.ClientTime)
				}
				break
			}
		}
	})
}

// A message may carry more elements than listed: the server skips them.
func TestSection3_ExtraElementsAreSkipped(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		c := e.connect("ana")
		c.send(THello, 1, "ana", nil, "", "", 0, "a later field", []any{1})
		c.expectWelcome()
		c.send(TCreateRoom, 1, "dm", 0, true, nil, "extra")
		c.joined(1)
		c.send(TListRooms, 2, "", nil, 0, Map{{"x", 1}})
		if m := c.reply(2); m.Type != TRoomList || len(m.Rooms) != 1 {
			t.Fatalf("got %s, want a list of one room", describe(m))
		}
		c.send(TState, 5, "extra")
		c.send(TPing, 1, 0, "extra")
		c.send(TBye, "extra")
		c.expectClose(CodeClientClosed)
	})
}

// Godot values as the addon encodes them (section 3's table).
var godotValues = []any{
	Ext{1, append(Encode(Float32(1))[1:], Encode(Float32(2))[1:]...)},                                         // Vector2
	Ext{2, bytes.Join([][]byte{Encode(Float32(1))[1:], Encode(Float32(2))[1:], Encode(Float32(3))[1:]}, nil)}, // Vector3
	Ext{3, bytes.Repeat(Encode(Float32(0.5))[1:], 4)},                                                         // Color
}

// Opaque values (states, property values, event payloads) are relayed
// byte for byte, whatever the client's encoding.
func TestSection3_OpaqueValuesAreRelayedUntouched(t *testing.T) {
	state := Encode([]any{godotValues[0], godotValues[1], godotValues[2], Float32(1.5), Raw{0xcd, 0, 5},
		Map{{1, "int key"}, {"s", []byte{1, 2}}}})
	if !bytes.HasPrefix(Encode(godotValues[0]), []byte{0xd7, 0x01}) || !bytes.HasPrefix(Encode(godotValues[1]), []byte{0xc7, 0x0c, 0x02}) ||
		!bytes.HasPrefix(Encode(godotValues[2]), []byte{0xd8, 0x03}) {
		t.Fatal("the Godot encodings are not section 3's")
	}
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b := e.join("ana"), e.join("bo")
		j := a.joined(a.request(TCreateRoom, "dm", 0, true, nil))
		b.joined(b.request(TJoinRoom, j.RoomID))
		aID := a.welcome.PlayerID
		a.send(TState, Raw(state))
		a.expectOK(a.request(TSetPlayer, Map{{"pos", godotValues[1]}, {"w", Raw{0xd1, 0, 1}}}))
		a.send(TEvent, 1, 9, Raw(Encode(godotValues[2])), nil)
		b.waitView("ana's state and props", func(v *roomView) bool {
			p := v.players[aID]
			return p != nil && p.state != nil && p.props["pos"] != ""
		})
		p := b.view.players[aID]
		if !bytes.Equal(p.state, state) {
			t.Errorf("state relayed as % x, sent % x", p.state, state)
		}
		if p.props["pos"] != string(Encode(godotValues[1])) || p.props["w"] != "\xd1\x00\x01" {
			t.Errorf("props relayed as %q", p.props)
		}
		b.waitFor("the event", func() bool { return len(b.events) > 0 })
		if ev := b.events[0]; !bytes.Equal(ev.Payload, Encode(godotValues[2])) || ev.From != aID || ev.Code != 9 {
			t.Errorf("event %+v", ev)
		}
	})
}

// nested returns a value of depth arrays around 0.
func nested(depth int) Raw {
	b := bytes.Repeat([]byte{0x91}, depth)
	return Raw(append(b, 0))
}

// Opaque values may nest 16 levels; deeper ones are refused with too_large
// and the session stays open (decision 3).
func TestSection3_OpaqueValueDepth(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		c := e.join("ana")
		c.joined(c.request(TCreateRoom, "dm", 0, true, nil))
		c.send(TState, nested(16))
		c.waitView("the 16-deep state", func(v *roomView) bool {
			return bytes.Equal(v.players[c.welcome.PlayerID].state, nested(16))
		})
		c.send(TState, nested(17))
		c.expectRefused(0, CodeTooLarge)
		c.expectRefused(c.request(TSetPlayer, Map{{"deep", nested(17)}}), CodeTooLarge)
		c.send(TEvent, 0, 1, nested(17), nil)
		c.expectRefused(0, CodeTooLarge)
	})
}

// A declared length past the bytes present makes the message unparseable:
// the session is closed with malformed.
func TestSection3_DeclaredLengthPastTheBytes(t *testing.T) {
	bodies := map[string][]byte{
		"state bin":       {0x92, TState, 0xc4, 0xff, 1, 2, 3},
		"state str":       {0x92, TState, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'},
		"state array":     {0x92, TState, 0xdd, 0xff, 0xff, 0xff, 0xff},
		"state map":       {0x92, TState, 0xdf, 0x7f, 0xff, 0xff, 0xff},
		"message array":   {0x9f, TPing, 1},
		"huge array":      {0xdd, 0x10, 0, 0, 0, TPing},
		"props map":       {0x93, TSetPlayer, 1, 0x85, 0xa1, 'k', 1},
		"huge props map":  {0x93, TSetPlayer, 1, 0xdf, 0x7f, 0xff, 0xff, 0xff},
		"bytes after":     append(Msg(TPing, 1), 0xc0),
		"name past bytes": {0x94, THello + 0, 1, 0xd9, 0x20, 'x'},
	}
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		for name, body := range bodies {
			t.Run(name, func(t *testing.T) {
				var c *client
				if name == "name past bytes" {
					c = e.on(t).connect("raw")
				} else {
					c = e.on(t).join("ana")
				}
				c.sendBody(body)
				c.expectClose(CodeMalformed)
			})
		}
	})
}
