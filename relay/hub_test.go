package relay

import (
	"bytes"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// --- handshake --------------------------------------------------------------

// wantClosedAndGone checks that c is closing, that its link gets closed
// exactly once after the linger and that the hub forgets it.
func wantClosedAndGone(t *testing.T, x *harness, c *tc) {
	t.Helper()
	if !c.p.closing {
		t.Fatal("player is not closing")
	}
	// closeLinger is 100ms: 3 ticks of 33.3ms are not enough, 4 are.
	x.ticks(2)
	if c.l.closes != 0 {
		t.Fatalf("link closed before the linger: %d", c.l.closes)
	}
	x.ticks(2)
	if c.l.closes != 1 {
		t.Fatalf("link closed %d times after the linger, want 1", c.l.closes)
	}
	if _, ok := x.h.players[c.id()]; ok {
		t.Fatal("closed player still registered")
	}
	x.ticks(5)
	if c.l.closes != 1 {
		t.Fatalf("link closed %d times, want 1", c.l.closes)
	}
	if c.l.sendBusy != 0 {
		t.Fatalf("Send called %d times on a busy link", c.l.sendBusy)
	}
}

func TestHandshakeFirstMessageMustBeHello(t *testing.T) {
	x := newHarness(t)
	c := x.connect()
	c.send(codec.ClientMsg{Type: codec.TState, Value: mpInt(1)})
	c.send(helloMsg("late")) // ignored: the player is closing
	x.tick()
	ms := c.recv()
	if len(ms) != 1 {
		t.Fatalf("want only the close message, got:%s", dump(ms))
	}
	cl := wantClose(t, ms, codec.CodeNotReady)
	if cl.Message != "the first message must be hello" {
		t.Fatalf("reason %q", cl.Message)
	}
	if c.p.helloed {
		t.Fatal("hello after the close was applied")
	}
	if got := x.stats.closes[codec.CodeNotReady].Load(); got != 1 {
		t.Fatalf("not_ready closes counted %d", got)
	}
	wantClosedAndGone(t, x, c)
	if got := x.stats.players.Load(); got != 0 {
		t.Fatalf("players gauge %d after the close", got)
	}
}

func TestHandshakeVersionMismatch(t *testing.T) {
	x := newHarness(t)
	c := x.connect()
	c.send(codec.ClientMsg{Type: codec.THello, Version: codec.ProtocolVersion + 1, Name: []byte("future")})
	x.tick()
	cl := wantClose(t, c.recv(), codec.CodeVersionMismatch)
	if want := "server speaks protocol version 1, client sent 2"; cl.Message != want {
		t.Fatalf("reason %q, want %q", cl.Message, want)
	}
	if c.p.helloed {
		t.Fatal("helloed after a version mismatch")
	}
	wantClosedAndGone(t, x, c)
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestHandshakeWelcome(t *testing.T) {
	x := newHarness(t)
	x.ticks(4)
	a, b := x.connect(), x.connect()
	a.send(codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("alice"), Props: props("team", mpStr("red"))})
	b.send(helloMsg("bob"))
	x.tick()
	for _, c := range []*tc{a, b} {
		ms := c.recv()
		if len(ms) != 1 {
			t.Fatalf("want only a welcome:%s", dump(ms))
		}
		w := one(t, ms, codec.TWelcome)
		if w.Version != codec.ProtocolVersion || w.PlayerID != c.id() || w.TickRate != 30 || w.Tick != 5 ||
			w.ServerTimeMs != x.timeOf(5).UnixMilli() {
			t.Fatalf("welcome %+v (player %d)", w, c.id())
		}
		if !hex32.MatchString(w.ResumeToken) {
			t.Fatalf("resume token %q is not 32 hex characters", w.ResumeToken)
		}
		if w.ResumeToken != c.p.resumeToken {
			t.Fatal("token sent is not the one kept")
		}
	}
	if a.p.resumeToken == b.p.resumeToken {
		t.Fatal("two players got the same resume token")
	}
	if a.id() == b.id() || a.id() == 0 || b.id() == 0 {
		t.Fatalf("player ids %d %d", a.id(), b.id())
	}
	if a.p.name != "alice" || !a.p.helloed {
		t.Fatalf("name %q helloed %v", a.p.name, a.p.helloed)
	}
}

func TestHandshakeHelloPropsVisibleInRoom(t *testing.T) {
	x := newHarness(t)
	a := x.connect()
	a.send(codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("alice"), Props: props("team", mpStr("red"))})
	x.tick()
	a.recv()
	a.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 1, Mode: []byte("dm"), Public: true})
	x.tick()
	rd := roomOf(t, a.recv())
	wantEqual(t, "joins", rd.Joins, []codec.PlayerInfo{{ID: a.id(), Name: "alice", Props: wantProps("team", mpStr("red"))}})
}

func TestHandshakeSecondHelloCloses(t *testing.T) {
	x := newHarness(t)
	c := x.player("alice")
	other := x.player("bob")
	c.send(helloMsg("alice"))
	other.send(codec.ClientMsg{Type: codec.TPing, ClientTime: 5})
	x.tick()
	cl := wantClose(t, c.recv(), codec.CodeNotReady)
	if cl.Message != "hello was already received" {
		t.Fatalf("reason %q", cl.Message)
	}
	if p := one(t, other.recv(), codec.TPong); p.ClientTime != 5 {
		t.Fatalf("other player's pong %+v", p)
	}
	wantClosedAndGone(t, x, c)
	if other.p.closing || other.l.closes != 0 {
		t.Fatal("the other player was closed")
	}
}

// --- deltas -------------------------------------------------------------------

func TestDeltaOnlyChangedStates(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b", "c")
	a, b, c := cs[0], cs[1], cs[2]

	a.send(codec.ClientMsg{Type: codec.TState, Value: mpStr("a1")})
	x.tick()
	for _, m := range cs {
		rd := roomOf(t, m.recv())
		wantEqual(t, "states", rd.States, []codec.PlayerState{{ID: a.id(), Value: mpStr("a1")}})
		if rd.Full || rd.ID != r.id || rd.Master != a.id() || rd.Props != nil ||
			len(rd.Leaves) != 0 || len(rd.Joins) != 0 || len(rd.PlayerProps) != 0 {
			t.Fatalf("delta carries more than the state: %+v", rd)
		}
	}

	// Only b changed: a's state, unchanged since the last frame, is absent.
	b.send(codec.ClientMsg{Type: codec.TState, Value: mpStr("b1")})
	x.tick()
	for _, m := range cs {
		wantEqual(t, "states", roomOf(t, m.recv()).States, []codec.PlayerState{{ID: b.id(), Value: mpStr("b1")}})
	}

	// Two changes in one tick: the last one wins, once.
	c.send(codec.ClientMsg{Type: codec.TState, Value: mpStr("c1")})
	c.send(codec.ClientMsg{Type: codec.TState, Value: mpStr("c2")})
	a.send(codec.ClientMsg{Type: codec.TState, Value: mpStr("a2")})
	x.tick()
	for _, m := range cs {
		wantEqual(t, "states", roomOf(t, m.recv()).States,
			[]codec.PlayerState{{ID: a.id(), Value: mpStr("a2")}, {ID: c.id(), Value: mpStr("c2")}})
	}
}

func TestDeltaIdlePlayersAbsent(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b", "c")
	cs[0].send(codec.ClientMsg{Type: codec.TState, Value: mpStr("a1")})
	x.tick()
	drain(cs...)
	for range 3 {
		x.tick()
		for _, m := range cs {
			ms := m.recv()
			f := frameOf(t, ms)
			if len(ms) != 1 || f.Tick != x.n || f.ServerTimeMs != x.timeOf(x.n).UnixMilli() {
				t.Fatalf("want one frame for tick %d:%s", x.n, dump(ms))
			}
			rd := f.Room
			if rd == nil || rd.ID != r.id || rd.Full || rd.Props != nil {
				t.Fatalf("room part %+v", rd)
			}
			if len(rd.States) != 0 || len(rd.Leaves) != 0 || len(rd.Joins) != 0 || len(rd.PlayerProps) != 0 ||
				len(f.Events) != 0 || len(f.Chat) != 0 {
				t.Fatalf("idle tick carries changes:%s", dump(ms))
			}
		}
	}
}

func TestDeltaRoomPropsOnlyWhenChanged(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	a.send(codec.ClientMsg{Type: codec.TSetRoomProps, RID: 3, Props: props("map", mpStr("dust"))})
	x.tick()
	ms := a.recv()
	wantOK(t, ms, 3)
	wantEqual(t, "props", roomOf(t, ms).Props, wantProps("map", mpStr("dust")))
	wantEqual(t, "props", roomOf(t, b.recv()).Props, wantProps("map", mpStr("dust")))
	x.tick()
	for _, c := range cs {
		if p := roomOf(t, c.recv()).Props; p != nil {
			t.Fatalf("unchanged props sent: %v", p)
		}
	}
}

func TestDeltaPlayerProps(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	b.send(codec.ClientMsg{Type: codec.TSetPlayerProps, RID: 4, Props: props("team", mpStr("blue"), "hp", mpInt(100))})
	x.tick()
	ms := b.recv()
	wantOK(t, ms, 4)
	want := []codec.PlayerProps{{ID: b.id(), Props: wantProps("team", mpStr("blue"), "hp", mpInt(100))}}
	wantEqual(t, "player props", roomOf(t, ms).PlayerProps, want)
	wantEqual(t, "player props", roomOf(t, a.recv()).PlayerProps, want)
	x.tick()
	for _, c := range cs {
		if pp := roomOf(t, c.recv()).PlayerProps; len(pp) != 0 {
			t.Fatalf("unchanged player props sent: %v", pp)
		}
	}
}

func TestDeltaNewMemberGetsFull(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	a.send(codec.ClientMsg{Type: codec.TState, Value: mpStr("a1")})
	b.send(codec.ClientMsg{Type: codec.TState, Value: mpStr("b1")})
	b.send(codec.ClientMsg{Type: codec.TSetPlayerProps, RID: 1, Props: props("team", mpStr("blue"))})
	a.send(codec.ClientMsg{Type: codec.TSetRoomProps, RID: 1, Props: props("map", mpStr("dust"))})
	x.ticks(3)
	drain(cs...)

	c := x.player("c")
	drain(cs...)
	c.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 7, Code: []byte(r.code)})
	x.tick()
	ms := c.recv()
	if len(ms) != 2 || ms[0].Type != codec.TRoomJoined || ms[1].Type != codec.TFrame {
		t.Fatalf("want room_joined then a frame:%s", dump(ms))
	}
	rd := ms[1].Frame.Room
	want := &codec.RoomDelta{
		ID: r.id, Full: true, Master: a.id(), Locked: false,
		Props: wantProps("map", mpStr("dust")),
		Joins: []codec.PlayerInfo{
			{ID: a.id(), Name: "a", Props: codec.Props{}},
			{ID: b.id(), Name: "b", Props: wantProps("team", mpStr("blue"))},
			{ID: c.id(), Name: "c", Props: codec.Props{}},
		},
		States: []codec.PlayerState{{ID: a.id(), Value: mpStr("a1")}, {ID: b.id(), Value: mpStr("b1")}},
	}
	wantEqual(t, "full snapshot", rd, want)

	// The others get a delta with only the join.
	for _, m := range cs {
		got := roomOf(t, m.recv())
		wantEqual(t, "delta", got, &codec.RoomDelta{ID: r.id, Master: a.id(),
			Joins: []codec.PlayerInfo{{ID: c.id(), Name: "c", Props: codec.Props{}}}})
	}
	// And the newcomer's next frame is a delta again.
	x.tick()
	if rd := roomOf(t, c.recv()); rd.Full || len(rd.Joins) != 0 || len(rd.States) != 0 {
		t.Fatalf("second frame %+v", rd)
	}
}

func TestDeltaLeaveAndRejoinSameTick(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	b.send(codec.ClientMsg{Type: codec.TState, Value: mpStr("old")})
	x.tick()
	drain(cs...)
	b.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 1})
	b.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 2, Code: []byte(r.code)})
	x.tick()
	rd := roomOf(t, a.recv())
	wantEqual(t, "leaves", rd.Leaves, []uint32{b.id()})
	wantEqual(t, "joins", rd.Joins, []codec.PlayerInfo{{ID: b.id(), Name: "b", Props: codec.Props{}}})
	if len(rd.States) != 0 {
		t.Fatalf("the old state survived the rejoin: %+v", rd.States)
	}
	ms := b.recv()
	if len(ms) != 3 || ms[0].Type != codec.TRoomLeft || ms[1].Type != codec.TRoomJoined || ms[2].Type != codec.TFrame {
		t.Fatalf("want room_left, room_joined, frame:%s", dump(ms))
	}
	if !ms[2].Frame.Room.Full {
		t.Fatal("rejoined member did not get a full frame")
	}
}

// --- shared encoding ------------------------------------------------------

func TestHubSharedRoomPart(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b", "c", "d")
	for i, c := range cs {
		c.send(codec.ClientMsg{Type: codec.TState, Value: mpBin(20, byte(i))})
	}
	newcomer := x.player("e")
	drain(cs...)
	for i, c := range cs[:2] {
		c.send(codec.ClientMsg{Type: codec.TState, Value: mpBin(30, byte(i+10))})
	}
	cs[2].send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetOthers, EventCode: 1})
	newcomer.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 1, Code: []byte(r.code)})
	x.tick()

	if r.deltaTick != x.n {
		t.Fatalf("room delta encoded for tick %d, now %d", r.deltaTick, x.n)
	}
	var first []byte
	for i, c := range cs {
		bufs := c.recvBufs()
		if len(bufs) != 1 {
			t.Fatalf("member %d: %d sends", i, len(bufs))
		}
		bodies := splitBodies(t, bufs[0])
		part := roomPart(t, bodies[len(bodies)-1])
		if !bytes.Equal(part, r.delta) {
			t.Fatalf("member %d room part differs from the shared delta:\n% x\n% x", i, part, r.delta)
		}
		if first == nil {
			first = part
		} else if !bytes.Equal(first, part) {
			t.Fatalf("member %d room part differs", i)
		}
	}
	// Events differ between members (the sender has none) but the room part
	// does not; the newcomer's full room part is its own.
	bodies := splitBodies(t, newcomer.recvBufs()[0])
	if part := roomPart(t, bodies[len(bodies)-1]); bytes.Equal(part, first) {
		t.Fatal("newcomer got the shared delta instead of a full snapshot")
	}

	// The delta is encoded once per tick and then copied: poison the cache
	// with a valid but different encoding and every up-to-date member must
	// get the poisoned bytes.
	x.n++
	x.h.begin(x.n, x.timeOf(x.n))
	poisoned := r.appendDelta(nil, x.h.prevTick, false)
	if poisoned[4] != 0xc2 { // [0x99, id, full, master, locked...]: ids are fixints here
		t.Fatalf("unexpected encoding % x", poisoned)
	}
	poisoned[4] = 0xc3 // locked = true
	r.delta, r.deltaTick = poisoned, x.n
	x.h.end()
	for i, c := range append(cs, newcomer) {
		rd := roomOf(t, c.recv())
		if !rd.Locked {
			t.Fatalf("member %d: frame was re-encoded instead of copying the tick's shared delta", i)
		}
	}
}

func TestRoomSharedDeltaCachedPerTick(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b")
	x.n++
	x.h.begin(x.n, x.timeOf(x.n))
	d1 := bytes.Clone(r.sharedDelta(x.n, x.h.prevTick))
	// A change after the tick's delta was encoded does not re-encode it...
	cs[0].p.state, cs[0].p.stateTick = mpInt(1), x.n
	if d2 := r.sharedDelta(x.n, x.h.prevTick); !bytes.Equal(d1, d2) {
		t.Fatal("shared delta re-encoded within the tick")
	}
	// ...but a new tick does.
	d3 := r.sharedDelta(x.n+1, x.n-1)
	if bytes.Equal(d1, d3) || r.deltaTick != x.n+1 {
		t.Fatal("shared delta not re-encoded for a new tick")
	}
}

// --- slow consumers ---------------------------------------------------------

func TestSlowConsumerSkippedThenLatestWins(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b", "s")
	a, b, s := cs[0], cs[1], cs[2]
	x.tick()
	drain(cs...)

	s.l.busy = true
	sentBefore := s.l.nSent
	var evTicks []uint64
	for i := range 3 {
		a.send(codec.ClientMsg{Type: codec.TState, Value: mpInt(int64(i + 1))})
		a.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetAll, EventCode: uint32(10 + i), Value: mpInt(int64(i))})
		b.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetOthers, EventCode: uint32(20 + i)})
		if i == 0 {
			b.send(codec.ClientMsg{Type: codec.TState, Value: mpStr("b")})
			s.send(codec.ClientMsg{Type: codec.TPing, ClientTime: 77})
		}
		x.tick()
		evTicks = append(evTicks, x.n)
		for _, m := range []*tc{a, b} {
			f := frameOf(t, m.recv())
			wantEqual(t, "a's state", f.Room.States[0], codec.PlayerState{ID: a.id(), Value: mpInt(int64(i + 1))})
		}
	}
	if s.l.nSent != sentBefore {
		t.Fatalf("busy link got %d sends", s.l.nSent-sentBefore)
	}
	if s.p.closing {
		t.Fatal("closed after 3 busy ticks")
	}
	if got := x.stats.framesBehind.Load(); got != 3 {
		t.Fatalf("framesBehind %d, want 3", got)
	}

	s.l.busy = false
	x.tick()
	bufs := s.recvBufs()
	if len(bufs) != 1 {
		t.Fatalf("%d sends once free, want 1", len(bufs))
	}
	ms := splitMsgs(t, bufs[0])
	if len(ms) != 2 || ms[0].Type != codec.TPong || ms[1].Type != codec.TFrame {
		t.Fatalf("want the held pong then ONE frame:%s", dump(ms))
	}
	if ms[0].Frame != nil || ms[0].ClientTime != 77 || ms[0].Tick != evTicks[0] {
		t.Fatalf("pong %+v", ms[0])
	}
	f := ms[1].Frame
	if f.Tick != x.n || f.Room == nil || f.Room.ID != r.id || f.Room.Full {
		t.Fatalf("frame %+v", f)
	}
	wantEqual(t, "latest states", f.Room.States, []codec.PlayerState{
		{ID: a.id(), Value: mpInt(3)},
		{ID: b.id(), Value: mpStr("b")},
	})
	var want []codec.Event
	for i := range 3 {
		want = append(want,
			codec.Event{Tick: evTicks[i], From: a.id(), Code: uint32(10 + i), Payload: mpInt(int64(i))},
			codec.Event{Tick: evTicks[i], From: b.id(), Code: uint32(20 + i), Payload: []byte{0xc0}})
	}
	wantEqual(t, "events", f.Events, want)

	// Exactly once: the next frame is empty.
	x.tick()
	f = frameOf(t, s.recv())
	if len(f.Events) != 0 || len(f.Room.States) != 0 {
		t.Fatalf("held output delivered twice: %+v %+v", f.Events, f.Room.States)
	}
	if s.l.sendBusy != 0 {
		t.Fatal("Send called on a busy link")
	}
}

// leaveCounter counts, per other player, the frames in which it saw s leave.
type leaveCounter struct {
	s    *tc
	seen map[*tc]int
}

// take reads what o received and returns how many sends that was.
func (lc *leaveCounter) take(t *testing.T, o *tc) int {
	t.Helper()
	bufs := o.recvBufs()
	for _, b := range bufs {
		for _, m := range ofType(splitMsgs(t, b), codec.TFrame) {
			if m.Frame.Room == nil {
				t.Fatal("frame without room part")
			}
			for _, id := range m.Frame.Room.Leaves {
				if id == lc.s.id() {
					lc.seen[o]++
				}
			}
		}
	}
	return len(bufs)
}

// busyUntilClosed makes s busy and runs ticks until it is closed, checking
// that the others keep getting a frame every tick. It returns the number
// of busy ticks.
func busyUntilClosed(t *testing.T, x *harness, lc *leaveCounter, others []*tc, each func()) int {
	t.Helper()
	s := lc.s
	s.l.busy = true
	sent := s.l.nSent
	for n := 1; n <= 1000; n++ {
		if each != nil {
			each()
		}
		x.tick()
		for _, o := range others {
			if got := lc.take(t, o); got != 1 {
				t.Fatalf("busy tick %d: other player got %d sends", n, got)
			}
		}
		if s.p.closing {
			if s.l.nSent != sent {
				t.Fatal("a busy link was sent to")
			}
			return n
		}
	}
	t.Fatal("never closed")
	return 0
}

// wantSlowClose frees s's link and checks it gets the close message, that
// each other member saw it leave exactly once, and that its link is closed.
func wantSlowClose(t *testing.T, x *harness, lc *leaveCounter, others []*tc) {
	t.Helper()
	s := lc.s
	if s.p.room != nil {
		t.Fatal("closed player still in its room")
	}
	if got := x.stats.closes[codec.CodeSlowConsumer].Load(); got != 1 {
		t.Fatalf("slow_consumer closes %d", got)
	}
	s.l.busy = false
	x.tick()
	cl := wantClose(t, s.recv(), codec.CodeSlowConsumer)
	if cl.Message == "" {
		t.Fatal("empty reason")
	}
	for range 5 {
		for _, o := range others {
			lc.take(t, o)
		}
		x.tick()
	}
	if s.l.closes != 1 {
		t.Fatalf("link closed %d times", s.l.closes)
	}
	if _, ok := x.h.players[s.id()]; ok {
		t.Fatal("slow player still registered")
	}
	for i, o := range others {
		if o.p.closing || o.l.closes != 0 {
			t.Fatalf("other player %d closed", i)
		}
		if lc.seen[o] != 1 {
			t.Fatalf("other player %d saw the slow player leave %d times, want 1", i, lc.seen[o])
		}
	}
}

func TestSlowConsumerTimeout(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b", "s")
	a, b, s := cs[0], cs[1], cs[2]
	x.tick()
	drain(cs...)
	// slowTimeout is 1s at 30 ticks per second: 30 busy ticks are within
	// it, the 31st is over it.
	lc := &leaveCounter{s: s, seen: map[*tc]int{}}
	n := busyUntilClosed(t, x, lc, []*tc{a, b}, func() {
		a.send(codec.ClientMsg{Type: codec.TState, Value: mpInt(int64(x.n))})
	})
	if n != 31 {
		t.Fatalf("closed after %d busy ticks, want 31", n)
	}
	wantSlowClose(t, x, lc, []*tc{a, b})
}

// The timeout counts consecutive busy ticks: one tick with a free link
// starts the count again.
func TestSlowConsumerBusySpellsDoNotAdd(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "s")
	s := cs[1]
	x.tick()
	drain(cs...)
	for spell := range 3 {
		s.l.busy = true
		x.ticks(25)
		if s.p.closing {
			t.Fatalf("closed in busy spell %d of 25 ticks", spell)
		}
		s.l.busy = false
		x.tick()
		if len(ofType(s.recv(), codec.TFrame)) != 1 {
			t.Fatal("no frame once free")
		}
	}
	if s.p.closing || s.l.closes != 0 {
		t.Fatal("closed")
	}
}

func TestSlowConsumerMaxPending(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b", "s")
	a, b, s := cs[0], cs[1], cs[2]
	x.tick()
	drain(cs...)
	payload := mpBin(1000, 'x')
	// Each event entry is ~1005 bytes; 60 of them are under 64 KiB.
	burst := func(k int) {
		for range k {
			a.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetList, Targets: []uint32{s.id()}, EventCode: 1, Value: payload})
		}
	}
	s.l.busy = true
	burst(60)
	x.tick()
	drain(a, b)
	if s.p.closing {
		t.Fatalf("closed with %d bytes pending", s.p.pending())
	}
	if s.p.pending() <= 60*1000 || s.p.pending() > 64<<10 {
		t.Fatalf("pending %d", s.p.pending())
	}
	lc := &leaveCounter{s: s, seen: map[*tc]int{}}
	n := busyUntilClosed(t, x, lc, []*tc{a, b}, func() { burst(6) })
	if n != 1 {
		t.Fatalf("closed after %d more ticks, want 1", n)
	}
	if len(s.p.events) != 0 || s.p.nEvents != 0 {
		t.Fatal("events kept for a closed player")
	}
	wantSlowClose(t, x, lc, []*tc{a, b})
}

// A member closed as a slow consumer while frames are being built must
// still show up in the other members' leaves, whatever the flush order.
func TestSlowConsumerLeaveSeenByOthers(t *testing.T) {
	for _, slowFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "slow-last", true: "slow-first"}[slowFirst], func(t *testing.T) {
			x := newHarness(t)
			var s *tc
			if slowFirst {
				s = x.player("s")
			}
			a, b := x.player("a"), x.player("b")
			if !slowFirst {
				s = x.player("s")
			}
			_, code := a.createRoom("dm", 0, true, nil)
			b.joinCode(code)
			s.joinCode(code)
			x.tick()
			drain(a, b, s)
			s.l.busy = true
			var frames []*codec.Frame
			for range 40 {
				x.tick()
				for _, o := range []*tc{a, b} {
					frames = append(frames, frameOf(t, o.recv()))
				}
			}
			if !s.p.closing {
				t.Fatal("not closed")
			}
			seen := map[uint32]int{}
			for i, f := range frames {
				for _, id := range f.Room.Leaves {
					if id == s.id() {
						seen[uint32(i%2)]++
					}
				}
			}
			if seen[0] != 1 || seen[1] != 1 {
				t.Fatalf("the slow player's leave was seen %d and %d times, want once each", seen[0], seen[1])
			}
		})
	}
}

// --- events -------------------------------------------------------------------

func eventsOf(t *testing.T, c *tc) []codec.Event {
	t.Helper()
	ms := c.recv()
	fs := ofType(ms, codec.TFrame)
	if len(fs) == 0 {
		return nil
	}
	if len(fs) != 1 {
		t.Fatalf("%d frames in one tick", len(fs))
	}
	return fs[0].Frame.Events
}

func TestEventTargets(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b", "c")
	a, b, c := cs[0], cs[1], cs[2]
	outsider := x.player("d")
	elsewhere := x.player("e")
	elsewhere.createRoom("ctf", 0, true, nil)
	all := []*tc{a, b, c, outsider, elsewhere}
	drain(all...)

	check := func(what string, want map[*tc][]codec.Event) {
		t.Helper()
		x.tick()
		for i, m := range all {
			got := eventsOf(t, m)
			if len(got) == 0 && len(want[m]) == 0 {
				continue
			}
			wantEqual(t, what+" events of player "+string(rune('a'+i)), got, want[m])
		}
	}

	a.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetAll, EventCode: 7, Value: mpStr("boom")})
	ev := codec.Event{Tick: x.n + 1, From: a.id(), Code: 7, Payload: mpStr("boom")}
	check("all", map[*tc][]codec.Event{a: {ev}, b: {ev}, c: {ev}})

	b.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetOthers, EventCode: 8, Value: mpInt(-3)})
	ev = codec.Event{Tick: x.n + 1, From: b.id(), Code: 8, Payload: mpInt(-3)}
	check("others", map[*tc][]codec.Event{a: {ev}, c: {ev}})

	a.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetList, EventCode: 9,
		Targets: []uint32{c.id(), c.id(), outsider.id(), elsewhere.id(), 999}})
	ev = codec.Event{Tick: x.n + 1, From: a.id(), Code: 9, Payload: []byte{0xc0}}
	check("list", map[*tc][]codec.Event{c: {ev}})

	a.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetList, EventCode: 10, Targets: []uint32{b.id(), a.id()}})
	evs := codec.Event{Tick: x.n + 1, From: a.id(), Code: 10, Payload: []byte{0xc0}}
	check("list with self", map[*tc][]codec.Event{a: {evs}, b: {evs}})

	c.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetMaster, EventCode: 11, Value: mpInt(1)})
	ev = codec.Event{Tick: x.n + 1, From: c.id(), Code: 11, Payload: mpInt(1)}
	check("master", map[*tc][]codec.Event{a: {ev}})

	if got := x.stats.eventsRelayed.Load(); got != 3+2+1+2+1 {
		t.Fatalf("eventsRelayed %d", got)
	}
}

func TestEventOrderingAndTicks(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b", "c")
	var want []codec.Event
	for tk := range 3 {
		for i := range 20 {
			for j, c := range cs {
				code := uint32(tk*1000 + i*10 + j)
				c.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetAll, EventCode: code, Value: mpInt(int64(i))})
				want = append(want, codec.Event{Tick: x.n + 1, From: c.id(), Code: code, Payload: mpInt(int64(i))})
			}
		}
		x.tick()
	}
	for i, c := range cs {
		var got []codec.Event
		for _, m := range ofType(c.recv(), codec.TFrame) {
			got = append(got, m.Frame.Events...)
		}
		if len(got) != len(want) {
			t.Fatalf("member %d got %d events, want %d", i, len(got), len(want))
		}
		wantEqual(t, "events", got, want)
	}
}

func TestEventOutsideRoom(t *testing.T) {
	x := newHarness(t)
	a := x.player("a")
	a.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetAll, EventCode: 1})
	x.tick()
	ms := a.recv()
	wantError(t, ms, 0, codec.CodeNotInRoom)
	if len(ms) != 1 {
		t.Fatalf("want only the error:%s", dump(ms))
	}
	if a.p.closing {
		t.Fatal("closed for an event outside a room")
	}
}

// --- chat ---------------------------------------------------------------------

func chatOf(t *testing.T, c *tc) []codec.ChatMsg {
	t.Helper()
	fs := ofType(c.recv(), codec.TFrame)
	if len(fs) == 0 {
		return nil
	}
	if len(fs) != 1 {
		t.Fatalf("%d frames", len(fs))
	}
	return fs[0].Frame.Chat
}

func TestChatRoom(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b", "c")
	outsider := x.player("d")
	drain(cs...)
	cs[1].send(codec.ClientMsg{Type: codec.TChat, Text: []byte("hello room")})
	x.tick()
	want := []codec.ChatMsg{{From: cs[1].id(), To: 0, ServerTimeMs: x.timeOf(x.n).UnixMilli(), Text: "hello room"}}
	for _, c := range cs {
		wantEqual(t, "chat", chatOf(t, c), want)
	}
	if got := outsider.l.sent; len(got) != 0 {
		t.Fatal("room chat reached a player outside the room")
	}
	if got := x.stats.chatRelayed.Load(); got != 3 {
		t.Fatalf("chatRelayed %d", got)
	}
}

func TestChatDirect(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	loner := x.player("d")
	drain(cs...)

	// To a player in no room: it gets a frame with no room part.
	a.send(codec.ClientMsg{Type: codec.TChat, To: loner.id(), Text: []byte("psst")})
	x.tick()
	want := []codec.ChatMsg{{From: a.id(), To: loner.id(), ServerTimeMs: x.timeOf(x.n).UnixMilli(), Text: "psst"}}
	ms := loner.recv()
	f := frameOf(t, ms)
	if f.Room != nil || len(ms) != 1 {
		t.Fatalf("loner's frame:%s", dump(ms))
	}
	wantEqual(t, "recipient chat", f.Chat, want)
	wantEqual(t, "sender echo", chatOf(t, a), want)
	if got := chatOf(t, b); len(got) != 0 {
		t.Fatalf("bystander got %v", got)
	}

	// From a player in no room to a member.
	loner.send(codec.ClientMsg{Type: codec.TChat, To: b.id(), Text: []byte("hi b")})
	x.tick()
	want = []codec.ChatMsg{{From: loner.id(), To: b.id(), ServerTimeMs: x.timeOf(x.n).UnixMilli(), Text: "hi b"}}
	wantEqual(t, "recipient chat", chatOf(t, b), want)
	ms = loner.recv()
	if f := frameOf(t, ms); f.Room != nil {
		t.Fatal("room part for a player in no room")
	} else {
		wantEqual(t, "echo", f.Chat, want)
	}

	// To oneself: delivered once.
	loner.send(codec.ClientMsg{Type: codec.TChat, To: loner.id(), Text: []byte("me")})
	x.tick()
	if got := chatOf(t, loner); len(got) != 1 || got[0].Text != "me" {
		t.Fatalf("self message %+v", got)
	}

	// Nothing pending: a player in no room gets no frame at all.
	x.tick()
	if len(loner.l.sent) != 0 {
		t.Fatalf("idle player in no room was sent:%s", dump(loner.recv()))
	}
}

func TestChatErrors(t *testing.T) {
	x := newHarness(t)
	a := x.player("a")
	pending := x.connect() // no hello yet: not addressable
	a.send(codec.ClientMsg{Type: codec.TChat, To: 999, Text: []byte("?")})
	x.tick()
	wantError(t, a.recv(), 0, codec.CodePlayerNotFound)
	a.send(codec.ClientMsg{Type: codec.TChat, To: pending.id(), Text: []byte("?")})
	x.tick()
	wantError(t, a.recv(), 0, codec.CodePlayerNotFound)
	a.send(codec.ClientMsg{Type: codec.TChat, Text: []byte("anyone?")})
	x.tick()
	wantError(t, a.recv(), 0, codec.CodeNotInRoom)
	if len(pending.l.sent) != 0 || a.p.closing {
		t.Fatal("unexpected output or close")
	}
}

// --- ping -----------------------------------------------------------------------

func TestPingPong(t *testing.T) {
	x := newHarness(t)
	a := x.player("a")
	x.ticks(3)
	a.x.queue = append(a.x.queue, queued{p: a.p, body: enc(codec.ClientMsg{Type: codec.TPing, ClientTime: -123456789}),
		arrived: x.timeOf(x.n + 1).Add(-12345 * time.Microsecond)})
	x.tick()
	ms := a.recv()
	if len(ms) != 1 {
		t.Fatalf("want only a pong:%s", dump(ms))
	}
	p := one(t, ms, codec.TPong)
	if p.ClientTime != -123456789 || p.Tick != x.n || p.ServerTimeMs != x.timeOf(x.n).UnixMilli() || p.HoldUs != 12345 {
		t.Fatalf("pong %+v", p)
	}
	// A clock that says the message arrived after the tick began gives 0.
	a.x.queue = append(a.x.queue, queued{p: a.p, body: enc(codec.ClientMsg{Type: codec.TPing, ClientTime: 1}),
		arrived: x.timeOf(x.n + 1).Add(time.Millisecond)})
	x.tick()
	if p := one(t, a.recv(), codec.TPong); p.HoldUs != 0 {
		t.Fatalf("negative hold not clamped: %d", p.HoldUs)
	}
}

// --- hostile input ----------------------------------------------------------

func deepArray(depth int) []byte {
	b := []byte{0x92, 20}
	for range depth {
		b = append(b, 0x91)
	}
	return append(b, 0x01)
}

var hostileBodies = []struct {
	name string
	body []byte
	code codec.Code
}{
	{"huge array header", []byte{0xdd, 0x10, 0x00, 0x00, 0x00}, codec.CodeMalformed},
	{"bin32 as message", []byte{0xc6, 0x7f, 0xff, 0xff, 0xff}, codec.CodeMalformed},
	{"map32 as message", []byte{0xdf, 0x7f, 0xff, 0xff, 0xff}, codec.CodeMalformed},
	{"state str32 longer than body", []byte{0x92, 20, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'}, codec.CodeMalformed},
	{"state str8 longer than body", []byte{0x92, 20, 0xd9, 0x20, 'a', 'b'}, codec.CodeMalformed},
	{"state bin32 longer than body", []byte{0x92, 20, 0xc6, 0x7f, 0xff, 0xff, 0xff}, codec.CodeMalformed},
	{"state array32 longer than body", []byte{0x92, 20, 0xdd, 0x7f, 0xff, 0xff, 0xff, 1}, codec.CodeMalformed},
	{"unknown type", []byte{0x91, 99}, codec.CodeUnknownMessage},
	{"unknown type 255", []byte{0x92, 0xcc, 0xff, 0x01}, codec.CodeUnknownMessage},
	{"string body", []byte{0xa3, 'a', 'b', 'c'}, codec.CodeMalformed},
	{"integer body", []byte{0x07}, codec.CodeMalformed},
	{"nil body", []byte{0xc0}, codec.CodeMalformed},
	{"empty body", []byte{}, codec.CodeMalformed},
	{"empty array", []byte{0x90}, codec.CodeMalformed},
	{"reserved byte", []byte{0x92, 20, 0xc1}, codec.CodeMalformed},
	{"truncated state", []byte{0x92, 20}, codec.CodeMalformed},
	{"truncated state value", []byte{0x92, 20, 0xcd, 0x01}, codec.CodeMalformed},
	{"truncated chat", enc(codec.ClientMsg{Type: codec.TChat, Text: []byte("hello")})[:6], codec.CodeMalformed},
	{"too few fields", []byte{0x91, 20}, codec.CodeMalformed},
	{"trailing bytes", append(enc(codec.ClientMsg{Type: codec.TPing, ClientTime: 1}), 0x01), codec.CodeMalformed},
	{"wrong field type", []byte{0x93, 11, 0xa1, 'x', 1}, codec.CodeMalformed},
	{"rid out of range", []byte{0x92, 15, 0xff}, codec.CodeMalformed},
}

func TestHostileBodies(t *testing.T) {
	for _, tt := range hostileBodies {
		t.Run(tt.name, func(t *testing.T) {
			x, cs, r := roomWith(t, "a", "b", "evil")
			a, b, evil := cs[0], cs[1], cs[2]
			evil.sendBody(tt.body)
			evil.send(codec.ClientMsg{Type: codec.TState, Value: mpInt(1)}) // ignored after the close
			a.send(codec.ClientMsg{Type: codec.TState, Value: mpInt(2)})
			x.tick()
			ms := evil.recv()
			if len(ms) != 1 {
				t.Fatalf("want only the close message:%s", dump(ms))
			}
			cl := wantClose(t, ms, tt.code)
			if cl.Message == "" {
				t.Fatal("close without a reason")
			}
			if evil.p.room != nil || len(r.members) != 2 {
				t.Fatal("closed player still in the room")
			}
			// The others see it leave and keep working.
			for _, c := range []*tc{a, b} {
				rd := roomOf(t, c.recv())
				wantEqual(t, "leaves", rd.Leaves, []uint32{evil.id()})
				wantEqual(t, "states", rd.States, []codec.PlayerState{{ID: a.id(), Value: mpInt(2)}})
			}
			b.send(codec.ClientMsg{Type: codec.TPing, ClientTime: 9})
			x.tick()
			if p := one(t, b.recv(), codec.TPong); p.ClientTime != 9 {
				t.Fatal("other player stopped working")
			}
			wantClosedAndGone(t, x, evil)
			if a.p.closing || b.p.closing || a.l.closes+b.l.closes != 0 {
				t.Fatal("another player was closed")
			}
		})
	}
}

// Hostile bodies before the hello are refused the same way.
func TestHostileBeforeHello(t *testing.T) {
	for _, tt := range hostileBodies {
		x := newHarness(t)
		c := x.connect()
		c.sendBody(tt.body)
		x.tick()
		if cl := wantClose(t, c.recv(), tt.code); cl.Message == "" {
			t.Fatalf("%s: no reason", tt.name)
		}
	}
}

func TestHostileNoAllocationByDeclaredLength(t *testing.T) {
	x := newHarness(t)
	c := x.player("evil")
	x.n++
	x.h.begin(x.n, x.timeOf(x.n))
	for _, body := range [][]byte{
		{0xdd, 0x10, 0x00, 0x00, 0x00},
		{0xc6, 0x7f, 0xff, 0xff, 0xff},
		{0xdf, 0x7f, 0xff, 0xff, 0xff},
		{0x92, 20, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'},
		{0x92, 20, 0xdd, 0x7f, 0xff, 0xff, 0xff, 1},
	} {
		run := func() {
			c.p.closing = false
			c.p.out = c.p.out[:0]
			x.h.handle(c.p, body, x.h.now)
			if !c.p.closing {
				t.Fatal("not closed")
			}
		}
		allocs := testing.AllocsPerRun(100, run)
		if allocs > 5 {
			t.Errorf("% x: %.1f allocations per message", body, allocs)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			run()
		}
		runtime.ReadMemStats(&after)
		per := (after.TotalAlloc - before.TotalAlloc) / 100
		if per > 512 {
			t.Errorf("% x: %d bytes allocated per message", body, per)
		}
		t.Logf("% x: %.0f allocations, %d bytes per message", body, allocs, per)
	}
}

// --- allocations --------------------------------------------------------------

// steadyRoom builds rooms of 8 players whose links discard what they get,
// and the state bodies each player sends every tick (changed in place).
func steadyRoom(t testing.TB, x *harness, rooms, perRoom, stateSize int) ([]*tc, [][]byte) {
	t.Helper()
	var cs []*tc
	var bodies [][]byte
	for range rooms {
		var code string
		for i := range perRoom {
			c := x.connect()
			c.l.discard = true
			c.sendBody(enc(helloMsg("p" + strings.Repeat("x", i%4))))
			if i == 0 {
				c.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 1, Mode: []byte("dm"), MaxPlayers: perRoom, Public: true})
				x.tick()
				code = x.h.roomOrder[len(x.h.roomOrder)-1].code
			} else {
				c.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 1, Code: []byte(code)})
			}
			cs = append(cs, c)
			bodies = append(bodies, enc(codec.ClientMsg{Type: codec.TState, Value: mpBin(stateSize, byte(i))}))
		}
		x.tick()
	}
	for _, c := range cs {
		if c.p.room == nil || c.p.closing {
			t.Fatalf("player %d not in a room", c.id())
		}
	}
	return cs, bodies
}

// steadyTick is one tick in which every player sends a new state.
func steadyTick(x *harness, cs []*tc, bodies [][]byte) {
	x.n++
	now := x.timeOf(x.n)
	x.h.begin(x.n, now)
	for i, c := range cs {
		b := bodies[i]
		b[len(b)-1]++
		x.h.handle(c.p, b, now)
	}
	x.h.end()
}

func TestAllocSteadyStateTickIsZero(t *testing.T) {
	x := newHarness(t)
	cs, bodies := steadyRoom(t, x, 1, 8, 64)
	for range 100 { // past a reap tick, buffers grown
		steadyTick(x, cs, bodies)
	}
	sent := cs[0].l.nSent
	if allocs := testing.AllocsPerRun(100, func() { steadyTick(x, cs, bodies) }); allocs != 0 {
		t.Fatalf("%.2f allocations per steady tick, want 0", allocs)
	}
	if got := cs[0].l.nSent - sent; got != 101 {
		t.Fatalf("%d frames sent in 101 ticks", got)
	}
	// The frames were real: the last one carries all 8 states.
	ms := splitMsgs(t, cs[3].l.lastBytes)
	rd := roomOf(t, ms)
	if len(rd.States) != 8 || rd.Full || rd.ID != cs[0].p.room.id {
		t.Fatalf("last frame:%s", dump(ms))
	}
	for i, s := range rd.States {
		if s.ID != cs[i].id() || !bytes.Equal(s.Value, bodies[i][2:]) {
			t.Fatalf("state %d: %+v", i, s)
		}
	}
}

// --- transport loss, shutdown, leave-log overflow --------------------------

func TestHubDisconnect(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	x.n++
	x.h.begin(x.n, x.timeOf(x.n))
	x.h.lostLink(a.l, 0, "transport closed")
	x.h.handle(a.p, enc(codec.ClientMsg{Type: codec.TState, Value: mpInt(1)}), x.h.now) // ignored
	x.h.end()
	if a.l.closes != 1 {
		t.Fatalf("link closed %d times", a.l.closes)
	}
	if _, ok := x.h.players[a.id()]; ok || len(x.h.order) != 1 {
		t.Fatal("disconnected player not removed at the end of the tick")
	}
	rd := roomOf(t, b.recv())
	wantEqual(t, "leaves", rd.Leaves, []uint32{a.id()})
	if rd.Master != b.id() || r.master != b.p {
		t.Fatalf("master %d", rd.Master)
	}
	x.ticks(5)
	if a.l.closes != 1 {
		t.Fatalf("link closed %d times", a.l.closes)
	}
}

func TestHubShutdown(t *testing.T) {
	x, cs, _ := roomWith(t, "a", "b")
	x.n++
	x.h.begin(x.n, x.timeOf(x.n))
	x.h.shutdown("the server is shutting down")
	late := x.connect()
	x.h.end()
	for _, c := range append(cs, late) {
		ms := c.recv()
		if len(ms) != 1 {
			t.Fatalf("want only the close message:%s", dump(ms))
		}
		wantClose(t, ms, codec.CodeServerClosing)
	}
	x.ticks(4)
	if len(x.h.players) != 0 || x.stats.players.Load() != 0 {
		t.Fatalf("%d players left", len(x.h.players))
	}
	for _, c := range append(cs, late) {
		if c.l.closes != 1 {
			t.Fatalf("link closed %d times", c.l.closes)
		}
	}
}

// More leaves than the room's leave log holds: members that could miss
// one get a full snapshot instead.
func TestDeltaLeaveLogOverflowGivesFull(t *testing.T) {
	x, cs, r := roomWith(t, "a", "b")
	a, b := cs[0], cs[1]
	x.tick()
	drain(cs...)
	for range leaveLogSize + 2 {
		b.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 1})
		b.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 2, Code: []byte(r.code)})
	}
	x.tick()
	if r.leaveCount != leaveLogSize+2 {
		t.Fatalf("leaveCount %d", r.leaveCount)
	}
	rd := roomOf(t, a.recv())
	if !rd.Full || len(rd.Leaves) != 0 {
		t.Fatalf("want a full snapshot, got full=%v with %d leaves", rd.Full, len(rd.Leaves))
	}
	wantEqual(t, "joins", rd.Joins, []codec.PlayerInfo{
		{ID: a.id(), Name: "a", Props: codec.Props{}}, {ID: b.id(), Name: "b", Props: codec.Props{}}})
	// Within the log, a member that was behind still gets a plain delta.
	a.l.busy = true
	b.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 1})
	x.tick()
	b.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 2, Code: []byte(r.code)})
	x.tick()
	a.l.busy = false
	x.tick()
	rd = roomOf(t, a.recv())
	if rd.Full {
		t.Fatal("full snapshot for a member the log still covers")
	}
	wantEqual(t, "leaves", rd.Leaves, []uint32{b.id()})
	wantEqual(t, "joins", rd.Joins, []codec.PlayerInfo{{ID: b.id(), Name: "b", Props: codec.Props{}}})
}
