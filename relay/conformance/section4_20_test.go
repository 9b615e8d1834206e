package conformance

import (
	"slices"
	"testing"

	"github.com/tickrelay/tickrelay/relay"
)

// packetsUntil reads c's frames until n peer packets arrived.
func packetsUntil(c *client, n int) []PeerPacket {
	c.t.Helper()
	var got []PeerPacket
	for len(got) < n {
		got = append(got, untilType(c, TFrame).Frame.Packets...)
	}
	return got
}

// Section 4.20: peer packets to all others, to one, to all but one;
// reliable in order; an unreliable one replaced by a newer one from the
// same sender on the same channel before the frame.
func TestSection4_20_PeerPackets(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, j := room2(e)
		c := e.join("cy")
		c.joined(c.request(TJoinRoom, j.RoomID))
		cID := int64(c.welcome.PlayerID)
		// All in one write, so that one tick takes them all.
		a.sendTogether(Msg(TPeerPacket, 0, 0, 0, []byte("r1")), Msg(TPeerPacket, 0, 0, 0, []byte("r2")),
			Msg(TPeerPacket, 0, 1, 5, []byte("old")), Msg(TPeerPacket, 0, 1, 5, []byte("new")),
			Msg(TPeerPacket, cID, 0, 0, []byte("to cy")), Msg(TPeerPacket, -cID, 0, 0, []byte("not to cy")),
			Msg(TPeerPacket, 0, 2, 7, []byte("ordered")))
		data := func(ps []PeerPacket) []string {
			var out []string
			for _, p := range ps {
				out = append(out, string(p.Data))
			}
			return out
		}
		gotB := data(packetsUntil(b, 5))
		if !slices.Equal(gotB, []string{"r1", "r2", "not to cy", "new", "ordered"}) {
			t.Errorf("bo got %q", gotB)
		}
		gotC := data(packetsUntil(c, 5))
		if !slices.Equal(gotC, []string{"r1", "r2", "to cy", "new", "ordered"}) {
			t.Errorf("cy got %q", gotC)
		}
		a.send(TPeerPacket, 0, 3, 0, []byte("x"))
		a.expectError(0, CodeBadRequest) // mode 3 is out of range
	})
}
