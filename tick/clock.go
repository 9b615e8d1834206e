package tick

import (
	"context"
	"time"
)

// Clock is the Loop's source of time. It is an interface so tests can drive
// the loop with a FakeClock instead of waiting on real time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// SleepUntil blocks until Now() >= t or ctx is done (returns ctx.Err()).
	// It returns nil at once when t is not in the future.
	SleepUntil(ctx context.Context, t time.Time) error
}

// wakeSlack puts the wake timer just after the runtime timer's deadline, so
// that the runtime timer is already due when the netpoller wakes.
const wakeSlack = 20 * time.Microsecond

// SystemClock is the real-time Clock.
//
// The zero value is ready to use. SleepUntil reuses a single timer so the
// loop's per-tick sleep does not allocate; because that timer is shared,
// SleepUntil must not be called from two goroutines at once (Now may be).
// Give each Loop its own SystemClock.
type SystemClock struct {
	timer  *time.Timer
	wake   *wakeTimer // lazily made; nil and noWake: unavailable
	noWake bool
}

// Close releases the clock's timers. A Loop closes the SystemClock it made
// itself when Run returns; the zero value needs no Close.
func (c *SystemClock) Close() error {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.wake.close()
	c.wake = nil
	return nil
}

// Now returns time.Now().
func (*SystemClock) Now() time.Time { return time.Now() }

// SleepUntil implements Clock. Only the first call that has to wait
// allocates (the timer); later calls reuse it.
func (c *SystemClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Loop rather than trust one wake-up: t may lack a monotonic reading,
	// so a wall-clock step can leave us short of t after the timer fires.
	for {
		d := time.Until(t)
		if d <= 0 {
			return nil
		}
		if c.timer == nil {
			c.timer = time.NewTimer(d)
		} else {
			// The timer is always stopped or drained here (see below), so
			// Reset cannot deliver a stale expiry from an earlier sleep.
			c.timer.Reset(d)
		}
		// The runtime timer is what wakes this goroutine; the wake timer,
		// a little later, only makes sure an idle netpoller looks at the
		// runtime's timers on time (see wakeTimer).
		if c.wake == nil && !c.noWake {
			c.wake = newWakeTimer()
			c.noWake = c.wake == nil
		}
		c.wake.arm(d + wakeSlack)
		select {
		case <-c.timer.C:
		case <-ctx.Done():
			c.stopTimer()
			return ctx.Err()
		}
	}
}

// stopTimer leaves the timer stopped with an empty channel. Since Go 1.23
// Stop alone guarantees that, but the non-blocking drain keeps the next
// Reset honest under GODEBUG=asynctimerchan=1 too; the re-check loop in
// SleepUntil covers the remaining window where a send is still in flight.
func (c *SystemClock) stopTimer() {
	if !c.timer.Stop() {
		select {
		case <-c.timer.C:
		default:
		}
	}
}
