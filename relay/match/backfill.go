package match

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

// Backfill asks for players for the open seats of a running match. Each
// Step that runs its mode's queue, before new matches are formed, it takes
// the oldest queued tickets that suit it: same mode and props, accepting
// its region, its skill centre within the ticket's window and the ticket
// within the request's own window (which widens from Created by the
// queue's rules, like a ticket's), and a team with enough open seats for
// the whole party. It stays open until its seats are filled, it is
// cancelled, or its deadline passes.
type Backfill struct {
	// ID is chosen by the caller (e.g. the room's) and unique among open
	// requests.
	ID   uint64
	Mode string
	// Region is the match's region; tickets must accept it. Empty: tickets
	// of any region.
	Region string
	// Skill is the centre of the match's skill (Match.Skill, or the mean
	// of its players now).
	Skill float64
	// Props are the match's properties; tickets must have the same.
	Props map[string]string
	// Seats lists the team of each open seat (0 to Teams-1; 0 in
	// free-for-all): two seats on team 1 are [1, 1].
	Seats []int
	// Created is when the request was made: the start of its window.
	Created time.Time
	// Deadline is when the request expires. Zero: Created + the queue's
	// MaxWait.
	Deadline time.Time
}

// backfill is an open Backfill.
type backfill struct {
	id       uint64
	b        *bucket
	regions  []uint8 // the region's bit, or none for any region
	mask     uint64
	skill    float64
	open     []int // open seats per team
	nOpen    int
	created  int64
	deadline int64
	gone     bool
}

// OpenBackfills is the number of open backfill requests.
func (m *Matchmaker) OpenBackfills() int { return len(m.backfills) }

// RequestBackfill opens a backfill request. It refuses, changing nothing,
// a request whose ID is open, of a mode without a queue (with
// Config.Strict), with more seats than a match or a team has, or that is
// malformed.
func (m *Matchmaker) RequestBackfill(req Backfill) error {
	if m.backfills[req.ID] != nil {
		return fmt.Errorf("backfill %d: %w", req.ID, ErrDuplicateBackfill)
	}
	rules, open, key, err := m.checkBackfill(&req)
	if err != nil {
		return err
	}
	if len(m.backfills) >= m.cfg.maxBackfills {
		return fmt.Errorf("backfill %d: %w: %d backfill requests open", req.ID, ErrFull, len(m.backfills))
	}
	bf := &backfill{id: req.ID, skill: req.Skill, open: open, nOpen: len(req.Seats), created: req.Created.UnixNano()}
	if req.Region != "" {
		if bf.regions, bf.mask, err = m.regions.acquire([]string{req.Region}, nil); err != nil {
			return fmt.Errorf("backfill %d: %w", req.ID, err)
		}
	} else {
		bf.mask = anyRegion
	}
	bf.deadline = bf.created + rules.maxWait
	if !req.Deadline.IsZero() {
		bf.deadline = req.Deadline.UnixNano()
	}
	bf.b = m.bucketFor(req.Mode, rules, key, req.Props)
	bf.b.backfills = append(bf.b.backfills, bf)
	m.backfills[req.ID] = bf
	return nil
}

// checkBackfill checks req for its own sake (mode, seats, props) and
// returns its queue's rules, its open seats per team and its props key.
func (m *Matchmaker) checkBackfill(req *Backfill) (queueRules, []int, []byte, error) {
	rules, err := m.rulesFor(req.Mode)
	if err != nil {
		return rules, nil, nil, fmt.Errorf("backfill %d: %w", req.ID, err)
	}
	open, err := checkSeats(req, &rules)
	if err != nil {
		return rules, nil, nil, fmt.Errorf("backfill %d: %w", req.ID, err)
	}
	key, err := m.propsKey(req.Props)
	if err != nil {
		return rules, nil, nil, fmt.Errorf("backfill %d: %w", req.ID, err)
	}
	return rules, open, key, nil
}

// checkSeats checks everything about req but its props and region, and
// returns its open seats per team.
func checkSeats(req *Backfill, r *queueRules) ([]int, error) {
	switch {
	case req.Created.IsZero():
		return nil, fmt.Errorf("%w: no creation time", ErrInvalid)
	case math.IsNaN(req.Skill) || math.IsInf(req.Skill, 0):
		return nil, fmt.Errorf("%w: skill %v", ErrInvalid, req.Skill)
	case len(req.Seats) == 0:
		return nil, fmt.Errorf("%w: no seats", ErrInvalid)
	case len(req.Seats) > r.MaxPlayers:
		return nil, fmt.Errorf("%w: %d seats, a match has %d", ErrInvalid, len(req.Seats), r.MaxPlayers)
	}
	open := make([]int, r.teamCount())
	for _, t := range req.Seats {
		if t < 0 || t >= len(open) {
			if r.Teams == 0 {
				return nil, fmt.Errorf("%w: seat on team %d in a free-for-all queue (use 0)", ErrInvalid, t)
			}
			return nil, fmt.Errorf("%w: seat on team %d, the queue has teams 0 to %d", ErrInvalid, t, r.Teams-1)
		}
		open[t]++
		if open[t] > r.teamCap() {
			return nil, fmt.Errorf("%w: %d seats on team %d, a team has %d", ErrInvalid, open[t], t, r.teamCap())
		}
	}
	return open, nil
}

// CancelBackfill closes the backfill request id. It reports whether the
// request was open.
func (m *Matchmaker) CancelBackfill(id uint64) bool {
	bf := m.backfills[id]
	if bf == nil {
		return false
	}
	m.closeBackfill(bf)
	return true
}

func (m *Matchmaker) closeBackfill(bf *backfill) {
	delete(m.backfills, bf.id)
	m.regions.releaseBits(bf.regions)
	bf.regions = nil
	bf.gone = true
}

// runBackfills expires and fills the open requests of b, oldest first,
// from m.run.next on. It reports false if the Step's budget ran out first;
// the next call goes on from there.
func (m *Matchmaker) runBackfills(b *bucket, now int64, out *Results) bool {
	r := &m.run
	for ; r.next < len(b.backfills); r.next++ { // requests made meanwhile too
		bf := b.backfills[r.next]
		switch {
		case bf.gone:
			continue
		case now >= bf.deadline:
			out.Expired = append(out.Expired, bf.id)
			m.closeBackfill(bf)
			continue
		case m.spent():
			return false
		}
		m.fill(b, bf, now, out)
		if bf.nOpen == 0 {
			m.closeBackfill(bf)
		}
	}
	b.backfills = slices.DeleteFunc(b.backfills, func(bf *backfill) bool { return bf.gone }) // clears the tail
	return true
}

// fill places the oldest suitable tickets of b into bf's open seats.
func (m *Matchmaker) fill(b *bucket, bf *backfill, now int64, out *Results) {
	w := b.q.rules.window(now - bf.created)
	i, j := b.searchRange(bf.skill-w, bf.skill+w)
	t0, p0 := len(out.tickets), len(out.players)
	f := &m.form
	f.work++
	if c := j - i; c > ageScanMin && c*c > 2*b.q.rules.MaxPlayers*len(b.agePos) {
		// Many in range: scan in age order and stop when the seats are filled.
		for _, p := range b.agePos {
			if bf.nOpen == 0 {
				break
			}
			f.work++
			if math.Abs(b.skill[p]-bf.skill) <= w {
				m.seat(b, bf, p, out)
			}
		}
	} else {
		cands := f.cands[:0]
		for p := int32(i); p < int32(j); p++ {
			cands = append(cands, p)
		}
		f.work += 2 * len(cands) * bits.Len(uint(len(cands)))
		rank := b.rank
		slices.SortFunc(cands, func(x, y int32) int { return cmp.Compare(rank[x], rank[y]) })
		for _, p := range cands {
			if bf.nOpen == 0 {
				break
			}
			m.seat(b, bf, p, out)
		}
		f.cands = cands[:0]
	}
	if len(out.tickets) > t0 {
		tickets, players := out.since(t0, p0)
		out.Fills = append(out.Fills, Fill{Backfill: bf.id, Tickets: tickets, Players: players, Open: bf.nOpen})
	}
}

// seat places ticket p into bf if it accepts bf's region and skill and a
// team has room for it; p's skill is within bf's window.
func (m *Matchmaker) seat(b *bucket, bf *backfill, p int32, out *Results) {
	n := int(b.size[p])
	if b.mask[p]&bf.mask == 0 || math.Abs(b.skill[p]-bf.skill) > b.window[p] || n > bf.nOpen {
		return
	}
	team := -1
	for t, open := range bf.open {
		if open >= n && (team < 0 || open > bf.open[team]) {
			team = t
		}
	}
	if team < 0 {
		return
	}
	bf.open[team] -= n
	bf.nOpen -= n
	out.appendTicket(b.tix[p], team)
	m.remove(b.tix[p])
}
