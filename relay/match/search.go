package match

import (
	"math"
	"math/bits"
)

// search extends f.g1 with the candidates from index i on, depth first,
// taking each before leaving it out. It returns true, leaving f.g1 full,
// at the first full group; it copies the first group that may start
// short of players to f.g2.
func (f *former) search(i int) bool {
	g, r := &f.g1, f.r
	if g.full(r) {
		return true
	}
	if f.budget == 0 {
		return false
	}
	f.budget--
	// Prune: count the players who could still join (ignoring seats and
	// teams), up to what either goal needs.
	wantStart := !f.haveStart && r.MinPlayers < r.MaxPlayers
	avail, need := 0, r.MaxPlayers-g.players
	f.work++
	for _, p := range f.cands[i:] {
		if avail >= need {
			break
		}
		f.work++
		if g.accepts(p) {
			avail += int(g.b.size[p])
		}
	}
	if (avail < need || !f.fullPossible) && (!wantStart || g.players+avail < r.MinPlayers) {
		return false
	}
	if i == len(f.cands) {
		if wantStart && g.startable(r, f.now, &f.pk) {
			f.g2.copyFrom(g)
			f.haveStart = true
		}
		return false
	}
	saved := g.save()
	if g.tryAdd(f.cands[i], r, &f.pk) {
		if f.search(i + 1) {
			return true
		}
		g.restore(saved)
	}
	return f.search(i + 1)
}

// skillBound returns the most players that a group of a and any of cands
// can hold as far as skills go: an upper bound, regions, seats and teams
// aside. A group's skills span [L, H], the skills of two members; a
// ticket x can be in it if L and H are within its window, and every such
// ticket can be in it at once (each one's window holds the whole span).
// So the bound is the most players over the pairs (L, H) around a's skill.
// With the tickets as bits, that is two masks and a count per pair.
// Past 63 candidates it returns MaxInt (no bound).
func (f *former) skillBound(b *bucket, a int32, cands []int32) int {
	n := len(cands) + 1
	if n > 64 {
		return math.MaxInt
	}
	// The tickets' skills, windows and sizes, a last, in local arrays.
	f.bs, f.bw, f.bn = resize(f.bs, n), resize(f.bw, n), resize(f.bn, n)
	for i, p := range cands {
		f.bs[i], f.bw[i], f.bn[i] = b.skill[p], b.window[p], int(b.size[p])
	}
	f.bs[n-1], f.bw[n-1], f.bn[n-1] = b.skill[a], b.window[a], int(b.size[a])
	f.work += n
	return f.bound()
}

// futureBound is skillBound at time t, were no ticket to come or go: the
// windows then, and the tickets that will accept a and a them by then.
// Windows only widen, so it bounds every time up to t as well.
func (f *former) futureBound(b *bucket, a int32, t int64) int {
	r := &b.q.rules
	sa, ma, wa := b.skill[a], b.mask[a], r.window(t-b.enq[a])
	i, j := b.skillRange(int(a), sa-wa, sa+wa)
	f.bs, f.bw, f.bn = f.bs[:0], f.bw[:0], f.bn[:0]
	for x := int32(i); x < int32(j); x++ {
		f.work++
		if x == a || b.mask[x]&ma == 0 {
			continue
		}
		w := r.window(t - b.enq[x])
		if math.Abs(b.skill[x]-sa) > w {
			continue
		}
		if len(f.bs) == 63 {
			return math.MaxInt
		}
		f.bs, f.bw, f.bn = append(f.bs, b.skill[x]), append(f.bw, w), append(f.bn, int(b.size[x]))
	}
	f.bs, f.bw, f.bn = append(f.bs, sa), append(f.bw, wa), append(f.bn, int(b.size[a]))
	return f.bound()
}

// bound computes skillBound from f.bs, f.bw and f.bn (skills, windows and
// sizes, the anchor last).
func (f *former) bound() int {
	n := len(f.bs)
	s, w, sa := f.bs, f.bw, f.bs[n-1]
	f.work += n * n / 2
	solo := true
	for _, v := range f.bn {
		solo = solo && v == 1
	}
	// low[i]: the tickets whose windows reach down to L = s[i] from at or
	// above it, for L at or below a; high[i]: up to H = s[i] from at or
	// below it, for H at or above a.
	f.low, f.high = resize(f.low, n), resize(f.high, n)
	for i, v := range s {
		var lo, hi uint64
		if v <= sa {
			for x, sx := range s {
				if sx >= v && sx-w[x] <= v {
					lo |= 1 << x
				}
			}
		}
		if v >= sa {
			for x, sx := range s {
				if sx <= v && sx+w[x] >= v {
					hi |= 1 << x
				}
			}
		}
		f.low[i], f.high[i] = lo, hi
	}
	anchor := uint64(1) << (n - 1)
	best := 0
	for _, lo := range f.low {
		if lo&anchor == 0 {
			continue
		}
		for _, hi := range f.high {
			e := lo & hi
			if e&anchor == 0 {
				continue
			}
			players := bits.OnesCount64(e)
			if !solo {
				players = 0
				for x := e; x != 0; x &= x - 1 {
					players += f.bn[bits.TrailingZeros64(x)]
				}
			}
			best = max(best, players)
		}
	}
	return best
}

// sizesCanFill reports whether tickets of the sizes among a and the
// candidates could fill a team (in free-for-all, a match) exactly, taking
// each size as often as needed: a cheap test that rules out, say, a queue
// of parties of three for teams of four.
func (f *former) sizesCanFill(b *bucket, a int32, cands []int32, r *queueRules) bool {
	var set sizeSet
	set.add(int(b.size[a]))
	for _, p := range cands {
		set.add(int(b.size[p]))
	}
	return set.canFill(r.teamCap(), &f.reach)
}

// sizeSet is a set of ticket sizes (1 to MaxMatchPlayers).
type sizeSet [MaxMatchPlayers/64 + 1]uint64

func (s *sizeSet) add(n int)      { s[n>>6] |= 1 << (n & 63) }
func (s *sizeSet) has(n int) bool { return s[n>>6]&(1<<(n&63)) != 0 }

// canFill reports whether sizes of the set, each taken as often as
// needed, can sum to target; reach is scratch.
func (s *sizeSet) canFill(target int, reach *[]bool) bool {
	if s.has(1) {
		return true
	}
	// (*reach)[t]: some sizes sum to t.
	rc := resize(*reach, target+1)
	*reach = rc
	clear(rc)
	rc[0] = true
	for t := 2; t <= target; t++ {
		for w, word := range s {
			for ; word != 0 && !rc[t]; word &= word - 1 {
				if n := w<<6 | bits.TrailingZeros64(word); n <= t && rc[t-n] {
					rc[t] = true
				}
			}
		}
	}
	return rc[target]
}
