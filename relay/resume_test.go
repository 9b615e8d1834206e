package relay

import (
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

func resumeHarness(t *testing.T) (*harness, *tc, *tc) {
	cfg := testHubConfig()
	cfg.resumeGrace = 2 * time.Second
	cfg.idleTimeout = time.Second
	x := newHarnessConfig(t, cfg)
	a, b := x.player("a"), x.player("b")
	_, code := a.createRoom("dm", 0, true, nil)
	b.joinCode(code)
	drain(a, b)
	return x, a, b
}

func sendEvents(b *tc, from, to int) {
	for i := from; i <= to; i++ {
		b.send(codec.ClientMsg{Type: codec.TEvent, Target: codec.TargetOthers, EventCode: uint32(i), Value: mpInt(int64(i))})
	}
}

func presenceOf(t *testing.T, c *tc) []codec.Presence {
	t.Helper()
	var out []codec.Presence
	for _, m := range ofType(c.recv(), codec.TFrame) {
		if m.Frame.Room != nil {
			out = append(out, m.Frame.Room.Presence...)
		}
	}
	return out
}

func TestResumeReplaysExactlyWhatWasMissed(t *testing.T) {
	x, a, b := resumeHarness(t)
	sendEvents(b, 1, 2)
	x.tick()
	seen := x.n // a processed this frame: events 1 and 2
	sendEvents(b, 3, 4)
	x.tick() // this frame, with 3 and 4, is lost with the connection
	drain(a)
	x.n++
	x.h.begin(x.n, x.timeOf(x.n))
	x.h.lostLink(a.l, 0, "transport closed")
	x.h.end()
	if got := presenceOf(t, b); len(got) != 1 || got[0] != (codec.Presence{ID: a.id()}) {
		t.Fatalf("b saw presence %+v, want a away", got)
	}
	sendEvents(b, 5, 6) // queued while a is away
	x.tick()
	token := a.p.resumeToken

	c := x.connect() // the new connection, from a new address
	c.send(codec.ClientMsg{Type: codec.THello, Version: 1, Resume: []byte(token), LastTick: seen})
	x.tick()
	ms := c.recv()
	w := ofType(ms, codec.TWelcome)
	if len(w) != 1 || !w[0].Resumed || w[0].PlayerID != a.id() || w[0].RoomID == 0 || w[0].ResumeToken == token {
		t.Fatalf("welcome: %s", dump(ms))
	}
	fs := ofType(ms, codec.TFrame)
	if len(fs) != 1 || !fs[0].Frame.Room.Full {
		t.Fatalf("want one full frame, got %s", dump(ms))
	}
	var codes []uint32
	for _, e := range fs[0].Frame.Events {
		codes = append(codes, e.Code)
	}
	wantEqual(t, "replayed events", codes, []uint32{3, 4, 5, 6})
	if got := presenceOf(t, b); len(got) != 1 || got[0] != (codec.Presence{ID: a.id(), Connected: true}) {
		t.Fatalf("b saw presence %+v, want a back", got)
	}

	// The spent token is refused; the player is not disturbed.
	d := x.connect()
	d.send(codec.ClientMsg{Type: codec.THello, Version: 1, Resume: []byte(token), LastTick: 1})
	x.tick()
	if ms := d.recv(); len(ms) != 1 || ms[0].Type != codec.TClose || ms[0].Code != codec.CodeResumeFailed {
		t.Fatalf("replayed token: %s", dump(ms))
	}
	if x.h.links[c.l] != a.p || a.p.away {
		t.Fatal("the resumed player lost its link")
	}
}

func TestResumeHistoryPrunedByAcks(t *testing.T) {
	x, a, b := resumeHarness(t)
	sendEvents(b, 1, 3)
	x.tick()
	if len(a.p.hist) != 1 {
		t.Fatalf("%d history entries", len(a.p.hist))
	}
	a.send(codec.ClientMsg{Type: codec.TPing, AckedTick: x.n})
	x.tick()
	if len(a.p.hist) != 0 || a.p.histBytes != 0 {
		t.Fatalf("acked history kept: %d entries, %d bytes", len(a.p.hist), a.p.histBytes)
	}
	// Without acks, entries older than idle timeout + grace go, and a
	// resume that needs them fails rather than leaving a gap.
	sendEvents(b, 4, 4)
	x.tick()
	first := x.n
	x.ticks(int((3 * time.Second) / tickPeriod))
	sendEvents(b, 5, 5)
	x.tick()
	if a.p.histFloor < first {
		t.Fatalf("history floor %d, want >= %d", a.p.histFloor, first)
	}
	x.n++
	x.h.begin(x.n, x.timeOf(x.n))
	x.h.lostLink(a.l, 0, "gone")
	x.h.end()
	c := x.connect()
	c.send(codec.ClientMsg{Type: codec.THello, Version: 1, Resume: []byte(a.p.resumeToken), LastTick: first - 1})
	x.tick()
	if ms := c.recv(); len(ms) != 1 || ms[0].Code != codec.CodeResumeFailed {
		t.Fatalf("resume needing dropped history: %s", dump(ms))
	}
}

func TestAwayPlayerLeavesAfterGrace(t *testing.T) {
	x, a, b := resumeHarness(t)
	x.n++
	x.h.begin(x.n, x.timeOf(x.n))
	x.h.lostLink(a.l, 0, "transport closed")
	x.h.end()
	drain(b)
	x.ticks(int(2*time.Second/tickPeriod) + 1)
	var leaves []uint32
	for _, m := range ofType(b.recv(), codec.TFrame) {
		leaves = append(leaves, m.Frame.Room.Leaves...)
	}
	wantEqual(t, "leaves", leaves, []uint32{a.id()})
	if _, ok := x.h.players[a.id()]; ok {
		t.Fatal("away player still present after the grace")
	}
	if len(x.h.tokens) != 1 { // b's
		t.Fatalf("%d resume tokens kept", len(x.h.tokens))
	}
}

// A resume whose last_tick is older than events the client already
// acknowledged (so the relay forgot them) fails: it would leave a gap.
// One at or after the acknowledged tick gets exactly what followed.
func TestResumeBeforeAckedEventsFails(t *testing.T) {
	for _, tc := range []struct {
		name     string
		back     uint64 // last_tick = acked tick - back
		resumeOK bool
	}{{"older than the ack", 1, false}, {"at the ack", 0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			x, a, b := resumeHarness(t)
			sendEvents(b, 1, 2)
			x.tick()
			acked := x.n
			a.send(codec.ClientMsg{Type: codec.TPing, AckedTick: acked})
			sendEvents(b, 3, 3)
			x.tick()
			x.n++
			x.h.begin(x.n, x.timeOf(x.n))
			x.h.lostLink(a.l, 0, "gone")
			x.h.end()
			c := x.connect()
			c.send(codec.ClientMsg{Type: codec.THello, Version: 1, Resume: []byte(a.p.resumeToken), LastTick: acked - tc.back})
			x.tick()
			ms := c.recv()
			if !tc.resumeOK {
				if len(ms) != 1 || ms[0].Type != codec.TClose || ms[0].Code != codec.CodeResumeFailed {
					t.Fatalf("resume before the acked events: %s", dump(ms))
				}
				return
			}
			fs := ofType(ms, codec.TFrame)
			if len(ofType(ms, codec.TWelcome)) != 1 || len(fs) != 1 {
				t.Fatalf("resume at the ack: %s", dump(ms))
			}
			var codes []uint32
			for _, e := range fs[0].Frame.Events {
				codes = append(codes, e.Code)
			}
			wantEqual(t, "replayed events", codes, []uint32{3})
		})
	}
}

// A client whose network vanished (its link busy and nothing at all heard
// from it since its frames were first held back) is a lost link, not a slow
// consumer: the room sees it away, and it can resume within the grace.
// One that keeps acknowledging but cannot keep up is the slow consumer.
func TestSilentLinkIsAwayNotSlow(t *testing.T) {
	for _, silent := range []bool{true, false} {
		name := map[bool]string{true: "silent", false: "still acking"}[silent]
		t.Run(name, func(t *testing.T) {
			cfg := testHubConfig()
			cfg.resumeGrace = 15 * time.Second
			cfg.slowTimeout = time.Second
			x := newHarnessConfig(t, cfg)
			a, b := x.player("a"), x.player("b")
			_, code := a.createRoom("dm", 0, true, nil)
			b.joinCode(code)
			drain(a, b)
			a.l.busy = true
			a.l.silent, a.l.heardAt = silent, x.timeOf(x.n)
			for i := 0; i < 40 && !a.p.away && !a.p.closing; i++ {
				b.send(codec.ClientMsg{Type: codec.TState, Value: mpInt(int64(i))})
				x.tick()
			}
			if !silent {
				if !a.p.closing || x.stats.closes[codec.CodeSlowConsumer].Load() != 1 {
					t.Fatalf("a client still acking was not closed as slow: away=%v closing=%v", a.p.away, a.p.closing)
				}
				return
			}
			if !a.p.away || a.p.closing || a.p.room == nil {
				t.Fatalf("silent client: away=%v closing=%v in room=%v, want away in its room", a.p.away, a.p.closing, a.p.room != nil)
			}
			if got := x.stats.closes[codec.CodeSlowConsumer].Load(); got != 0 {
				t.Fatalf("%d slow_consumer closes", got)
			}
			x.tick()
			if got := presenceOf(t, b); len(got) != 1 || got[0] != (codec.Presence{ID: a.id()}) {
				t.Fatalf("b saw presence %+v, want a away", got)
			}
			// Six seconds later, the player resumes on a new connection.
			x.ticks(int(6 * time.Second / tickPeriod))
			c := x.connect()
			c.send(codec.ClientMsg{Type: codec.THello, Version: 1, Resume: []byte(a.p.resumeToken), LastTick: 1})
			x.tick()
			w := ofType(c.recv(), codec.TWelcome)
			if len(w) != 1 || !w[0].Resumed || w[0].PlayerID != a.id() {
				t.Fatalf("resume after the silence: %+v", w)
			}
		})
	}
}
