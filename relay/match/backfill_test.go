package match

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBackfillFillsTheRightTeam(t *testing.T) {
	q := QueueConfig{Teams: 2, TeamSize: 4, SkillWindow: 200, MaxWait: time.Minute}
	h := newHarness(t, oneQueue(q))
	if err := h.m.RequestBackfill(Backfill{ID: 7, Skill: 1500, Seats: []int{1, 1, 0}, Created: h.now}); err != nil {
		t.Fatal(err)
	}
	h.add(party(1, 1500, 1500), solo(2, 1450), solo(3, 1550), solo(4, 1500))
	res := h.step(0)
	if len(res.Fills) != 1 || len(res.Matches) != 0 {
		t.Fatalf("got %+v", res)
	}
	f := res.Fills[0]
	// The party (oldest) takes team 1's two seats; 2 takes team 0's seat.
	if f.Backfill != 7 || f.Open != 0 || !slices.Equal(f.Tickets, []uint64{1, 2}) {
		t.Fatalf("fill %+v", f)
	}
	for _, p := range f.Players {
		if want := map[uint64]int{1: 1, 2: 0}[p.Ticket]; p.Team != want {
			t.Fatalf("player %d of ticket %d on team %d, want %d", p.ID, p.Ticket, p.Team, want)
		}
	}
	if h.m.OpenBackfills() != 0 || h.m.Queued(1) || h.m.Queued(2) || !h.m.Queued(3) {
		t.Fatal("state after a complete fill")
	}
}

func TestBackfillRespectsSkillRegionProps(t *testing.T) {
	q := QueueConfig{MaxPlayers: 8, SkillWindow: 100, MaxWait: time.Minute}
	h := newHarness(t, oneQueue(q))
	req := Backfill{ID: 1, Region: "eu", Skill: 1000, Props: map[string]string{"map": "dust"}, Seats: []int{0, 0, 0, 0}, Created: h.now}
	if err := h.m.RequestBackfill(req); err != nil {
		t.Fatal(err)
	}
	h.add(
		withProps(withRegions(solo(1, 1300), "eu"), "map", "dust"), // too strong
		withProps(withRegions(solo(2, 1000), "us"), "map", "dust"), // other region
		withProps(withRegions(solo(3, 1000), "eu"), "map", "nuke"), // other map
		withProps(withRegions(solo(4, 1050), "us", "eu"), "map", "dust"),
		withProps(solo(5, 950), "map", "dust"), // any region
	)
	res := h.step(0)
	if len(res.Fills) != 1 || !slices.Equal(res.Fills[0].Tickets, []uint64{4, 5}) || res.Fills[0].Open != 2 {
		t.Fatalf("got %+v", res.Fills)
	}
	if h.m.OpenBackfills() != 1 {
		t.Fatal("a request with open seats closed")
	}
	// The request's window widens like a ticket's: 1 fits later (with a
	// queue that widens). Here it does not widen, so 1 stays.
	if res := h.step(30 * time.Second); len(res.Fills) != 0 {
		t.Fatalf("got %+v", res.Fills)
	}
}

func TestBackfillWindowWidens(t *testing.T) {
	q := QueueConfig{MaxPlayers: 4, SkillWindow: 100, SkillWidening: 10, MaxWait: time.Minute}
	h := newHarness(t, oneQueue(q))
	h.add(solo(1, 1300))
	h.step(0)
	if err := h.m.RequestBackfill(Backfill{ID: 1, Skill: 1000, Seats: []int{0}, Created: h.now}); err != nil {
		t.Fatal(err)
	}
	// Both windows must hold 300: the ticket's after 20 s, the request's
	// after 20 s of its own.
	if res := h.step(19 * time.Second); len(res.Fills) != 0 {
		t.Fatalf("filled early: %+v", res.Fills)
	}
	if res := h.step(time.Second); len(res.Fills) != 1 {
		t.Fatal("not filled once both windows hold the gap")
	}
}

func TestBackfillComesBeforeNewMatches(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{MaxPlayers: 2, SkillWindow: 10, MaxWait: time.Minute}))
	if err := h.m.RequestBackfill(Backfill{ID: 1, Skill: 0, Seats: []int{0}, Created: h.now}); err != nil {
		t.Fatal(err)
	}
	h.add(solo(1, 0), solo(2, 0), solo(3, 0))
	res := h.step(0)
	if len(res.Fills) != 1 || !slices.Equal(res.Fills[0].Tickets, []uint64{1}) {
		t.Fatalf("fills %+v", res.Fills)
	}
	if len(res.Matches) != 1 || !slices.Equal(ticketsOf(res.Matches[0]), []uint64{2, 3}) {
		t.Fatalf("matches %+v", res.Matches)
	}
}

func TestBackfillExpiresAndCancels(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{MaxPlayers: 4, MaxWait: 30 * time.Second}))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.m.RequestBackfill(Backfill{ID: 1, Skill: 500, Seats: []int{0}, Created: h.now}))                                   // queue's MaxWait
	must(h.m.RequestBackfill(Backfill{ID: 2, Skill: 500, Seats: []int{0}, Created: h.now, Deadline: h.now.Add(time.Second)})) // its own
	must(h.m.RequestBackfill(Backfill{ID: 3, Skill: 500, Seats: []int{0}, Created: h.now}))
	if err := h.m.RequestBackfill(Backfill{ID: 3, Seats: []int{0}, Created: h.now}); !errors.Is(err, ErrDuplicateBackfill) {
		t.Fatalf("duplicate: %v", err)
	}
	if !h.m.CancelBackfill(3) || h.m.CancelBackfill(3) {
		t.Fatal("CancelBackfill reports wrongly")
	}
	if res := h.step(time.Second); !slices.Equal(res.Expired, []uint64{2}) {
		t.Fatalf("Expired %v", res.Expired)
	}
	if res := h.step(28 * time.Second); len(res.Expired) != 0 {
		t.Fatalf("Expired %v", res.Expired)
	}
	if res := h.step(time.Second); !slices.Equal(res.Expired, []uint64{1}) {
		t.Fatalf("Expired %v", res.Expired)
	}
	// A cancelled or expired request fills nothing.
	h.add(solo(1, 500))
	if res := h.step(0); len(res.Fills) != 0 || h.m.OpenBackfills() != 0 {
		t.Fatalf("fills %+v, open %d", res.Fills, h.m.OpenBackfills())
	}
	// Nothing is left behind: the empty bucket and queue are forgotten.
	h.m.Cancel(1)
	h.step(0)
	if len(h.m.queues) != 0 || len(h.m.queueOrder) != 0 || h.m.regions.inUse() != 0 {
		t.Fatalf("left behind: %d queues", len(h.m.queues))
	}
}

func TestBackfillErrors(t *testing.T) {
	h := newHarness(t, Config{MaxBackfills: 1, Queues: map[string]QueueConfig{"teams": {Teams: 2, TeamSize: 2}}})
	ok := Backfill{ID: 1, Mode: "teams", Seats: []int{0}, Created: h.now}
	for _, tc := range []struct {
		name string
		edit func(*Backfill)
		msg  string
	}{
		{"no seats", func(b *Backfill) { b.Seats = nil }, "no seats"},
		{"team out of range", func(b *Backfill) { b.Seats = []int{2} }, "seat on team 2, the queue has teams 0 to 1"},
		{"negative team", func(b *Backfill) { b.Seats = []int{-1} }, "seat on team -1"},
		{"more seats than a team", func(b *Backfill) { b.Seats = []int{1, 1, 1} }, "3 seats on team 1, a team has 2"},
		{"more seats than a match", func(b *Backfill) { b.Seats = []int{0, 0, 1, 1, 1} }, "5 seats, a match has 4"},
		{"ffa team", func(b *Backfill) { b.Mode = "ffa"; b.Seats = []int{1} }, "in a free-for-all queue (use 0)"},
		{"no time", func(b *Backfill) { b.Created = time.Time{} }, "no creation time"},
		{"bad skill", func(b *Backfill) { b.Skill = nan() }, "skill NaN"},
		{"long region", func(b *Backfill) { b.Region = strings.Repeat("r", 65) }, "longer than 64 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ok
			tc.edit(&b)
			if err := h.m.RequestBackfill(b); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %q", err, tc.msg)
			}
			if h.m.OpenBackfills() != 0 {
				t.Fatal("refused request is open")
			}
		})
	}
	if err := h.m.RequestBackfill(ok); err != nil {
		t.Fatal(err)
	}
	ok.ID = 2
	if err := h.m.RequestBackfill(ok); !errors.Is(err, ErrFull) {
		t.Fatalf("over MaxBackfills: %v", err)
	}
}
