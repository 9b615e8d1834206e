package tick_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/tick"
)

// guard bounds every wait in these tests, so a bug shows up as a failure
// rather than a hung test binary. It is a timeout, never synchronisation.
const guard = 10 * time.Second

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// waitCtx returns a context for FakeClock waits that fails fast if the loop
// never gets to sleep.
func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

// startLoop runs l on its own goroutine and returns a function that cancels
// it and returns what Run returned.
func startLoop(t *testing.T, l *tick.Loop) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(guard):
				t.Fatal("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// sleepAt waits for the loop to block on clk and returns the time it is
// sleeping towards.
func sleepAt(t *testing.T, clk *tick.FakeClock) time.Time {
	t.Helper()
	if err := clk.BlockUntilSleeping(waitCtx(t), 1); err != nil {
		t.Fatalf("loop never slept: %v", err)
	}
	due, ok := clk.NextWake()
	if !ok {
		t.Fatal("no sleeper after BlockUntilSleeping")
	}
	return due
}

// waitGoroutines polls, boundedly, until at most want goroutines remain:
// a goroutine that has delivered its result may still be exiting.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want <= %d:\n%s", runtime.NumGoroutine(), want, buf)
		}
		runtime.Gosched()
	}
}

// tickRec is what Work saw on one tick.
type tickRec struct {
	n   uint64
	now time.Time
}

// recorder collects Work calls. The loop goroutine appends and the test
// reads after FakeClock synchronisation or Run's return, but the mutex
// keeps it honest under -race regardless.
type recorder struct {
	mu   sync.Mutex
	recs []tickRec
}

func (r *recorder) add(n uint64, now time.Time) {
	r.mu.Lock()
	r.recs = append(r.recs, tickRec{n, now})
	r.mu.Unlock()
}

func (r *recorder) get() []tickRec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tickRec(nil), r.recs...)
}

func (r *recorder) numbers() []uint64 {
	var ns []uint64
	for _, rec := range r.get() {
		ns = append(ns, rec.n)
	}
	return ns
}

// stepClock is a single-goroutine Clock whose sleeps complete instantly by
// jumping to the target, so the loop runs flat out with its real per-tick
// code path and no allocations of the clock's own.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }

func (c *stepClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.now.Before(t) {
		c.now = t
	}
	return nil
}

// checkInvariant asserts the bookkeeping identity every tick number up to
// the last started was either run or skipped.
func checkInvariant(t *testing.T, l *tick.Loop) {
	t.Helper()
	s := l.Stats()
	if s.Ticks+s.Skipped != l.Tick() {
		t.Errorf("Ticks %d + Skipped %d != Tick() %d", s.Ticks, s.Skipped, l.Tick())
	}
}
