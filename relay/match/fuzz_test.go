package match

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// fuzzBytes hands out a fuzz input piece by piece; past its end, zeros.
type fuzzBytes []byte

func (b *fuzzBytes) byte() byte {
	if len(*b) == 0 {
		return 0
	}
	c := (*b)[0]
	*b = (*b)[1:]
	return c
}

func (b *fuzzBytes) str() string {
	n := int(b.byte() % 8)
	n = min(n, len(*b))
	s := string((*b)[:n])
	*b = (*b)[n:]
	return s
}

func (b *fuzzBytes) float() float64 {
	var raw [8]byte
	for i := range raw {
		raw[i] = b.byte()
	}
	switch raw[0] % 4 {
	case 0:
		return math.Float64frombits(binary.LittleEndian.Uint64(raw[:])) // anything: NaN, Inf, huge
	default:
		return float64(binary.LittleEndian.Uint16(raw[1:])) // ordinary skills that match
	}
}

// FuzzMatchmaker drives a Matchmaker with arbitrary calls, as a caller
// passing on whatever its clients send would: odd modes, regions and
// props, NaN and huge skills, duplicate ids and players, backfills with
// bad seats, and a small StepBudget so that runs spread over Steps with
// these calls between them. Nothing may panic, and every Step's results
// must be well formed: tickets out of the queue, each player once, teams
// in range.
func FuzzMatchmaker(f *testing.F) {
	f.Add([]byte("\x00\x01\x02ffa\x02\x05\x07\x00\x00\x00\x00\x00\x00\x00\x01eu\x04\x10"))
	f.Add([]byte{0, 1, 3, 0, 2, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 2, 3, 1, 0, 0, 4, 200})
	f.Fuzz(fuzzMatchmaker)
}

func fuzzMatchmaker(t *testing.T, data []byte) {
	in := fuzzBytes(data)
	m, err := New(Config{
		MaxTickets:   32,
		MaxBackfills: 4,
		StepBudget:   int(in.byte() % 64), // most runs spread over Steps; 0: the default
		Queues: map[string]QueueConfig{
			"teams": {Teams: 2, TeamSize: 3, MinPlayers: 4, FillWait: time.Second, SkillWindow: 100, SkillWidening: 50, MaxWait: 30 * time.Second},
			"duel":  {SkillWindow: 1e300, SkillWidening: 1e300},
		},
		Default: &QueueConfig{MaxPlayers: 4, MinPlayers: 2, SkillWindow: 500, MaxWait: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	modes := []string{"teams", "duel", "", "misc"}
	mode := func() string {
		if c := in.byte(); c < 200 {
			return modes[int(c)%len(modes)]
		}
		return in.str()
	}
	now := epoch
	var res Results
	for steps := 0; len(in) > 0 && steps < 200; steps++ {
		switch in.byte() % 5 {
		case 0:
			tk := Ticket{ID: uint64(in.byte() % 16), Mode: mode()}
			if c := in.byte(); c != 0 {
				tk.Enqueued = now.Add(-time.Duration(c) * 100 * time.Millisecond)
			}
			for range in.byte() % 5 {
				tk.Players = append(tk.Players, Player{ID: uint32(in.byte()), Skill: in.float()})
			}
			for range in.byte() % 4 {
				tk.Regions = append(tk.Regions, in.str())
			}
			if n := in.byte() % 3; n > 0 {
				tk.Props = map[string]string{}
				for range n {
					tk.Props[in.str()] = in.str()
				}
			}
			_ = m.Add(tk)
		case 1:
			m.Cancel(uint64(in.byte() % 16))
		case 2:
			bf := Backfill{ID: uint64(in.byte() % 4), Mode: mode(), Region: in.str(), Skill: in.float(), Created: now}
			for range in.byte() % 6 {
				bf.Seats = append(bf.Seats, int(int8(in.byte()))%3)
			}
			_ = m.RequestBackfill(bf)
		case 3:
			m.CancelBackfill(uint64(in.byte() % 4))
		case 4:
			now = now.Add(time.Duration(in.byte()) * 100 * time.Millisecond)
			res.Reset()
			m.Step(now, &res)
			checkResults(t, m, &res)
		}
		if m.Len() > 32 || m.OpenBackfills() > 4 {
			t.Fatalf("over the limits: %d tickets, %d backfills", m.Len(), m.OpenBackfills())
		}
	}
}

func checkResults(t *testing.T, m *Matchmaker, res *Results) {
	seen := map[uint32]bool{}
	check := func(tickets []uint64, players []MatchedPlayer, teams int) {
		for _, id := range tickets {
			if m.Queued(id) {
				t.Fatalf("ticket %d in a result is still queued", id)
			}
		}
		for _, p := range players {
			if seen[p.ID] {
				t.Fatalf("player %d twice in one Step's results", p.ID)
			}
			seen[p.ID] = true
			if p.Team < 0 || p.Team >= max(teams, 1) {
				t.Fatalf("player %d on team %d of %d", p.ID, p.Team, teams)
			}
		}
	}
	for _, mt := range res.Matches {
		check(mt.Tickets, mt.Players, mt.Teams)
	}
	for _, f := range res.Fills {
		check(f.Tickets, f.Players, 2)
	}
	for _, id := range res.TimedOut {
		if m.Queued(id) {
			t.Fatalf("timed out ticket %d is still queued", id)
		}
	}
}
