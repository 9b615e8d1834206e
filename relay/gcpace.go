package relay

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Under load the relay's heap grows by kcp-go's allocations on receive (it
// boxes every data segment it takes into its receive heap: about 9 MB/s at
// 2,000 clients), and the runtime then collects every few seconds. With one
// core, a collection that starts in the middle of a tick shares the core
// with it and slows it: a share of the ticks over 15 ms at 2,000 clients
// (BENCHMARKS.md, round 6). gcPacer starts the collection itself right
// after a tick has sent its frames, once half the runway to the runtime's
// goal is used, so that its mark phase runs while the core is otherwise
// idle. A collection costs a few milliseconds of CPU; starting them earlier
// than the runtime would adds a fraction of a percent.

const (
	metricAllocs = "/gc/heap/allocs:bytes"
	metricLive   = "/gc/heap/live:bytes"
	metricGoal   = "/gc/heap/goal:bytes"
	metricCycles = "/gc/cycles/total:gc-cycles"
)

// gcPacer is owned by the tick goroutine, but for busy.
type gcPacer struct {
	samples [4]metrics.Sample // allocs, live, goal, cycles
	ok      bool              // the runtime has those metrics
	cycles  uint64            // the cycle count last seen
	base    uint64            // allocs when that cycle was first seen
	busy    atomic.Bool       // a collection it started is running
}

func newGCPacer() *gcPacer {
	g := &gcPacer{}
	for i, name := range []string{metricAllocs, metricLive, metricGoal, metricCycles} {
		g.samples[i].Name = name
	}
	metrics.Read(g.samples[:])
	g.ok = true
	for _, s := range g.samples {
		g.ok = g.ok && s.Value.Kind() == metrics.KindUint64
	}
	return g
}

// afterTick starts a collection, owned by wg, if one is due; it reports
// whether it did.
func (g *gcPacer) afterTick(wg *sync.WaitGroup) bool {
	if !g.ok || g.busy.Load() {
		return false
	}
	metrics.Read(g.samples[:])
	allocs, live, goal, cycles := g.samples[0].Value.Uint64(), g.samples[1].Value.Uint64(),
		g.samples[2].Value.Uint64(), g.samples[3].Value.Uint64()
	if cycles != g.cycles {
		g.cycles, g.base = cycles, allocs
	}
	if !gcDue(allocs-g.base, live, goal) {
		return false
	}
	g.busy.Store(true)
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.GC()
		g.busy.Store(false)
	}()
	return true
}

// gcDue reports whether a collection is due once since bytes were
// allocated after the last one, which left live bytes and set the goal
// (the runtime's own trigger is somewhat below the goal).
func gcDue(since, live, goal uint64) bool {
	return goal > live && since >= (goal-live)/2
}
