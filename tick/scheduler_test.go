package tick_test

import (
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/tick"
)

const period = 100 * time.Millisecond

func at(ticks float64) time.Time {
	return epoch.Add(time.Duration(ticks * float64(period)))
}

func TestSchedulerDueTimesAreMultiplesOfPeriod(t *testing.T) {
	s := tick.NewScheduler(epoch, period)
	// Wake late by a different amount each time; due times must not move.
	jitter := []float64{0, 0.3, 0.05, 0.99, 0, 0.5}
	for i, j := range jitter {
		want := uint64(i + 1)
		n, due := s.Next()
		if n != want || !due.Equal(at(float64(want))) {
			t.Fatalf("Next = %d, %v; want %d, %v", n, due, want, at(float64(want)))
		}
		now := due.Add(time.Duration(j * float64(period)))
		n, late, skipped := s.Begin(now)
		if n != want || late != now.Sub(due) || skipped != 0 {
			t.Fatalf("Begin = %d, %v, %d; want %d, %v, 0", n, late, skipped, want, now.Sub(due))
		}
		if s.End(now) {
			t.Fatalf("tick %d: unexpected overrun", n)
		}
	}
}

func TestSchedulerOverrunSkipsAllButLatest(t *testing.T) {
	s := tick.NewScheduler(epoch, period)
	s.Begin(at(1))
	if s.End(at(1.5)) {
		t.Fatal("tick 1 within budget reported as overrun")
	}
	s.Begin(at(2))
	// Work of tick 2 ends at 5.5: ticks 3, 4 and 5 are all due.
	if !s.End(at(5.5)) {
		t.Fatal("tick 2 overran but End said no")
	}
	n, due := s.Next()
	if n != 3 || !due.Before(at(5.5)) {
		t.Fatalf("Next = %d, %v; want 3 in the past", n, due)
	}
	n, late, skipped := s.Begin(at(5.5))
	if n != 5 || skipped != 2 || late != period/2 {
		t.Fatalf("Begin = %d, %v, %d; want 5, %v, 2", n, late, skipped, period/2)
	}
	if s.End(at(5.6)) {
		t.Fatal("catch-up tick reported as overrun")
	}
	if n, due := s.Next(); n != 6 || !due.Equal(at(6)) {
		t.Fatalf("after catch-up Next = %d, %v; want 6, %v", n, due, at(6))
	}
}

func TestSchedulerSmallOverrunRunsNextTickLate(t *testing.T) {
	s := tick.NewScheduler(epoch, period)
	s.Begin(at(1))
	// Past tick 2's due time but before tick 3's: overrun, nothing skipped.
	if !s.End(at(2.2)) {
		t.Fatal("End after next due time is an overrun")
	}
	n, late, skipped := s.Begin(at(2.2))
	if n != 2 || skipped != 0 || late != period/5 {
		t.Fatalf("Begin = %d, %v, %d; want 2, %v, 0", n, late, skipped, period/5)
	}
}

func TestSchedulerEndingOnNextDueIsNotOverrun(t *testing.T) {
	s := tick.NewScheduler(epoch, period)
	s.Begin(at(1))
	if s.End(at(2)) {
		t.Fatal("ending exactly when the next tick is due is not an overrun")
	}
}

func TestSchedulerLateWakeSkipsWithoutOverrun(t *testing.T) {
	// The process was descheduled while sleeping: no Work overran, but
	// ticks were missed all the same and must be skipped, not replayed.
	s := tick.NewScheduler(epoch, period)
	n, late, skipped := s.Begin(at(4.25))
	if n != 4 || skipped != 3 || late != period/4 {
		t.Fatalf("Begin = %d, %v, %d; want 4, %v, 3", n, late, skipped, period/4)
	}
}

func TestSchedulerTickAt(t *testing.T) {
	s := tick.NewScheduler(epoch, period)
	for _, c := range []struct {
		at   time.Time
		want uint64
	}{
		{epoch.Add(-time.Hour), 0},
		{epoch, 0},
		{at(0.999), 0},
		{at(1), 1},
		{at(7.5), 7},
		{epoch.Add(24 * time.Hour), 864000},
	} {
		if got := s.TickAt(c.at); got != c.want {
			t.Errorf("TickAt(%v) = %d, want %d", c.at.Sub(epoch), got, c.want)
		}
	}
}

func TestSchedulerRejectsNonPositivePeriod(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewScheduler(0 period) did not panic")
		}
	}()
	tick.NewScheduler(epoch, 0)
}
