package conformance

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay"
)

// Section 6: the error and close codes a client can provoke that no other
// section's tests reach.

func TestSection6_ServerClosing(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		srv := &relay.Server{}
		e := start(t, k, srv)
		a, b, _ := room2(e)
		c := e.join("cy")
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			done <- srv.Shutdown(ctx)
		}()
		for _, x := range []*client{a, b, c} {
			x.expectClose(CodeServerClosing)
		}
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})
}

func TestSection6_UnknownMessage(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		for _, typ := range []int{99, 0, TWelcome, TFrame} {
			c := e.join("ana")
			c.send(typ, 1)
			c.expectClose(CodeUnknownMessage)
		}
	})
}

// Messages that cannot be parsed close the session with malformed
// (decision 3): wrong types, missing fields, a rid that is not a u32.
func TestSection6_Malformed(t *testing.T) {
	cases := map[string][]any{
		"rid 2^32":          {TLeaveRoom, uint64(1) << 32},
		"rid -1":            {TLeaveRoom, -1},
		"rid a str":         {TLeaveRoom, "1"},
		"locked not a bool": {TSetLocked, 1, "yes"},
		"mode not a str":    {TCreateRoom, 1, 5, 0, true, nil},
		"public not a bool": {TCreateRoom, 1, "dm", 0, 1, nil},
		"missing fields":    {TCreateRoom, 1, "dm"},
		"props key not str": {TSetPlayer, 1, Map{{1, 2}}},
		"text not a str":    {TChat, 0, []byte("bin")},
		"client_time a str": {TPing, "now"},
		"event ids a map":   {TEvent, 2, 1, nil, Map{}},
		"state missing":     {TState},
	}
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		for name, fields := range cases {
			t.Run(name, func(t *testing.T) {
				c := e.on(t).join("ana")
				c.send(fields...)
				c.expectClose(CodeMalformed)
			})
		}
		// An integer of the right type but out of its field's range is a
		// refusal the session survives (decision 3), not malformed.
		t.Run("acked_tick negative", func(t *testing.T) {
			c := e.on(t).join("ana")
			c.send(TPing, 1, -1)
			c.expectRefused(0, CodeBadRequest)
		})
	})
}

// Over a rate limit a message is dropped with error rate_limited (rid 0);
// repeated, the session is closed with rate_limited.
func TestSection6_RateLimited(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{RateLimits: relay.RateLimits{Chat: 1, Messages: 20, Violations: 3}})
		a, b, _ := room2(e)
		// Chat: a burst of 2 lines, the third is dropped; the session
		// stays open.
		for _, s := range []string{"1", "2", "3"} {
			a.send(TChat, 0, s)
		}
		a.expectRefused(0, CodeRateLimited)
		b.waitFor("two lines", func() bool { return len(b.chat) == 2 })
		b.sync()
		if len(b.chat) != 2 {
			t.Errorf("bo got %d lines, the burst is 2", len(b.chat))
		}
		// Messages: far over the burst closes the session.
		bodies := make([][]byte, 100)
		for i := range bodies {
			bodies[i] = Msg(TState, i)
		}
		a.sendTogether(bodies...)
		m := a.expectClose(CodeRateLimited)
		if !slices.ContainsFunc(a.log, func(x *ServerMsg) bool { return x.Type == TError && x.Code == CodeRateLimited && x.RID == 0 }) {
			t.Errorf("closed (%s) without a rate_limited error first", m.Text)
		}
	})
}

// Decision 2: a full server answers a hello with close server_full.
func TestSection6_ServerFull(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		srv := &relay.Server{MaxSessions: 2}
		e := start(t, k, srv)
		e.join("one")
		e.join("two")
		c := e.connect("three")
		// Over WebSocket the refusal comes at the upgrade, before the
		// hello, and the server may close before the hello is written.
		_ = c.tr.Send(Msg(THello, 1, "three", nil))
		c.expectClose(CodeServerFull)
	})
}

// Decisions 1 and 5: in a room, a client that acknowledges its frames but
// sends no message is closed with idle_timeout (acks are not activity) and
// stays in the room as away.
func TestSection6_IdleTimeoutWithAcksOnly(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		const idle = 400 * time.Millisecond
		e := start(t, k, &relay.Server{IdleTimeout: idle, SlowClientTimeout: 5 * time.Second})
		a, b, _ := room2(e)
		sent := time.Now() // before ana's last message: the silence starts when it arrives
		a.sync()
		// ana reads its frames (its transport acknowledges them) and says
		// nothing; bo pings to stay.
		for a.closed == nil {
			b.sync()
			if _, err := a.tryNext(10 * time.Millisecond); err != nil && err != ErrTimeout {
				t.Fatal(err)
			}
			if time.Since(sent) > wait {
				t.Fatal("ana was not closed")
			}
		}
		if a.closed.Code != CodeIdleTimeout {
			t.Fatalf("ana closed with %s, want idle_timeout", describe(a.closed))
		}
		if d := time.Since(sent); d < idle-50*time.Millisecond {
			t.Errorf("closed after %v of silence, the idle timeout is %v", d, idle)
		}
		aID := a.welcome.PlayerID
		for !slices.Contains(b.presences, Presence{ID: aID, Connected: false}) {
			b.sync()
			if time.Since(sent) > wait {
				t.Fatalf("bo never saw ana away; leaves %v", b.leaves)
			}
		}
		if b.view.players[aID] == nil {
			t.Error("ana left the room instead of being away")
		}
	})
}

// Decision 1: a client that keeps sending (here: pings) but takes no
// frames is a slow consumer: closed with slow_consumer, it leaves the room.
func TestSection6_SlowConsumer(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		srv := &relay.Server{SlowClientTimeout: 500 * time.Millisecond}
		e := start(t, k, srv)
		a := e.connectWith("ana", dialOptions{recvWindow: 4})
		a.hello("ana", nil)
		b := e.join("bo")
		j := a.joined(a.request(TCreateRoom, "dm", 0, true, nil))
		b.joined(b.request(TJoinRoom, j.RoomID))
		a.waitView("bo", func(v *roomView) bool { return len(v.players) == 2 })
		stall, ok := a.tr.(Staller)
		if !ok {
			t.Skip("the transport cannot stall")
		}
		stall.Stall(true)
		aID := a.welcome.PlayerID
		for i := 0; b.view.players[aID] != nil; i++ {
			a.send(TPing, 1) // something arrives from ana every tick
			padFrames(b, i)
			b.nextFrame()
		}
		if slices.Contains(b.presences, Presence{ID: aID, Connected: false}) {
			t.Error("the slow consumer was shown away instead of leaving")
		}
		if n := srv.Stats().Closes["slow_consumer"]; n != 1 {
			t.Errorf("closes: %v", srv.Stats().Closes)
		}
	})
}

// Section 4.21: join_seat on a relay that is not in a cluster is refused
// (forbidden) and the session stays.
func TestSection4_21_JoinSeatOutsideACluster(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		c := e.join("ana")
		c.expectError(c.request(TJoinSeat, "s1.x.y"), CodeForbidden)
		c.joined(c.request(TCreateRoom, "dm", 2, true, nil))
	})
}
