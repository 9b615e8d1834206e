package match

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// benchRegions are the regions of the benchmarks' tickets; each accepts one
// to three of them, most preferred first.
var benchRegions = []string{"eu-west", "eu-east", "us-east", "us-west", "asia", "sa"}

// benchGen makes random tickets for one mode.
type benchGen struct {
	rng     *rand.Rand
	next    uint64
	skillSD float64 // 0: every player has skill 0
	parties bool    // one ticket in five is a party of 2 or 3
	regions [][]string
}

func newBenchGen(skillSD float64, parties bool) *benchGen {
	g := &benchGen{rng: rand.New(rand.NewPCG(7, 11)), skillSD: skillSD, parties: parties}
	for range 64 { // a fixed pool: the benchmark does not measure building lists
		r := append([]string(nil), benchRegions...)
		g.rng.Shuffle(len(r), func(i, j int) { r[i], r[j] = r[j], r[i] })
		g.regions = append(g.regions, r[:1+g.rng.IntN(3)])
	}
	return g
}

func (g *benchGen) ticket(mode string, now time.Time, players []Player) Ticket {
	g.next++
	n := 1
	if g.parties && g.rng.IntN(5) == 0 {
		n = 2 + g.rng.IntN(2)
	}
	players = players[:0]
	for i := range n {
		s := 0.0
		if g.skillSD > 0 {
			s = math.Round(1500 + g.rng.NormFloat64()*g.skillSD)
		}
		players = append(players, Player{ID: uint32(g.next*4) + uint32(i), Skill: s})
	}
	return Ticket{ID: g.next, Mode: mode, Players: players, Regions: g.regions[g.rng.IntN(len(g.regions))], Enqueued: now}
}

// benchQueue is a 5-against-5 queue with a skill window of ±50 growing by
// 10 per second up to 400, which starts short (at 8) after 30 s.
var benchQueue = QueueConfig{
	Teams: 2, TeamSize: 5, MinPlayers: 8, FillWait: 30 * time.Second,
	SkillWindow: 50, SkillWidening: 10, MaxSkillWindow: 400,
	MaxWait: 5 * time.Minute, Interval: time.Second,
}

// BenchmarkStep measures a whole run (StepBudget -1: one Step does it
// all; BenchmarkTick measures Steps as the relay makes them) over a queue
// that holds 10,000 waiting tickets in a steady state: each op advances
// the clock by the queue's interval, runs Step, and (untimed) adds as many
// new tickets as left. The
// tickets are hard to match, so that they wait about a minute (the queue
// holding 10,000 means about 150 arrive per second): full 5-against-5
// matches only, one region each of six, one map each of eight (48 pools of
// about 200 tickets), skills spread wide (sd 600) and windows that start
// at ±20 and widen by 2 per second.
func BenchmarkStep(b *testing.B) {
	q := QueueConfig{
		Teams: 2, TeamSize: 5, SkillWindow: 20, SkillWidening: 2, MaxSkillWindow: 400,
		MaxWait: 5 * time.Minute, Interval: time.Second,
	}
	for _, parties := range []bool{false, true} {
		name := "5v5/solo"
		if parties {
			name = "5v5/parties"
		}
		b.Run(name, func(b *testing.B) {
			const waiting = 10_000
			m, err := New(Config{Queues: map[string]QueueConfig{"ranked": q}, StepBudget: -1})
			if err != nil {
				b.Fatal(err)
			}
			gen := newBenchGen(600, parties)
			maps := []map[string]string{}
			for _, name := range []string{"dust", "nuke", "inferno", "mirage", "train", "vertigo", "ancient", "anubis"} {
				maps = append(maps, map[string]string{"map": name})
			}
			now := epoch
			var players []Player
			var res Results
			fill := func() {
				for m.Len() < waiting {
					t := gen.ticket("ranked", now, players)
					t.Regions = benchRegions[gen.rng.IntN(len(benchRegions)):][:1]
					t.Props = maps[gen.rng.IntN(len(maps))]
					players = t.Players
					if err := m.Add(t); err != nil {
						b.Fatal(err)
					}
				}
			}
			// Warm up to the steady state: ten minutes of queue.
			for range 600 {
				fill()
				now = now.Add(q.Interval)
				res.Reset()
				m.Step(now, &res)
			}
			var matches, left int
			var waited time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				fill()
				now = now.Add(q.Interval)
				res.Reset()
				b.StartTimer()
				m.Step(now, &res)
				matches += len(res.Matches)
				left += len(res.TimedOut)
				for _, mt := range res.Matches {
					left += len(mt.Tickets)
				}
			}
			_ = waited
			b.ReportMetric(float64(matches)/float64(b.N), "matches/op")
			b.ReportMetric(float64(left)/float64(b.N), "left/op")
		})
	}
}

// BenchmarkStepFormAll measures one whole run (StepBudget -1) that
// matches 10,000 tickets that all arrived at once: about a thousand
// matches formed and their teams balanced.
func BenchmarkStepFormAll(b *testing.B) {
	for _, bc := range []struct {
		name    string
		q       QueueConfig
		skillSD float64
	}{
		{"5v5/skill-sd-350", benchQueue, 350},
		{"ffa-8/no-skill", QueueConfig{MaxPlayers: 8}, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			gen := newBenchGen(bc.skillSD, true)
			var players []Player
			var res Results
			var matches int
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				m, _ := New(Config{Queues: map[string]QueueConfig{"ranked": bc.q}, StepBudget: -1})
				for range 10_000 {
					t := gen.ticket("ranked", epoch, players)
					players = t.Players
					if err := m.Add(t); err != nil {
						b.Fatal(err)
					}
				}
				res.Reset()
				b.StartTimer()
				m.Step(epoch.Add(time.Minute), &res) // a minute's widening: most match
				matches += len(res.Matches)
			}
			b.ReportMetric(float64(matches)/float64(b.N), "matches/op")
		})
	}
}

// BenchmarkStepNotDue measures the Step of a tick on which no queue is due:
// the cost of calling Step on every tick.
func BenchmarkStepNotDue(b *testing.B) {
	m, _ := New(Config{Queues: map[string]QueueConfig{"ranked": benchQueue}, StepBudget: -1}) // the first Step ends its run
	gen := newBenchGen(350, true)
	for range 10_000 {
		if err := m.Add(gen.ticket("ranked", epoch, nil)); err != nil {
			b.Fatal(err)
		}
	}
	var res Results
	m.Step(epoch, &res)
	b.ReportAllocs()
	for b.Loop() {
		m.Step(epoch.Add(time.Millisecond), &res)
	}
}

// BenchmarkAddCancel measures Add and Cancel with 10,000 tickets queued:
// each op adds a ticket and cancels the one added 10,000 ops before. A
// Step (untimed) every 1,000 ops compacts the queue, as the tick would.
// Every ticket has its own skill and the window is 0, so none match.
func BenchmarkAddCancel(b *testing.B) {
	m, _ := New(Config{Queues: map[string]QueueConfig{"ranked": {Teams: 2, TeamSize: 5, Interval: time.Hour, MaxWait: 1000 * time.Hour}}, StepBudget: -1})
	gen := newBenchGen(350, true)
	var players []Player
	ticket := func(now time.Time) Ticket {
		t := gen.ticket("ranked", now, players)
		for i := range t.Players {
			t.Players[i].Skill = float64(t.ID)
		}
		players = t.Players
		return t
	}
	var res Results
	first := gen.next + 1
	for range 10_000 {
		if err := m.Add(ticket(epoch)); err != nil {
			b.Fatal(err)
		}
	}
	now := epoch
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := m.Add(ticket(now)); err != nil {
			b.Fatal(err)
		}
		if !m.Cancel(first) {
			b.Fatalf("ticket %d not queued", first)
		}
		first++
		if n++; n%1000 == 0 {
			b.StopTimer()
			now = now.Add(time.Hour)
			res.Reset()
			m.Step(now, &res)
			if res.Len() != 0 {
				b.Fatalf("%d results", res.Len())
			}
			b.StartTimer()
		}
	}
}

// BenchmarkStepUnmatchable measures a whole run (StepBudget -1) over
// 10,000 tickets of which no match can form and every pair accepts each
// other: parties of three for teams of four, no skill. The bucket's sizes
// cannot fill a team (bucket.fillable), so no ticket is tried.
func BenchmarkStepUnmatchable(b *testing.B) {
	m, _ := New(Config{Queues: map[string]QueueConfig{"x": {Teams: 2, TeamSize: 4, MaxWait: time.Hour}}, StepBudget: -1})
	for i := range 10_000 {
		id := uint64(i + 1)
		p := uint32(id * 4)
		if err := m.Add(Ticket{ID: id, Mode: "x", Players: []Player{{ID: p}, {ID: p + 1}, {ID: p + 2}}, Enqueued: epoch}); err != nil {
			b.Fatal(err)
		}
	}
	var res Results
	now := epoch
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		res.Reset()
		m.Step(now, &res)
		if res.Len() != 0 {
			b.Fatal("a match formed")
		}
	}
}
