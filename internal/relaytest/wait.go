package relaytest

import (
	"context"
	"testing"
	"time"
)

// WaitFor polls cond every 10 ms until it holds, and returns how long that
// took; it fails the test when ctx ends first. For state that only a poll
// can see (another node's directory cache, an HTTP endpoint's report):
// where a channel or an event says it, wait on that instead.
func WaitFor(t testing.TB, ctx context.Context, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		select {
		case <-tk.C:
		case <-ctx.Done():
			t.Fatalf("not within the test's time: %s", what)
		}
	}
	return time.Since(start)
}
