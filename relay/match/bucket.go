package match

import (
	"cmp"
	"math/bits"
	"slices"
)

// bucket holds the tickets of one mode with equal properties: only they
// can share a match. It keeps them in two orders: by age, to serve the
// longest-waiting first, and by skill, to find the tickets within a skill
// window by binary search. The skill order is a struct of arrays, so a
// scan over a window reads contiguous memory and never a ticket.
//
// Tickets that leave between runs only get their mask zeroed (no scan
// accepts a zero mask); the arrays are compacted, and tickets added since
// the last run merged in, at the start of the bucket's next run.
type bucket struct {
	q     *queue
	key   string
	props map[string]string

	byAge   []*ticket // oldest first: Enqueued, then order of Add
	pending []*ticket // added since the last run began merging
	merging []*ticket // being merged in by the run under way
	dead    int       // tickets that left since the last run began merging
	live    int       // queued tickets, pending ones included
	dropped bool      // forgotten; its queue's order drops it at the run's end
	stale   bool      // rebuild is under way: the arrays are out of date

	// In skill order (ties: order of Add).
	tix     []*ticket
	skill   []float64
	mask    []uint64 // accepted regions; 0 once the ticket has left
	window  []float64
	size    []int32 // players
	enq     []int64
	rank    []int32 // index in byAge
	recheck []int64 // the ticket cannot anchor a match before this (recheck.go)
	agePos  []int32 // byAge as indices into the arrays above

	// Whether the sizes of the tickets in the arrays (some may have left
	// since) can fill a team exactly: see formMatches.
	fillable bool

	spare     []*ticket // merge buffer
	arrived   []*ticket // merged in by the last rebuild
	backfills []*backfill
}

func olderFirst(a, b *ticket) int {
	if c := cmp.Compare(a.enq, b.enq); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func lowerSkillFirst(a, b *ticket) int {
	if c := cmp.Compare(a.skill, b.skill); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// mergeChunk is how many new tickets rebuild merges in at a time: a
// Step's budget can end between chunks, so that a burst of arrivals is
// merged over several Steps.
const mergeChunk = 1024

// rebuild drops the tickets that left, merges in the pending ones and
// refreshes the skill-ordered arrays; it does nothing when no ticket came
// or went. It reports false if the Step's budget ran out first; the next
// call (with the same m.run) goes on where it stopped. Tickets added
// meanwhile wait for the next run.
//
// Until the arrays are refreshed, b.stale tells remove to leave them
// alone: a ticket that leaves meanwhile gets mask 0 from the refresh.
func (m *Matchmaker) rebuild(b *bucket) bool {
	f, r := &m.form, &m.run
	if r.next == 0 {
		b.arrived = b.arrived[:0]
		if b.dead == 0 && len(b.pending) == 0 {
			return true
		}
		if !m.affords(len(b.tix)) {
			return false
		}
		// Drop the tickets that left: those whose mask is 0 (the arrays
		// are up to date, and reading them is cheaper than reading every
		// ticket). The skill order first: releasing a ticket (in the age
		// pass) makes it reusable.
		n := 0
		for i, t := range b.tix {
			if b.mask[i] != 0 {
				b.tix[n] = t
				n++
			}
		}
		clear(b.tix[n:])
		b.tix = b.tix[:n]
		n = 0
		for i, t := range b.byAge {
			if b.mask[b.agePos[i]] != 0 {
				b.byAge[n] = t
				n++
			} else {
				m.free = append(m.free, t)
			}
		}
		clear(b.byAge[n:])
		b.byAge = b.byAge[:n]
		b.stale = true
		b.merging, b.pending = b.pending, b.merging[:0]
		// Room for every ticket in the three slices the merges rotate,
		// once, rather than growing them chunk by chunk.
		total := len(b.tix) + len(b.merging)
		b.tix = slices.Grow(b.tix, total-len(b.tix))
		b.byAge = slices.Grow(b.byAge, total-len(b.byAge))
		b.spare = slices.Grow(b.spare[:0], total)
		b.dead = 0
		f.work += len(b.tix)
		r.next = 1 // then 1 + the tickets of merging taken
	}
	for r.next-1 < len(b.merging) {
		from := r.next - 1
		chunk := b.merging[from:min(len(b.merging), from+mergeChunk)]
		cost := 2*len(chunk)*bits.Len(uint(len(chunk))) + 4*(len(b.tix)+len(chunk))
		if !m.affords(cost) {
			return false
		}
		f.work += cost
		r.next += len(chunk)
		pending := keepQueued(chunk, m)
		if len(pending) == 0 {
			continue
		}
		b.arrived = append(b.arrived, pending...)
		if !slices.IsSortedFunc(pending, olderFirst) { // usually sorted: Add order
			slices.SortFunc(pending, olderFirst)
		}
		if len(b.byAge) == 0 || olderFirst(pending[0], b.byAge[len(b.byAge)-1]) > 0 {
			b.byAge = append(b.byAge, pending...) // all younger: usual
		} else {
			merged := merge(b.spare[:0], b.byAge, pending, olderFirst)
			b.byAge, b.spare = merged, b.byAge
		}
		slices.SortFunc(pending, lowerSkillFirst)
		merged := merge(b.spare[:0], b.tix, pending, lowerSkillFirst)
		b.tix, b.spare = merged, b.tix
	}
	clear(b.merging)
	b.merging = b.merging[:0]

	n := len(b.tix)
	if !m.affords(4 * n) {
		return false
	}
	b.skill = resize(b.skill, n)
	b.mask = resize(b.mask, n)
	b.window = resize(b.window, n)
	b.size = resize(b.size, n)
	b.enq = resize(b.enq, n)
	b.rank = resize(b.rank, n)
	b.recheck = resize(b.recheck, n)
	b.agePos = resize(b.agePos, n)
	var sizes sizeSet
	for i, t := range b.tix {
		t.pos = int32(i)
		sizes.add(len(t.players))
		mask := t.mask
		if t.gone { // left during the merge: dropped by the next run
			mask = 0
		}
		b.skill[i], b.mask[i], b.size[i], b.enq[i], b.recheck[i] = t.skill, mask, int32(len(t.players)), t.enq, t.recheck
	}
	for i, t := range b.byAge {
		b.agePos[i] = t.pos
		b.rank[t.pos] = int32(i)
	}
	b.fillable = sizes.canFill(b.q.rules.teamCap(), &f.reach)
	b.stale = false
	f.work += 4*n + b.q.rules.teamCap()
	return true
}

// keepQueued removes the tickets that left from ts, in place, giving them
// to m for reuse if m is not nil.
func keepQueued(ts []*ticket, m *Matchmaker) []*ticket {
	n := 0
	for _, t := range ts {
		if t.gone {
			if m != nil {
				m.free = append(m.free, t)
			}
			continue
		}
		ts[n] = t
		n++
	}
	clear(ts[n:])
	return ts[:n]
}

// merge appends to dst the sorted a and b, merged.
func merge(dst, a, b []*ticket, less func(x, y *ticket) int) []*ticket {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if less(b[j], a[i]) < 0 {
			dst = append(dst, b[j])
			j++
		} else {
			dst = append(dst, a[i])
			i++
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

// dropBucket forgets b, which holds no queued ticket and no open backfill.
// Its queue's order keeps it until the end of the run under way.
func (m *Matchmaker) dropBucket(b *bucket) {
	for _, t := range b.byAge {
		m.free = append(m.free, t)
	}
	for _, t := range b.pending {
		m.free = append(m.free, t)
	}
	clear(b.byAge)
	clear(b.tix)
	clear(b.pending)
	b.byAge, b.tix, b.pending = b.byAge[:0], b.tix[:0], b.pending[:0]
	b.dropped = true
	delete(b.q.buckets, b.key)
}

// skillRange returns the indices [i, j) of the tickets with skill in
// [lo, hi], searching outwards from index p, which is in the range. The
// search gallops (steps 1, 2, 4, … then bisects), so it costs the log of
// the range's size, not of the bucket's.
func (b *bucket) skillRange(p int, lo, hi float64) (int, int) {
	s := b.skill
	// Lower end: s[in] >= lo; s[out] < lo or out is -1.
	in, out := p, -1
	for step := 1; ; step *= 2 {
		k := in - step
		if k < 0 {
			break
		}
		if s[k] < lo {
			out = k
			break
		}
		in = k
	}
	for in-out > 1 {
		mid := int(uint(in+out) >> 1)
		if mid < 0 || s[mid] < lo {
			out = mid
		} else {
			in = mid
		}
	}
	i := in
	// Upper end: s[in] <= hi; s[out] > hi or out is len(s).
	in, out = p, len(s)
	for step := 1; ; step *= 2 {
		k := in + step
		if k >= len(s) {
			break
		}
		if s[k] > hi {
			out = k
			break
		}
		in = k
	}
	for out-in > 1 {
		mid := int(uint(in+out) >> 1)
		if s[mid] > hi {
			out = mid
		} else {
			in = mid
		}
	}
	return i, out
}

// searchRange returns the indices [i, j) of the tickets with skill in
// [lo, hi] by bisection.
func (b *bucket) searchRange(lo, hi float64) (int, int) {
	i, _ := slices.BinarySearch(b.skill, lo) // first >= lo
	j := i
	for n := len(b.skill) - i; n > 0; {
		half := n / 2
		if b.skill[j+half] <= hi {
			j += half + 1
			n -= half + 1
		} else {
			n = half
		}
	}
	return i, j
}
