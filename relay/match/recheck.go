package match

import (
	"math"
	"time"
)

// Skipping anchors that cannot match yet.
//
// In a queue where tickets wait for their windows to widen, most tickets
// tried as anchors form no match, run after run, and trying them all is
// most of a run's cost. A failed try is exact (every candidate group was
// ruled out; only a search that ran out of budget is not), and whether a
// group can form depends on nothing but its members: their skills and
// windows, regions and sizes. Tickets leaving cannot make a group
// possible. Only two things can:
//
//   - time: two tickets that do not accept each other come to, once both
//     windows reach the gap between them (or a group short of players may
//     start once its oldest ticket has waited FillWait);
//   - a new ticket.
//
// So after a failed try, recheckAt computes the earliest time any pair
// that matters could come to accept each other, and the anchor is not
// tried again before then; a new ticket brings that time forward for every
// ticket it will come to accept (arrivals). Skipping changes no result:
// TestSkippingChangesNothing runs the same queues with and without it.

// lookAhead is how far ahead recheckAt looks for a group that skills
// allow: a few runs of the queue.
func lookAhead(r *queueRules) int64 {
	return 4 * max(r.interval, int64(500*time.Millisecond))
}

// recheckMargin is taken off computed times, so that rounding never makes
// a run skip an anchor it should try.
const recheckMargin = int64(time.Millisecond)

// reachTime is when a ticket enqueued at enq has a window of at least d
// (MaxInt64: never, or not before it times out).
func (r *queueRules) reachTime(enq int64, d float64) int64 {
	switch {
	case d <= r.SkillWindow:
		return enq
	case r.nsPerSkill == 0 || r.MaxSkillWindow > 0 && d > r.MaxSkillWindow:
		return math.MaxInt64
	}
	ns := (d - r.SkillWindow) * r.nsPerSkill
	if ns >= float64(r.maxWait) {
		return math.MaxInt64
	}
	return enq + int64(ns)
}

// pairTime is when tickets x and y of b, a gap d apart, both have windows
// that hold it (MaxInt64: never while both are queued). Windows grow alike,
// so that is when the younger one's does.
func (b *bucket) pairTime(x, y int32, d float64) int64 {
	return b.q.rules.reachTime(max(b.enq[x], b.enq[y]), d)
}

// recheckAt returns when anchor a, whose try in this run just failed,
// should be tried again, from what tryAnchor left in f: its candidates,
// its skill range, and how its search ended.
//
// While a and its candidates hold fewer than MinPlayers players, no group
// can form before enough other tickets come to accept a (and a them):
// that time, found from the nearest tickets outwards, is usually seconds
// away. Otherwise the next change of any kind is: a pair of candidates, or
// a and another ticket, coming to accept each other, or a candidate
// passing FillWait.
func (f *former) recheckAt(b *bucket, a int32, now int64) int64 {
	if f.capped || f.searched && f.budget == 0 {
		return now // not exact: next run
	}
	r := &b.q.rules
	have := int(b.size[a])
	for _, x := range f.cands {
		have += int(b.size[x])
	}
	var next int64
	deficit := r.MinPlayers - have
	switch {
	case deficit > 0:
		next = f.enoughAt(b, a, deficit)
	case len(f.cands) > 64:
		return now // not worth the bookkeeping: next run
	default:
		next = f.nextChange(b, a, now)
	}
	// A pair coming to accept each other seldom makes enough of them:
	// when skills were what ruled a group out, look ahead.
	if ahead := now + lookAhead(r); f.skillShort && next < ahead && f.futureBound(b, a, ahead, r.MinPlayers) < r.MinPlayers {
		next = ahead
	}
	if next == math.MaxInt64 {
		return next
	}
	return next - recheckMargin
}

// enoughAt returns when tickets that do not accept a (or a them) yet,
// with at least deficit players, will have come to.
func (f *former) enoughAt(b *bucket, a int32, deficit int) int64 {
	r := &b.q.rules
	sa, ma := b.skill[a], b.mask[a]
	f.times = f.times[:0]
	by := int64(math.MaxInt64) // when the first f.times entries reach deficit
	consider := func(x int32, d float64) {
		t := b.pairTime(a, x, d)
		if t >= by {
			return
		}
		// Insert in time order, then keep only what reaches deficit.
		k := len(f.times)
		f.times = append(f.times, timedSize{})
		for ; k > 0 && f.times[k-1].t > t; k-- {
			f.times[k] = f.times[k-1]
		}
		f.times[k] = timedSize{t, int(b.size[x])}
		sum := 0
		for k, e := range f.times {
			if sum += e.n; sum >= deficit {
				f.times, by = f.times[:k+1], e.t
				break
			}
		}
	}
	f.work += f.hi - f.lo
	for x := int32(f.lo); x < int32(f.hi); x++ {
		if x != a && b.mask[x]&ma != 0 {
			if d := math.Abs(b.skill[x] - sa); d > b.window[x] {
				consider(x, d)
			}
		}
	}
	end := b.enq[a] + r.maxWait
	for x := int32(f.lo) - 1; x >= 0 && r.reachTime(b.enq[a], sa-b.skill[x]) < min(by, end); x-- {
		f.work++
		if b.mask[x]&ma != 0 {
			consider(x, sa-b.skill[x])
		}
	}
	for x := int32(f.hi); int(x) < len(b.skill) && r.reachTime(b.enq[a], b.skill[x]-sa) < min(by, end); x++ {
		f.work++
		if b.mask[x]&ma != 0 {
			consider(x, b.skill[x]-sa)
		}
	}
	return by
}

type timedSize struct {
	t int64
	n int
}

// nextChange returns when anything that decides whether a group around a
// can form next changes.
func (f *former) nextChange(b *bucket, a int32, now int64) int64 {
	r := &b.q.rules
	sa, ma := b.skill[a], b.mask[a]
	next := int64(math.MaxInt64)
	f.work += len(f.cands)*len(f.cands)/2 + f.hi - f.lo
	// Pairs of candidates that do not accept each other yet.
	for i, x := range f.cands {
		for _, y := range f.cands[i+1:] {
			d := math.Abs(b.skill[x] - b.skill[y])
			if d > b.window[x] || d > b.window[y] {
				next = min(next, b.pairTime(x, y, d))
			}
		}
	}
	// Tickets that do not accept a yet, or a them: within a's window...
	for x := int32(f.lo); x < int32(f.hi); x++ {
		if x != a && b.mask[x]&ma != 0 {
			if d := math.Abs(b.skill[x] - sa); d > b.window[x] {
				next = min(next, b.pairTime(a, x, d))
			}
		}
	}
	// ...and outside it, nearest first, until a's own window could not
	// reach further before the time found.
	end := b.enq[a] + r.maxWait
	for x := int32(f.lo) - 1; x >= 0 && r.reachTime(b.enq[a], sa-b.skill[x]) < min(next, end); x-- {
		f.work++
		if b.mask[x]&ma != 0 {
			next = min(next, b.pairTime(a, x, sa-b.skill[x]))
		}
	}
	for x := int32(f.hi); int(x) < len(b.skill) && r.reachTime(b.enq[a], b.skill[x]-sa) < min(next, end); x++ {
		f.work++
		if b.mask[x]&ma != 0 {
			next = min(next, b.pairTime(a, x, b.skill[x]-sa))
		}
	}
	// A group short of players may start once its oldest ticket has
	// waited FillWait, and any candidate may be a group's oldest.
	if r.MinPlayers < r.MaxPlayers {
		if t := b.enq[a] + r.fillWait; t > now {
			next = min(next, t)
		}
		for _, x := range f.cands {
			if t := b.enq[x] + r.fillWait; t > now {
				next = min(next, t)
			}
		}
	}
	return next
}

// arrivals brings forward the recheck time of every ticket of b that a
// ticket merged in by this run's rebuild will come to accept, from the
// arrival m.run.next on. It reports false if the Step's budget ran out
// first; the next call goes on from there.
func (m *Matchmaker) arrivals(b *bucket) bool {
	r, f, rules := &m.run, &m.form, &b.q.rules
	// Each arrival scans the tickets within its reach. When that comes to
	// more than a pass over the bucket (many arrivals, or windows that
	// reach everyone), making every ticket due is cheaper.
	limit := 32*len(b.skill) + 4096
	if r.next == 0 && 2*len(b.arrived) > len(b.skill) {
		r.work = limit + 1 // mostly new: all are due anyway
	}
	for ; r.next < len(b.arrived) && r.work <= limit; r.next++ {
		t := b.arrived[r.next]
		if t.gone { // timed out at once, or left during the run
			continue
		}
		if m.spent() {
			return false
		}
		n := t.pos
		sn, mn := b.skill[n], b.mask[n]
		reach := b.enq[n] + rules.maxWait
		work := r.work
		for x := n - 1; x >= 0 && rules.reachTime(b.enq[n], sn-b.skill[x]) < reach; x-- {
			b.bringForward(x, n, sn-b.skill[x], mn)
			r.work++
		}
		for x := n + 1; int(x) < len(b.skill) && rules.reachTime(b.enq[n], b.skill[x]-sn) < reach; x++ {
			b.bringForward(x, n, b.skill[x]-sn, mn)
			r.work++
		}
		f.work += 1 + r.work - work
	}
	if r.work > limit {
		clear(b.recheck)
		for _, t := range b.tix {
			t.recheck = 0
		}
		f.work += len(b.tix)
	}
	clear(b.arrived)
	b.arrived = b.arrived[:0]
	return true
}

// bringForward makes ticket x due for a try when it and the new ticket n,
// a gap d apart, come to accept each other.
func (b *bucket) bringForward(x, n int32, d float64, mn uint64) {
	if b.mask[x]&mn == 0 || b.recheck[x] == 0 {
		return
	}
	t := b.pairTime(x, n, d)
	if t != math.MaxInt64 {
		t -= recheckMargin
	}
	if t < b.recheck[x] {
		b.recheck[x] = t
		b.tix[x].recheck = t
	}
}
