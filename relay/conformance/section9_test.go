package conformance

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay"
)

// Section 9: resume, and decisions 1 (a silent link is lost, not slow) and
// 4 (a resume never skips events).

// resumeHello opens a new connection and asks to take over a player.
func (e *env) resumeHello(name, token string, lastTick uint64) *client {
	e.t.Helper()
	c := e.connect(name)
	c.send(THello, 1, name, nil, "", token, lastTick)
	return c
}

// expectResumed reads the welcome of a resume and the full frame after it.
func (c *client) expectResumed(old Welcome, roomID uint32) {
	c.t.Helper()
	w := c.expectWelcome()
	if !w.Resumed || w.PlayerID != old.PlayerID || w.RoomID != roomID || w.ResumeToken == old.ResumeToken ||
		!tokenPattern.MatchString(w.ResumeToken) {
		c.t.Fatalf("resume welcome %+v; the old one was %+v, room %d", w, old, roomID)
	}
	if roomID == 0 {
		return
	}
	f := c.nextFrame()
	if f.Room == nil || !f.Room.Full || f.Room.ID != roomID {
		c.t.Fatalf("the frame after a resume's welcome: %+v, want the full room %d", f.Room, roomID)
	}
	if p := c.view.players[old.PlayerID]; p == nil || p.away {
		c.t.Fatalf("the resumed player in its own full frame: %+v", p)
	}
}

// keepUntil pings c until cond holds (c's idle timeout may be short).
func (c *client) keepUntil(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: waited %v for %s", c.name, wait, what)
		}
		c.sync()
	}
}

func away(id uint32) Presence { return Presence{ID: id, Connected: false} }

// Decision 1: a client whose network vanishes while in a room is a lost
// link: the room sees it away, it keeps its place, and its token resumes
// it after the slow-client timeout has passed.
func TestSection9_LostLinkIsAwayAndResumes(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		const slow = 300 * time.Millisecond
		e := start(t, k, &relay.Server{SlowClientTimeout: slow, IdleTimeout: 3 * time.Second, ResumeGrace: 5 * time.Second})
		a, b, j := room2(e)
		aID := a.welcome.PlayerID
		a.tr.Cut()
		cut := time.Now()
		b.keepUntil("ana away", func() bool {
			if slices.Contains(b.leaves, aID) {
				t.Fatalf("ana left the room %v after its link went silent: a lost link must stay, away", time.Since(cut))
			}
			return slices.Contains(b.presences, away(aID))
		})
		b.send(TEvent, 0, 77, nil, nil)
		b.send(TChat, 0, "while away")
		b.waitFor("bo's own event", func() bool { return len(b.events) > 0 })
		if d := time.Since(cut); d < slow {
			t.Fatalf("resuming %v after the drop; the test needs the slow-client timeout (%v) passed", d, slow)
		}
		a2 := e.resumeHello("ana", a.welcome.ResumeToken, a.lastTick)
		a2.expectResumed(a.welcome, j.RoomID)
		a2.waitFor("the missed event", func() bool { return len(a2.events) > 0 && len(a2.chat) > 0 })
		if a2.events[0].Code != 77 || a2.chat[0].Text != "while away" {
			t.Errorf("missed %+v %+v", a2.events, a2.chat)
		}
		b.keepUntil("ana back", func() bool { return slices.Contains(b.presences, Presence{ID: aID, Connected: true}) })
	})
}

// Outside a room, silence is caught by the idle timeout, and the player
// can resume.
func TestSection9_ResumeAfterIdleOutsideARoom(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{IdleTimeout: 300 * time.Millisecond})
		a := e.join("ana")
		a.expectClose(CodeIdleTimeout)
		a2 := e.resumeHello("ana", a.welcome.ResumeToken, 0)
		a2.expectResumed(a.welcome, 0)
		a2.sync()
	})
}

// A resume while the old connection is still open replaces it; a token is
// good for one resume.
func TestSection9_ResumeReplacesAndTokensAreSingleUse(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, j := room2(e)
		a2 := e.resumeHello("ana", a.welcome.ResumeToken, a.lastTick)
		a2.expectResumed(a.welcome, j.RoomID)
		a.expectClose(CodeReplaced)
		a2.sync()
		if slices.Contains(b.leaves, a.welcome.PlayerID) {
			t.Error("the room saw ana leave on a resume")
		}
		// The spent token fails; the new one works.
		e.resumeHello("ana", a.welcome.ResumeToken, 0).expectClose(CodeResumeFailed)
		a3 := e.resumeHello("ana", a2.welcome.ResumeToken, a2.lastTick)
		a3.expectResumed(a2.welcome, j.RoomID)
		a2.expectClose(CodeReplaced)
	})
}

func TestSection9_ResumeFailures(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{SlowClientTimeout: 5 * time.Second, IdleTimeout: 300 * time.Millisecond,
			ResumeGrace: 300 * time.Millisecond})
		e.resumeHello("x", strings.Repeat("0", 32), 0).expectClose(CodeResumeFailed)
		// A player that said bye cannot be resumed.
		bye := e.join("bye")
		bye.send(TBye)
		bye.expectClose(CodeClientClosed)
		e.resumeHello("bye", bye.welcome.ResumeToken, 0).expectClose(CodeResumeFailed)
		// Past the grace the player leaves the room, and its token is dead.
		a, b, _ := room2(e)
		aID := a.welcome.PlayerID
		a.tr.Cut()
		b.keepUntil("ana away", func() bool { return slices.Contains(b.presences, away(aID)) })
		b.keepUntil("ana gone after the grace", func() bool { return slices.Contains(b.leaves, aID) })
		e.resumeHello("ana", a.welcome.ResumeToken, a.lastTick).expectClose(CodeResumeFailed)
	})
}

// Decision 4: the resumed session receives exactly the events and chat
// after last_tick, once, in order, including those sent to the lost
// connection that it never processed.
func TestSection9_ResumeReplaysExactlyWhatWasMissed(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, j := room2(e)
		b.send(TEvent, 0, 1, nil, nil)
		a.waitFor("event 1", func() bool { return len(a.events) == 1 })
		lastTick := a.lastTick
		a.tr.Cut()
		for code := 2; code <= 4; code++ {
			b.send(TEvent, 0, code, nil, nil)
			b.send(TChat, 0, string(rune('a'+code)))
			b.waitFor("bo's own event", func() bool { return len(b.events) == code })
		}
		a2 := e.resumeHello("ana", a.welcome.ResumeToken, lastTick)
		a2.expectResumed(a.welcome, j.RoomID)
		a2.waitFor("the missed events", func() bool { return len(a2.events) >= 3 })
		seen := a2.frames
		a2.waitFor("five more frames", func() bool { return a2.frames >= seen+5 })
		if got := eventCodes(a2); !slices.Equal(got, []uint32{2, 3, 4}) {
			t.Errorf("replayed events %v, want [2 3 4]", got)
		}
		var text []string
		for _, c := range a2.chat {
			text = append(text, c.Text)
		}
		if !slices.Equal(text, []string{"c", "d", "e"}) {
			t.Errorf("replayed chat %v", text)
		}
	})
}

// Decision 4: a resume whose last_tick is older than events the server
// already forgot (a ping's acked_tick covered them) fails with
// resume_failed instead of leaving a gap.
func TestSection9_ResumeFailsAfterAcknowledgedEvents(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b, _ := room2(e)
		b.send(TEvent, 0, 1, nil, nil)
		a.waitFor("event 1", func() bool { return len(a.events) == 1 })
		t1 := a.lastTick
		b.send(TEvent, 0, 2, nil, nil)
		a.waitFor("event 2", func() bool { return len(a.events) == 2 })
		a.send(TPing, 1, a.lastTick) // the server may forget events 1 and 2
		a.sync()
		e.resumeHello("ana", a.welcome.ResumeToken, t1).expectClose(CodeResumeFailed)
	})
}

// Decision 4: events dropped from what the server keeps (over
// -max-pending-bytes) make an older resume fail.
func TestSection9_ResumeFailsAfterDroppedHistory(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{MaxPendingBytes: 4096})
		a, b, _ := room2(e)
		t0 := a.lastTick
		for i := range 8 {
			b.send(TEvent, 1, i, make([]byte, 900), nil)
			a.waitFor("the event", func() bool { return len(a.events) == i+1 })
		}
		e.resumeHello("ana", a.welcome.ResumeToken, t0).expectClose(CodeResumeFailed)
	})
}
