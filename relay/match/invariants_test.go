package match

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestRandomInvariants drives the matchmaker with random tickets, parties,
// cancels and backfill requests over many Steps, and checks every result
// against a model of what is queued:
//
//   - every player is in at most one match or fill, ever;
//   - a match's tickets were queued, share mode, props and a region, and
//     each one's skill is within every other's window; it has MinPlayers
//     to MaxPlayers players (fewer than MaxPlayers only after FillWait);
//   - teams are within size and differ by at most one, and parties are
//     whole, on one team;
//   - a fill suits its request: region, both windows, seats by team;
//   - fairness: no ticket left queued could take the place of a newer
//     ticket of the same size in a match or a fill;
//   - no ticket is both matched (or timed out) and still queued, and no
//     queued ticket is lost.
func TestRandomInvariants(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 5
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { newSim(t, seed).run(250) })
	}
	for seed := range uint64(max(seeds/5, 2)) {
		t.Run(fmt.Sprintf("dense/%d", seed), func(t *testing.T) {
			s := newSim(t, seed)
			s.dense = true
			s.run(100)
		})
	}
}

var simConfig = Config{
	Queues: map[string]QueueConfig{
		"ffa":   {MaxPlayers: 6, MinPlayers: 3, FillWait: 5 * time.Second, SkillWindow: 50, SkillWidening: 20, MaxSkillWindow: 400, MaxWait: 40 * time.Second},
		"teams": {Teams: 2, TeamSize: 3, MinPlayers: 4, FillWait: 8 * time.Second, SkillWindow: 80, SkillWidening: 10, MaxWait: time.Minute, Interval: 2 * time.Second},
		"duel":  {SkillWindow: 30, SkillWidening: 30, MaxWait: 20 * time.Second},
	},
	Default: &QueueConfig{MaxPlayers: 4, SkillWindow: 100, Interval: time.Second},
}

var simModes = []string{"ffa", "teams", "duel", "misc"}

type simTicket struct {
	Ticket
	order int // order of Add
}

type sim struct {
	t         *testing.T
	h         *harness
	rng       *rand.Rand
	queued    map[uint64]simTicket
	backfills map[uint64]*Backfill
	open      map[uint64][]int // open seats per team, per request
	done      map[uint32]bool  // players matched or filled
	next      uint64
	adds      int
	counts    map[string]int
	log       []string // every Step's results, if not nil
	dense     bool     // many tickets of nearly equal skill: scans in age order
	// settled is how many tickets had been added when a Step last found
	// no run due or under way, and fairAt that Step's time. A run spread
	// over Steps forms its matches from the tickets queued when it became
	// due, with the windows of that time, which is fairAt or later: so
	// the fairness checks leave out the tickets added since, and use the
	// windows of fairAt (narrower, as windows only widen).
	settled int
	fairAt  time.Time
	lag     time.Duration // how late a spread run may time a ticket out
}

func newSim(t *testing.T, seed uint64) *sim {
	return &sim{
		t:         t,
		h:         newHarness(t, simConfig),
		rng:       rand.New(rand.NewPCG(seed, 99)),
		queued:    map[uint64]simTicket{},
		backfills: map[uint64]*Backfill{},
		open:      map[uint64][]int{},
		done:      map[uint32]bool{},
		counts:    map[string]int{},
	}
}

func (s *sim) rules(mode string) queueRules {
	r, _ := s.h.m.cfg.rules(mode)
	return r
}

func (s *sim) randomTicket() Ticket {
	s.next++
	mode := simModes[s.rng.IntN(len(simModes))]
	r := s.rules(mode)
	tk := Ticket{ID: s.next, Mode: mode, Enqueued: s.h.now.Add(-time.Duration(s.rng.IntN(3000)) * time.Millisecond)}
	size := 1
	if s.rng.IntN(4) == 0 {
		size = 2 + s.rng.IntN(2)
	}
	size = min(size, r.teamCap())
	for i := range size {
		skill := math.Round(1500 + s.rng.NormFloat64()*300)
		if s.dense {
			skill = float64(s.rng.IntN(3)) // windows hold nearly everyone
		}
		tk.Players = append(tk.Players, Player{ID: uint32(s.next*10) + uint32(i), Skill: skill})
	}
	regions := []string{"eu", "us", "asia"}
	s.rng.Shuffle(len(regions), func(i, j int) { regions[i], regions[j] = regions[j], regions[i] })
	tk.Regions = regions[:s.rng.IntN(3)]
	switch s.rng.IntN(3) {
	case 1:
		tk.Props = map[string]string{"map": "a"}
	case 2:
		tk.Props = map[string]string{"map": "b"}
	}
	return tk
}

func (s *sim) run(steps int) {
	t, h := s.t, s.h
	for range steps {
		arrivals := 7
		if s.dense {
			arrivals = 120
		}
		for range s.rng.IntN(arrivals) {
			tk := s.randomTicket()
			if err := h.m.Add(tk); err != nil {
				t.Fatalf("Add: %v", err)
			}
			s.adds++
			s.queued[tk.ID] = simTicket{tk, s.adds}
		}
		s.refusals()
		for _, id := range slices.Sorted(maps.Keys(s.queued)) {
			if s.rng.IntN(40) == 0 {
				if !h.m.Cancel(id) {
					t.Fatalf("Cancel(%d) of a queued ticket reported false", id)
				}
				delete(s.queued, id)
				s.counts["cancelled"]++
			}
		}
		if s.rng.IntN(8) == 0 {
			s.requestBackfill()
		}
		for _, id := range slices.Sorted(maps.Keys(s.backfills)) {
			if s.rng.IntN(30) == 0 {
				if !h.m.CancelBackfill(id) {
					t.Fatalf("CancelBackfill(%d) of an open request reported false", id)
				}
				delete(s.backfills, id)
			}
		}
		idle := !h.m.busy()
		res := h.step([]time.Duration{0, 250 * time.Millisecond, time.Second, 3 * time.Second}[s.rng.IntN(4)])
		if idle {
			s.settled, s.fairAt = s.adds, h.now
		}
		s.check(res)
	}
	t.Logf("%v", s.counts)
	if s.counts["matches"] == 0 || !s.dense && (s.counts["fills"] == 0 || s.counts["timeouts"] == 0) {
		t.Fatalf("the run did not exercise everything: %v", s.counts)
	}
}

// refusals tries tickets that must be refused and checks nothing changed.
func (s *sim) refusals() {
	if len(s.queued) == 0 || s.rng.IntN(5) != 0 {
		return
	}
	ids := slices.Sorted(maps.Keys(s.queued))
	some := s.queued[ids[s.rng.IntN(len(ids))]]
	n := s.h.m.Len()
	dup := some.Ticket
	dup.Players = []Player{{ID: 1<<32 - 1}}
	if err := s.h.m.Add(dup); !errors.Is(err, ErrDuplicateTicket) {
		s.t.Fatalf("duplicate ticket: %v", err)
	}
	again := s.randomTicket()
	again.Players = append(again.Players[:0], some.Players[0])
	if err := s.h.m.Add(again); !errors.Is(err, ErrPlayerQueued) {
		s.t.Fatalf("queued player: %v", err)
	}
	if s.h.m.Len() != n {
		s.t.Fatal("a refused ticket changed the queue")
	}
}

func (s *sim) requestBackfill() {
	s.next++
	mode := simModes[s.rng.IntN(len(simModes))]
	r := s.rules(mode)
	bf := &Backfill{ID: s.next, Mode: mode, Skill: math.Round(1500 + s.rng.NormFloat64()*300), Created: s.h.now}
	if s.rng.IntN(2) == 0 {
		bf.Region = []string{"eu", "us", "asia"}[s.rng.IntN(3)]
	}
	if s.rng.IntN(2) == 0 {
		bf.Props = map[string]string{"map": "a"}
	}
	open := make([]int, r.teamCount())
	for range 1 + s.rng.IntN(r.MaxPlayers-1) {
		team := s.rng.IntN(len(open))
		if open[team] < r.teamCap() {
			open[team]++
			bf.Seats = append(bf.Seats, team)
		}
	}
	if err := s.h.m.RequestBackfill(*bf); err != nil {
		s.t.Fatalf("RequestBackfill: %v", err)
	}
	s.backfills[bf.ID], s.open[bf.ID] = bf, open
}

// window is tk's window at time at.
func (s *sim) window(tk Ticket, at time.Time) float64 {
	r := s.rules(tk.Mode)
	return r.window(int64(at.Sub(tk.Enqueued)))
}

func accepts(tk Ticket, region string) bool {
	return len(tk.Regions) == 0 || slices.Contains(tk.Regions, region)
}

// compatible reports whether tickets (of one mode and props) may share a
// match by skill and region at time at, ignoring sizes.
func (s *sim) compatible(ts []simTicket, at time.Time) bool {
	var shared []string
	anyOK := true
	for _, x := range ts {
		for _, y := range ts {
			if math.Abs(x.skill()-y.skill()) > s.window(x.Ticket, at) {
				return false
			}
		}
		if len(x.Regions) > 0 {
			if anyOK {
				shared, anyOK = slices.Clone(x.Regions), false
			} else {
				shared = slices.DeleteFunc(shared, func(r string) bool { return !slices.Contains(x.Regions, r) })
			}
		}
	}
	return anyOK || len(shared) > 0
}

func (x simTicket) skill() float64 {
	var sum float64
	for _, p := range x.Players {
		sum += p.Skill
	}
	return sum / float64(len(x.Players))
}

// older reports whether x is ahead of y in line.
func older(x, y simTicket) bool {
	return x.Enqueued.Before(y.Enqueued) || x.Enqueued.Equal(y.Enqueued) && x.order < y.order
}

func sameBucket(x simTicket, mode string, props map[string]string) bool {
	return x.Mode == mode && maps.Equal(x.Props, props)
}

// take checks that the result's tickets are queued, with their players in
// order, takes them out of the model and returns them.
func (s *sim) take(what string, tickets []uint64, players []MatchedPlayer) []simTicket {
	t := s.t
	var ts []simTicket
	k := 0
	for _, id := range tickets {
		x, ok := s.queued[id]
		if !ok {
			t.Fatalf("%s: ticket %d is not queued", what, id)
		}
		if s.h.m.Queued(id) {
			t.Fatalf("%s: ticket %d is still queued", what, id)
		}
		for _, p := range x.Players {
			if k >= len(players) || players[k].ID != p.ID || players[k].Ticket != id {
				t.Fatalf("%s: players %+v do not list ticket %d's %+v in order", what, players, id, x.Players)
			}
			if players[k].Team != players[k-(k-indexOf(players, id))].Team {
				t.Fatalf("%s: party %d split across teams", what, id)
			}
			if s.done[p.ID] {
				t.Fatalf("%s: player %d was already matched", what, p.ID)
			}
			s.done[p.ID] = true
			k++
		}
		ts = append(ts, x)
		delete(s.queued, id)
	}
	if k != len(players) {
		t.Fatalf("%s: %d players for tickets with %d", what, len(players), k)
	}
	return ts
}

func indexOf(ps []MatchedPlayer, ticket uint64) int {
	return slices.IndexFunc(ps, func(p MatchedPlayer) bool { return p.Ticket == ticket })
}

func (s *sim) check(res *Results) {
	t := s.t
	if s.log != nil {
		s.log = append(s.log, fmt.Sprintf("%+v", *res))
	}
	// Everything that left first: the fairness checks look at the tickets
	// still queued after the Step.
	for _, id := range res.TimedOut {
		s.counts["timeouts"]++
		x, ok := s.queued[id]
		if !ok || s.h.m.Queued(id) {
			t.Fatalf("timed out ticket %d: modelled %v, still queued %v", id, ok, s.h.m.Queued(id))
		}
		if waited := s.h.now.Sub(x.Enqueued); waited < s.rules(x.Mode).MaxWait {
			t.Fatalf("ticket %d timed out after %v", id, waited)
		}
		delete(s.queued, id)
	}
	matched := make([][]simTicket, len(res.Matches))
	for i, m := range res.Matches {
		s.counts["matches"]++
		matched[i] = s.take("match", m.Tickets, m.Players)
	}
	filled := make([][]simTicket, len(res.Fills))
	for i, f := range res.Fills {
		s.counts["fills"]++
		if s.backfills[f.Backfill] == nil {
			t.Fatalf("fill of request %d that is not open", f.Backfill)
		}
		filled[i] = s.take("fill", f.Tickets, f.Players)
	}
	for i, m := range res.Matches {
		s.checkMatch(m, matched[i])
	}
	for i, f := range res.Fills {
		s.checkFill(f, s.backfills[f.Backfill], filled[i])
	}
	for _, id := range res.Expired {
		bf := s.backfills[id]
		if bf == nil {
			t.Fatalf("expired request %d is not open", id)
		}
		if s.h.now.Before(bf.Created.Add(s.rules(bf.Mode).MaxWait)) {
			t.Fatalf("request %d expired early", id)
		}
		delete(s.backfills, id)
	}
	if s.h.m.Len() != len(s.queued) || s.h.m.OpenBackfills() != len(s.backfills) {
		t.Fatalf("Len %d, modelled %d; backfills %d, modelled %d", s.h.m.Len(), len(s.queued), s.h.m.OpenBackfills(), len(s.backfills))
	}
	for id, x := range s.queued {
		if !s.h.m.Queued(id) {
			t.Fatalf("ticket %d was lost", id)
		}
		r := s.rules(x.Mode)
		if waited := s.h.now.Sub(x.Enqueued); waited >= r.MaxWait+r.Interval+3*time.Second+s.lag {
			t.Fatalf("ticket %d waited %v, past MaxWait", id, waited)
		}
	}
}

func (s *sim) checkMatch(m Match, ts []simTicket) {
	t := s.t
	r := s.rules(m.Mode)
	players, oldest := 0, ts[0]
	for i, x := range ts {
		if !sameBucket(x, m.Mode, m.Props) {
			t.Fatalf("match %v: ticket %d of mode %q props %v in a match of %q %v", m.Tickets, x.ID, x.Mode, x.Props, m.Mode, m.Props)
		}
		if m.Region != "" && !accepts(x.Ticket, m.Region) || m.Region == "" && len(x.Regions) > 0 {
			t.Fatalf("match %v: ticket %d (regions %v) in region %q", m.Tickets, x.ID, x.Regions, m.Region)
		}
		if i > 0 && older(x, ts[i-1]) {
			t.Fatalf("match %v: tickets not oldest first", m.Tickets)
		}
		players += len(x.Players)
		if older(x, oldest) {
			oldest = x
		}
	}
	if !s.compatible(ts, s.h.now) {
		t.Fatalf("match %v: some ticket's skill is outside another's window", m.Tickets)
	}
	if players < r.MinPlayers || players > r.MaxPlayers {
		t.Fatalf("match %v: %d players", m.Tickets, players)
	}
	if players < r.MaxPlayers && s.h.now.Sub(oldest.Enqueued) < r.FillWait {
		t.Fatalf("match %v: %d players before FillWait", m.Tickets, players)
	}
	counts := make([]int, r.teamCount())
	for _, p := range m.Players {
		if p.Team < 0 || p.Team >= len(counts) {
			t.Fatalf("match %v: team %d", m.Tickets, p.Team)
		}
		counts[p.Team]++
	}
	if slices.Max(counts) > r.teamCap() || r.Teams > 0 && slices.Max(counts)-slices.Min(counts) > 1 {
		t.Fatalf("match %v: team sizes %v", m.Tickets, counts)
	}
	// Fairness: no ticket left in line could stand in for a newer member.
	for _, x := range s.queued {
		if !sameBucket(x, m.Mode, m.Props) || x.order > s.settled {
			continue
		}
		for i, y := range ts {
			if len(x.Players) != len(y.Players) || !older(x, y) {
				continue
			}
			swapped := slices.Clone(ts)
			swapped[i] = x
			if s.compatible(swapped, s.fairAt) {
				t.Fatalf("match %v: ticket %d, older than %d, could have taken its place", m.Tickets, x.ID, y.ID)
			}
		}
	}
}

func (s *sim) checkFill(f Fill, bf *Backfill, ts []simTicket) {
	t := s.t
	r := s.rules(bf.Mode)
	suits := func(x simTicket, at time.Time) bool {
		d := math.Abs(x.skill() - bf.Skill)
		return sameBucket(x, bf.Mode, bf.Props) && (bf.Region == "" || accepts(x.Ticket, bf.Region)) &&
			d <= r.window(int64(at.Sub(bf.Created))) && d <= s.window(x.Ticket, at)
	}
	open := s.open[bf.ID]
	for _, x := range ts {
		if !suits(x, s.h.now) {
			t.Fatalf("fill of %d: ticket %d does not suit it", bf.ID, x.ID)
		}
	}
	for _, p := range f.Players {
		if p.Team < 0 || p.Team >= len(open) || open[p.Team] == 0 {
			t.Fatalf("fill of %d: player %d on team %d, open seats %v", bf.ID, p.ID, p.Team, open)
		}
		open[p.Team]--
	}
	left := 0
	for _, n := range open {
		left += n
	}
	if f.Open != left {
		t.Fatalf("fill of %d: Open %d, %d seats left", bf.ID, f.Open, left)
	}
	if left == 0 {
		delete(s.backfills, bf.ID)
	}
	for _, x := range s.queued {
		if x.order > s.settled {
			continue
		}
		for _, y := range ts {
			if len(x.Players) == len(y.Players) && older(x, y) && suits(x, s.fairAt) {
				t.Fatalf("fill of %d: ticket %d, older than %d, suits it but was left", bf.ID, x.ID, y.ID)
			}
		}
	}
}

// Skipping anchors that cannot match yet (recheck.go) must change no
// result: the same random queues give the same results, Step for Step,
// with every anchor tried on every run.
func TestSkippingChangesNothing(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 5
	}
	for seed := range uint64(seeds) {
		skipping, trying := newSim(t, 1000+seed), newSim(t, 1000+seed)
		trying.h.m.alwaysTry = true
		skipping.log, trying.log = []string{}, []string{}
		skipping.run(300)
		trying.run(300)
		for i := range skipping.log {
			if skipping.log[i] != trying.log[i] {
				t.Fatalf("seed %d, Step %d:\nskipping: %s\ntrying:   %s", seed, i, skipping.log[i], trying.log[i])
			}
		}
	}
}
