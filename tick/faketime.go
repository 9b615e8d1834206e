package tick

import (
	"context"
	"slices"
	"sync"
	"time"
)

// FakeClock is a Clock whose time moves only when told to (Advance, Set),
// so tests of time-driven code are deterministic and never really sleep.
//
// It lives outside the _test files so tests in other packages (say, the
// relay server) can drive a Loop with it too. It is safe for concurrent use.
type FakeClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []*fakeSleeper
	// changed is closed and replaced whenever the set of sleepers changes;
	// it is a broadcast that lets BlockUntilSleeping wait without polling.
	changed chan struct{}
}

type fakeSleeper struct {
	until time.Time
	wake  chan struct{}
}

// NewFakeClock returns a FakeClock reading start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start, changed: make(chan struct{})}
}

// Now returns the fake current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// SleepUntil implements Clock: it blocks until Advance or Set moves the
// clock to t or beyond, or ctx is done.
func (c *FakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if !c.now.Before(t) {
		c.mu.Unlock()
		return nil
	}
	s := &fakeSleeper{until: t, wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.notifyLocked()
	c.mu.Unlock()

	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		c.removeLocked(s)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Advance moves the clock forward by d and wakes the sleepers now due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(d))
}

// Set moves the clock to t and wakes the sleepers now due. Setting it
// backwards is allowed (to mimic a wall-clock step) and wakes nobody.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(t)
}

// Sleepers returns how many goroutines are blocked in SleepUntil.
func (c *FakeClock) Sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sleepers)
}

// NextWake returns the earliest time a blocked sleeper is waiting for, so a
// test can check what a loop is sleeping towards; ok is false if none is.
func (c *FakeClock) NextWake() (t time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sleepers {
		if !ok || s.until.Before(t) {
			t, ok = s.until, true
		}
	}
	return t, ok
}

// BlockUntilSleeping waits until at least n goroutines are blocked in
// SleepUntil, or ctx is done. Tests use it instead of time.Sleep to know the
// code under test has finished its work and is waiting on the clock. A
// sleeper woken by Advance or Set is removed before those return, so a
// following BlockUntilSleeping waits for the next sleep, not the old one.
func (c *FakeClock) BlockUntilSleeping(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.sleepers) >= n {
			c.mu.Unlock()
			return nil
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *FakeClock) setLocked(t time.Time) {
	c.now = t
	kept := c.sleepers[:0]
	for _, s := range c.sleepers {
		if t.Before(s.until) {
			kept = append(kept, s)
			continue
		}
		close(s.wake)
	}
	clear(c.sleepers[len(kept):]) // drop references to woken sleepers
	woke := len(kept) != len(c.sleepers)
	c.sleepers = kept
	if woke {
		c.notifyLocked()
	}
}

func (c *FakeClock) removeLocked(s *fakeSleeper) {
	for i, x := range c.sleepers {
		if x == s {
			c.sleepers = slices.Delete(c.sleepers, i, i+1)
			c.notifyLocked()
			return
		}
	}
}

func (c *FakeClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}
