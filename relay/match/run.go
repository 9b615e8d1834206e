package match

import (
	"slices"
	"time"
)

// Runs of queues, spread over Steps.
//
// A Step does at most StepBudget units of work (validated.stepBudget):
// the caller's tick must stay on time however many tickets wait. A run of
// a queue is a sequence of small pieces (for each bucket: merging in a
// chunk of new tickets, expiring, one arrival's reach, one backfill
// request, one anchor's try), and a Step that has spent its budget stops
// between two pieces (or before a pass over a bucket that would overrun
// it: affords); the next Step goes on from there before anything else.
// Each bucket's part of a run takes the tickets added by the Step in which
// it begins and decides everything at that Step's time; between its
// pieces, what it reads changes only by what the run does or by the
// caller's Cancel (the ticket takes no further part), Add (the ticket
// waits for the next run) and backfill calls. So a run spread over
// Steps, with no calls between them, forms exactly the matches of the
// same run done at once (TestSpreadRunsFormTheSameMatches).
//
// The queues due form a line (Matchmaker.due), in creation order within
// a Step; a queue is in it at most once, and one that becomes due again
// while its run is under way waits for the next Step that finds it due
// after the run ends. So every due queue runs in turn and none starves.

// phase is what a bucket's part of a run is doing.
type phase uint8

const (
	phaseMerge     phase = iota // rebuild: drop the tickets that left, merge in the new
	phaseExpire                 // time out tickets, set the windows
	phaseArrivals               // arrivals: recheck times brought forward
	phaseBackfills              // runBackfills
	phaseAnchors                // formMatches
)

// runState is where the run under way (of m.due[m.dueHead]) stopped.
type runState struct {
	bucket int   // index in the queue's order
	phase  phase // of that bucket
	next   int   // within the phase: the next piece
	work   int   // arrivals' work so far in this bucket
	now    int64 // the time of the bucket's part of the run
}

// spent reports whether the Step has used its budget.
func (m *Matchmaker) spent() bool { return m.form.work >= m.cfg.stepBudget }

// affords reports whether a piece of work of about cost units fits in what
// is left of the Step's budget. The first piece of a Step always does, so
// that every Step makes progress; a piece whose cost is known beforehand
// (a pass over a bucket) asks, so that a Step ends before it rather than
// overrunning its budget by a pass over 10,000 tickets.
func (m *Matchmaker) affords(cost int) bool {
	return m.form.work == 0 || m.form.work < m.cfg.stepBudget-cost
}

// busy reports whether a queue's run is due or under way.
func (m *Matchmaker) busy() bool { return m.dueHead < len(m.due) }

// Step runs the queues that are due and appends what they decided to out.
// A queue is due when its Interval has passed since its last run became
// due (every queue, on the first call). In each queue, for each set of
// equal properties: tickets past MaxWait time out, then open backfill
// requests take the oldest tickets that suit them, then the remaining
// tickets form matches, oldest first.
//
// A Step does at most about Config.StepBudget of work: a run that needs
// more goes on in the next Steps, where it stopped, before any other run
// starts, so call Step on every tick. The part of a run that serves one
// set of equal properties takes the tickets added by the Step in which it
// begins and decides everything (windows, waits, timeouts) at that Step's
// time; tickets added while it is under way wait for the next run, and
// tickets cancelled meanwhile take no further part.
func (m *Matchmaker) Step(now time.Time, out *Results) {
	ns := now.UnixNano()
	m.stepped, m.lastStep = true, ns
	for _, q := range m.queueOrder {
		if !q.due && (!q.ran || ns-q.lastRun >= q.rules.interval) {
			q.ran, q.lastRun, q.due = true, ns, true
			m.due = append(m.due, q)
		}
	}
	m.form.work = 0
	m.runDue(out)
	m.dropEmptyQueues()
}

// dropEmptyQueues forgets the queues left without buckets whose runs have
// ended.
func (m *Matchmaker) dropEmptyQueues() {
	kept := m.queueOrder[:0]
	for _, q := range m.queueOrder {
		if len(q.order) == 0 && !q.due {
			delete(m.queues, q.mode)
			continue
		}
		kept = append(kept, q)
	}
	clear(m.queueOrder[len(kept):])
	m.queueOrder = kept
}

// runDue runs the due queues in turn until none is left or the budget is
// spent.
func (m *Matchmaker) runDue(out *Results) {
	for m.dueHead < len(m.due) {
		q := m.due[m.dueHead]
		if !m.runQueue(q, out) {
			return
		}
		q.due = false
		m.due[m.dueHead] = nil
		m.dueHead++
		m.run = runState{}
	}
	m.due, m.dueHead = m.due[:0], 0
}

// runQueue goes on with q's run; it reports whether the run ended.
func (m *Matchmaker) runQueue(q *queue, out *Results) bool {
	r := &m.run
	for r.bucket < len(q.order) { // buckets made during the run are run too
		if r.phase == phaseMerge && r.next == 0 {
			// The bucket's part of the run begins: it takes the tickets
			// added so far, at this Step's time.
			r.now = m.lastStep
		}
		if !m.runBucket(q.order[r.bucket], r.now, out) {
			return false
		}
		r.bucket++
		r.phase, r.next, r.work = phaseMerge, 0, 0
	}
	q.order = slices.DeleteFunc(q.order, func(b *bucket) bool { return b.dropped }) // clears the tail
	return true
}

// runBucket goes on with b's part of the run; it reports whether it ended.
func (m *Matchmaker) runBucket(b *bucket, now int64, out *Results) bool {
	r := &m.run
	for {
		switch r.phase {
		case phaseMerge:
			if !m.rebuild(b) {
				return false
			}
			r.phase, r.next = phaseExpire, 0
		case phaseExpire:
			if !m.affords(len(b.agePos) / 2) {
				return false
			}
			m.expire(b, now, out)
			r.phase, r.next = phaseArrivals, 0
		case phaseArrivals:
			if !m.arrivals(b) {
				return false
			}
			r.phase, r.next = phaseBackfills, 0
		case phaseBackfills:
			if !m.runBackfills(b, now, out) {
				return false
			}
			r.phase, r.next = phaseAnchors, 0
			m.form.waiting = m.form.waiting[:0]
		default:
			if !m.formMatches(b, now, out) {
				return false
			}
			if b.live == 0 && len(b.backfills) == 0 {
				m.dropBucket(b)
			}
			return true
		}
	}
}

// expire times out the tickets of b that have waited MaxWait and sets the
// skill window of the others.
func (m *Matchmaker) expire(b *bucket, now int64, out *Results) {
	r := &b.q.rules
	m.form.work += len(b.agePos) / 2
	for _, p := range b.agePos {
		if b.mask[p] == 0 {
			continue
		}
		if now-b.enq[p] < r.maxWait {
			break // the rest are younger
		}
		out.TimedOut = append(out.TimedOut, b.tix[p].id)
		m.remove(b.tix[p])
	}
	if r.SkillWidening == 0 {
		for i := range b.window {
			b.window[i] = r.SkillWindow
		}
		return
	}
	for i, enq := range b.enq {
		b.window[i] = r.window(now - enq)
	}
}
