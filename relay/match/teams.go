package match

import (
	"cmp"
	"slices"
)

// packBudget bounds the placements one packing search tries. Packing
// parties into teams is bin packing; with the few parties of a match the
// search ends in a handful of steps, and the budget keeps a pathological
// mix from costing more. Past it a party is refused (it waits for another
// match), never split.
const packBudget = 10_000

// packer places parties on teams: every team holds at most hiCap players
// and at most nHi teams hold more than loCap. Solo players then fill the
// teams up to their sizes, so the parties are the whole problem.
type packer struct {
	sizes  []int     // parties, largest first
	sums   []float64 // their skill totals, when placing for balance
	loads  []int     // players per team
	totals []float64 // skill per team
	assign []int     // team of each party
	order  []int     // per depth: teams in the order to try
	teams  int
	hiCap  int
	loCap  int
	nHi    int
	budget int
}

// fits reports whether parties (sizes, any order) can be placed.
func (pk *packer) fits(parties []int, teams, hiCap, loCap, nHi int) bool {
	pk.sizes = append(pk.sizes[:0], parties...)
	slices.SortFunc(pk.sizes, func(a, b int) int { return cmp.Compare(b, a) })
	pk.sums = pk.sums[:0]
	return pk.solve(teams, hiCap, loCap, nHi)
}

// solve places pk.sizes (largest first). With pk.sums it tries, for each
// party, the teams with the lowest skill total first, so the first
// placement found is the greedy balanced one when that is feasible.
func (pk *packer) solve(teams, hiCap, loCap, nHi int) bool {
	pk.teams, pk.hiCap, pk.loCap, pk.nHi, pk.budget = teams, hiCap, loCap, nHi, packBudget
	pk.loads = resize(pk.loads, teams)
	clear(pk.loads)
	pk.totals = resize(pk.totals, teams)
	clear(pk.totals)
	pk.assign = resize(pk.assign, len(pk.sizes))
	pk.order = resize(pk.order, len(pk.sizes)*teams)
	return pk.place(0, 0)
}

func (pk *packer) place(i, nHi int) bool {
	if i == len(pk.sizes) {
		return true
	}
	if pk.budget == 0 {
		return false
	}
	pk.budget--
	s := pk.sizes[i]
	order := pk.order[i*pk.teams : (i+1)*pk.teams]
	for t := range order {
		order[t] = t
	}
	if len(pk.sums) > 0 {
		totals := pk.totals
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(totals[a], totals[b]) })
	}
	for k, t := range order {
		l := pk.loads[t]
		if l+s > pk.hiCap {
			continue
		}
		hi := nHi
		if l <= pk.loCap && l+s > pk.loCap {
			hi++
		}
		if hi > pk.nHi || pk.triedLoad(order[:k], l) {
			continue
		}
		pk.loads[t] += s
		if len(pk.sums) > 0 {
			pk.totals[t] += pk.sums[i]
		}
		pk.assign[i] = t
		if pk.place(i+1, hi) {
			return true
		}
		pk.loads[t] -= s
		if len(pk.sums) > 0 {
			pk.totals[t] -= pk.sums[i]
		}
	}
	return false
}

// triedLoad reports whether a team among tried has load l: placing the
// party there failed, and teams of equal load are interchangeable for
// whether the rest fits.
func (pk *packer) triedLoad(tried []int, l int) bool {
	for _, u := range tried {
		if pk.loads[u] == l {
			return true
		}
	}
	return false
}

// teamer assigns the tickets of a match to teams.
type teamer struct {
	team   []int // per member
	totals []float64
	counts []int
	idx    []int
}

// assign returns the team of each member of g (in g.members' order).
//
// Team sizes differ by at most one. Parties are placed first, largest
// first, each on the team with the lowest skill total where the rest
// still fit (a backtracking search, see packer); then solo players, most
// skilled first, each on the team with the lowest total that has room.
// Last, while swapping two tickets of equal size between teams lowers the
// sum of squared team totals, the best such swap is made. For two teams
// of solo players this ends with the teams' totals differing by at most
// the spread between the best and the worst player: while they differ by
// more, the stronger team has a player better than one of the weaker
// team by less than the difference, and swapping them narrows it.
func (tm *teamer) assign(b *bucket, g *group, r *queueRules, pk *packer) []int {
	n := len(g.members)
	tm.team = resize(tm.team, n)
	clear(tm.team)
	if r.Teams == 0 {
		return tm.team
	}
	teams := r.Teams
	lo, over := g.players/teams, g.players%teams
	hiCap := lo + min(over, 1)
	tm.totals = resize(tm.totals, teams)
	clear(tm.totals)
	tm.counts = resize(tm.counts, teams)
	clear(tm.counts)
	size := func(i int) int { return int(b.size[g.members[i]]) }
	sum := func(i int) float64 { return b.tix[g.members[i]].sum }
	bySizeThenSum := func(x, y int) int {
		if c := cmp.Compare(size(y), size(x)); c != 0 {
			return c
		}
		return cmp.Compare(sum(y), sum(x))
	}

	// Parties.
	tm.idx = tm.idx[:0]
	for i := range n {
		if size(i) > 1 {
			tm.idx = append(tm.idx, i)
		}
	}
	if len(tm.idx) > 0 {
		slices.SortFunc(tm.idx, bySizeThenSum)
		pk.sizes, pk.sums = pk.sizes[:0], pk.sums[:0]
		for _, i := range tm.idx {
			pk.sizes = append(pk.sizes, size(i))
			pk.sums = append(pk.sums, sum(i))
		}
		if !pk.solve(teams, hiCap, lo, over) {
			// Unreachable: the group was checked to fit. Place loosely
			// rather than fail.
			pk.solve(teams, r.TeamSize, r.TeamSize, teams)
		}
		for k, i := range tm.idx {
			t := pk.assign[k]
			tm.team[i] = t
			tm.counts[t] += size(i)
			tm.totals[t] += sum(i)
		}
	}
	nHi := 0
	for _, c := range tm.counts {
		if c > lo {
			nHi++
		}
	}

	// Solo players.
	tm.idx = tm.idx[:0]
	for i := range n {
		if size(i) == 1 {
			tm.idx = append(tm.idx, i)
		}
	}
	slices.SortFunc(tm.idx, bySizeThenSum)
	for _, i := range tm.idx {
		best := -1
		for t, c := range tm.counts {
			if (c < lo || c < hiCap && nHi < over) && (best < 0 || tm.totals[t] < tm.totals[best]) {
				best = t
			}
		}
		if best < 0 { // unreachable: the teams have room for every player
			best = slices.Index(tm.counts, slices.Min(tm.counts))
		}
		if tm.counts[best] == lo && hiCap > lo {
			nHi++
		}
		tm.team[i] = best
		tm.counts[best]++
		tm.totals[best] += sum(i)
	}

	// Swaps.
	for range 4 * n {
		bx, by, bestGain := -1, -1, 0.0
		for x := range n {
			for y := x + 1; y < n; y++ {
				tx, ty := tm.team[x], tm.team[y]
				if tx == ty || size(x) != size(y) {
					continue
				}
				// Moving d from team ty to tx changes the sum of squares by
				// 2d(Tx - Ty) + 2d².
				d := sum(y) - sum(x)
				gain := -2 * d * (tm.totals[tx] - tm.totals[ty] + d)
				if gain > bestGain+1e-9*(1+abs(tm.totals[tx])+abs(tm.totals[ty])) {
					bx, by, bestGain = x, y, gain
				}
			}
		}
		if bx < 0 {
			break
		}
		tx, ty := tm.team[bx], tm.team[by]
		d := sum(by) - sum(bx)
		tm.totals[tx] += d
		tm.totals[ty] -= d
		tm.team[bx], tm.team[by] = ty, tx
	}
	return tm.team
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
