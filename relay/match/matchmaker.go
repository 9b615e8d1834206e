package match

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Errors that Add and RequestBackfill wrap; test for them with errors.Is.
var (
	ErrDuplicateTicket   = errors.New("a ticket with this id is queued")
	ErrDuplicateBackfill = errors.New("a backfill request with this id is open")
	ErrUnknownMode       = errors.New("no queue for this mode")
	ErrPlayerQueued      = errors.New("player is already queued")
	ErrPartyTooLarge     = errors.New("party is too large")
	ErrFull              = errors.New("the matchmaker is full")
	ErrInvalid           = errors.New("invalid request")
)

// Player is one player of a ticket.
type Player struct {
	ID uint32
	// Skill is the player's rating, on whatever scale the game uses; the
	// queue's skill windows are in the same units.
	Skill float64
}

// Ticket asks for a match for one player or a party.
type Ticket struct {
	// ID is chosen by the caller and unique among queued tickets.
	ID   uint64
	Mode string
	// Players holds one player, or a party: players that land in the same
	// match and, with teams, on the same team. A party's skill, for the
	// windows, is its players' mean; for balancing teams, every player
	// counts.
	Players []Player
	// Regions lists the regions the ticket accepts, most preferred first.
	// Empty: any region.
	Regions []string
	// Props must be equal, key for key and byte for byte, on every ticket
	// of a match (e.g. "map": "dust"). Values are opaque.
	Props map[string]string
	// Enqueued is when the ticket entered the queue: it sets the ticket's
	// place in line, its skill window and its timeout. A ticket taken out
	// of a match it could not join may come back with its old time and
	// keep its place.
	Enqueued time.Time
}

// Matchmaker forms matches from queued tickets and fills open seats of
// running matches. It is a state machine without I/O, goroutines or
// locks: the caller owns it, calls it from one goroutine, and gives it the
// time. Create one with New.
type Matchmaker struct {
	cfg        validated
	queues     map[string]*queue
	queueOrder []*queue // creation order: results come in a stable order
	tickets    map[uint64]*ticket
	players    map[uint32]*ticket
	backfills  map[uint64]*backfill
	regions    regionTable
	free       []*ticket // tickets out of every bucket, for reuse
	seq        uint64    // order of Add: breaks ties of Enqueued
	stepped    bool      // Step has run
	lastStep   int64     // when

	// The runs of queues that are due, in order; the first is under way
	// (run.go).
	due     []*queue
	dueHead int
	run     runState

	alwaysTry bool // tests: try every anchor on every run, skipping none

	key      []byte   // scratch: a canonical props key
	propKeys []string // scratch: sorted props keys
	form     former
}

// queue is one mode's tickets, bucketed by their properties.
type queue struct {
	mode    string
	rules   queueRules
	buckets map[string]*bucket // by canonical props
	order   []*bucket          // creation order
	lastRun int64              // when its last run became due: the run's time
	ran     bool
	due     bool // in Matchmaker.due: a run is due or under way
}

// ticket is a queued Ticket.
type ticket struct {
	id      uint64
	players []Player
	skill   float64 // the players' mean
	sum     float64 // the players' total
	regions []uint8 // accepted region bits in order of preference; empty: any
	mask    uint64  // accepted region bits as a set
	enq     int64   // Enqueued in Unix nanoseconds
	seq     uint64
	b       *bucket
	pos     int32 // index in b's skill-ordered arrays; -1 while pending
	recheck int64 // see bucket.recheck
	gone    bool  // left the queue; b drops it at its next run
}

// New returns a Matchmaker with cfg, or an error naming what is wrong in
// it.
func New(cfg Config) (*Matchmaker, error) {
	v, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return &Matchmaker{
		cfg:       v,
		queues:    make(map[string]*queue),
		tickets:   make(map[uint64]*ticket),
		players:   make(map[uint32]*ticket),
		backfills: make(map[uint64]*backfill),
	}, nil
}

// Len is the number of queued tickets.
func (m *Matchmaker) Len() int { return len(m.tickets) }

// Queued reports whether the ticket id is queued.
func (m *Matchmaker) Queued(id uint64) bool { return m.tickets[id] != nil }

// Add queues t. It refuses, changing nothing, a ticket whose ID or a
// player of which is already queued, of a mode without a queue (with
// Config.Strict), with a party larger than a team (or than MaxPlayers in
// free-for-all), or that is malformed.
func (m *Matchmaker) Add(t Ticket) error {
	if m.tickets[t.ID] != nil {
		return fmt.Errorf("ticket %d: %w", t.ID, ErrDuplicateTicket)
	}
	rules, err := m.rulesFor(t.Mode)
	if err != nil {
		return fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	if len(m.tickets) >= m.cfg.maxTickets {
		return fmt.Errorf("ticket %d: %w: %d tickets queued", t.ID, ErrFull, len(m.tickets))
	}
	if err := m.checkTicket(&t, &rules); err != nil {
		return fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	key, err := m.propsKey(t.Props)
	if err != nil {
		return fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	tk := m.newTicket()
	var mask uint64
	if tk.regions, mask, err = m.regions.acquire(t.Regions, tk.regions[:0]); err != nil {
		m.free = append(m.free, tk)
		return fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	b := m.bucketFor(t.Mode, rules, key, t.Props)
	m.seq++
	tk.id, tk.mask, tk.enq, tk.seq, tk.b, tk.pos, tk.gone, tk.recheck = t.ID, mask, t.Enqueued.UnixNano(), m.seq, b, -1, false, 0
	tk.players = append(tk.players[:0], t.Players...)
	tk.sum = 0
	for _, p := range t.Players {
		tk.sum += p.Skill
		m.players[p.ID] = tk
	}
	tk.skill = tk.sum / float64(len(t.Players))
	m.tickets[t.ID] = tk
	b.pending = append(b.pending, tk)
	b.live++
	return nil
}

// Queue returns the configuration of mode's queue with its defaults
// applied (MaxPlayers, TeamSize and the rest as the queue uses them), or an
// error if the matchmaker has no queue for mode.
func (m *Matchmaker) Queue(mode string) (QueueConfig, error) {
	r, err := m.rulesFor(mode)
	return r.QueueConfig, err
}

func (m *Matchmaker) rulesFor(mode string) (queueRules, error) {
	if len(mode) > MaxModeLen {
		return queueRules{}, fmt.Errorf("%w: mode is longer than %d bytes", ErrInvalid, MaxModeLen)
	}
	if q := m.queues[mode]; q != nil {
		return q.rules, nil
	}
	rules, ok := m.cfg.rules(mode)
	if !ok {
		return queueRules{}, fmt.Errorf("%w %q", ErrUnknownMode, mode)
	}
	return rules, nil
}

// checkTicket checks everything about t but its props and regions.
func (m *Matchmaker) checkTicket(t *Ticket, r *queueRules) error {
	switch {
	case t.Enqueued.IsZero():
		return fmt.Errorf("%w: no enqueue time", ErrInvalid)
	case len(t.Players) == 0:
		return fmt.Errorf("%w: no players", ErrInvalid)
	case r.Teams > 0 && len(t.Players) > r.TeamSize:
		return fmt.Errorf("%w: %d players, a team has %d", ErrPartyTooLarge, len(t.Players), r.TeamSize)
	case len(t.Players) > r.MaxPlayers:
		return fmt.Errorf("%w: %d players, a match has at most %d", ErrPartyTooLarge, len(t.Players), r.MaxPlayers)
	}
	for i, p := range t.Players {
		if math.IsNaN(p.Skill) || math.IsInf(p.Skill, 0) {
			return fmt.Errorf("%w: player %d has skill %v", ErrInvalid, p.ID, p.Skill)
		}
		if o := m.players[p.ID]; o != nil {
			return fmt.Errorf("player %d: %w in ticket %d", p.ID, ErrPlayerQueued, o.id)
		}
		for _, q := range t.Players[:i] {
			if q.ID == p.ID {
				return fmt.Errorf("%w: player %d is listed twice", ErrInvalid, p.ID)
			}
		}
	}
	return nil
}

// propsKey returns props in canonical form (sorted, length-prefixed), a
// key equal for equal props. It is valid until the next call.
func (m *Matchmaker) propsKey(props map[string]string) ([]byte, error) {
	if len(props) > MaxProps {
		return nil, fmt.Errorf("%w: %d properties, limit %d", ErrInvalid, len(props), MaxProps)
	}
	keys := m.propKeys[:0]
	for k, v := range props {
		if len(k) > MaxPropLen || len(v) > MaxPropLen {
			return nil, fmt.Errorf("%w: property %.20q… is longer than %d bytes", ErrInvalid, k, MaxPropLen)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := m.key[:0]
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		v := props[k]
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	clear(keys)
	m.propKeys, m.key = keys[:0], b
	return b, nil
}

// bucketFor returns the bucket of mode and props, creating it and its
// queue if needed.
func (m *Matchmaker) bucketFor(mode string, rules queueRules, key []byte, props map[string]string) *bucket {
	q := m.queues[mode]
	if q == nil {
		// A queue made after a Step first runs Interval after that Step,
		// as if it had existed then: an emptied queue, which is forgotten,
		// comes back at its pace rather than running at once.
		q = &queue{mode: mode, rules: rules, buckets: make(map[string]*bucket), ran: m.stepped, lastRun: m.lastStep}
		m.queues[mode] = q
		m.queueOrder = append(m.queueOrder, q)
	}
	b := q.buckets[string(key)]
	if b == nil {
		b = &bucket{q: q, key: string(key)}
		if len(props) > 0 {
			b.props = maps.Clone(props)
		}
		q.buckets[b.key] = b
		q.order = append(q.order, b)
	}
	return b
}

func (m *Matchmaker) newTicket() *ticket {
	if n := len(m.free); n > 0 {
		t := m.free[n-1]
		m.free[n-1] = nil
		m.free = m.free[:n-1]
		return t
	}
	return &ticket{}
}

// Cancel takes the ticket id out of the queue. It reports whether the
// ticket was queued.
func (m *Matchmaker) Cancel(id uint64) bool {
	t := m.tickets[id]
	if t == nil {
		return false
	}
	m.remove(t)
	return true
}

// remove takes t out of the queue: matched, timed out or cancelled. Its
// bucket drops it at its next run.
func (m *Matchmaker) remove(t *ticket) {
	delete(m.tickets, t.id)
	for _, p := range t.players {
		delete(m.players, p.ID)
	}
	m.regions.releaseBits(t.regions)
	t.gone = true
	b := t.b
	if t.pos >= 0 && !b.stale {
		b.mask[t.pos] = 0
	}
	b.dead++
	b.live--
}
