package match

import (
	"slices"
	"testing"
	"time"
)

func TestOldestFirst(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{MaxPlayers: 4, SkillWindow: 100}))
	// Added in one order, enqueued in another: Enqueued decides, then the
	// order of Add.
	at := func(tk Ticket, ago time.Duration) Ticket { tk.Enqueued = h.now.Add(-ago); return tk }
	h.add(
		at(solo(1, 1000), 1*time.Second),
		at(solo(2, 1010), 5*time.Second),
		at(solo(3, 990), 3*time.Second),
		at(solo(4, 1000), 0),
		at(solo(5, 1020), 3*time.Second), // ties with 3, added after it
		at(solo(6, 1005), 4*time.Second),
	)
	res := h.step(0)
	if len(res.Matches) != 1 {
		t.Fatalf("got %+v", res.Matches)
	}
	if got := res.Matches[0].Tickets; !slices.Equal(got, []uint64{2, 6, 3, 5}) {
		t.Fatalf("tickets %v, want the four oldest, oldest first: [2 6 3 5]", got)
	}
}

// A ticket waiting alone is matched with the first newcomers that suit
// it, though there are more newcomers than a match, closer to each other
// than to it.
func TestNoStarvationByNewcomers(t *testing.T) {
	for _, q := range []QueueConfig{
		{MaxPlayers: 2, SkillWindow: 100},
		{MaxPlayers: 4, SkillWindow: 100},
		{Teams: 2, TeamSize: 2, SkillWindow: 100},
	} {
		h := newHarness(t, oneQueue(q))
		h.add(solo(1, 1000))
		h.step(10 * time.Second)
		for id := range uint64(10) {
			h.add(solo(100+id, 1060+float64(id%3)))
		}
		res := h.step(time.Second)
		if h.m.Queued(1) {
			t.Fatalf("%+v: ticket 1 still waits; matches %+v", q, res.Matches)
		}
		if res.Matches[0].Tickets[0] != 1 {
			t.Fatalf("%+v: first match %v does not lead with the oldest ticket", q, res.Matches[0].Tickets)
		}
		if got := res.Matches[0].Tickets[1]; got != 100 {
			t.Fatalf("%+v: the oldest newcomer is 100, got %d", q, got)
		}
	}
}

// A stream of newcomers that suit each other but not an old ticket pair up
// among themselves; the old ticket matches the first newcomer whose window
// comes to hold it.
func TestOldTicketMatchesOnceItsWindowReaches(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{MaxPlayers: 2, SkillWindow: 100, SkillWidening: 10, MaxSkillWindow: 150}))
	h.add(solo(1, 1000))
	next := uint64(100)
	matchedAt := -1
	for round := range 20 {
		h.add(solo(next, 1140), solo(next+1, 1140))
		next += 2
		h.step(time.Second)
		if !h.m.Queued(1) {
			matchedAt = round
			break
		}
	}
	// The newcomers pair up the moment they arrive, when their windows
	// (100) do not reach 1, 140 away: 1 must not be matched with one of
	// them on the strength of its own window alone.
	if matchedAt >= 0 {
		t.Fatalf("matched at round %d with a newcomer whose window does not hold it", matchedAt)
	}
	// A newcomer that does not pair up at once (odd one out) matches 1
	// once its own window holds the gap.
	h.add(solo(500, 1140))
	for round := range 10 {
		h.step(time.Second)
		if !h.m.Queued(1) {
			if round != 3 { // 500's window is 140 after 4 s
				t.Fatalf("matched at round %d, want 3", round)
			}
			return
		}
	}
	t.Fatal("1 never matched")
}

// When adding candidates oldest first cannot fill a match, because an old
// ticket at one end of the anchor's window shuts out the other end, the
// search finds the full group that takes the oldest candidates it can.
func TestSearchFindsOldestFullGroupAroundABlocker(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{MaxPlayers: 3, SkillWindow: 100}))
	at := func(tk Ticket, ago time.Duration) Ticket { tk.Enqueued = h.now.Add(-ago); return tk }
	h.add(
		at(solo(1, 1000), 5*time.Second), // the anchor
		at(solo(2, 1099), 4*time.Second), // shuts out everything below 999
		at(solo(3, 930), 3*time.Second),
		at(solo(4, 980), 2*time.Second),
		at(solo(5, 995), 1*time.Second), // nearest to 1000, but the newest
	)
	res := h.step(0)
	if len(res.Matches) != 1 || !slices.Equal(res.Matches[0].Tickets, []uint64{1, 3, 4}) {
		t.Fatalf("got %+v, want tickets 1, 3, 4 (3 is older than 5 and fits)", res.Matches)
	}
}

// A party that leaves too few seats for the rest does not keep the anchor
// from a full match with another party.
func TestSearchFindsOldestFullGroupAroundAParty(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{MaxPlayers: 4, SkillWindow: 100}))
	at := func(tk Ticket, ago time.Duration) Ticket { tk.Enqueued = h.now.Add(-ago); return tk }
	h.add(
		at(solo(1, 1000), 3*time.Second),
		at(party(2, 1000, 1000), 2*time.Second), // 1 + 2 = 3: no room for 3
		at(party(3, 1000, 1000, 1000), 1*time.Second),
	)
	res := h.step(0)
	if len(res.Matches) != 1 || !slices.Equal(res.Matches[0].Tickets, []uint64{1, 3}) {
		t.Fatalf("got %+v, want tickets 1 and 3", res.Matches)
	}
	if !h.m.Queued(2) {
		t.Fatal("party 2 left the queue")
	}
}
