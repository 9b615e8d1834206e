package main

import (
	"math/bits"
	"time"
)

// hist is a log-linear histogram of non-negative durations: 32 linear
// sub-buckets per power of two, so any quantile it reports is within about
// 3% of the true value. Recording is a few instructions and never
// allocates, which matters at hundreds of thousands of samples per second
// on the bots' worker threads; it has fixed size, so it can be copied and
// merged.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
	sum    int64
	min    int64
	max    int64
}

const (
	subBits     = 5
	subCount    = 1 << subBits
	histBuckets = (64 - subBits) * subCount
)

func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - subBits - 1 // shift that leaves subBits+1 significant bits
	return (e+1)<<subBits + int(uint64(v)>>e&(subCount-1))
}

// bucketMid is the middle of bucket i, the value reported for it.
func bucketMid(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	e := i>>subBits - 1
	lo := int64(subCount+i&(subCount-1)) << e
	return lo + (int64(1)<<e)/2
}

func (h *hist) record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

func (h *hist) merge(o *hist) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

func (h *hist) reset() { *h = hist{} }

// quantile uses the nearest-rank method and clamps to the observed range,
// so p100 is the exact maximum.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	if rank == h.n {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(bucketMid(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
