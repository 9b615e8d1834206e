package match

import (
	"cmp"
	"math"
	"slices"
)

// ageScanMin is the smallest skill range scanned in age order instead of
// skill order; see tryAnchor.
const ageScanMin = 64

// former is the scratch space of forming matches, reused across Steps.
type former struct {
	cands  []int32 // compatible tickets, as indices into the bucket's arrays
	g1, g2 group
	pk     packer
	teams  teamer
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

// formMatches forms matches from the tickets of b, the oldest ticket first.
func (m *Matchmaker) formMatches(b *bucket, now int64, out *Results) {
	for _, p := range b.agePos {
		if b.mask[p] != 0 {
			m.tryAnchor(b, p, now, out)
		}
	}
}

// tryAnchor forms a match around ticket a, the oldest ticket left that has
// not been tried, if one can start now.
//
// The candidates are the tickets that share a region with a and whose skill
// is within a's window and a within theirs. They are added oldest first,
// each if the group stays valid (tryAdd), until the match is full. If it
// is not, and some candidate was left out, the candidates are tried again
// nearest skill first, which finds a tight group that the oldest-first
// pass can miss when an old ticket at one end of a's window shuts out the
// other end. A full group wins, then the oldest-first group if it may start
// short of players, then the nearest-first one.
//
// When a's window holds few tickets, they are gathered from the skill
// order and sorted by age; when it holds many (a game that barely uses
// skill), the age order is scanned and the scan stops as soon as the match
// is full, so a Step costs about the size of the matches it forms, not the
// square of the queue.
func (m *Matchmaker) tryAnchor(b *bucket, a int32, now int64, out *Results) {
	r := &b.q.rules
	f := &m.form
	sa, wa, ma := b.skill[a], b.window[a], b.mask[a]
	g := &f.g1
	g.reset(b, a)
	have := g.players // players of the candidates and a
	cands := f.cands[:0]
	defer func() { f.cands = cands[:0] }()

	i, j := b.skillRange(int(a), sa-wa, sa+wa)
	if c := j - i; c > ageScanMin && c*c > 2*r.MaxPlayers*len(b.agePos) {
		for _, p := range b.agePos {
			if p == a || b.mask[p]&ma == 0 {
				continue
			}
			if d := math.Abs(b.skill[p] - sa); d > wa || d > b.window[p] {
				continue
			}
			cands = append(cands, p)
			have += int(b.size[p])
			if g.tryAdd(p, r, &f.pk) && g.full(r) {
				m.emit(b, g, out)
				return
			}
		}
		if have < r.MinPlayers {
			return
		}
	} else {
		for p := int32(i); p < int32(j); p++ {
			if p == a || b.mask[p]&ma == 0 || math.Abs(b.skill[p]-sa) > b.window[p] {
				continue
			}
			cands = append(cands, p)
			have += int(b.size[p])
		}
		if have < r.MinPlayers {
			return
		}
		rank := b.rank
		slices.SortFunc(cands, func(x, y int32) int { return cmp.Compare(rank[x], rank[y]) })
		for _, p := range cands {
			if g.tryAdd(p, r, &f.pk) && g.full(r) {
				m.emit(b, g, out)
				return
			}
		}
	}
	oldestFirstOK := g.startable(r, now, &f.pk)
	if have > g.players {
		skill, rank := b.skill, b.rank
		slices.SortFunc(cands, func(x, y int32) int {
			if c := cmp.Compare(math.Abs(skill[x]-sa), math.Abs(skill[y]-sa)); c != 0 {
				return c
			}
			return cmp.Compare(rank[x], rank[y])
		})
		g2 := &f.g2
		g2.reset(b, a)
		for _, p := range cands {
			if g2.tryAdd(p, r, &f.pk) && g2.full(r) {
				break
			}
		}
		if g2.full(r) || !oldestFirstOK && g2.startable(r, now, &f.pk) {
			slices.SortFunc(cands, func(x, y int32) int { return cmp.Compare(rank[x], rank[y]) })
			f.preferOlder(g2, cands, r)
			m.emit(b, g2, out)
			return
		}
	}
	if oldestFirstOK {
		m.emit(b, g, out)
	}
}

// preferOlder replaces members of g, a group formed nearest skill first,
// by older candidates (cands, oldest first) left out of it, while one can
// take the place of a newer member of the same size and the group stays
// valid. After it, no candidate left out could have had the place of a
// newer one.
func (f *former) preferOlder(g *group, cands []int32, r *queueRules) {
	b := g.b
	rank := b.rank
	byRank := func(x, y int32) int { return cmp.Compare(rank[x], rank[y]) }
	slices.SortFunc(g.members[1:], byRank) // members[0] is the anchor
	t := &f.g1                             // the oldest-first group is no longer needed
	for _, x := range cands {
		if slices.Contains(g.members, x) {
			continue
		}
		// The newest member goes first: it has the least claim.
		for k := len(g.members) - 1; k >= 1 && rank[g.members[k]] > rank[x]; k-- {
			y := g.members[k]
			if b.size[y] != b.size[x] {
				continue
			}
			t.reset(b, g.members[0])
			ok := true
			for _, p := range g.members[1:] {
				if p == y {
					p = x
				}
				if ok = t.tryAdd(p, r, &f.pk); !ok {
					break
				}
			}
			if ok {
				*g, *t = *t, *g
				slices.SortFunc(g.members[1:], byRank)
				break
			}
		}
	}
}

// emit reports the group as a match and takes its tickets out of the queue.
func (m *Matchmaker) emit(b *bucket, g *group, out *Results) {
	r := &b.q.rules
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
