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
	pairs  []teamPair
	size   []int // per member: players
	sum    []float64
	work   int // pairs the last assign's swaps compared (see swapWork)
}

// assign returns the team of each member of g (in g.members' order).
//
// Team sizes differ by at most one. Parties are placed first, largest
// first, each on the team with the lowest skill total where the rest
// still fit (a backtracking search, see packer); then solo players, most
// skilled first, each on the team with the lowest total that has room.
// Last, while swapping one ticket for one of equal size between two teams
// (or else two for two of as many players) lowers the sum of squared team
// totals, the best such swap is made. For two teams of solo players this
// ends with the teams' totals differing by at most the spread between the
// best and the worst player: while they differ by more, the stronger team
// has a player better than one of the weaker team by less than the
// difference, and swapping them narrows it.
func (tm *teamer) assign(b *bucket, g *group, r *queueRules, pk *packer) []int {
	n := len(g.members)
	tm.team = resize(tm.team, n)
	clear(tm.team)
	tm.work = 0
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
	tm.size = resize(tm.size, n)
	tm.sum = resize(tm.sum, n)
	for i, p := range g.members {
		tm.size[i], tm.sum[i] = int(b.size[p]), b.tix[p].sum
	}
	size := func(i int) int { return tm.size[i] }
	sum := func(i int) float64 { return tm.sum[i] }
	bySizeThenSum := func(x, y int) int {
		if c := cmp.Compare(tm.size[y], tm.size[x]); c != 0 {
			return c
		}
		return cmp.Compare(tm.sum[y], tm.sum[x])
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

	// Swaps: of one ticket for one of equal size, else of two for two of
	// equal size, the best each time, while one lowers the sum of squared
	// team totals (which, the grand total being fixed, is their spread).
	// A pass over the pairs of members costs n²/2, over the pairs of
	// pairs about n⁴/32: within swapWork, which a match of a few dozen
	// players never reaches, but which keeps the swaps of a match of 64
	// or 256 players to a fraction of a millisecond (they stop early,
	// leaving the teams as the placement and the swaps so far made them).
	one := n * (n - 1) / 2
	var two int
	for _, c := range tm.counts {
		two += c * (c - 1) / 2 // at most: pairs of members on one team
	}
	two = two * (two - 1) / 2
	work := 0
	for range 4 * n {
		if slices.Max(tm.totals) == slices.Min(tm.totals) || work+one > swapWork {
			break
		}
		work += one
		if tm.swapOne() {
			continue
		}
		if work+two > swapWork {
			break
		}
		work += two
		if !tm.swapTwo() {
			break
		}
	}
	tm.work = work
	return tm.team
}

// swapWork bounds the pairs the swaps of one match's teams compare: see
// teamer.assign.
const swapWork = 1 << 16

// gain is how much moving d of skill from team y to team x lowers the sum
// of squared totals: (Tx+d)² + (Ty-d)² = Tx² + Ty² + 2d(Tx-Ty) + 2d².
func (tm *teamer) gain(x, y int, d float64) float64 {
	return -2 * d * (tm.totals[x] - tm.totals[y] + d)
}

// worth reports whether a gain is more than rounding.
func (tm *teamer) worth(gain, best float64, x, y int) bool {
	return gain > best+1e-9*(1+abs(tm.totals[x])+abs(tm.totals[y]))
}

// swapOne makes the best swap of two members of equal size on different
// teams, if one helps.
func (tm *teamer) swapOne() bool {
	bx, by, best := -1, -1, 0.0
	for x := range tm.team {
		for y := x + 1; y < len(tm.team); y++ {
			tx, ty := tm.team[x], tm.team[y]
			if tx == ty || tm.size[x] != tm.size[y] {
				continue
			}
			gain := tm.gain(tx, ty, tm.sum[y]-tm.sum[x])
			if tm.worth(gain, best, tx, ty) {
				bx, by, best = x, y, gain
			}
		}
	}
	if bx < 0 {
		return false
	}
	tx, ty := tm.team[bx], tm.team[by]
	d := tm.sum[by] - tm.sum[bx]
	tm.totals[tx] += d
	tm.totals[ty] -= d
	tm.team[bx], tm.team[by] = ty, tx
	return true
}

// teamPair is two members on one team.
type teamPair struct {
	team, a, b, size int
	sum              float64
}

// swapTwo makes the best swap of two members of one team for two of
// another with as many players, if one helps. It finds the even splits
// that single swaps miss, e.g. 1+4+6+7 against 2+3+5+8.
func (tm *teamer) swapTwo() bool {
	tm.pairs = tm.pairs[:0]
	for x := range tm.team {
		for y := x + 1; y < len(tm.team); y++ {
			if tm.team[x] == tm.team[y] {
				tm.pairs = append(tm.pairs, teamPair{tm.team[x], x, y, tm.size[x] + tm.size[y], tm.sum[x] + tm.sum[y]})
			}
		}
	}
	bi, bj, best := -1, -1, 0.0
	for i, p := range tm.pairs {
		for j := i + 1; j < len(tm.pairs); j++ {
			q := tm.pairs[j]
			if p.team == q.team || p.size != q.size {
				continue
			}
			gain := tm.gain(p.team, q.team, q.sum-p.sum)
			if tm.worth(gain, best, p.team, q.team) {
				bi, bj, best = i, j, gain
			}
		}
	}
	if bi < 0 {
		return false
	}
	p, q := tm.pairs[bi], tm.pairs[bj]
	d := q.sum - p.sum
	tm.totals[p.team] += d
	tm.totals[q.team] -= d
	tm.team[p.a], tm.team[p.b], tm.team[q.a], tm.team[q.b] = q.team, q.team, p.team, p.team
	return true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
