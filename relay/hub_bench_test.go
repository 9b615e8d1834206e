package relay

import (
	"fmt"
	"testing"
)

func benchHubConfig() hubConfig {
	cfg := testHubConfig()
	cfg.maxPlayersPerRoom = 64
	cfg.maxRooms = 1000
	return cfg
}

// BenchmarkHubFrame measures frame building (end) for one room of n
// players with 64-byte states, all, a quarter or none of them changed
// since the previous tick. States are changed in place, without decoding.
func BenchmarkHubFrame(b *testing.B) {
	for _, n := range []int{2, 8, 16, 32, 64} {
		for _, ch := range []struct {
			name  string
			every int // every n-th player changes; 0: none
		}{{"all", 1}, {"25%", 4}, {"none", 0}} {
			b.Run(fmt.Sprintf("players=%d/changed=%s", n, ch.name), func(b *testing.B) {
				x := newHarnessConfig(b, benchHubConfig())
				cs, bodies := steadyRoom(b, x, 1, n, 64)
				for range 3 {
					steadyTick(x, cs, bodies) // every player has a state; buffers grown
				}
				out := x.stats.bytesOut.Load()
				b.ReportAllocs()
				ops := 0
				for b.Loop() {
					x.n++
					x.h.begin(x.n, x.timeOf(x.n))
					if ch.every > 0 {
						for i := 0; i < len(cs); i += ch.every {
							p := cs[i].p
							p.state[len(p.state)-1]++
							p.stateTick = x.n
						}
					}
					x.h.end()
					ops++
				}
				b.ReportMetric(float64(x.stats.bytesOut.Load()-out)/float64(ops), "out-B/op")
			})
		}
	}
}

// BenchmarkHubTick measures a whole tick (begin, decoding and applying a
// 64-byte state from every player, building and sending every frame) for
// r rooms of 8 players.
func BenchmarkHubTick(b *testing.B) {
	for _, r := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("rooms=%d", r), func(b *testing.B) {
			x := newHarnessConfig(b, benchHubConfig())
			cs, bodies := steadyRoom(b, x, r, 8, 64)
			for range 3 {
				steadyTick(x, cs, bodies)
			}
			b.ReportAllocs()
			for b.Loop() {
				steadyTick(x, cs, bodies)
			}
		})
	}
}
