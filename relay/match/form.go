package match

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// ageScanMin is the smallest skill range scanned in age order instead of
// skill order; see tryAnchor.
const ageScanMin = 64

// ageScanCap bounds the candidates of one anchor scanned in age order, in
// matches' worth of players: the oldest 32 matches' worth. A full match
// is all but always found among them; when it is not (say, thousands of
// parties that cannot share teams), the bound keeps a run from costing
// the square of the queue.
const ageScanCap = 32

// former is the scratch space of forming matches, reused across Steps.
type former struct {
	// work is the work done in this Step, in the units of
	// Config.StepBudget: about one ticket looked at.
	work    int
	cands   []int32 // compatible tickets, as indices into the bucket's arrays
	waiting []int32 // anchors of the bucket under way that formed no match in this run, oldest first
	g1      group   // the group being formed
	g2      group   // the first group found that may start short of players
	pk      packer
	teams   teamer

	// The search's state.
	now          int64
	r            *queueRules
	budget       int
	haveStart    bool
	fullPossible bool

	// skillBound's and recheckAt's scratch.
	order     []int32
	low, high []uint64
	bs, bw    []float64
	bn        []int
	times     []timedSize
	reach     []bool // sizeSet.canFill's scratch

	// What recheckAt needs to know of the last anchor tried.
	lo, hi     int  // its skill range
	capped     bool // its candidates are the oldest ageScanCap matches' worth, not all
	searched   bool // the search ran (budget tells whether it finished)
	skillShort bool // it failed because skills allow no group of MinPlayers
}

// group is a match being formed: tickets that all accept one another.
type group struct {
	b        *bucket
	members  []int32
	players  int
	lo, hi   float64 // every member accepts a skill in [lo, hi]
	min, max float64 // the members' skills
	mask     uint64  // regions every member accepts
	oldest   int64
	parties  []int // sizes of the members of more than one player
}

func (g *group) reset(b *bucket, p int32) {
	s, w, n := b.skill[p], b.window[p], int(b.size[p])
	g.b = b
	g.members = append(g.members[:0], p)
	g.players = n
	g.lo, g.hi, g.min, g.max = s-w, s+w, s, s
	g.mask = b.mask[p]
	g.oldest = b.enq[p]
	g.parties = g.parties[:0]
	if n > 1 {
		g.parties = append(g.parties, n)
	}
}

// tryAdd adds ticket p if the group stays a valid (possibly partial)
// match: within MaxPlayers, a shared region, every skill in every
// member's window, and with teams, its parties still fit on teams.
func (g *group) tryAdd(p int32, r *queueRules, pk *packer) bool {
	b := g.b
	s, w, n := b.skill[p], b.window[p], int(b.size[p])
	if g.players+n > r.MaxPlayers || g.mask&b.mask[p] == 0 ||
		s < g.lo || s > g.hi || g.min < s-w || g.max > s+w {
		return false
	}
	if n > 1 {
		g.parties = append(g.parties, n)
		if r.Teams > 0 && len(g.parties) > 1 && !pk.fits(g.parties, r.Teams, r.TeamSize, r.TeamSize, r.Teams) {
			g.parties = g.parties[:len(g.parties)-1]
			return false
		}
	}
	g.members = append(g.members, p)
	g.players += n
	g.lo, g.hi = max(g.lo, s-w), min(g.hi, s+w)
	g.min, g.max = min(g.min, s), max(g.max, s)
	g.mask &= b.mask[p]
	g.oldest = min(g.oldest, b.enq[p])
	return true
}

// accepts reports whether ticket p and the group accept each other's
// regions and skills (seats and teams aside).
func (g *group) accepts(p int32) bool {
	b := g.b
	s, w := b.skill[p], b.window[p]
	return g.mask&b.mask[p] != 0 && s >= g.lo && s <= g.hi && g.min >= s-w && g.max <= s+w
}

// groupState is what tryAdd changes, for undoing it.
type groupState struct {
	members, parties, players int
	lo, hi, min, max          float64
	mask                      uint64
	oldest                    int64
}

func (g *group) save() groupState {
	return groupState{len(g.members), len(g.parties), g.players, g.lo, g.hi, g.min, g.max, g.mask, g.oldest}
}

func (g *group) restore(s groupState) {
	g.members, g.parties = g.members[:s.members], g.parties[:s.parties]
	g.players, g.lo, g.hi, g.min, g.max, g.mask, g.oldest = s.players, s.lo, s.hi, s.min, s.max, s.mask, s.oldest
}

func (g *group) copyFrom(o *group) {
	members, parties := append(g.members[:0], o.members...), append(g.parties[:0], o.parties...)
	*g = *o
	g.members, g.parties = members, parties
}

func (g *group) full(r *queueRules) bool { return g.players == r.MaxPlayers }

// startable reports whether the group may start as it is: full, or at
// least MinPlayers once its oldest ticket has waited FillWait, with teams
// that can be balanced in size.
func (g *group) startable(r *queueRules, now int64, pk *packer) bool {
	switch {
	case g.players == r.MaxPlayers:
		return true
	case g.players < r.MinPlayers || now-g.oldest < r.fillWait:
		return false
	case r.Teams == 0 || len(g.parties) == 0:
		return true
	}
	lo, over := g.players/r.Teams, g.players%r.Teams
	return pk.fits(g.parties, r.Teams, lo+min(over, 1), lo, over)
}

// formMatches forms matches from the tickets of b, the oldest ticket
// first, from the anchor m.run.next on. It reports false if the Step's
// budget ran out first; the next call goes on from there (f.waiting keeps
// the anchors that failed before).
func (m *Matchmaker) formMatches(b *bucket, now int64, out *Results) bool {
	f, r := &m.form, &m.run
	if q := &b.q.rules; q.MinPlayers == q.MaxPlayers && !b.fillable {
		// No full match can form from the sizes of the tickets queued
		// (parties of three for teams of four), and no other may start:
		// every ticket waits for a ticket of another size. This changes
		// no result, and a queue that cannot match costs nothing.
		return true
	}
	for ; r.next < len(b.agePos); r.next++ {
		p := b.agePos[r.next]
		switch {
		case b.mask[p] == 0:
		case b.recheck[p] > now && !m.alwaysTry:
			f.waiting = append(f.waiting, p) // cannot match yet: see recheck.go
		case m.spent():
			return false
		case !m.tryAnchor(b, r.next, now, out):
			f.waiting = append(f.waiting, p)
			b.recheck[p] = f.recheckAt(b, p, now)
			b.tix[p].recheck = b.recheck[p]
		}
		f.work++
	}
	return true
}

// searchBudget bounds the groups one anchor's search tries after the
// oldest-first pass fails to fill a match. Past it, the anchor waits for
// the next run (where its window is wider or the queue has changed).
const searchBudget = 256

// tryAnchor forms a match around ticket a = b.agePos[k], the oldest ticket
// not yet tried, if one can start now, and reports whether it did.
//
// The candidates are the tickets that share a region with a and whose
// skill is within a's window and a within theirs. The match formed is the
// first valid group in age order: the one that takes the oldest candidate
// that can be part of a full match, then the next oldest that can, and so
// on. The first try adds candidates oldest first while the group stays
// valid (tryAdd); it fills the match in the common case. When it does not
// (an old ticket at one end of a's window shuts out the other end, or a
// party leaves too few seats for the rest), a depth-first search over the
// candidates in age order, taking each before leaving it out, finds the
// first full group, pruning every branch whose remaining candidates
// cannot fill it, within searchBudget steps. Failing a full group, the
// first group of the search that may start short of players (at least
// MinPlayers, FillWait passed) starts.
//
// When a's window holds few tickets, they are gathered from the skill
// order and sorted by age; when it holds many (a game that barely uses
// skill), the age order is scanned and the scan stops as soon as the match
// is full, so a Step costs about the size of the matches it forms, not the
// square of the queue.
func (m *Matchmaker) tryAnchor(b *bucket, k int, now int64, out *Results) bool {
	r := &b.q.rules
	f := &m.form
	a := b.agePos[k]
	sa, wa, ma := b.skill[a], b.window[a], b.mask[a]
	g := &f.g1
	g.reset(b, a)
	have := g.players // players of the candidates and a
	cands := f.cands[:0]
	defer func() { f.cands = cands }() // recheckAt reads them after a failure

	i, j := b.skillRange(int(a), sa-wa, sa+wa)
	f.lo, f.hi, f.capped, f.searched, f.skillShort = i, j, false, false, false
	if c := j - i; c > ageScanMin && c*c > 2*r.MaxPlayers*len(b.agePos) {
		// In age order: the older tickets still queued are the anchors
		// that failed before a (f.waiting), the younger ones follow a.
	scan:
		for _, older := range [2][]int32{f.waiting, b.agePos[k+1:]} {
			for _, p := range older {
				if have >= ageScanCap*r.MaxPlayers {
					f.capped = true
					break scan // enough of the oldest: see ageScanCap
				}
				f.work++
				if b.mask[p]&ma == 0 {
					continue
				}
				if d := math.Abs(b.skill[p] - sa); d > wa || d > b.window[p] {
					continue
				}
				cands = append(cands, p)
				have += int(b.size[p])
				if g.tryAdd(p, r, &f.pk) && g.full(r) {
					m.emit(b, g, out)
					return true
				}
			}
		}
		if have < r.MinPlayers {
			return false
		}
	} else {
		f.work += j - i
		for p := int32(i); p < int32(j); p++ {
			if p == a || b.mask[p]&ma == 0 || math.Abs(b.skill[p]-sa) > b.window[p] {
				continue
			}
			cands = append(cands, p)
			have += int(b.size[p])
		}
		if have < r.MinPlayers {
			return false
		}
		rank := b.rank
		slices.SortFunc(cands, func(x, y int32) int { return cmp.Compare(rank[x], rank[y]) })
		f.work += len(cands) * bits.Len(uint(len(cands)))
		for _, p := range cands {
			if g.tryAdd(p, r, &f.pk) && g.full(r) {
				m.emit(b, g, out)
				return true
			}
		}
	}
	// Before searching, bound the largest group the skills allow: in a
	// queue where tickets wait for their windows to widen, most anchors
	// with enough candidates have no valid group, and the bound says so
	// at a fraction of the search's cost.
	bound := f.skillBound(b, a, cands, r.MaxPlayers)
	if bound < r.MinPlayers {
		f.skillShort = true
		return false
	}
	// The oldest-first group is the search's first leaf: when no full
	// group can exist, it is the one to start if it may.
	f.fullPossible = have >= r.MaxPlayers && bound >= r.MaxPlayers && f.sizesCanFill(b, a, cands, r)
	if !f.fullPossible && g.startable(r, now, &f.pk) {
		m.emit(b, g, out)
		return true
	}
	if !f.fullPossible && r.MinPlayers == r.MaxPlayers {
		return false
	}
	f.cands = cands
	f.now, f.r, f.budget, f.haveStart, f.searched = now, r, searchBudget, false, true
	g.reset(b, a)
	switch {
	case f.search(0):
		m.emit(b, g, out)
	case f.haveStart:
		m.emit(b, &f.g2, out)
	default:
		return false
	}
	return true
}

// emit reports the group as a match and takes its tickets out of the queue.
func (m *Matchmaker) emit(b *bucket, g *group, out *Results) {
	r := &b.q.rules
	// Leaving the queue, and the teams' swaps (teamer.assign).
	n := len(g.members)
	m.form.work += 48 * n
	if r.Teams > 0 {
		m.form.work += min(6*n*n, swapWork/2)
	}
	rank := b.rank
	slices.SortFunc(g.members, func(x, y int32) int { return cmp.Compare(rank[x], rank[y]) })
	teams := m.form.teams.assign(b, g, r, &m.form.pk)
	region := m.sharedRegion(b, g.members, g.mask)
	t0, p0 := len(out.tickets), len(out.players)
	var sum float64
	for i, p := range g.members {
		t := b.tix[p]
		out.appendTicket(t, teams[i])
		sum += t.sum
	}
	tickets, players := out.since(t0, p0)
	out.Matches = append(out.Matches, Match{
		Mode:    b.q.mode,
		Region:  region,
		Props:   b.props,
		Teams:   r.Teams,
		Skill:   sum / float64(g.players),
		Tickets: tickets,
		Players: players,
	})
	for _, p := range g.members {
		m.remove(b.tix[p])
	}
}

// sharedRegion picks the region of a match: the first region, in the
// preference of the oldest ticket that lists any, in the set all accept.
func (m *Matchmaker) sharedRegion(b *bucket, members []int32, shared uint64) string {
	for _, p := range members {
		for _, bit := range b.tix[p].regions {
			if shared&(1<<bit) != 0 {
				return m.regions.name(bit)
			}
		}
	}
	return ""
}
