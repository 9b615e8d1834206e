package match

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestQueueConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   QueueConfig
		want QueueConfig
	}{
		{"zero is one against one", QueueConfig{},
			QueueConfig{MaxPlayers: 2, MinPlayers: 2, MaxWait: DefaultMaxWait}},
		{"teams from team size", QueueConfig{Teams: 2, TeamSize: 4},
			QueueConfig{MaxPlayers: 8, MinPlayers: 8, Teams: 2, TeamSize: 4, MaxWait: DefaultMaxWait}},
		{"team size from max players", QueueConfig{Teams: 3, MaxPlayers: 9, MinPlayers: 6},
			QueueConfig{MaxPlayers: 9, MinPlayers: 6, Teams: 3, TeamSize: 3, MaxWait: DefaultMaxWait}},
		{"free-for-all keeps its numbers", QueueConfig{MaxPlayers: 10, MinPlayers: 4, FillWait: time.Second, MaxWait: time.Minute, Interval: time.Second},
			QueueConfig{MaxPlayers: 10, MinPlayers: 4, FillWait: time.Second, MaxWait: time.Minute, Interval: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.in.normalize()
			if err != nil {
				t.Fatal(err)
			}
			if r.QueueConfig != tc.want {
				t.Errorf("got %+v, want %+v", r.QueueConfig, tc.want)
			}
		})
	}
}

func TestQueueConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		in   QueueConfig
		want string
	}{
		{QueueConfig{MaxPlayers: -1}, "max players must be at least 0"},
		{QueueConfig{MinPlayers: 3, MaxPlayers: 2}, "min players (3) is more than max players (2)"},
		{QueueConfig{MaxPlayers: 300}, "max players (300) is over the limit"},
		{QueueConfig{Teams: 2}, "2 teams need a team size or max players"},
		{QueueConfig{Teams: 2, MaxPlayers: 5}, "max players (5) is not a multiple of teams (2)"},
		{QueueConfig{Teams: 2, TeamSize: 3, MaxPlayers: 8}, "max players (8) is not teams × team size (2 × 3)"},
		{QueueConfig{TeamSize: 3}, "team size (3) is set without teams"},
		{QueueConfig{Teams: 4, TeamSize: 2, MinPlayers: 3}, "min players (3) is fewer than teams (4)"},
		{QueueConfig{SkillWindow: -1}, "skill window must be a finite number"},
		{QueueConfig{SkillWidening: nan()}, "skill widening must be a finite number"},
		{QueueConfig{SkillWindow: 100, MaxSkillWindow: 50}, "max skill window (50) is less than skill window (100)"},
		{QueueConfig{MaxWait: -time.Second}, "max wait must be at least 0"},
		{QueueConfig{Interval: -1}, "interval must be at least 0"},
		{QueueConfig{FillWait: -1}, "fill wait must be at least 0"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := tc.in.normalize()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func nan() float64 { z := 0.0; return z / z }

func TestNewNamesTheBadQueue(t *testing.T) {
	_, err := New(Config{Queues: map[string]QueueConfig{"duel": {MinPlayers: 3}}})
	if err == nil || !strings.Contains(err.Error(), `queue "duel": min players (3) is more than max players (2)`) {
		t.Fatalf("got %v", err)
	}
	_, err = New(Config{Default: &QueueConfig{Teams: 2}})
	if err == nil || !strings.Contains(err.Error(), "default queue: ") {
		t.Fatalf("got %v", err)
	}
	if _, err = New(Config{MaxTickets: -1}); err == nil {
		t.Fatal("negative MaxTickets accepted")
	}
}

func TestZeroConfigUsesDefaultQueue(t *testing.T) {
	h := newHarness(t, Config{})
	for i := range 8 {
		h.add(withProps(solo(uint64(i+1), 1000+float64(i)*10), "map", "dust"))
	}
	h.add(solo(100, 1000)) // another mode, unconfigured too
	h.add(Ticket{ID: 101, Mode: "other", Players: []Player{{ID: 101}}})
	res := h.step(0)
	if len(res.Matches) != 1 || len(res.Matches[0].Players) != 8 {
		t.Fatalf("want one match of 8 (DefaultQueue's max), got %+v", res.Matches)
	}
	// The lone tickets start once they have a partner and waited FillWait.
	h.add(solo(102, 1010))
	if res := h.step(5 * time.Second); len(res.Matches) != 0 {
		t.Fatalf("matched before FillWait: %+v", res.Matches)
	}
	res = h.step(5 * time.Second)
	if len(res.Matches) != 1 || len(res.Matches[0].Players) != 2 {
		t.Fatalf("want 100 and 102 matched after FillWait, got %+v", res.Matches)
	}
	if h.m.Len() != 1 || !h.m.Queued(101) {
		t.Fatalf("want 101 (mode other, alone) left, Len %d", h.m.Len())
	}
}

func TestStrictRefusesUnknownModes(t *testing.T) {
	h := newHarness(t, Config{Strict: true, Queues: map[string]QueueConfig{"duel": {}}})
	err := h.m.Add(Ticket{ID: 1, Mode: "arena", Players: []Player{{ID: 1}}, Enqueued: h.now})
	if !errors.Is(err, ErrUnknownMode) || !strings.Contains(err.Error(), `"arena"`) {
		t.Fatalf("got %v", err)
	}
	err = h.m.RequestBackfill(Backfill{ID: 1, Mode: "arena", Seats: []int{0}, Created: h.now})
	if !errors.Is(err, ErrUnknownMode) {
		t.Fatalf("backfill: got %v", err)
	}
	h.add(Ticket{ID: 2, Mode: "duel", Players: []Player{{ID: 2}}})
}

func TestQueueReportsTheRulesInForce(t *testing.T) {
	m, err := New(Config{Queues: map[string]QueueConfig{"duel": {}, "squads": {Teams: 2, TeamSize: 4}}, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if q, err := m.Queue("squads"); err != nil || q.MaxPlayers != 8 || q.Teams != 2 || q.TeamSize != 4 {
		t.Fatalf("squads: %+v %v", q, err)
	}
	if q, err := m.Queue("duel"); err != nil || q.MaxPlayers != 2 {
		t.Fatalf("duel: %+v %v", q, err)
	}
	if _, err := m.Queue("other"); !errors.Is(err, ErrUnknownMode) {
		t.Fatalf("a mode with no queue in a strict matchmaker: %v", err)
	}
}

func TestStepBudgetDefaults(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, DefaultStepBudget}, {-1, math.MaxInt}, {123, 123}} {
		v, err := (&Config{StepBudget: tc.in}).validate()
		if err != nil || v.stepBudget != tc.want {
			t.Errorf("StepBudget %d: %d, %v; want %d", tc.in, v.stepBudget, err, tc.want)
		}
	}
}
