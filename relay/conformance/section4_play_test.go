package conformance

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay"
)

// Sections 4.10 to 4.14: state, events, chat, ping and bye.

// sendTogether sends bodies so that the server applies them in one tick:
// over a byte stream, in one write (one datagram); otherwise one by one.
func (c *client) sendTogether(bodies ...[]byte) {
	c.t.Helper()
	if s, ok := c.tr.(StreamSender); ok {
		var b []byte
		for _, body := range bodies {
			b = append(b, Framed(body)...)
		}
		if err := s.SendStream(b); err != nil {
			c.t.Fatal(err)
		}
		return
	}
	for _, body := range bodies {
		c.sendBody(body)
	}
}

// statesOf lists the values of player id's state entries in c's frames.
func statesOf(c *client, id uint32) [][]byte {
	var out [][]byte
	for _, m := range c.log {
		if m.Type == TFrame && m.Frame.Room != nil {
			for _, s := range m.Frame.Room.States {
				if s.ID == id {
					out = append(out, s.Value)
				}
			}
		}
	}
	return out
}

func TestSection4_10_State(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		// Outside a room a state is dropped, without an error.
		a := e.join("ana")
		a.send(TState, "lost")
		a.sync()
		a, b, _ := room2(e)
		aID := a.welcome.PlayerID
		// The latest value wins.
		s1, s2, s3 := Msg(TState, 1), Msg(TState, 2), Msg(TState, 3)
		a.sendTogether(s1, s2, s3)
		for _, c := range []*client{a, b} {
			c.waitView("state 3", func(v *roomView) bool { return bytes.Equal(v.players[aID].state, Encode(3)) })
			// Every member, the sender too, gets it once.
			seen := c.frames
			c.waitFor("five more frames", func() bool { return c.frames >= seen+5 })
			got := statesOf(c, aID)
			if _, stream := c.tr.(StreamSender); stream && (len(got) != 1 || !bytes.Equal(got[0], Encode(3))) {
				t.Errorf("%s saw ana's states % x, want 3 once", c.name, got)
			}
			if !slices.IsSortedFunc(got, bytes.Compare) || len(got) > 3 {
				t.Errorf("%s saw ana's states % x", c.name, got)
			}
		}
		// 1024 encoded bytes is within the limit.
		max := Encode(make([]byte, 1021))
		if len(max) != 1024 {
			t.Fatal("bad test state")
		}
		a.send(TState, Raw(max))
		b.waitView("the 1024-byte state", func(v *roomView) bool { return bytes.Equal(v.players[aID].state, max) })
		// Decision 3: 1025 bytes is too_large with rid 0; the session
		// stays open and the state does not change.
		a.send(TState, Raw(Encode(make([]byte, 1022))))
		a.expectRefused(0, CodeTooLarge)
		b.sync()
		if !bytes.Equal(b.view.players[aID].state, max) {
			t.Error("a refused state replaced the last one")
		}
	})
}

// room3 puts a master and two members in one room.
func room3(e *env) (a, b, c *client) {
	e.t.Helper()
	a, b, j := room2(e)
	c = e.join("cy")
	c.joined(c.request(TJoinRoom, j.RoomID))
	for _, x := range []*client{a, b} {
		x.waitView("cy joining", func(v *roomView) bool { return len(v.players) == 3 })
	}
	return a, b, c
}

func eventCodes(c *client) []uint32 {
	var out []uint32
	for _, ev := range c.events {
		out = append(out, ev.Code)
	}
	return out
}

func TestSection4_11_Event(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		out := e.join("out")
		out.send(TEvent, 0, 1, nil, nil)
		out.expectRefused(0, CodeNotInRoom)

		a, b, c := room3(e)
		aID, bID := a.welcome.PlayerID, b.welcome.PlayerID
		a.send(TEvent, 0, 1, "all", nil)                                              // everyone, the sender too
		a.send(TEvent, 1, 2, nil, nil)                                                // all but the sender
		a.send(TEvent, 2, 3, []any{1}, []any{bID, bID, 999999, out.welcome.PlayerID}) // bo once; non-members skipped
		b.waitFor("event 3", func() bool { return slices.Contains(eventCodes(b), 3) })
		b.send(TEvent, 3, 4, nil, nil) // the master
		a.waitFor("event 4", func() bool { return slices.Contains(eventCodes(a), 4) })
		for code := uint32(10); code < 13; code++ {
			a.send(TEvent, 0, code, nil, nil)
		}
		a.send(TEvent, 0, uint32(math.MaxUint32), nil, nil)
		want := map[*client][]uint32{
			a: {1, 4, 10, 11, 12, math.MaxUint32},
			b: {1, 2, 3, 10, 11, 12, math.MaxUint32},
			c: {1, 2, 10, 11, 12, math.MaxUint32},
		}
		for x, codes := range want {
			x.waitFor("the last event", func() bool { return slices.Contains(eventCodes(x), math.MaxUint32) })
			x.sync()
			if got := eventCodes(x); !slices.Equal(got, codes) {
				t.Errorf("%s received events %v, want %v", x.name, got, codes)
			}
			for _, m := range x.log {
				for _, ev := range m.Frame.Events {
					if ev.Tick != m.Frame.Tick {
						t.Errorf("%s: event %d stamped tick %d in the frame of tick %d", x.name, ev.Code, ev.Tick, m.Frame.Tick)
					}
				}
			}
		}
		ev := b.events[0]
		if ev.From != aID || !bytes.Equal(ev.Payload, Encode("all")) || !bytes.Equal(b.events[1].Payload, []byte{0xc0}) {
			t.Errorf("events as received: %+v", b.events[:2])
		}
	})
}

// Decision 3 for events: refused with rid 0, the session stays open.
func TestSection4_11_EventRefusals(t *testing.T) {
	ids := make([]any, 65)
	for i := range ids {
		ids[i] = i + 1
	}
	cases := []struct {
		name   string
		fields []any
		code   int
	}{
		{"payload of 1025 bytes", []any{0, 1, Raw(Encode(make([]byte, 1022))), nil}, CodeTooLarge},
		{"payload nested 17 deep", []any{0, 1, nested(17), nil}, CodeTooLarge},
		{"target 4", []any{4, 1, nil, nil}, CodeBadRequest},
		{"65 target ids", []any{2, 1, nil, ids}, CodeLimit},
		{"code 2^32", []any{0, uint64(1) << 32, nil, nil}, CodeBadRequest},
		{"target id 2^32", []any{2, 1, nil, []any{uint64(1) << 32}}, CodeBadRequest},
	}
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				a, b, _ := room2(e.on(t))
				a.send(append([]any{TEvent}, tc.fields...)...)
				a.expectRefused(0, tc.code)
				b.sync()
				if len(b.events) != 0 {
					t.Errorf("a refused event was delivered: %+v", b.events)
				}
			})
		}
	})
}

func TestSection4_12_Chat(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, _ := room2(e)
		d := e.join("dee") // in no room
		aID, dID := a.welcome.PlayerID, d.welcome.PlayerID
		start := uint64(time.Now().UnixMilli())
		a.send(TChat, 0, "gg")
		for _, x := range []*client{a, b} {
			x.waitFor("room chat", func() bool { return len(x.chat) > 0 })
			c := x.chat[0]
			if c.From != aID || c.To != 0 || c.Text != "gg" || c.ServerTimeMs+5000 < start || c.ServerTimeMs > start+5000 {
				t.Errorf("%s got chat %+v", x.name, c)
			}
		}
		// A direct message reaches a player in no room, in a frame with no
		// room, and is echoed to its sender.
		text := strings.Repeat("é", 128) // 256 bytes of UTF-8
		a.send(TChat, dID, text)
		f := d.waitFrame("the direct message", func(f *Frame) bool { return len(f.Chat) > 0 })
		if f.Room != nil || f.Chat[0].From != aID || f.Chat[0].To != dID || f.Chat[0].Text != text {
			t.Errorf("dee got %+v", f)
		}
		a.waitFor("the echo", func() bool { return len(a.chat) > 1 })
		if c := a.chat[1]; c.To != dID || c.Text != text {
			t.Errorf("echo %+v", c)
		}
		b.sync()
		if len(b.chat) != 1 {
			t.Errorf("bo saw a direct message: %+v", b.chat)
		}
		d.send(TChat, 0, "anyone?")
		d.expectRefused(0, CodeNotInRoom)
		a.send(TChat, 999999, "hi")
		a.expectRefused(0, CodePlayerNotFound)
	})
}

// Decision 3 for chat: refused with rid 0, the session stays open.
func TestSection4_12_ChatRefusals(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		for _, tc := range []struct {
			name   string
			fields []any
			code   int
		}{
			{"text of 257 bytes", []any{0, strings.Repeat("x", 257)}, CodeTooLarge},
			{"to 2^32", []any{uint64(1) << 32, "x"}, CodeBadRequest},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a, _, _ := room2(e.on(t))
				a.send(append([]any{TChat}, tc.fields...)...)
				a.expectRefused(0, tc.code)
			})
		}
	})
}

func TestSection4_13_Ping(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		c := e.join("ana")
		period := uint64(time.Second / 30 / time.Microsecond)
		for _, ct := range []int64{0, -123456789012, math.MaxInt64, math.MinInt64} {
			now := uint64(time.Now().UnixMilli())
			c.send(TPing, ct)
			m := c.next()
			if m.Type != TPong || m.Pong.ClientTime != ct {
				t.Fatalf("got %s, want the pong of %d", describe(m), ct)
			}
			p := m.Pong
			if p.ServerTimeMs+5000 < now || p.ServerTimeMs > now+5000 || p.Tick < c.welcome.Tick ||
				p.HoldUs > 2*period+20000 {
				t.Errorf("pong %+v (a ping waits up to one tick, %d us)", p, period)
			}
		}
		c.send(TPing, 7, 1)
		if m := c.next(); m.Type != TPong || m.Pong.ClientTime != 7 {
			t.Fatalf("got %s, want the pong of a ping with acked_tick", describe(m))
		}
	})
}

// Pings keep a session alive; without them it is closed with idle_timeout
// (section 6; -idle-timeout shortened here).
func TestSection4_13_PingKeepsTheSessionAlive(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		const idle = 400 * time.Millisecond
		e := start(t, k, &relay.Server{IdleTimeout: idle})
		c := e.join("ana")
		tick := time.NewTicker(idle / 4) // pacing the pings, not synchronising
		defer tick.Stop()
		var last time.Time
		for deadline := time.Now().Add(3 * idle); time.Now().Before(deadline); <-tick.C {
			last = time.Now() // before the ping: the silence starts when it arrives
			c.sync()
		}
		c.expectClose(CodeIdleTimeout)
		if d := time.Since(last); d < idle-50*time.Millisecond {
			t.Errorf("closed %v after the last ping, the idle timeout is %v", d, idle)
		}
	})
}

func TestSection4_14_Bye(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, _ := room2(e)
		aID := a.welcome.PlayerID
		a.send(TBye)
		a.expectClose(CodeClientClosed)
		// The player is gone, not away.
		b.waitView("ana leaving", func(v *roomView) bool { return v.players[aID] == nil })
		for _, p := range b.presences {
			if p.ID == aID {
				t.Errorf("presence %+v for a player that said bye", p)
			}
		}
	})
}
