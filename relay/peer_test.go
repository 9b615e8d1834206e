package relay

import (
	"bytes"
	"testing"

	"github.com/tickrelay/tickrelay/codec"
)

func peerMsg(to int64, mode, channel uint8, data string) codec.ClientMsg {
	return codec.ClientMsg{Type: codec.TPeerPacket, PeerTo: to, PeerMode: mode, PeerChannel: channel, Value: []byte(data)}
}

func packetsOf(t *testing.T, c *tc) []codec.PeerPacket {
	t.Helper()
	var out []codec.PeerPacket
	for _, m := range ofType(c.recv(), codec.TFrame) {
		out = append(out, m.Frame.Packets...)
	}
	return out
}

func datas(ps []codec.PeerPacket) []string {
	var out []string
	for _, p := range ps {
		out = append(out, string(p.Data))
	}
	return out
}

// Reliable packets arrive in order, each once; unreliable ones arrive as
// the latest per sender and channel within a frame; targets are all others,
// one, or all but one; a packet to a non-member is dropped and counted.
func TestPeerPackets(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b", "c")
	a, b, c := cs[0], cs[1], cs[2]
	drain(a, b, c)
	for i, d := range []string{"r1", "r2", "r3"} {
		_ = i
		a.send(peerMsg(0, codec.PeerReliable, 0, d))
	}
	for _, d := range []string{"u1", "u2", "u3"} {
		a.send(peerMsg(0, codec.PeerUnreliable, 1, d))
	}
	a.send(peerMsg(0, codec.PeerUnreliableOrdered, 2, "o1"))
	b.send(peerMsg(0, codec.PeerUnreliable, 1, "b-latest")) // another sender on the same channel
	x.tick()
	got := packetsOf(t, b)
	wantEqual(t, "b's packets", datas(got), []string{"r1", "r2", "r3", "u3", "o1"})
	if got[0].From != a.id() || got[3].Mode != codec.PeerUnreliable || got[3].Channel != 1 || got[4].Mode != codec.PeerUnreliableOrdered {
		t.Fatalf("packet fields %+v", got)
	}
	wantEqual(t, "c's packets", datas(packetsOf(t, c)), []string{"r1", "r2", "r3", "u3", "o1", "b-latest"})
	wantEqual(t, "a gets none of its own", datas(packetsOf(t, a)), []string{"b-latest"})

	a.send(peerMsg(int64(c.id()), codec.PeerReliable, 0, "to c"))
	a.send(peerMsg(-int64(c.id()), codec.PeerReliable, 0, "not to c"))
	a.send(peerMsg(9999, codec.PeerReliable, 0, "to nobody"))
	x.tick()
	wantEqual(t, "b", datas(packetsOf(t, b)), []string{"not to c"})
	wantEqual(t, "c", datas(packetsOf(t, c)), []string{"to c"})
	if x.stats.peerDropped.Load() != 1 || x.stats.peerReplaced.Load() != 2*2 {
		t.Fatalf("dropped %d, replaced %d", x.stats.peerDropped.Load(), x.stats.peerReplaced.Load())
	}
	// A frame without packets keeps its six elements.
	x.tick()
	for _, buf := range a.recvBufs() {
		for _, body := range splitBodies(t, buf) {
			if body[0] != 0x96 {
				t.Fatalf("a frame without packets: % x", body[:4])
			}
		}
	}
}

// A busy client's unreliable packets stay the latest only; reliable ones
// queue and arrive in order once it catches up.
func TestPeerPacketsWhileBehind(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	drain(a, b)
	b.l.busy = true
	for i := range 5 {
		a.send(peerMsg(0, codec.PeerReliable, 0, string(rune('A'+i))))
		a.send(peerMsg(0, codec.PeerUnreliable, 0, string(rune('a'+i))))
		x.tick()
	}
	b.l.busy = false
	x.tick()
	wantEqual(t, "after catching up", datas(packetsOf(t, b)), []string{"A", "B", "C", "D", "E", "e"})
}

// Reliable packets are replayed on a resume like events.
func TestPeerPacketsSurviveAResume(t *testing.T) {
	x, a, b := resumeHarness(t)
	seen := x.n
	b.send(peerMsg(0, codec.PeerReliable, 3, "lost with the link"))
	x.tick()
	drain(a)
	x.n++
	x.h.begin(x.n, x.timeOf(x.n))
	x.h.lostLink(a.l, 0, "gone")
	x.h.end()
	c := x.connect()
	c.send(codec.ClientMsg{Type: codec.THello, Version: 1, Resume: []byte(a.p.resumeToken), LastTick: seen})
	x.tick()
	var got []codec.PeerPacket
	for _, m := range ofType(c.recv(), codec.TFrame) {
		got = append(got, m.Frame.Packets...)
	}
	if len(got) != 1 || !bytes.Equal(got[0].Data, []byte("lost with the link")) || got[0].Channel != 3 {
		t.Fatalf("replayed packets %+v", got)
	}
}

// Frames with peer packets allocate nothing once warm.
func TestAllocPeerPacketsSteadyState(t *testing.T) {
	x := newHarness(t)
	cs, _ := steadyRoom(t, x, 1, 8, 64)
	bodies := make([][]byte, len(cs))
	for i := range cs {
		bodies[i] = enc(peerMsg(0, codec.PeerUnreliable, uint8(i%2), "transform-of-a-node-in-a-scene"))
	}
	rel := enc(peerMsg(0, codec.PeerReliable, 0, "rpc"))
	step := func() {
		x.n++
		now := x.timeOf(x.n)
		x.h.begin(x.n, now)
		for i, c := range cs {
			x.h.handle(c.p, bodies[i], now)
			if i == 0 {
				x.h.handle(c.p, rel, now)
			}
		}
		x.h.end()
	}
	for range 100 {
		step()
	}
	if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
		t.Fatalf("%.2f allocations per tick with peer packets, want 0", allocs)
	}
	ms := splitMsgs(t, cs[3].l.lastBytes)
	if f := frameOf(t, ms); len(f.Packets) != 8 { // the rpc and 7 others' transforms
		t.Fatalf("last frame's packets: %+v", f.Packets)
	}
}
