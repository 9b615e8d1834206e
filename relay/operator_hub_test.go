package relay

import (
	"testing"

	"github.com/tickrelay/tickrelay/relay/admin"
)

// The operator's lists select by text and mode, in id order, a page at a
// time.
func TestOperatorListsPage(t *testing.T) {
	x := newHarness(t)
	var ids []uint32
	for i := range 5 {
		c := x.player("p")
		mode := "dm"
		if i == 2 {
			mode = "ctf-1" // "F-1" cannot be in a room code (letters and digits only)
		}
		id, _ := c.createRoom(mode, 0, true, nil)
		ids = append(ids, id)
	}
	got := func(q admin.RoomQuery) []uint32 {
		var out []uint32
		for _, r := range x.h.roomsFor(q) {
			out = append(out, r.ID)
		}
		return out
	}
	wantEqual(t, "page 2 of 2", got(admin.RoomQuery{Offset: 2, Limit: 2}), []uint32{ids[2], ids[3]})
	wantEqual(t, "dm only, from the second", got(admin.RoomQuery{Mode: "dm", Offset: 1, Limit: 10}), []uint32{ids[1], ids[3], ids[4]})
	wantEqual(t, "by mode text", got(admin.RoomQuery{Text: "F-1"}), []uint32{ids[2]})
	if ps := x.h.playersFor(admin.PlayerQuery{Offset: 4, Limit: 10}); len(ps) != 1 || ps[0].ID != x.h.order[4].id {
		t.Fatalf("players page %+v", ps)
	}
}
