package match

import (
	"slices"
	"testing"
	"time"
)

// epoch is the tests' time zero.
var epoch = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// harness drives a Matchmaker with a fake clock.
type harness struct {
	t   testing.TB
	m   *Matchmaker
	now time.Time
	res Results
	// finish: step goes on with the runs under way, Step's budget after
	// Step's budget, until they end, as if the Step had no budget.
	finish   bool
	finished int    // budgets spent in step's finishing runs
	stepHook func() // called after each Step, if set
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{t: t, m: m, now: epoch}
}

// oneQueue is a Config whose default queue is q.
func oneQueue(q QueueConfig) Config { return Config{Default: &q} }

// solo is a ticket of one player whose ID is the ticket's.
func solo(id uint64, skill float64) Ticket {
	return Ticket{ID: id, Players: []Player{{ID: uint32(id), Skill: skill}}}
}

// party is a ticket of len(skills) players with IDs id*100+i.
func party(id uint64, skills ...float64) Ticket {
	t := Ticket{ID: id}
	for i, s := range skills {
		t.Players = append(t.Players, Player{ID: uint32(id*100) + uint32(i), Skill: s})
	}
	return t
}

func withRegions(t Ticket, r ...string) Ticket { t.Regions = r; return t }

func withProps(t Ticket, kv ...string) Ticket {
	t.Props = map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		t.Props[kv[i]] = kv[i+1]
	}
	return t
}

// add queues t at the harness's current time unless it has one.
func (h *harness) add(ts ...Ticket) {
	h.t.Helper()
	for _, t := range ts {
		if t.Enqueued.IsZero() {
			t.Enqueued = h.now
		}
		if err := h.m.Add(t); err != nil {
			h.t.Fatalf("Add(%d): %v", t.ID, err)
		}
	}
}

// step advances the clock by d and runs Step into a fresh result.
func (h *harness) step(d time.Duration) *Results {
	h.now = h.now.Add(d)
	h.res.Reset()
	h.m.Step(h.now, &h.res)
	if h.stepHook != nil {
		h.stepHook()
	}
	for h.finish && h.m.busy() {
		h.finished++
		h.m.form.work = 0
		h.m.runDue(&h.res)
		h.m.dropEmptyQueues()
	}
	return &h.res
}

// ticketsOf returns a match's tickets, sorted.
func ticketsOf(m Match) []uint64 {
	ids := slices.Clone(m.Tickets)
	slices.Sort(ids)
	return ids
}

// teamTotals returns each team's total skill, looking skills up in the
// tickets that were added.
func teamTotals(m Match, skill map[uint32]float64) []float64 {
	tot := make([]float64, max(m.Teams, 1))
	for _, p := range m.Players {
		tot[p.Team] += skill[p.ID]
	}
	return tot
}

func skillsOf(ts ...Ticket) map[uint32]float64 {
	s := map[uint32]float64{}
	for _, t := range ts {
		for _, p := range t.Players {
			s[p.ID] = p.Skill
		}
	}
	return s
}
