package tick

import (
	"slices"
	"time"
)

// Window keeps the most recent durations in a fixed ring so percentiles can
// be taken over "lately" rather than since boot, where a slow start-up would
// dominate forever. Record is O(1) and never allocates, so it is cheap
// enough for per-tick paths; Summary pays for the copy and sort instead.
//
// A Window is not safe for concurrent use. A reader on another goroutine
// should, under the writer's lock, CopyFrom into its own Window and call
// Summary after unlocking, keeping the sort out of the critical section.
//
// The zero Window has no ring: it tracks Count and Max only.
type Window struct {
	buf   []time.Duration
	next  int           // slot the next Record overwrites
	n     int           // filled slots, at most len(buf)
	count uint64        // records since creation or Reset
	max   time.Duration // largest record since creation or Reset
}

// Summary describes a Window's contents. Percentiles use the nearest-rank
// method, so every value reported is one that was actually recorded.
type Summary struct {
	Samples    int           // durations in the window
	P50        time.Duration // median of the window
	P90        time.Duration
	P99        time.Duration
	Max        time.Duration // largest duration in the window
	AllTimeMax time.Duration // largest duration ever recorded, even if evicted
}

// NewWindow returns a Window holding the last size durations. It panics if
// size is negative.
func NewWindow(size int) *Window {
	return &Window{buf: make([]time.Duration, size)}
}

// Record adds d, evicting the oldest duration once the window is full.
func (w *Window) Record(d time.Duration) {
	if w.count == 0 || d > w.max {
		w.max = d
	}
	w.count++
	if len(w.buf) == 0 {
		return
	}
	w.buf[w.next] = d
	w.next++
	if w.next == len(w.buf) {
		w.next = 0
	}
	if w.n < len(w.buf) {
		w.n++
	}
}

// Len returns how many durations the window currently holds.
func (w *Window) Len() int { return w.n }

// Size returns how many durations the window can hold.
func (w *Window) Size() int { return len(w.buf) }

// Count returns how many durations were recorded, including evicted ones.
func (w *Window) Count() uint64 { return w.count }

// Max returns the largest duration ever recorded, or 0 if none was.
func (w *Window) Max() time.Duration { return w.max }

// Reset empties the window, keeping its size and memory.
func (w *Window) Reset() {
	w.next, w.n, w.count, w.max = 0, 0, 0, 0
}

// CopyFrom makes w an exact copy of src, reusing w's memory when it is big
// enough; a reader keeps one Window around to snapshot into without
// allocating.
func (w *Window) CopyFrom(src *Window) {
	if cap(w.buf) < len(src.buf) {
		w.buf = make([]time.Duration, len(src.buf))
	}
	w.buf = w.buf[:len(src.buf)]
	// Slots are filled from 0 upwards before the ring wraps, so the first n
	// slots are exactly the live ones.
	copy(w.buf, src.buf[:src.n])
	w.next, w.n, w.count, w.max = src.next, src.n, src.count, src.max
}

// Summary computes percentiles over the window. It allocates a sorted copy
// and leaves the window unchanged.
func (w *Window) Summary() Summary {
	s := Summary{Samples: w.n, AllTimeMax: w.max}
	if w.n == 0 {
		return s
	}
	sorted := slices.Clone(w.buf[:w.n])
	slices.Sort(sorted)
	s.P50 = nearestRank(sorted, 50)
	s.P90 = nearestRank(sorted, 90)
	s.P99 = nearestRank(sorted, 99)
	s.Max = sorted[len(sorted)-1]
	return s
}

// nearestRank returns the smallest value with at least pct percent of the
// sorted, non-empty samples at or below it.
func nearestRank(sorted []time.Duration, pct int) time.Duration {
	rank := (pct*len(sorted) + 99) / 100 // ceil(pct/100 * n), 1-based
	return sorted[max(rank, 1)-1]
}
