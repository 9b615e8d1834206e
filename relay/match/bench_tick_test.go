package match

import (
	"runtime"
	"slices"
	"testing"
	"time"
)

// tickPeriod is the relay's tick at 30 Hz: it calls Step once per tick.
const tickPeriod = time.Second / 30

// tickScenario is a queue of 10,000 tickets that BenchmarkTick steps
// through tick by tick.
type tickScenario struct {
	name string
	q    QueueConfig
	// fill adds tickets at now until the matchmaker holds want. It runs
	// before every tick, untimed.
	fill func(m *Matchmaker, now time.Time, want int)
	// burst: instead of topping the queue up on every tick, every
	// burstTicks ticks the queue is emptied and gets 10,000 tickets at
	// once.
	burst bool
	// warmup is the queue time simulated before measuring.
	warmup time.Duration
	// waited is how long a burst's tickets have waited when they arrive.
	waited time.Duration
}

const (
	tickWaiting = 10_000
	burstTicks  = 60 // two seconds between bursts
)

// benchSteadyFill is BenchmarkStep's arrival process: one region of six
// and one map of eight (48 pools), skills with sd 600.
func benchSteadyFill(parties bool) func(*Matchmaker, time.Time, int) {
	gen := newBenchGen(600, parties)
	var maps []map[string]string
	for _, name := range []string{"dust", "nuke", "inferno", "mirage", "train", "vertigo", "ancient", "anubis"} {
		maps = append(maps, map[string]string{"map": name})
	}
	var players []Player
	return func(m *Matchmaker, now time.Time, want int) {
		for m.Len() < want {
			t := gen.ticket("ranked", now, players)
			t.Regions = benchRegions[gen.rng.IntN(len(benchRegions)):][:1]
			t.Props = maps[gen.rng.IntN(len(maps))]
			players = t.Players
			if err := m.Add(t); err != nil {
				panic(err)
			}
		}
	}
}

// benchBurstFill adds random tickets (BenchmarkStepFormAll's) enqueued at
// now.
func benchBurstFill(skillSD float64) func(*Matchmaker, time.Time, int) {
	gen := newBenchGen(skillSD, true)
	var players []Player
	return func(m *Matchmaker, now time.Time, want int) {
		for m.Len() < want {
			t := gen.ticket("ranked", now, players)
			players = t.Players
			if err := m.Add(t); err != nil {
				panic(err)
			}
		}
	}
}

// benchPartiesOfThree adds parties of three that can never fill a team of
// four (BenchmarkStepUnmatchable's queue).
func benchPartiesOfThree() func(*Matchmaker, time.Time, int) {
	var id uint64
	return func(m *Matchmaker, now time.Time, want int) {
		for m.Len() < want {
			id++
			p := uint32(id * 4)
			if err := m.Add(Ticket{ID: id, Mode: "ranked", Players: []Player{{ID: p}, {ID: p + 1}, {ID: p + 2}}, Enqueued: now}); err != nil {
				panic(err)
			}
		}
	}
}

func tickScenarios() []tickScenario {
	steady := QueueConfig{
		Teams: 2, TeamSize: 5, SkillWindow: 20, SkillWidening: 2, MaxSkillWindow: 400,
		MaxWait: 5 * time.Minute, Interval: time.Second,
	}
	return []tickScenario{
		{name: "steady/5v5-solo", q: steady, fill: benchSteadyFill(false), warmup: 10 * time.Minute},
		{name: "steady/5v5-parties", q: steady, fill: benchSteadyFill(true), warmup: 10 * time.Minute},
		{name: "unmatchable/parties-of-3-teams-of-4", q: QueueConfig{Teams: 2, TeamSize: 4, MaxWait: time.Hour},
			fill: benchPartiesOfThree(), warmup: time.Second},
		{name: "burst/5v5-skill-sd-350", q: benchQueue, fill: benchBurstFill(350), burst: true, waited: time.Minute},
		{name: "burst/ffa-8-no-skill", q: QueueConfig{MaxPlayers: 8}, fill: benchBurstFill(0), burst: true, waited: time.Minute},
	}
}

// BenchmarkTick measures Step as the relay's hub calls it, once per tick
// at 30 Hz, with 10,000 tickets waiting; an op is one tick. It reports
// the mean cost of a tick's Step (ns/op, allocs/op; cpu-us/op in thread
// CPU time, which is the total work of the runs per tick), the worst and the
// 99th-percentile single Step in CPU time (max-ms, p99-ms: the share of
// the 33 ms tick the matchmaker can take, whatever else the machine
// runs), the worst in wall time (wall-max-ms), and the most Steps a queue's
// run took (max-run-ticks; Config.StepBudget spreads a run over Steps).
//
//   - steady: BenchmarkStep's hard-to-match 5-against-5 queue (about 150
//     arrivals a second, 48 pools, windows widening slowly), topped up to
//     10,000 before every tick after ten minutes of warm-up.
//   - unmatchable: 10,000 parties of three for teams of four, run every
//     tick (Interval 0).
//   - burst: 10,000 tickets that waited a minute arrive at once (5v5 with
//     skill sd 350, or free-for-all of 8 without skill), every 60 ticks
//     after the queue was emptied (one burst of warm-up).
func BenchmarkTick(b *testing.B) {
	for _, sc := range tickScenarios() {
		b.Run(sc.name, func(b *testing.B) { benchTicks(b, sc) })
	}
}

func benchTicks(b *testing.B, sc tickScenario) {
	m, err := New(benchConfig(Config{Queues: map[string]QueueConfig{"ranked": sc.q}}))
	if err != nil {
		b.Fatal(err)
	}
	now := epoch
	var res Results
	var ticks int
	tick := func() {
		if sc.burst && ticks%burstTicks == 0 {
			for id := range m.tickets {
				m.Cancel(id)
			}
			sc.fill(m, now.Add(-sc.waited), tickWaiting)
		} else if !sc.burst {
			sc.fill(m, now, tickWaiting)
		}
		now = now.Add(tickPeriod)
		res.Reset()
	}
	// Warm up: to the steady state, or through one burst (so that the
	// buffers have grown).
	for end := now.Add(max(sc.warmup, burstTicks*tickPeriod)); now.Before(end); ticks++ {
		tick()
		m.Step(now, &res)
	}
	ticks = 0
	var cpu, wall []int64
	var matches, busy, longest int
	runtime.LockOSThread() // threadCPU reads this thread's clock
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		tick()
		b.StartTimer()
		t0, c0 := time.Now(), threadCPU()
		m.Step(now, &res)
		c1, t1 := threadCPU(), time.Now()
		cpu, wall = append(cpu, c1-c0), append(wall, int64(t1.Sub(t0)))
		matches += len(res.Matches)
		ticks++
		if busy++; !m.busy() {
			longest, busy = max(longest, busy), 0
		}
	}
	b.StopTimer()
	var total int64
	for _, c := range cpu {
		total += c
	}
	b.ReportMetric(float64(total)/float64(len(cpu))/1e3, "cpu-us/op")
	slices.Sort(cpu)
	b.ReportMetric(float64(cpu[len(cpu)-1])/1e6, "max-ms")
	b.ReportMetric(float64(cpu[len(cpu)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(slices.Max(wall))/1e6, "wall-max-ms")
	b.ReportMetric(float64(matches)/float64(ticks), "matches/op")
	b.ReportMetric(float64(longest), "max-run-ticks")
}
