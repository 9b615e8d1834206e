package tick_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/tick"
)

func TestLoopDueTimesDoNotDrift(t *testing.T) {
	clk := tick.NewFakeClock(epoch)
	var rec recorder
	l := &tick.Loop{Rate: 50, Clock: clk, Work: rec.add}
	stop := startLoop(t, l)
	const p = 20 * time.Millisecond

	// Wake the loop late by varying amounts, each under one period. If the
	// loop slept "period after the last tick" the lateness would add up;
	// instead every sleep must target start + n*period exactly.
	jitter := []time.Duration{0, 3 * p / 4, time.Millisecond, 0, p - 1, 7 * time.Millisecond, p / 2, 0}
	for i, j := range jitter {
		n := uint64(i + 1)
		due := sleepAt(t, clk)
		if want := epoch.Add(time.Duration(n) * p); !due.Equal(want) {
			t.Fatalf("tick %d sleeps until %v, want %v (drift %v)", n, due.Sub(epoch), want.Sub(epoch), due.Sub(want))
		}
		clk.Set(due.Add(j))
	}
	// The loop is asleep again only once the last Work has returned.
	if due := sleepAt(t, clk); !due.Equal(epoch.Add(time.Duration(len(jitter)+1) * p)) {
		t.Fatalf("final sleep until %v", due.Sub(epoch))
	}

	for i, r := range rec.get() {
		n := uint64(i + 1)
		want := epoch.Add(time.Duration(n)*p + jitter[i])
		if r.n != n || !r.now.Equal(want) {
			t.Errorf("Work call %d = (%d, %v), want (%d, %v)", i, r.n, r.now.Sub(epoch), n, want.Sub(epoch))
		}
	}
	s := l.Stats()
	if s.Ticks != uint64(len(jitter)) || s.Skipped != 0 || s.Overruns != 0 {
		t.Errorf("Stats counts = %+v", s)
	}
	if s.Late.AllTimeMax != p-1 || s.Late.Max != p-1 || s.Late.Samples != len(jitter) {
		t.Errorf("Late = %+v, want max %v", s.Late, p-1)
	}
	if !l.Start().Equal(epoch) || l.Period() != p || l.Tick() != uint64(len(jitter)) {
		t.Errorf("Start, Period, Tick = %v, %v, %d", l.Start(), l.Period(), l.Tick())
	}
	checkInvariant(t, l)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
}

func TestLoopOverrunSkipsWithoutBurst(t *testing.T) {
	clk := tick.NewFakeClock(epoch)
	var rec recorder
	const p = 100 * time.Millisecond
	l := &tick.Loop{Rate: 10, Clock: clk}
	l.Work = func(n uint64, now time.Time) {
		rec.add(n, now)
		if n == 2 {
			// Tick 2's work runs until 5.5 periods: ticks 3, 4, 5 fall due.
			clk.Advance(3*p + p/2)
		}
	}
	startLoop(t, l)

	// Drive the loop by waking it exactly on time, recording what it sleeps
	// towards. Tick 5 must run at once after the overrun, without a sleep.
	var sleeps []time.Duration
	for range 4 {
		due := sleepAt(t, clk)
		sleeps = append(sleeps, due.Sub(epoch))
		clk.Set(due)
	}
	sleeps = append(sleeps, sleepAt(t, clk).Sub(epoch))

	if want := []time.Duration{1 * p, 2 * p, 6 * p, 7 * p, 8 * p}; !slices.Equal(sleeps, want) {
		t.Errorf("loop slept until %v, want %v", sleeps, want)
	}
	if got, want := rec.numbers(), []uint64{1, 2, 5, 6, 7}; !slices.Equal(got, want) {
		t.Fatalf("Work saw ticks %v, want %v", got, want)
	}
	if now := rec.get()[2].now; !now.Equal(epoch.Add(5*p + p/2)) {
		t.Errorf("catch-up tick started at %v, want 5.5 periods", now.Sub(epoch))
	}
	s := l.Stats()
	if s.Ticks != 5 || s.Overruns != 1 || s.Skipped != 2 {
		t.Errorf("Ticks, Overruns, Skipped = %d, %d, %d; want 5, 1, 2", s.Ticks, s.Overruns, s.Skipped)
	}
	if s.Work.AllTimeMax != 3*p+p/2 || s.Late.Max != p/2 {
		t.Errorf("Work max %v, Late max %v", s.Work.AllTimeMax, s.Late.Max)
	}
	checkInvariant(t, l)
}

func TestLoopStatsPercentiles(t *testing.T) {
	clk := tick.NewFakeClock(epoch)
	l := &tick.Loop{Rate: 10, Clock: clk}
	// Tick n's Work takes n ms, so the work durations are exactly 1..20 ms.
	l.Work = func(n uint64, _ time.Time) { clk.Advance(time.Duration(n) * time.Millisecond) }
	startLoop(t, l)
	for range 20 {
		clk.Set(sleepAt(t, clk))
	}
	sleepAt(t, clk)

	s := l.Stats()
	ms := time.Millisecond
	want := tick.Summary{Samples: 20, P50: 10 * ms, P90: 18 * ms, P99: 20 * ms, Max: 20 * ms, AllTimeMax: 20 * ms}
	if s.Work != want {
		t.Errorf("Work = %+v\nwant   %+v", s.Work, want)
	}
	if s.Late != (tick.Summary{Samples: 20}) {
		t.Errorf("on-time wakes should be 0 late: %+v", s.Late)
	}
	if s.Ticks != 20 || s.Overruns != 0 || s.Skipped != 0 {
		t.Errorf("counts = %+v", s)
	}
}

func TestLoopRateValidation(t *testing.T) {
	for _, rate := range []int{-1, tick.MaxRate + 1} {
		l := &tick.Loop{Rate: rate, Clock: tick.NewFakeClock(epoch), Work: func(uint64, time.Time) {
			t.Error("Work called with an invalid rate")
		}}
		if err := l.Run(context.Background()); !errors.Is(err, tick.ErrInvalidRate) {
			t.Errorf("Rate %d: Run = %v, want ErrInvalidRate", rate, err)
		}
	}
	if err := (&tick.Loop{}).Run(context.Background()); err == nil {
		t.Error("Run with nil Work succeeded")
	}

	// Rate 0 runs at DefaultRate.
	clk := tick.NewFakeClock(epoch)
	l := &tick.Loop{Clock: clk, Work: func(uint64, time.Time) {}}
	startLoop(t, l)
	want := time.Second / tick.DefaultRate
	if due := sleepAt(t, clk); !due.Equal(epoch.Add(want)) {
		t.Errorf("first tick due %v after start, want %v", due.Sub(epoch), want)
	}
	if l.Period() != want {
		t.Errorf("Period = %v, want %v", l.Period(), want)
	}
	if err := l.Run(context.Background()); !errors.Is(err, tick.ErrRunning) {
		t.Errorf("second concurrent Run = %v, want ErrRunning", err)
	}
}

func TestLoopStopsOnCancelNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	clk := tick.NewFakeClock(epoch)
	var rec recorder
	l := &tick.Loop{Rate: 20, Clock: clk, Work: rec.add}
	stop := startLoop(t, l)
	for range 3 {
		clk.Set(sleepAt(t, clk))
	}
	sleepAt(t, clk)
	if !l.Running() {
		t.Error("Running() false while Run runs")
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if l.Running() {
		t.Error("Running() true after Run returned")
	}
	if clk.Sleepers() != 0 {
		t.Error("Run left a sleeper behind")
	}
	if got := rec.numbers(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("ticks = %v", got)
	}
	waitGoroutines(t, before)

	// A context that is already done stops Run before the first tick.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Run(ctx); !errors.Is(err, context.Canceled) || l.Tick() != 0 {
		t.Errorf("Run(done ctx) = %v, Tick %d", err, l.Tick())
	}
}

func TestLoopRealClock(t *testing.T) {
	before := runtime.NumGoroutine()
	const want = 5
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls uint64
	var last uint64
	l := &tick.Loop{Rate: 100} // nil Clock: real time
	l.Work = func(n uint64, _ time.Time) {
		if n <= last {
			t.Errorf("tick %d after %d", n, last)
		}
		last = n
		calls++
		if calls == want {
			cancel()
		}
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(guard):
		t.Fatal("Loop at 100 Hz did not run 5 ticks in time")
	}
	// Counts only: on a loaded machine ticks may be skipped, but every
	// tick number up to the last is accounted for.
	s := l.Stats()
	if calls != want || s.Ticks != want || l.Tick() != last {
		t.Errorf("calls %d, Stats.Ticks %d, Tick %d, last %d", calls, s.Ticks, l.Tick(), last)
	}
	if l.Period() != 10*time.Millisecond {
		t.Errorf("Period = %v", l.Period())
	}
	checkInvariant(t, l)
	waitGoroutines(t, before)
}

func TestLoopStatsConcurrentReaders(t *testing.T) {
	// Readers hammer Stats, Tick, Start while the loop runs: -race checks
	// the locking, and the invariant checks the snapshot is consistent.
	clk := tick.NewFakeClock(epoch)
	l := &tick.Loop{Rate: 128, Clock: clk, Work: func(uint64, time.Time) {}}
	startLoop(t, l)
	stopReaders := make(chan struct{})
	readersDone := make(chan struct{})
	go func() {
		defer close(readersDone)
		for {
			select {
			case <-stopReaders:
				return
			default:
			}
			s := l.Stats()
			if s.Work.Samples > int(s.Ticks) {
				t.Errorf("more samples (%d) than ticks (%d)", s.Work.Samples, s.Ticks)
			}
			_, _ = l.Tick(), l.Start()
		}
	}()
	for range 200 {
		clk.Set(sleepAt(t, clk))
	}
	sleepAt(t, clk)
	close(stopReaders)
	<-readersDone
	if s := l.Stats(); s.Ticks != 200 {
		t.Errorf("Ticks = %d, want 200", s.Ticks)
	}
	checkInvariant(t, l)
}

// runTicks runs l flat out on a stepClock until Work has seen ticks ticks.
func runTicks(l *tick.Loop, ticks uint64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l.Clock = &stepClock{now: epoch}
	l.Work = func(n uint64, _ time.Time) {
		if n >= ticks {
			cancel()
		}
	}
	_ = l.Run(ctx)
}

func TestLoopPerTickAllocFree(t *testing.T) {
	// Run has a fixed set-up cost; the per-tick path must add nothing, so a
	// long run allocates exactly as much as a short one.
	l := &tick.Loop{Rate: 128}
	short := testing.AllocsPerRun(5, func() { runTicks(l, 10) })
	long := testing.AllocsPerRun(5, func() { runTicks(l, 10010) })
	if long != short {
		t.Fatalf("10 ticks: %v allocs, 10010 ticks: %v allocs; per-tick path allocates", short, long)
	}
}

func BenchmarkLoopTick(b *testing.B) {
	l := &tick.Loop{Rate: 128}
	b.ReportAllocs()
	b.ResetTimer()
	runTicks(l, uint64(b.N))
}
