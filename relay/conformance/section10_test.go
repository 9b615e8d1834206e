package conformance

import (
	"bytes"
	"testing"

	"github.com/tickrelay/tickrelay/relay"
)

// Section 10: a session, start to end, as the document walks it.
func TestSection10_SessionStartToEnd(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		// 1. hello, welcome.
		a := e.connect("ana")
		w := a.hello("ana", nil)
		if w.Version != 1 || w.PlayerID == 0 || w.Resumed || w.RoomID != 0 {
			t.Fatalf("welcome %+v", w)
		}
		// 2. create_room: room_joined, then a full frame listing the creator.
		j := a.joined(a.request(TCreateRoom, "dm", 4, true, nil))
		if p := a.view.players[w.PlayerID]; p == nil || p.name != "ana" || a.view.master != w.PlayerID || a.view.id != j.RoomID {
			t.Fatalf("first frame's room: %+v", a.view)
		}
		// 3, 4. A state goes out; the next frames carry it.
		a.send(TState, []any{1, 2})
		a.waitView("ana's state", func(v *roomView) bool {
			return bytes.Equal(v.players[w.PlayerID].state, Encode([]any{1, 2}))
		})
		a.sync()
		// 5. bye, close client_closed.
		a.send(TBye)
		a.expectClose(CodeClientClosed)
	})
}
