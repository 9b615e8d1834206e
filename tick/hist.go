package tick

import (
	"math"
	"time"
)

// Hist is a cumulative histogram of durations since Run started: counts in
// log-spaced buckets (eight per doubling, so a bucket's bounds are 9% apart)
// from HistMin up, the last bucket open-ended. Unlike the rolling Window,
// two snapshots subtract: the difference describes exactly the ticks in
// between, which is what a load test's measured window or a Prometheus
// rate() needs.
type Hist struct {
	Counts [HistBuckets]uint64
	Sum    time.Duration
}

const (
	// HistMin is the upper bound of the first bucket.
	HistMin = 10 * time.Microsecond
	// HistBuckets covers HistMin to about 0.65 s (HistMin x 2^16) in
	// bounded buckets, and everything longer in the last one.
	HistBuckets     = histPerDoubling*16 + 2
	histPerDoubling = 8
)

// HistBound returns bucket i's upper bound (inclusive); the last bucket has
// none and returns math.MaxInt64.
func HistBound(i int) time.Duration {
	if i >= HistBuckets-1 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Ceil(float64(HistMin) * math.Exp2(float64(i)/histPerDoubling)))
}

func histIndex(d time.Duration) int {
	if d <= HistMin {
		return 0
	}
	i := int(math.Ceil(histPerDoubling * math.Log2(float64(d)/float64(HistMin))))
	// Rounding in Log2 can land one bucket off the bounds HistBound gives.
	for i > 0 && d <= HistBound(i-1) {
		i--
	}
	for i < HistBuckets-1 && d > HistBound(i) {
		i++
	}
	return i
}

func (h *Hist) record(d time.Duration) {
	h.Counts[histIndex(max(d, 0))]++
	h.Sum += max(d, 0)
}

// Total is the number of durations recorded.
func (h *Hist) Total() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Sub returns h minus an earlier snapshot of the same histogram.
func (h Hist) Sub(earlier Hist) Hist {
	for i := range h.Counts {
		h.Counts[i] -= earlier.Counts[i]
	}
	h.Sum -= earlier.Sum
	return h
}

// Quantile returns the upper bound of the bucket holding the q-quantile
// (0 < q <= 1, nearest rank), so an overestimate by at most 9%; 0 when h is
// empty. For the open last bucket it returns the bound below it.
func (h *Hist) Quantile(q float64) time.Duration {
	n := h.Total()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank {
			return HistBound(min(i, HistBuckets-2))
		}
	}
	return HistBound(HistBuckets - 2)
}
