package match

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// A run spread over Steps by a small budget forms exactly the matches,
// fills and timeouts of the same run done at once: the same random queues
// give the same results, Step for Step, when nothing is called between
// the pieces of a run.
func TestSpreadRunsFormTheSameMatches(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 6
	}
	for seed := range uint64(seeds) {
		dense := seed%3 == 2
		budgets := []int{1, 5, 40, 200} // a run of a sparse sim is a few hundred units
		if dense {
			budgets = []int{1, 40, 300, 2000}
		}
		budget := budgets[seed/3%4]
		t.Run(fmt.Sprintf("%d/budget-%d/dense-%v", seed, budget, dense), func(t *testing.T) {
			whole, spread := newSim(t, 2000+seed), newSim(t, 2000+seed)
			whole.h.m.cfg.stepBudget = math.MaxInt
			spread.h.m.cfg.stepBudget = budget
			spread.h.finish = true
			whole.dense, spread.dense = dense, dense
			whole.log, spread.log = []string{}, []string{}
			steps := 200
			if dense {
				steps = 60
			}
			whole.run(steps)
			spread.run(steps)
			if spread.h.finished == 0 {
				t.Fatal("no run was spread over Steps: the test tests nothing")
			}
			for i := range whole.log {
				if whole.log[i] != spread.log[i] {
					t.Fatalf("Step %d:\nat once: %s\nspread:  %s", i, whole.log[i], spread.log[i])
				}
			}
			t.Logf("%d extra budgets", spread.h.finished)
		})
	}
}

// Runs spread over Steps, with tickets, cancels and backfill requests
// coming between the Steps as they would between ticks, keep every
// invariant of TestRandomInvariants; fairness is checked against the
// tickets queued before the runs began (later ones wait for the next run).
func TestSpreadRunsWithCallsBetween(t *testing.T) {
	seeds := 20
	if testing.Short() {
		seeds = 4
	}
	for seed := range uint64(seeds) {
		dense := seed%4 == 3
		// Budgets that spread most runs over a few Steps (a sparse run is
		// a few hundred units, a dense one thousands) and keep up with
		// the arrivals.
		budget := []int{200, 600}[seed%2]
		if dense {
			budget *= 10
		}
		t.Run(fmt.Sprintf("%d/budget-%d/dense-%v", seed, budget, dense), func(t *testing.T) {
			s := newSim(t, 3000+seed)
			s.h.m.cfg.stepBudget = budget
			s.dense = dense
			s.lag = time.Minute
			spread := 0
			s.h.stepHook = func() {
				if s.h.m.busy() {
					spread++
				}
			}
			s.run(150)
			if spread == 0 {
				t.Fatal("no run was spread over Steps: the test tests nothing")
			}
			t.Logf("%d Steps ended with a run under way", spread)
		})
	}
}

// A queue whose ticket sizes cannot fill a team (parties of three for
// teams of four) costs next to nothing per run, and matches again as soon
// as a ticket of another size comes.
func TestUnfillableSizesCostNothing(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{Teams: 2, TeamSize: 4, Interval: time.Second}))
	const parties = 80 // 240 players: every ticket is a candidate of every other (ageScanCap)
	for id := range uint64(parties) {
		h.add(party(id+1, 1000, 1000, 1000))
	}
	h.step(0)
	for range 3 {
		if res := h.step(time.Second); res.Len() != 0 {
			t.Fatalf("results from parties of three for teams of four: %+v", res)
		}
		if w := h.m.form.work; w > parties { // trying them all would be thousands
			t.Fatalf("a run over %d parties that cannot match did %d units of work", parties, w)
		}
	}
	h.add(solo(500_000, 1000), solo(500_001, 1000)) // player IDs apart from the parties'
	res := h.step(time.Second)
	if len(res.Matches) != 1 || len(res.Matches[0].Players) != 8 {
		t.Fatalf("two solo players and the parties: %+v, want one match of 8", res.Matches)
	}
	if got := res.Matches[0].Tickets; got[0] != 1 || got[1] != 2 {
		t.Fatalf("match of tickets %v, want the two oldest parties first", got)
	}
}
