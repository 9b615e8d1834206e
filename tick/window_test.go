package tick_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/tick"
)

func TestWindowPercentilesNearestRank(t *testing.T) {
	w := tick.NewWindow(100)
	// 1..100 ms in a fixed shuffled order: the result must not depend on
	// recording order.
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(100) {
		w.Record(time.Duration(i+1) * time.Millisecond)
	}
	got := w.Summary()
	want := tick.Summary{
		Samples:    100,
		P50:        50 * time.Millisecond,
		P90:        90 * time.Millisecond,
		P99:        99 * time.Millisecond,
		Max:        100 * time.Millisecond,
		AllTimeMax: 100 * time.Millisecond,
	}
	if got != want {
		t.Fatalf("Summary = %+v\nwant      %+v", got, want)
	}
}

func TestWindowEvictsOldestKeepsAllTimeMax(t *testing.T) {
	w := tick.NewWindow(10)
	w.Record(time.Second) // evicted by the ten that follow
	for i := 1; i <= 10; i++ {
		w.Record(time.Duration(i))
	}
	got := w.Summary()
	want := tick.Summary{Samples: 10, P50: 5, P90: 9, P99: 10, Max: 10, AllTimeMax: time.Second}
	if got != want {
		t.Fatalf("Summary = %+v, want %+v", got, want)
	}
	if w.Count() != 11 || w.Len() != 10 || w.Size() != 10 || w.Max() != time.Second {
		t.Fatalf("Count, Len, Size, Max = %d, %d, %d, %v", w.Count(), w.Len(), w.Size(), w.Max())
	}
}

func TestWindowSmallSamplesAndEmpty(t *testing.T) {
	if got := tick.NewWindow(8).Summary(); got != (tick.Summary{}) {
		t.Fatalf("empty Summary = %+v", got)
	}
	w := tick.NewWindow(8)
	w.Record(-3) // lateness can be negative; max must still track it
	if s := w.Summary(); s.P50 != -3 || s.P99 != -3 || s.Max != -3 || s.AllTimeMax != -3 {
		t.Fatalf("single negative sample: %+v", s)
	}
	w.Record(7)
	if s := w.Summary(); s.P50 != -3 || s.P90 != 7 || s.Max != 7 {
		t.Fatalf("two samples: %+v", s)
	}
	var zero tick.Window // no ring: Count and Max only
	zero.Record(5)
	if s := zero.Summary(); s != (tick.Summary{AllTimeMax: 5}) || zero.Count() != 1 {
		t.Fatalf("zero Window: %+v count %d", s, zero.Count())
	}
}

func TestWindowCopyFromAndReset(t *testing.T) {
	src := tick.NewWindow(4)
	for i := 1; i <= 6; i++ { // wraps: holds 3..6
		src.Record(time.Duration(i))
	}
	var dst tick.Window
	dst.CopyFrom(src)
	if dst.Summary() != src.Summary() {
		t.Fatalf("copy %+v != source %+v", dst.Summary(), src.Summary())
	}
	// The copy must be independent and keep ring order for later records.
	src.Record(100)
	dst.Record(1)
	if s := dst.Summary(); s.Max != 6 || s.P50 != 4 || dst.Count() != 7 {
		t.Fatalf("copy after own record: %+v", s)
	}
	if allocs := testing.AllocsPerRun(100, func() { dst.CopyFrom(src) }); allocs != 0 {
		t.Errorf("CopyFrom into a big-enough window allocated %v times", allocs)
	}
	src.Reset()
	if src.Summary() != (tick.Summary{}) || src.Count() != 0 || src.Size() != 4 {
		t.Fatalf("after Reset: %+v", src.Summary())
	}
}

func TestWindowRecordAllocFree(t *testing.T) {
	w := tick.NewWindow(tick.StatsWindow)
	d := time.Duration(0)
	allocs := testing.AllocsPerRun(10000, func() {
		d++
		w.Record(d)
	})
	if allocs != 0 {
		t.Fatalf("Record allocated %v times per call", allocs)
	}
}

func BenchmarkWindowRecord(b *testing.B) {
	w := tick.NewWindow(tick.StatsWindow)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.Record(time.Duration(i))
	}
}
