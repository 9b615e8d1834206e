package relay

import (
	"bytes"
	"testing"

	"github.com/tickrelay/tickrelay/codec"
)

// keysProps is n distinct property keys with small values.
func keysProps(n int) []codec.Prop {
	ps := make([]codec.Prop, n)
	for i := range ps {
		ps[i] = codec.Prop{Key: []byte{'k', byte('A' + i/26), byte('a' + i%26)}, Value: mpInt(int64(i))}
	}
	return ps
}

// TestRefusedFieldsKeepTheSession: a request refused for a field's value is
// answered with an error carrying its rid (0 for state, event, chat), changes
// nothing, and the session goes on (PROTOCOL.md 4, "Refusals").
func TestRefusedFieldsKeepTheSession(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	a.send(codec.ClientMsg{Type: codec.TSetPlayerProps, RID: 1, Props: props("team", mpStr("red"))})
	x.tick()
	wantOK(t, a.recv(), 1)
	b.recv()

	cases := []struct {
		name string
		body []byte
		rid  uint32
		code codec.Code
	}{
		{"33 keys in set_player_props", enc(codec.ClientMsg{Type: codec.TSetPlayerProps, RID: 5, Props: keysProps(33)}), 5, codec.CodeLimit},
		{"33 keys in set_room_props", enc(codec.ClientMsg{Type: codec.TSetRoomProps, RID: 6, Props: keysProps(33)}), 6, codec.CodeLimit},
		{"31 new keys on top of one", enc(codec.ClientMsg{Type: codec.TSetPlayerProps, RID: 7, Props: keysProps(32)}), 7, codec.CodeLimit},
		{"257-byte chat", enc(codec.ClientMsg{Type: codec.TChat, Text: bytes.Repeat([]byte("x"), 257)}), 0, codec.CodeTooLarge},
		{"state over limit", enc(codec.ClientMsg{Type: codec.TState, Value: mpBin(codec.DefaultLimits.State+1, 1)}), 0, codec.CodeTooLarge},
		{"state too deep", deepArray(40), 0, codec.CodeTooLarge},
		{"65 event ids", enc(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetList, Targets: make([]uint32, 65)}), 0, codec.CodeLimit},
		{"event target 7", []byte{0x95, 21, 7, 1, 0xc0, 0xc0}, 0, codec.CodeBadRequest},
		{"max_players -1", []byte{0x96, 10, 8, 0xa2, 'd', 'm', 0xff, 0xc3, 0xc0}, 8, codec.CodeBadRequest},
		{"max_players 65", []byte{0x96, 10, 9, 0xa2, 'd', 'm', 0x41, 0xc3, 0xc0}, 9, codec.CodeBadRequest},
		{"33-byte mode", enc(codec.ClientMsg{Type: codec.TListRooms, RID: 11, Mode: bytes.Repeat([]byte("m"), 33)}), 11, codec.CodeTooLarge},
	}
	for _, c := range cases {
		a.sendBody(c.body)
		x.tick()
		ms := a.recv()
		wantError(t, ms, c.rid, c.code)
		if a.p.closing || a.p.room != r {
			t.Fatalf("%s: the session was closed or left the room", c.name)
		}
		if rd := roomOf(t, b.recv()); len(rd.Leaves) != 0 || len(rd.PlayerProps) != 0 || rd.Props != nil || len(rd.States) != 0 {
			t.Fatalf("%s: the refused request changed the room: %+v", c.name, rd)
		}
		if len(ofType(b.recv(), codec.TFrame)) != 0 {
			t.Fatalf("%s: b got more than one frame", c.name)
		}
	}
	if got := a.p.props.bytes(); !bytes.Equal(got, codec.AppendProps(nil, props("team", mpStr("red")))) {
		t.Fatalf("player props changed: % x", got)
	}
	// The session still works.
	a.send(codec.ClientMsg{Type: codec.TState, Value: mpInt(3)})
	x.tick()
	wantEqual(t, "states", roomOf(t, b.recv()).States, []codec.PlayerState{{ID: a.id(), Value: mpInt(3)}})
}

// TestRefusedHelloCloses: hello is all or nothing, so a hello refused for a
// field closes the session with that field's code.
func TestRefusedHelloCloses(t *testing.T) {
	cases := []struct {
		name string
		m    codec.ClientMsg
		code codec.Code
	}{
		{"33-byte name", codec.ClientMsg{Type: codec.THello, Version: 1, Name: bytes.Repeat([]byte("n"), 33)}, codec.CodeTooLarge},
		{"33 props", codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("a"), Props: keysProps(33)}, codec.CodeLimit},
		{"65-byte resume token", codec.ClientMsg{Type: codec.THello, Version: 1, Resume: bytes.Repeat([]byte("r"), 65)}, codec.CodeTooLarge},
	}
	for _, c := range cases {
		x := newHarness(t)
		p := x.connect()
		p.send(c.m)
		x.tick()
		wantClose(t, p.recv(), c.code)
		wantClosedAndGone(t, x, p)
	}
	// A field refusal of another message before hello is not_ready.
	x := newHarness(t)
	p := x.connect()
	p.send(codec.ClientMsg{Type: codec.TChat, Text: bytes.Repeat([]byte("x"), 300)})
	x.tick()
	wantClose(t, p.recv(), codec.CodeNotReady)
}
