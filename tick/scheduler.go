package tick

import "time"

// Scheduler decides which tick runs when. It is a pure state machine: it
// never reads a clock or sleeps, callers pass the time in, so its rules can
// be tested exhaustively without goroutines.
//
// Tick n (n >= 1) is due at Start() + n*Period(). Due times come from the
// tick number, never from when the previous tick ran, so lateness does not
// accumulate into drift.
//
// A round is: Next to learn what to wait for, wait, Begin when woken, do
// the work, End when it is done. Begin skips every due tick but the latest,
// so a loop that fell behind catches up in one step instead of a burst.
// The arithmetic overflows after 2^63 ns (about 292 years) past Start.
//
// A Scheduler is not safe for concurrent use.
type Scheduler struct {
	start  time.Time
	period time.Duration
	next   uint64 // lowest tick number Begin may still run
	cur    uint64 // tick most recently begun; 0 before the first
}

// NewScheduler returns a Scheduler whose tick 0 is at start; the first tick
// it runs is tick 1, one period later. It panics if period is not positive,
// which is a programming error rather than a runtime condition.
func NewScheduler(start time.Time, period time.Duration) *Scheduler {
	if period <= 0 {
		panic("tick: NewScheduler: period must be positive")
	}
	return &Scheduler{start: start, period: period, next: 1}
}

// Start returns the time of tick 0.
func (s *Scheduler) Start() time.Time { return s.start }

// Period returns the time between consecutive ticks.
func (s *Scheduler) Period() time.Duration { return s.period }

// Due returns when tick n is due: Start + n*Period.
func (s *Scheduler) Due(n uint64) time.Time {
	return s.start.Add(time.Duration(n) * s.period)
}

// TickAt returns the latest tick due at or before now, or 0 if tick 1 is
// not yet due. A server can use it to stamp events with the current tick.
func (s *Scheduler) TickAt(now time.Time) uint64 {
	elapsed := now.Sub(s.start)
	if elapsed < s.period {
		return 0
	}
	return uint64(elapsed / s.period)
}

// Next returns the tick Begin would run if called at its due time, and that
// due time; the caller sleeps until due. After an overrun due is already in
// the past, and the caller should Begin without sleeping.
func (s *Scheduler) Next() (n uint64, due time.Time) {
	return s.next, s.Due(s.next)
}

// Begin starts a tick at now and returns its number, how late it started
// (now - due; negative only if called before Next's due time) and how many
// tick numbers were passed over because a later tick was already due.
func (s *Scheduler) Begin(now time.Time) (n uint64, late time.Duration, skipped uint64) {
	n = s.next
	if latest := s.TickAt(now); latest > n {
		skipped = latest - n
		n = latest
	}
	s.cur, s.next = n, n+1
	return n, now.Sub(s.Due(n)), skipped
}

// End finishes the tick begun last and reports whether it overran, that is
// finished after the following tick was due. Finishing exactly on that due
// time is not an overrun: the next tick can still start on time.
func (s *Scheduler) End(now time.Time) (overrun bool) {
	return now.After(s.Due(s.cur + 1))
}
