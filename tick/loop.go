package tick

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrRunning is returned by Run when the Loop is already running: two
// goroutines driving one Loop would interleave tick numbers and stats.
var ErrRunning = errors.New("tick: loop is already running")

// errNoWork is returned by Run when Work is nil; it is a setup bug, so it
// is not exported for matching.
var errNoWork = errors.New("tick: Loop.Work is nil")

// Loop calls Work once per tick at a fixed rate until its context ends.
//
// Set the exported fields before Run and do not change them while it runs.
// A Loop must not be copied after first use.
type Loop struct {
	Rate  int                           // ticks per second, 1..MaxRate; 0 means DefaultRate
	Clock Clock                         // nil means a new SystemClock per Run
	Work  func(n uint64, now time.Time) // called once per tick on the loop goroutine

	running atomic.Bool
	tick    atomic.Uint64

	// mu guards what other goroutines read while Run writes. The per-tick
	// critical section is a few increments and two ring-buffer stores.
	mu       sync.Mutex
	start    time.Time
	period   time.Duration
	ticks    uint64
	overruns uint64
	skipped  uint64
	work     *Window
	late     *Window
	workHist Hist
	lateHist Hist
}

// Run calls Work for tick 1, 2, ... (tick n due at Start()+n*Period()) until
// ctx is done, then returns ctx.Err(). It returns an error at once if Rate
// is invalid (see ValidRate), Work is nil, or the Loop is already running.
//
// Work runs on the goroutine that called Run, with n the tick number and
// now the time the tick started. If Work overruns into later ticks, the
// loop counts the overrun, skips the tick numbers already past except the
// latest, and runs that one straight away: one catch-up tick, never a
// burst. Each Run restarts tick numbering and Stats.
func (l *Loop) Run(ctx context.Context) error {
	rate, err := ResolveRate(l.Rate)
	if err != nil {
		return err
	}
	if l.Work == nil {
		return errNoWork
	}
	if !l.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer l.running.Store(false)

	clock := l.Clock
	if clock == nil {
		sc := new(SystemClock)
		defer sc.Close()
		clock = sc
	}
	sched := NewScheduler(clock.Now(), periodOf(rate))
	l.resetStats(sched.Start(), sched.Period())

	for {
		// Checked here too because after an overrun the due time is past,
		// and a Clock may then return without looking at ctx.
		if err := ctx.Err(); err != nil {
			return err
		}
		_, due := sched.Next()
		if err := clock.SleepUntil(ctx, due); err != nil {
			return err
		}
		now := clock.Now()
		n, late, skipped := sched.Begin(now)
		l.tick.Store(n)
		l.Work(n, now)
		end := clock.Now()
		l.record(end.Sub(now), late, skipped, sched.End(end))
	}
}

// Tick returns the number of the tick most recently started, or 0 before
// the first. Together with Start and Period it lets a server tell a joining
// client where the simulation is. Safe from any goroutine.
func (l *Loop) Tick() uint64 { return l.tick.Load() }

// Start returns the time of tick 0 of the current (or last) Run, the
// epoch that tick numbers count from; zero before Run first starts.
// Safe from any goroutine.
func (l *Loop) Start() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.start
}

// Period returns the tick period of the current (or last) Run; zero before
// Run first starts. Safe from any goroutine.
func (l *Loop) Period() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.period
}

// Running reports whether Run is executing. Safe from any goroutine.
func (l *Loop) Running() bool { return l.running.Load() }
