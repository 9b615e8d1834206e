package match

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// boundByPairs is skillBound done the plain way: for every pair (L, H)
// of skills around the anchor's, count the tickets in [L, H] whose
// windows hold both.
func boundByPairs(s, w []float64, n []int, ia int) int {
	best := 0
	for _, lo := range s {
		if lo > s[ia] {
			continue
		}
		for _, hi := range s {
			if hi < s[ia] {
				continue
			}
			players := 0
			for x := range s {
				if s[x] >= lo && s[x] <= hi && s[x]-w[x] <= lo && s[x]+w[x] >= hi {
					players += n[x]
				}
			}
			if s[ia]-w[ia] <= lo && s[ia]+w[ia] >= hi {
				best = max(best, players)
			}
		}
	}
	return best
}

// bound agrees with boundByPairs on random tickets (ties, parties, up to
// 64 of them) below the cap it is given, and reaches the cap when
// boundByPairs does.
func TestBoundMatchesPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var f former
	for i := range 20_000 {
		n := 1 + rng.IntN(64)
		spread := []float64{5, 50, 500}[rng.IntN(3)]
		f.bs, f.bw, f.bn = f.bs[:0], f.bw[:0], f.bn[:0]
		for range n {
			f.bs = append(f.bs, float64(rng.IntN(int(spread)+1)))
		}
		slices.Sort(f.bs)
		for range n {
			f.bw = append(f.bw, float64(rng.IntN(int(spread)/2+1)))
			size := 1
			if i%2 == 0 && rng.IntN(4) == 0 {
				size = 2 + rng.IntN(3)
			}
			f.bn = append(f.bn, size)
		}
		ia := rng.IntN(n)
		want := boundByPairs(f.bs, f.bw, f.bn, ia)
		enough := 1 + rng.IntN(2*n)
		got := f.bound(ia, enough)
		if want < enough && got != want || want >= enough && got < enough {
			t.Fatalf("case %d: skills %v windows %v sizes %v anchor %d, cap %d: bound %d, by pairs %d",
				i, f.bs, f.bw, f.bn, ia, enough, got, want)
		}
		if got > want {
			t.Fatalf("case %d: bound %d over the true %d", i, got, want)
		}
	}
}
