package tick

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistBucketsContainTheirDurations(t *testing.T) {
	for i := 1; i < HistBuckets-1; i++ {
		lo, hi := HistBound(i-1), HistBound(i)
		if hi <= lo {
			t.Fatalf("bound %d (%v) not above bound %d (%v)", i, hi, i-1, lo)
		}
		if r := float64(hi) / float64(lo); r > 1.095 {
			t.Fatalf("buckets %d and %d are %.3fx apart", i-1, i, r)
		}
		for _, d := range []time.Duration{lo + 1, hi} {
			if got := histIndex(d); got != i {
				t.Fatalf("%v lands in bucket %d, want %d (%v, %v]", d, got, i, lo, hi)
			}
		}
	}
	if histIndex(-time.Second) != 0 || histIndex(0) != 0 || histIndex(HistMin) != 0 {
		t.Fatal("durations up to HistMin belong to bucket 0")
	}
	if got := histIndex(time.Hour); got != HistBuckets-1 {
		t.Fatalf("an hour lands in %d, want the open bucket %d", got, HistBuckets-1)
	}
}

// Quantiles of a difference of snapshots match the exact quantiles of the
// durations recorded in between, within a bucket (9%), and never below.
func TestHistQuantileOfDifference(t *testing.T) {
	var h Hist
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 { // before the window: short
		h.record(time.Duration(r.IntN(100)) * time.Microsecond)
	}
	before := h
	var window []time.Duration
	for range 5000 {
		d := time.Duration(r.ExpFloat64() * float64(3*time.Millisecond))
		window = append(window, d)
		h.record(d)
	}
	diff := h.Sub(before)
	if diff.Total() != 5000 {
		t.Fatalf("difference holds %d durations, want 5000", diff.Total())
	}
	slices.Sort(window)
	for _, q := range []float64{0.5, 0.9, 0.99, 1} {
		exact := window[int(q*float64(len(window)))-1]
		got := diff.Quantile(q)
		if got < exact || float64(got) > float64(max(exact, HistMin))*1.095 {
			t.Errorf("q%.2f: %v, exact %v", q, got, exact)
		}
	}
	var empty Hist
	if empty.Quantile(0.5) != 0 {
		t.Error("an empty histogram has no quantile")
	}
}
