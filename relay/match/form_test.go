package match

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWidening(t *testing.T) {
	for _, tc := range []struct {
		name      string
		q         QueueConfig
		a, b      float64
		matchAt   time.Duration // 0: never (within the test's 20 s)
		noneAtOrB time.Duration // no match at this time
	}{
		// Both windows are 100 + 50/s: they hold 300 after 4 s.
		{"meet after 4s", QueueConfig{SkillWindow: 100, SkillWidening: 50}, 1000, 1300, 4 * time.Second, 3 * time.Second},
		{"close enough at once", QueueConfig{SkillWindow: 100, SkillWidening: 50}, 1000, 1100, 0, -1},
		{"cap stops them", QueueConfig{SkillWindow: 100, SkillWidening: 50, MaxSkillWindow: 250}, 1000, 1300, -1, 20 * time.Second},
		{"no widening", QueueConfig{SkillWindow: 100}, 1000, 1101, -1, 20 * time.Second},
		{"exact only", QueueConfig{}, 5, 5, 0, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.MaxWait = time.Minute
			h := newHarness(t, oneQueue(tc.q))
			h.add(solo(1, tc.a), solo(2, tc.b))
			matchedAt := time.Duration(-1)
			for at := time.Duration(0); at <= 20*time.Second; at += 500 * time.Millisecond {
				d := 500 * time.Millisecond
				if at == 0 {
					d = 0
				}
				res := h.step(d)
				if len(res.Matches) > 0 {
					matchedAt = at
					break
				}
			}
			if tc.matchAt >= 0 && matchedAt != tc.matchAt {
				t.Fatalf("matched at %v, want %v", matchedAt, tc.matchAt)
			}
			if tc.matchAt < 0 && matchedAt >= 0 {
				t.Fatalf("matched at %v, want never", matchedAt)
			}
		})
	}
}

// A ticket's window is its own: an old ticket with a wide window still
// needs the newcomer's window to hold it.
func TestWindowIsPerTicket(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{SkillWindow: 100, SkillWidening: 10, MaxWait: time.Hour}))
	h.add(solo(1, 1000))
	h.step(60 * time.Second) // 1's window is now 700
	h.add(solo(2, 1500))     // 2's is 100
	if res := h.step(time.Second); len(res.Matches) != 0 {
		t.Fatalf("matched though 2's window is 110: %+v", res.Matches)
	}
	// 2 needs 500: 40 s.
	res := h.step(39 * time.Second)
	if len(res.Matches) != 1 {
		t.Fatalf("not matched once both windows hold the gap")
	}
}

func TestRegions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   []string
		region string // "-": no match
	}{
		{"disjoint never match", []string{"eu"}, []string{"us"}, "-"},
		{"same region", []string{"eu"}, []string{"eu"}, "eu"},
		{"overlap picks the shared one", []string{"eu", "us"}, []string{"asia", "us"}, "us"},
		{"oldest ticket's preference wins", []string{"us", "eu"}, []string{"eu", "us"}, "us"},
		{"any accepts a listed region", nil, []string{"sa", "eu"}, "sa"},
		{"any and any leave it to the caller", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, oneQueue(QueueConfig{MaxWait: time.Minute}))
			h.add(withRegions(solo(1, 0), tc.a...))
			h.add(withRegions(solo(2, 0), tc.b...))
			var res *Results
			for range 10 {
				if res = h.step(10 * time.Second); len(res.Matches) > 0 || len(res.TimedOut) > 0 {
					break
				}
			}
			if tc.region == "-" {
				if len(res.Matches) != 0 {
					t.Fatalf("matched: %+v", res.Matches)
				}
				if len(res.TimedOut) != 2 {
					t.Fatalf("want both to time out, got %v", res.TimedOut)
				}
				return
			}
			if len(res.Matches) != 1 {
				t.Fatalf("no match")
			}
			if got := res.Matches[0].Region; got != tc.region {
				t.Fatalf("region %q, want %q", got, tc.region)
			}
		})
	}
}

func TestRegionNamesAreReleased(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{}))
	for round := range 3 {
		for i := range MaxRegions {
			h.add(withRegions(solo(uint64(i+1), 0), fmt.Sprintf("r%d-%d", round, i)))
		}
		err := h.m.Add(withRegions(Ticket{ID: 999, Players: []Player{{ID: 999}}, Enqueued: h.now}, "one-too-many"))
		if !errors.Is(err, ErrTooManyRegions) {
			t.Fatalf("round %d: got %v", round, err)
		}
		for i := range MaxRegions {
			h.m.Cancel(uint64(i + 1))
		}
		if n := h.m.regions.inUse(); n != 0 {
			t.Fatalf("round %d: %d region names still in use", round, n)
		}
	}
}

func TestPropsMustMatch(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{MaxPlayers: 2}))
	h.add(withProps(solo(1, 0), "map", "dust", "mode", "ranked"))
	h.add(withProps(solo(2, 0), "map", "nuke", "mode", "ranked"))
	h.add(withProps(solo(3, 0), "map", "dust"))
	h.add(withProps(solo(4, 0), "map", "dust\x00"))                 // bytes differ
	h.add(withProps(solo(5, 0), "mode", "ranked", "map", "dust"))   // same as 1, other order
	h.add(withProps(solo(6, 0), "map", "dust", "mode", "ranked\n")) // differs from 1
	res := h.step(0)
	if len(res.Matches) != 1 || !slices.Equal(ticketsOf(res.Matches[0]), []uint64{1, 5}) {
		t.Fatalf("want only 1 and 5 matched, got %+v", res.Matches)
	}
	if p := res.Matches[0].Props; p["map"] != "dust" || p["mode"] != "ranked" || len(p) != 2 {
		t.Fatalf("match props %v", p)
	}
	if h.m.Len() != 4 {
		t.Fatalf("Len %d, want 4", h.m.Len())
	}
}

func TestMinPlayersStartAfterWait(t *testing.T) {
	q := QueueConfig{MaxPlayers: 6, MinPlayers: 3, FillWait: 10 * time.Second, SkillWindow: 1000}
	h := newHarness(t, oneQueue(q))
	h.add(solo(1, 0), solo(2, 0))
	if res := h.step(11 * time.Second); len(res.Matches) != 0 {
		t.Fatal("two players started a match with a minimum of three")
	}
	h.add(solo(3, 0))
	// 1 has waited 11 s: the oldest ticket's wait counts, not the newest's.
	res := h.step(0)
	if len(res.Matches) != 1 || len(res.Matches[0].Players) != 3 {
		t.Fatalf("want a match of 3, got %+v", res.Matches)
	}

	// Five waiting but not long enough: nothing; a sixth fills it at once.
	for i := range 5 {
		h.add(solo(uint64(10+i), 0))
	}
	if res := h.step(9 * time.Second); len(res.Matches) != 0 {
		t.Fatal("started short before FillWait")
	}
	h.add(solo(20, 0))
	if res := h.step(0); len(res.Matches) != 1 || len(res.Matches[0].Players) != 6 {
		t.Fatalf("want a full match at once, got %+v", res.Matches)
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{MaxPlayers: 3}))
	h.add(solo(1, 0), party(2, 0, 0))
	if !h.m.Cancel(2) || h.m.Cancel(2) || h.m.Cancel(77) {
		t.Fatal("Cancel reports wrongly")
	}
	if h.m.Queued(2) || h.m.Len() != 1 {
		t.Fatal("cancelled ticket still queued")
	}
	// Its players may queue again at once, even under the same ticket id.
	h.add(party(2, 0, 0))
	h.m.Cancel(2)
	h.add(solo(3, 0))
	if res := h.step(0); len(res.Matches) != 0 {
		t.Fatalf("matched a cancelled ticket: %+v", res.Matches)
	}
	h.add(solo(4, 0))
	res := h.step(0)
	if len(res.Matches) != 1 || !slices.Equal(ticketsOf(res.Matches[0]), []uint64{1, 3, 4}) {
		t.Fatalf("got %+v", res.Matches)
	}
	// Cancelling between Steps, right after a match was formed, finds
	// nothing.
	if h.m.Cancel(1) {
		t.Fatal("a matched ticket could be cancelled")
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{MaxPlayers: 2, MaxWait: 30 * time.Second}))
	h.add(solo(1, 0))
	h.step(10 * time.Second)
	h.add(solo(2, 1)) // never matches 1: equal skill only
	if res := h.step(19 * time.Second); len(res.TimedOut) != 0 {
		t.Fatalf("timed out early: %v", res.TimedOut)
	}
	res := h.step(time.Second)
	if !slices.Equal(res.TimedOut, []uint64{1}) || h.m.Queued(1) || !h.m.Queued(2) {
		t.Fatalf("TimedOut %v", res.TimedOut)
	}
	// 1's player may queue again.
	h.add(solo(1, 0))
	res = h.step(10 * time.Second)
	if !slices.Equal(res.TimedOut, []uint64{2}) {
		t.Fatalf("TimedOut %v", res.TimedOut)
	}
}

func TestIntervalMakesEarlyStepsNoOps(t *testing.T) {
	h := newHarness(t, Config{Queues: map[string]QueueConfig{
		"slow": {Interval: time.Second},
		"fast": {},
	}})
	mk := func(id uint64, mode string) Ticket { t := solo(id, 0); t.Mode = mode; return t }
	h.step(0) // nothing queued: nothing to run
	// The queues are created after the Step at epoch: the fast one runs at
	// the next Step, the slow one at the first Step 1 s after epoch.
	h.add(mk(1, "slow"), mk(2, "slow"), mk(3, "fast"), mk(4, "fast"))
	if res := h.step(0); len(res.Matches) != 1 || res.Matches[0].Mode != "fast" {
		t.Fatalf("want only fast to run, got %+v", res.Matches)
	}
	if res := h.step(999 * time.Millisecond); len(res.Matches) != 0 {
		t.Fatalf("slow ran early: %+v", res.Matches)
	}
	if res := h.step(time.Millisecond); len(res.Matches) != 1 || res.Matches[0].Mode != "slow" {
		t.Fatalf("want slow to run after its interval, got %+v", res.Matches)
	}
	// An emptied queue keeps its pace.
	h.add(mk(5, "slow"), mk(6, "slow"), mk(7, "fast"), mk(8, "fast"))
	if res := h.step(999 * time.Millisecond); len(res.Matches) != 1 || res.Matches[0].Mode != "fast" {
		t.Fatalf("want only fast to run, got %+v", res.Matches)
	}
	if res := h.step(time.Millisecond); len(res.Matches) != 1 || res.Matches[0].Mode != "slow" {
		t.Fatalf("want slow to run after its interval, got %+v", res.Matches)
	}
}

// The first Step runs every queue, whatever its interval.
func TestFirstStepRunsEveryQueue(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{Interval: time.Hour}))
	h.add(solo(1, 0), solo(2, 0))
	if res := h.step(0); len(res.Matches) != 1 {
		t.Fatalf("got %+v", res.Matches)
	}
}

func TestAddErrors(t *testing.T) {
	cfg := Config{
		Strict:     true,
		MaxTickets: 3,
		Queues: map[string]QueueConfig{
			"duel":  {},
			"teams": {Teams: 2, TeamSize: 3},
		},
	}
	h := newHarness(t, cfg)
	tk := func(id uint64, mode string, players ...Player) Ticket {
		return Ticket{ID: id, Mode: mode, Players: players, Enqueued: h.now}
	}
	h.add(tk(1, "duel", Player{ID: 1}))
	manyProps := map[string]string{}
	for i := range MaxProps + 1 {
		manyProps[fmt.Sprint(i)] = ""
	}
	for _, tc := range []struct {
		name string
		t    Ticket
		is   error
		msg  string
	}{
		{"duplicate id", tk(1, "duel", Player{ID: 9}), ErrDuplicateTicket, "ticket 1: a ticket with this id is queued"},
		{"unknown mode", tk(2, "ffa", Player{ID: 2}), ErrUnknownMode, `no queue for this mode "ffa"`},
		{"party larger than a team", tk(2, "teams", Player{ID: 2}, Player{ID: 3}, Player{ID: 4}, Player{ID: 5}), ErrPartyTooLarge, "4 players, a team has 3"},
		{"party larger than a match", tk(2, "duel", Player{ID: 2}, Player{ID: 3}, Player{ID: 4}), ErrPartyTooLarge, "3 players, a match has at most 2"},
		{"player queued", tk(2, "duel", Player{ID: 1}), ErrPlayerQueued, "player 1: player is already queued in ticket 1"},
		{"player twice", tk(2, "teams", Player{ID: 2}, Player{ID: 2}), ErrInvalid, "player 2 is listed twice"},
		{"no players", tk(2, "duel"), ErrInvalid, "no players"},
		{"NaN skill", tk(2, "duel", Player{ID: 2, Skill: nan()}), ErrInvalid, "skill NaN"},
		{"no time", Ticket{ID: 2, Mode: "duel", Players: []Player{{ID: 2}}}, ErrInvalid, "no enqueue time"},
		{"too many props", Ticket{ID: 2, Mode: "duel", Players: []Player{{ID: 2}}, Props: manyProps, Enqueued: h.now}, ErrInvalid, "17 properties, limit 16"},
		{"long prop", Ticket{ID: 2, Mode: "duel", Players: []Player{{ID: 2}}, Props: map[string]string{"k": strings.Repeat("x", MaxPropLen+1)}, Enqueued: h.now}, ErrInvalid, "longer than 1024 bytes"},
		{"empty region", withRegions(tk(2, "duel", Player{ID: 2}), "eu", ""), nil, "a region name is empty"},
		{"region twice", withRegions(tk(2, "duel", Player{ID: 2}), "eu", "us", "eu"), nil, `region "eu" is listed twice`},
		{"long mode", tk(2, strings.Repeat("m", MaxModeLen+1), Player{ID: 2}), ErrInvalid, "mode is longer than 64 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.m.Add(tc.t)
			if err == nil || tc.is != nil && !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.is, tc.msg)
			}
			if h.m.Len() != 1 || h.m.regions.inUse() != 0 {
				t.Fatalf("a refused ticket left state behind: Len %d, regions %d", h.m.Len(), h.m.regions.inUse())
			}
		})
	}
	h.add(tk(2, "duel", Player{ID: 2}), tk(3, "duel", Player{ID: 3}))
	if err := h.m.Add(tk(4, "duel", Player{ID: 4})); !errors.Is(err, ErrFull) {
		t.Fatalf("over MaxTickets: got %v", err)
	}
}
