package relay

import (
	"runtime/metrics"
	"sync"
	"testing"
)

func TestGCDueAtHalfTheRunway(t *testing.T) {
	for _, c := range []struct {
		since, live, goal uint64
		want              bool
	}{
		{0, 20 << 20, 40 << 20, false},
		{10<<20 - 1, 20 << 20, 40 << 20, false},
		{10 << 20, 20 << 20, 40 << 20, true},
		{30 << 20, 20 << 20, 40 << 20, true},
		{1 << 40, 20 << 20, 20 << 20, false}, // no runway: leave it to the runtime
	} {
		if got := gcDue(c.since, c.live, c.goal); got != c.want {
			t.Errorf("gcDue(%d, %d, %d) = %v", c.since, c.live, c.goal, got)
		}
	}
}

// Once half the runway is allocated, the tick's call starts a collection
// (owned by the wait group) and no second one while it runs; a call with
// nothing due costs no allocation.
func TestGCPacerCollectsAfterTheTick(t *testing.T) {
	g := newGCPacer()
	if !g.ok {
		t.Fatal("the runtime lacks the heap metrics the pacer reads")
	}
	var wg sync.WaitGroup
	g.afterTick(&wg) // sees the current cycle
	wg.Wait()
	if allocs := testing.AllocsPerRun(100, func() {
		if g.afterTick(&wg) {
			wg.Wait()
		}
	}); allocs != 0 {
		t.Errorf("afterTick: %v allocations", allocs)
	}
	cycles := []metrics.Sample{{Name: metricCycles}}
	metrics.Read(cycles)
	before := cycles[0].Value.Uint64()
	var sink [][]byte
	started := false
	for i := 0; i < 1<<16 && !started; i++ {
		sink = append(sink, make([]byte, 64<<10))
		if len(sink) > 64 {
			sink = sink[:0] // garbage, so the runtime's own cycles stay rare
		}
		started = g.afterTick(&wg)
		if started && g.afterTick(&wg) {
			t.Fatal("a second collection started while the first runs")
		}
	}
	wg.Wait()
	if !started {
		t.Fatal("no collection started")
	}
	metrics.Read(cycles)
	if cycles[0].Value.Uint64() <= before {
		t.Fatalf("gc cycles %d -> %d", before, cycles[0].Value.Uint64())
	}
	if g.busy.Load() {
		t.Fatal("still busy after the collection")
	}
	_ = sink
}
