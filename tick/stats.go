package tick

import "time"

// StatsWindow is how many recent ticks Loop percentiles cover: a little over
// two minutes at the default rate, long enough to smooth noise and short
// enough that a past hiccup ages out.
const StatsWindow = 4096

// Stats is a snapshot of a Loop's timing since Run last started.
//
// Every tick number up to the last one started was either run or skipped,
// so Ticks + Skipped equals Loop.Tick().
type Stats struct {
	Ticks    uint64  // ticks whose Work ran
	Overruns uint64  // ticks whose Work ended after the next tick was due
	Skipped  uint64  // tick numbers never run because a later one was due
	Work     Summary // how long Work took, over the last StatsWindow ticks
	Late     Summary // how long after its due time each tick started
	// The same durations, every tick since Run started: subtract two
	// snapshots for the ticks in between.
	WorkHist, LateHist Hist
}

// record folds one finished tick into the stats. It runs on every tick, so
// it only does O(1) work under the lock and never allocates.
func (l *Loop) record(work, late time.Duration, skipped uint64, overrun bool) {
	l.mu.Lock()
	l.ticks++
	l.skipped += skipped
	if overrun {
		l.overruns++
	}
	l.work.Record(work)
	l.late.Record(late)
	l.workHist.record(work)
	l.lateHist.record(late)
	l.mu.Unlock()
}

// Stats returns a snapshot of the loop's counters and percentiles. It is
// safe to call from any goroutine while Run runs; it allocates, and sorts
// outside the lock so it never holds up the tick.
func (l *Loop) Stats() Stats {
	// Allocate before locking so the critical section is two memcpys.
	work, late := NewWindow(StatsWindow), NewWindow(StatsWindow)
	l.mu.Lock()
	s := Stats{Ticks: l.ticks, Overruns: l.overruns, Skipped: l.skipped, WorkHist: l.workHist, LateHist: l.lateHist}
	if l.work != nil {
		work.CopyFrom(l.work)
		late.CopyFrom(l.late)
	}
	l.mu.Unlock()
	s.Work = work.Summary()
	s.Late = late.Summary()
	return s
}

// resetStats starts a new Run's bookkeeping, reusing the windows of an
// earlier Run so a restarted loop does not allocate them again.
func (l *Loop) resetStats(start time.Time, period time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.start, l.period = start, period
	l.ticks, l.overruns, l.skipped = 0, 0, 0
	l.workHist, l.lateHist = Hist{}, Hist{}
	if l.work == nil {
		l.work, l.late = NewWindow(StatsWindow), NewWindow(StatsWindow)
	}
	l.work.Reset()
	l.late.Reset()
	l.tick.Store(0)
}
