package match

import (
	"math"
	"math/bits"
	"slices"
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
// can hold as far as skills go, or some number of at least enough if that
// is more: an upper bound, regions, seats and teams aside. A group's
// skills span [L, H], the skills of two members; a ticket x can be in it
// if L and H are within its window, and every such ticket can be in it at
// once (each one's window holds the whole span). So the bound is the most
// players over the pairs (L, H) around a's skill. With the tickets as
// bits, that is two masks and a count per pair. Past 63 candidates it
// returns MaxInt (no bound).
func (f *former) skillBound(b *bucket, a int32, cands []int32, enough int) int {
	n := len(cands) + 1
	if n > 64 {
		return math.MaxInt
	}
	// The tickets in skill order (their indices), then their skills,
	// windows and sizes in local arrays.
	f.order = append(append(f.order[:0], cands...), a)
	slices.Sort(f.order)
	f.bs, f.bw, f.bn = resize(f.bs, n), resize(f.bw, n), resize(f.bn, n)
	ia := 0
	for i, p := range f.order {
		f.bs[i], f.bw[i], f.bn[i] = b.skill[p], b.window[p], int(b.size[p])
		if p == a {
			ia = i
		}
	}
	f.work += n
	return f.bound(ia, enough)
}

// futureBound is skillBound at time t, were no ticket to come or go: the
// windows then, and the tickets that will accept a and a them by then.
// Windows only widen, so it bounds every time up to t as well.
func (f *former) futureBound(b *bucket, a int32, t int64, enough int) int {
	r := &b.q.rules
	sa, ma, wa := b.skill[a], b.mask[a], r.window(t-b.enq[a])
	i, j := b.skillRange(int(a), sa-wa, sa+wa)
	f.bs, f.bw, f.bn = f.bs[:0], f.bw[:0], f.bn[:0]
	ia := 0
	for x := int32(i); x < int32(j); x++ {
		f.work++
		w := r.window(t - b.enq[x])
		if x == a {
			ia = len(f.bs)
		} else if b.mask[x]&ma == 0 || math.Abs(b.skill[x]-sa) > w {
			continue
		}
		if len(f.bs) == 64 {
			return math.MaxInt
		}
		f.bs, f.bw, f.bn = append(f.bs, b.skill[x]), append(f.bw, w), append(f.bn, int(b.size[x]))
	}
	return f.bound(ia, enough)
}

// bound computes skillBound from f.bs, f.bw and f.bn: skills in ascending
// order, windows and sizes, the anchor at index ia. It stops at the first
// pair (L, H) that holds enough players.
//
// Ticket x is in the group of (L, H) if L <= s[x] <= H and its window
// reaches down to L (s[x]-w[x] <= L) and up to H (s[x]+w[x] >= H). The
// skills being sorted, the first two conditions are a range of bits, and
// the tickets whose windows reach down to L = s[i] are those whose lowest
// reach is at most s[i]: found for every i at once by marking each ticket
// at the first index its window reaches and OR-ing the marks from the
// left (from the right for H). So the masks cost a binary search per
// ticket, not a pass per pair.
func (f *former) bound(ia, enough int) int {
	n := len(f.bs)
	s, w, sz := f.bs, f.bw, f.bn
	f.work += 4*n + n*n/8
	f.low, f.high = resize(f.low, n), resize(f.high, n)
	clear(f.low)
	clear(f.high)
	for x := range n {
		// First index whose skill is at least s[x]-w[x]: at most x.
		lo, hi := 0, x
		for lo < hi {
			if mid := int(uint(lo+hi) >> 1); s[mid] < s[x]-w[x] {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		f.low[lo] |= 1 << x
		// Last index whose skill is at most s[x]+w[x]: at least x.
		lo, hi = x, n-1
		for lo < hi {
			if mid := int(uint(lo+hi+1) >> 1); s[mid] > s[x]+w[x] {
				hi = mid - 1
			} else {
				lo = mid
			}
		}
		f.high[lo] |= 1 << x
	}
	// low[i]: the tickets reaching down to s[i]; high[j]: up to s[j].
	for i := 1; i < n; i++ {
		f.low[i] |= f.low[i-1]
	}
	for j := n - 2; j >= 0; j-- {
		f.high[j] |= f.high[j+1]
	}
	solo := true
	for _, v := range sz {
		solo = solo && v == 1
	}
	players := func(set uint64) int {
		if solo {
			return bits.OnesCount64(set)
		}
		c := 0
		for ; set != 0; set &= set - 1 {
			c += sz[bits.TrailingZeros64(set)]
		}
		return c
	}
	anchor := uint64(1) << ia
	sa := s[ia]
	best := 0
	// L runs over the skills at or below a's (each value once: the first
	// index holding it), H over those at or above it (the last index).
	for i := 0; i < n && s[i] <= sa; i++ {
		if i > 0 && s[i] == s[i-1] {
			continue
		}
		lo := f.low[i] &^ (1<<i - 1) // and s[x] >= s[i]
		if lo&anchor == 0 || players(lo) <= best {
			continue
		}
		for j := n - 1; j >= 0 && s[j] >= sa; j-- {
			if j < n-1 && s[j] == s[j+1] {
				continue
			}
			e := lo & f.high[j]
			if j < 63 {
				e &= 1<<(j+1) - 1 // and s[x] <= s[j]
			}
			if e&anchor == 0 {
				continue
			}
			if c := players(e); c > best {
				if best = c; best >= enough {
					return best
				}
			}
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
