package match

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// bestSpread is the smallest spread (strongest total minus weakest) over
// every split of skills into teams of equal size (exhaustive).
func bestSpread(skills []float64, teams int) float64 {
	size := len(skills) / teams
	team := make([]int, len(skills))
	count := make([]int, teams)
	tot := make([]float64, teams)
	best := math.Inf(1)
	var rec func(i int)
	rec = func(i int) {
		if i == len(skills) {
			best = min(best, slices.Max(tot)-slices.Min(tot))
			return
		}
		for t := range teams {
			if count[t] == size || t > 0 && count[t-1] == 0 { // teams are interchangeable: fill in order
				continue
			}
			team[i], count[t], tot[t] = t, count[t]+1, tot[t]+skills[i]
			rec(i + 1)
			count[t], tot[t] = count[t]-1, tot[t]-skills[i]
		}
	}
	rec(0)
	return best
}

func TestTeamsBalance(t *testing.T) {
	for _, tc := range []struct {
		teams, size int
		minOptimal  float64 // share of random cases split optimally
	}{
		{2, 4, 0.95},
		{2, 5, 0.95},
		{3, 3, 0.85},
		{4, 2, 0.95},
	} {
		t.Run(fmt.Sprintf("%dx%d", tc.teams, tc.size), func(t *testing.T) {
			q := QueueConfig{Teams: tc.teams, TeamSize: tc.size, SkillWindow: 10000}
			n := tc.teams * tc.size
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			var cases [][]float64
			if tc.teams == 2 && tc.size == 4 {
				cases = append(cases,
					[]float64{100, 200, 300, 400, 500, 600, 700, 800}, // 1+4+6+7 = 2+3+5+8
					[]float64{3000, 100, 100, 100, 100, 100, 100, 100},
					[]float64{1500, 1500, 1500, 1500, 1500, 1500, 1500, 1500})
			}
			for range 200 {
				s := make([]float64, n)
				for i := range s {
					s[i] = math.Round(1500 + rng.NormFloat64()*400)
				}
				cases = append(cases, s)
			}
			optimal := 0
			var excess float64
			for ci, skills := range cases {
				h := newHarness(t, oneQueue(q))
				var ts []Ticket
				for i, s := range skills {
					ts = append(ts, solo(uint64(i+1), s))
				}
				h.add(ts...)
				res := h.step(0)
				if len(res.Matches) != 1 {
					t.Fatalf("case %d: %d matches", ci, len(res.Matches))
				}
				m := res.Matches[0]
				counts := make([]int, tc.teams)
				for _, p := range m.Players {
					counts[p.Team]++
				}
				if slices.Min(counts) != tc.size || slices.Max(counts) != tc.size {
					t.Fatalf("case %d: team sizes %v", ci, counts)
				}
				tot := teamTotals(m, skillsOf(ts...))
				got := slices.Max(tot) - slices.Min(tot)
				// The bound the swaps guarantee for teams of solo players.
				if bound := slices.Max(skills) - slices.Min(skills); got > bound+1e-9 {
					t.Fatalf("case %d %v: totals %v spread more than the players' %v", ci, skills, tot, bound)
				}
				best := bestSpread(skills, tc.teams)
				if got <= best+1e-9 {
					optimal++
				}
				excess += got - best
			}
			share := float64(optimal) / float64(len(cases))
			t.Logf("%d of %d splits optimal; mean excess over the optimum %.1f (players' skill sd 400)", optimal, len(cases), excess/float64(len(cases)))
			if share < tc.minOptimal {
				t.Fatalf("only %.0f%% optimal", share*100)
			}
		})
	}
}

// teamOf returns the team of every player of ticket id in m, failing if
// they are not all on one team.
func teamOf(t *testing.T, m Match, id uint64) int {
	t.Helper()
	team := -1
	for _, p := range m.Players {
		if p.Ticket != id {
			continue
		}
		if team >= 0 && p.Team != team {
			t.Fatalf("ticket %d split across teams %d and %d", id, team, p.Team)
		}
		team = p.Team
	}
	if team < 0 {
		t.Fatalf("ticket %d not in the match", id)
	}
	return team
}

func TestPartiesStayTogether(t *testing.T) {
	q := QueueConfig{Teams: 2, TeamSize: 4, SkillWindow: 10000}
	t.Run("3+2 go on different teams", func(t *testing.T) {
		h := newHarness(t, oneQueue(q))
		ts := []Ticket{party(1, 1000, 1200, 1400), party(2, 1500, 1500), solo(3, 1300), solo(4, 900), solo(5, 1700)}
		h.add(ts...)
		m := h.step(0).Matches[0]
		if teamOf(t, m, 1) == teamOf(t, m, 2) {
			t.Fatal("parties of 3 and 2 on one team of 4")
		}
		if len(m.Players) != 8 {
			t.Fatalf("%d players", len(m.Players))
		}
	})
	t.Run("a full team party", func(t *testing.T) {
		h := newHarness(t, oneQueue(q))
		ts := []Ticket{solo(1, 1000), party(2, 1, 2, 3, 4), party(3, 1, 2), solo(4, 1000)}
		h.add(ts...)
		m := h.step(0).Matches[0]
		four := teamOf(t, m, 2)
		if teamOf(t, m, 3) == four {
			t.Fatal("party of 2 on the full team")
		}
		for _, id := range []uint64{1, 4} {
			if teamOf(t, m, id) == four {
				t.Fatalf("solo %d on the full team", id)
			}
		}
	})
	t.Run("three parties of 3 cannot share 2 teams of 4", func(t *testing.T) {
		h := newHarness(t, oneQueue(q))
		h.add(party(1, 1, 1, 1), party(2, 1, 1, 1), party(3, 1, 1, 1), solo(4, 1), solo(5, 1))
		res := h.step(0)
		if len(res.Matches) != 1 || !slices.Equal(ticketsOf(res.Matches[0]), []uint64{1, 2, 4, 5}) {
			t.Fatalf("got %+v", res.Matches)
		}
		if !h.m.Queued(3) {
			t.Fatal("party 3 left the queue")
		}
	})
	t.Run("free-for-all party", func(t *testing.T) {
		h := newHarness(t, oneQueue(QueueConfig{MaxPlayers: 4}))
		h.add(solo(1, 0), party(2, 0, 0, 0), party(3, 0, 0))
		m := h.step(0).Matches[0]
		if !slices.Equal(ticketsOf(m), []uint64{1, 2}) {
			t.Fatalf("got %v", m.Tickets)
		}
		for i, p := range m.Players[1:] {
			if p.Ticket != 2 || p.ID != 200+uint32(i) {
				t.Fatalf("party's players not together in order: %+v", m.Players)
			}
		}
	})
}

func TestPartialTeamsDifferByOne(t *testing.T) {
	q := QueueConfig{Teams: 2, TeamSize: 4, MinPlayers: 5, SkillWindow: 10000}
	h := newHarness(t, oneQueue(q))
	h.add(solo(1, 1000), solo(2, 1100), party(3, 900, 950, 1000), solo(4, 1200), solo(5, 1300))
	m := h.step(0).Matches[0]
	counts := [2]int{}
	for _, p := range m.Players {
		counts[p.Team]++
	}
	if len(m.Players) != 7 || max(counts[0], counts[1]) != 4 || min(counts[0], counts[1]) != 3 {
		t.Fatalf("7 players as %v", counts)
	}
	teamOf(t, m, 3)

	// A party of 4 with one solo would be 4 against 1: not started, since
	// team sizes may differ by one only. A second solo makes it 4 against
	// 2, still not; a third, 4 against 3.
	h = newHarness(t, oneQueue(QueueConfig{Teams: 2, TeamSize: 4, MinPlayers: 5, SkillWindow: 10000, FillWait: time.Second}))
	h.add(party(1, 1, 1, 1, 1), solo(2, 1))
	if res := h.step(time.Minute); len(res.Matches) != 0 {
		t.Fatalf("started 4 against 1: %+v", res.Matches)
	}
	h.add(solo(3, 1))
	if res := h.step(0); len(res.Matches) != 0 {
		t.Fatalf("started 4 against 2: %+v", res.Matches)
	}
	h.add(solo(4, 1))
	if res := h.step(0); len(res.Matches) != 1 || len(res.Matches[0].Players) != 7 {
		t.Fatalf("want 4 against 3, got %+v", res.Matches)
	}
}

func TestPackerBudgetRefusesInsteadOfSearchingForever(t *testing.T) {
	// 40 parties of 3 cannot fill 16 teams of 8 evenly (3 does not divide
	// 8 and the loads must be equal): the search gives up within its
	// budget.
	var pk packer
	parties := slices.Repeat([]int{3}, 40)
	start := time.Now()
	if pk.fits(parties, 16, 8, 7, 8) {
		t.Fatal("fits")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
	if !pk.fits([]int{3, 3, 2, 2, 2, 2, 2}, 2, 8, 8, 2) {
		t.Fatal("3+3+2 and 2+2+2+2... 3+3+2=8, 2+2+2+2=8 fits")
	}
	if pk.fits([]int{3, 3, 3}, 2, 4, 4, 2) {
		t.Fatal("three 3s in two 4s")
	}
}

func TestPartiesThatCannotFillATeamWaitForSolos(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{Teams: 2, TeamSize: 4}))
	for i := range 20 {
		h.add(party(uint64(i+1), 0, 0, 0))
	}
	if res := h.step(0); len(res.Matches) != 0 || h.m.Len() != 20 {
		t.Fatalf("parties of 3 filled teams of 4: %+v", res.Matches)
	}
	h.add(solo(5000, 0), solo(5001, 0))
	res := h.step(0)
	if len(res.Matches) != 1 || !slices.Equal(ticketsOf(res.Matches[0]), []uint64{1, 2, 5000, 5001}) {
		t.Fatalf("got %+v", res.Matches)
	}
	if teamOf(t, res.Matches[0], 1) == teamOf(t, res.Matches[0], 2) {
		t.Fatal("two parties of 3 on a team of 4")
	}
}

// The swaps of a match of 256 players stay within swapWork, and the teams
// still come out even.
func TestBigTeamsSwapWithinBoundedWork(t *testing.T) {
	h := newHarness(t, oneQueue(QueueConfig{Teams: 2, TeamSize: 128, SkillWindow: 10000}))
	rng := rand.New(rand.NewPCG(3, 4))
	var ts []Ticket
	for i := range 256 {
		ts = append(ts, solo(uint64(i+1), math.Round(1500+rng.NormFloat64()*400)))
	}
	h.add(ts...)
	res := h.step(0)
	if len(res.Matches) != 1 {
		t.Fatalf("%d matches", len(res.Matches))
	}
	if w := h.m.form.teams.work; w > swapWork {
		t.Fatalf("the swaps compared %d pairs, more than %d", w, swapWork)
	}
	m := res.Matches[0]
	counts := make([]int, 2)
	for _, p := range m.Players {
		counts[p.Team]++
	}
	tot := teamTotals(m, skillsOf(ts...))
	var skills []float64
	for _, tk := range ts {
		skills = append(skills, tk.Players[0].Skill)
	}
	if counts[0] != 128 || counts[1] != 128 || math.Abs(tot[0]-tot[1]) > slices.Max(skills)-slices.Min(skills) {
		t.Fatalf("teams of %v players, totals %v", counts, tot)
	}
}
