package relay

import (
	"slices"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/match"
)

// leaveLogSize bounds how many past leaves a room remembers for members
// that fell behind; one further behind gets a full snapshot instead.
const leaveLogSize = 128

type leaveRec struct {
	tick uint64
	id   uint32
}

// room is one room's state. Owned by the tick goroutine: no locks.
type room struct {
	id         uint32
	code       string
	mode       string
	maxPlayers int
	public     bool
	locked     bool
	props      propSet
	propsTick  uint64 // tick of the last props change
	members    []*player
	master     *player
	emptySince time.Time // zero while the room has members
	created    time.Time
	// Set when the matchmaker made the room: its region and the
	// properties its tickets matched on; backfill while it has an open
	// backfill request (its id is the room's).
	region     string
	matchProps map[string]string
	backfill   bool
	// holds are the expiries of seats granted to players of other nodes
	// of a cluster (cluster_seats.go): they count as members until used.
	holds []time.Time
	// matchSeats are the matched players of other nodes, by their id
	// there: what they get when they take their seats.
	matchSeats map[uint32]matchSeat
	// backfillReq is the open backfill request, for a cluster's nodes to
	// send again to a new matchmaker leader.
	backfillReq match.Backfill

	leaves       [leaveLogSize]leaveRec // ring of recent leaves
	leaveCount   uint64                 // leaves ever recorded
	leaveHorizon uint64                 // members last sent before this tick need a full snapshot

	// The delta since the previous tick, encoded once and copied into the
	// frame of every member that is up to date.
	deltaTick uint64
	delta     []byte
}

func (r *room) full() bool { return len(r.members)+len(r.holds) >= r.maxPlayers }

func (r *room) add(p *player, tick uint64) {
	r.members = append(r.members, p)
	p.room = r
	p.joinedTick = tick
	p.state, p.stateTick = p.state[:0], 0
	p.lastSent, p.needFull = 0, true
	if r.master == nil {
		r.master = p
	}
	r.emptySince = time.Time{}
}

// remove takes p out of the room, records the leave for the other members
// and hands the master role to the longest-present member.
func (r *room) remove(p *player, tick uint64, now time.Time) {
	if i := slices.Index(r.members, p); i >= 0 {
		r.members = slices.Delete(r.members, i, i+1) // keeps join order; clears the freed slot
	}
	slot := r.leaveCount % leaveLogSize
	if r.leaveCount >= leaveLogSize {
		r.leaveHorizon = r.leaves[slot].tick
	}
	r.leaves[slot] = leaveRec{tick: tick, id: p.id}
	r.leaveCount++
	if r.master == p {
		r.master = nil
		if len(r.members) > 0 {
			r.master = r.members[0]
		}
	}
	if len(r.members) == 0 {
		r.emptySince = now
	}
	p.room = nil
	p.state = p.state[:0]
}

func (r *room) member(id uint32) *player {
	for _, m := range r.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

func (r *room) masterID() uint32 {
	if r.master == nil {
		return 0
	}
	return r.master.id
}

// appendDelta appends the frame's room part for a member last sent the
// room at tick since: [room_id, full, master, locked, props, leaves, joins,
// player_props, states]. With full, it is the whole room.
func (r *room) appendDelta(b []byte, since uint64, full bool) []byte {
	if since < r.leaveHorizon {
		full = true
	}
	if full {
		since = 0
	}
	b = append(b, 0x90|codec.RoomFields)
	b = codec.AppendUint(b, uint64(r.id))
	b = codec.AppendBool(b, full)
	b = codec.AppendUint(b, uint64(r.masterID()))
	b = codec.AppendBool(b, r.locked)
	if full || r.propsTick > since {
		b = append(b, r.props.bytes()...)
	} else {
		b = codec.AppendNil(b)
	}

	// leaves
	n := 0
	if !full {
		for i := r.firstLeave(); i < r.leaveCount; i++ {
			if r.leaves[i%leaveLogSize].tick > since {
				n++
			}
		}
	}
	b = codec.AppendArrayLen(b, n)
	if n > 0 {
		for i := r.firstLeave(); i < r.leaveCount; i++ {
			if rec := r.leaves[i%leaveLogSize]; rec.tick > since {
				b = codec.AppendUint(b, uint64(rec.id))
			}
		}
	}

	// joins
	n = 0
	for _, m := range r.members {
		if m.joinedTick > since {
			n++
		}
	}
	b = codec.AppendArrayLen(b, n)
	for _, m := range r.members {
		if m.joinedTick > since {
			b = append(b, 0x93)
			b = codec.AppendUint(b, uint64(m.id))
			b = codec.AppendStr(b, m.name)
			b = append(b, m.props.bytes()...)
		}
	}

	// player props of members that did not join in this delta
	n = 0
	for _, m := range r.members {
		if m.propsTick > since && m.joinedTick <= since {
			n++
		}
	}
	b = codec.AppendArrayLen(b, n)
	for _, m := range r.members {
		if m.propsTick > since && m.joinedTick <= since {
			b = append(b, 0x92)
			b = codec.AppendUint(b, uint64(m.id))
			b = append(b, m.props.bytes()...)
		}
	}

	// states: idle players cost nothing
	n = 0
	for _, m := range r.members {
		if m.stateTick > since && len(m.state) > 0 {
			n++
		}
	}
	b = codec.AppendArrayLen(b, n)
	for _, m := range r.members {
		if m.stateTick > since && len(m.state) > 0 {
			b = append(b, 0x92)
			b = codec.AppendUint(b, uint64(m.id))
			b = append(b, m.state...)
		}
	}

	// presence: members whose connection came or went; in a full room and
	// for new members, those away
	n = 0
	for _, m := range r.members {
		if presenceChanged(m, since) {
			n++
		}
	}
	b = codec.AppendArrayLen(b, n)
	for _, m := range r.members {
		if presenceChanged(m, since) {
			b = append(b, 0x92)
			b = codec.AppendUint(b, uint64(m.id))
			b = codec.AppendBool(b, !m.away)
		}
	}
	return b
}

func presenceChanged(m *player, since uint64) bool {
	if m.joinedTick > since {
		return m.away
	}
	return m.presenceTick > since
}

func (r *room) firstLeave() uint64 {
	if r.leaveCount > leaveLogSize {
		return r.leaveCount - leaveLogSize
	}
	return 0
}

// sharedDelta returns the delta since the previous tick run, encoding it
// at most once per tick.
func (r *room) sharedDelta(tick, prev uint64) []byte {
	if r.deltaTick != tick || r.delta == nil {
		r.delta = r.appendDelta(r.delta[:0], prev, false)
		r.deltaTick = tick
	}
	return r.delta
}
