package relay

import (
	"testing"

	"github.com/tickrelay/tickrelay/codec"
)

func rateHarness(t *testing.T, l RateLimits) *harness {
	cfg := testHubConfig()
	cfg.rateLimits = l
	return newHarnessConfig(t, cfg)
}

// Over the message rate, messages are dropped with an error; the tokens
// refill with time, so a client that slows down carries on.
func TestRateLimitDropsThenRefills(t *testing.T) {
	x := rateHarness(t, RateLimits{Messages: 30, Bytes: -1, Chat: -1, Violations: 100})
	a := x.player("a") // hello used one token of the burst of 60
	a.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 1})
	x.tick()
	a.recv()
	for i := 0; i < 70; i++ {
		a.send(codec.ClientMsg{Type: codec.TPing, ClientTime: int64(i)})
	}
	x.tick()
	ms := a.recv()
	pongs, limited := len(ofType(ms, codec.TPong)), 0
	for _, m := range ofType(ms, codec.TError) {
		if m.Code == codec.CodeRateLimited {
			limited++
		}
	}
	if pongs != 60 || limited != 10 { // the bucket refilled between ticks: full at 60
		t.Fatalf("%d pongs, %d rate_limited errors; want 60 and 10", pongs, limited)
	}
	x.ticks(30) // one second: 30 tokens back
	for i := 0; i < 30; i++ {
		a.send(codec.ClientMsg{Type: codec.TPing})
	}
	x.tick()
	if ms := a.recv(); len(ofType(ms, codec.TPong)) != 30 || len(ofType(ms, codec.TError)) != 0 {
		t.Fatalf("after refill: %s", dump(ms))
	}
}

func TestRateLimitChatAndBytes(t *testing.T) {
	x := rateHarness(t, RateLimits{Messages: -1, Bytes: 1000, Chat: 2, Violations: 100})
	a := x.player("a")
	a.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 1})
	x.tick()
	a.recv()
	for i := 0; i < 6; i++ { // burst of 4 chat lines
		a.send(codec.ClientMsg{Type: codec.TChat, Text: []byte("hi")})
	}
	x.tick()
	var chat, limited int
	for _, m := range a.recv() {
		if m.Type == codec.TFrame {
			chat += len(m.Frame.Chat)
		}
		if m.Type == codec.TError && m.Code == codec.CodeRateLimited {
			limited++
		}
	}
	if chat != 4 || limited != 2 {
		t.Fatalf("%d chat lines, %d limited; want 4 and 2", chat, limited)
	}
	// 64 KiB burst floor for bytes: a few large states pass, then they stop.
	x.ticks(60)
	a.recv()
	for i := 0; i < 100; i++ {
		a.send(codec.ClientMsg{Type: codec.TState, Value: mpBin(1000, 1)})
	}
	x.tick()
	limited = 0
	for _, m := range ofType(a.recv(), codec.TError) {
		if m.Code == codec.CodeRateLimited {
			limited++
		}
	}
	if limited == 0 || limited == 100 {
		t.Fatalf("%d of 100 large states limited", limited)
	}
}

func TestRateLimitRepeatedViolationsDisconnect(t *testing.T) {
	x := rateHarness(t, RateLimits{Messages: 1, Bytes: -1, Chat: -1, Violations: 3})
	a := x.player("a")
	b := x.player("b")
	for i := 0; i < 10; i++ {
		a.send(codec.ClientMsg{Type: codec.TPing})
	}
	x.tick()
	ms := a.recv()
	last := ms[len(ms)-1]
	if last.Type != codec.TClose || last.Code != codec.CodeRateLimited {
		t.Fatalf("want a rate_limited close last, got %s", dump(ms))
	}
	b.send(codec.ClientMsg{Type: codec.TPing})
	x.tick()
	if ms := b.recv(); len(ofType(ms, codec.TPong)) != 1 {
		t.Fatalf("the other player: %s", dump(ms))
	}
}

// A request dropped by the rate limit is answered with its own rid, so the
// client can match the refusal to the request it made.
func TestRateLimitAnswersTheRequestsRID(t *testing.T) {
	x := rateHarness(t, RateLimits{Messages: 1, Bytes: -1, Chat: -1, Violations: 100})
	a := x.player("a") // one of the two tokens left
	a.send(codec.ClientMsg{Type: codec.TListRooms, RID: 41})
	a.send(codec.ClientMsg{Type: codec.TListRooms, RID: 42})
	a.send(codec.ClientMsg{Type: codec.TState, Value: mpInt(1)})
	x.tick()
	ms := a.recv()
	if len(ofType(ms, codec.TRoomList)) != 1 {
		t.Fatalf("want one answered list: %s", dump(ms))
	}
	errs := ofType(ms, codec.TError)
	if len(errs) != 2 || errs[0].RID != 42 || errs[1].RID != 0 ||
		errs[0].Code != codec.CodeRateLimited || errs[1].Code != codec.CodeRateLimited {
		t.Fatalf("want rate_limited for rid 42, then rid 0 for the state: %s", dump(ms))
	}
}
