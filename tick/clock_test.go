package tick_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/tick"
)

func TestSystemClockSleepUntilAllocFree(t *testing.T) {
	var c tick.SystemClock
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first waiting call creates the timer; that is the only allocation
	// allowed. It also makes ctx allocate its Done channel up front.
	if err := c.SleepUntil(ctx, c.Now().Add(time.Microsecond)); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() {
		_ = c.SleepUntil(ctx, c.Now().Add(-time.Second))
	}); a != 0 {
		t.Errorf("SleepUntil(past) allocated %v times", a)
	}
	// Real waits exercise Reset of the shared timer.
	if a := testing.AllocsPerRun(20, func() {
		_ = c.SleepUntil(ctx, c.Now().Add(50*time.Microsecond))
	}); a != 0 {
		t.Errorf("SleepUntil(future) allocated %v times", a)
	}
}

func TestSystemClockSleepUntilWaitsAndCancels(t *testing.T) {
	var c tick.SystemClock
	for range 5 {
		target := c.Now().Add(2 * time.Millisecond)
		if err := c.SleepUntil(context.Background(), target); err != nil {
			t.Fatal(err)
		}
		if now := c.Now(); now.Before(target) {
			t.Fatalf("woke at %v, before target %v", now, target)
		}
	}

	// Cancelled mid-sleep: returns ctx.Err() long before the target.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := c.SleepUntil(ctx, c.Now().Add(time.Hour)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SleepUntil with expiring ctx = %v, want DeadlineExceeded", err)
	}
	// An already-done ctx wins even if the target is past.
	if err := c.SleepUntil(ctx, c.Now().Add(-time.Hour)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SleepUntil with done ctx = %v", err)
	}

	// Race the timer against the context so the stop-and-drain path runs
	// with the timer firing; the next sleep must still wait its full time.
	for range 20 {
		target := c.Now().Add(200 * time.Microsecond)
		ctx, cancel := context.WithDeadline(context.Background(), target)
		_ = c.SleepUntil(ctx, target)
		cancel()
		next := c.Now().Add(time.Millisecond)
		if err := c.SleepUntil(context.Background(), next); err != nil {
			t.Fatal(err)
		}
		if now := c.Now(); now.Before(next) {
			t.Fatalf("stale timer value: woke at %v, before %v", now, next)
		}
	}
}

func TestFakeClockSleepAdvanceCancel(t *testing.T) {
	clk := tick.NewFakeClock(epoch)
	if !clk.Now().Equal(epoch) {
		t.Fatalf("Now = %v, want %v", clk.Now(), epoch)
	}
	if err := clk.SleepUntil(context.Background(), epoch); err != nil {
		t.Fatalf("sleep to now: %v", err)
	}

	woke := make(chan error, 1)
	go func() { woke <- clk.SleepUntil(context.Background(), epoch.Add(time.Second)) }()
	if err := clk.BlockUntilSleeping(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if due, ok := clk.NextWake(); !ok || !due.Equal(epoch.Add(time.Second)) {
		t.Fatalf("NextWake = %v, %v", due, ok)
	}
	clk.Advance(999 * time.Millisecond)
	if clk.Sleepers() != 1 {
		t.Fatal("sleeper woke before its time")
	}
	clk.Advance(time.Millisecond)
	if clk.Sleepers() != 0 {
		t.Fatal("sleeper still registered after its time")
	}
	if err := <-woke; err != nil {
		t.Fatalf("woken sleeper returned %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { woke <- clk.SleepUntil(ctx, epoch.Add(time.Hour)) }()
	if err := clk.BlockUntilSleeping(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-woke; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sleeper returned %v", err)
	}
	if clk.Sleepers() != 0 {
		t.Fatal("cancelled sleeper still registered")
	}
	clk.Set(epoch) // backwards: allowed, wakes nobody
	if !clk.Now().Equal(epoch) {
		t.Fatalf("Set backwards: Now = %v", clk.Now())
	}

	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if err := clk.BlockUntilSleeping(short, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("BlockUntilSleeping with done ctx = %v", err)
	}
}

// A sleep's last stretch is slept on a high-resolution timer; neither it nor
// the coarse part before it may end early, whatever the length.
func TestSystemClockSleepNeverEndsEarly(t *testing.T) {
	c := new(tick.SystemClock)
	defer c.Close()
	ctx := context.Background()
	for _, d := range []time.Duration{0, 50 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond} {
		due := time.Now().Add(d)
		if err := c.SleepUntil(ctx, due); err != nil {
			t.Fatal(err)
		}
		if now := time.Now(); now.Before(due) {
			t.Fatalf("sleep of %v woke %v early", d, due.Sub(now))
		}
	}
}
