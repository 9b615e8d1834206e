package relay

import (
	"slices"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// maxPartySize bounds a party: friends who queue together.
const maxPartySize = 8

// party is players who queue together: they land in the same match and on
// the same team. Owned by the tick goroutine.
type party struct {
	id      uint32
	code    string
	leader  *player
	members []*player // join order; the leader is among them
	ticket  uint64    // the party's ticket in the matchmaker; 0: not queued
	// movedFrom is the ticket (of another node) whose match brought the
	// party here; 0: made here.
	movedFrom uint64
	// holds are the expiries of places granted to players of other nodes
	// of a cluster, who are on their way here (cluster_party.go).
	holds []time.Time
}

// full reports whether the party has no place left, counting the places
// held for players on their way; expired holds are let go.
func (pa *party) full(now time.Time) bool {
	pa.holds = slices.DeleteFunc(pa.holds, func(exp time.Time) bool { return !now.Before(exp) })
	return len(pa.members)+len(pa.holds) >= maxPartySize
}

func (h *hub) partyCreate(p *player, rid uint32) {
	switch {
	case p.party != nil:
		h.replyError(p, rid, codec.CodeInParty, "leave your party first")
		return
	case p.ticket != 0:
		h.replyError(p, rid, codec.CodeQueued, "leave the queue first")
		return
	}
	h.nextParty++
	pa := &party{id: h.nextParty, code: h.newPartyCode(), leader: p, members: []*player{p}}
	h.parties[pa.code] = pa
	p.party = pa
	p.out = codec.AppendOK(p.out, rid)
	h.sendParty(pa)
}

func (h *hub) partyJoin(p *player, rid uint32, code []byte) {
	c := normalizeCode(code)
	pa := h.parties[c]
	if pa == nil && h.partyElsewhere(p, rid, c) {
		return
	}
	if pa == nil {
		h.replyError(p, rid, codec.CodeRoomNotFound, "no party with that code")
		return
	}
	h.enterParty(pa, p, rid)
}

// enterParty makes p a member of pa, or refuses request rid.
func (h *hub) enterParty(pa *party, p *player, rid uint32) {
	switch {
	case p.party == pa:
		h.replyError(p, rid, codec.CodeInParty, "already in this party")
	case p.party != nil:
		h.replyError(p, rid, codec.CodeInParty, "leave your party first")
	case p.ticket != 0:
		h.replyError(p, rid, codec.CodeQueued, "leave the queue first")
	case pa.ticket != 0:
		h.replyError(p, rid, codec.CodeQueued, "the party is in the queue: its leader must leave it first")
	case pa.full(h.now):
		h.replyError(p, rid, codec.CodeRoomFull, "the party is full")
	default:
		pa.members = append(pa.members, p)
		p.party = pa
		p.out = codec.AppendOK(p.out, rid)
		h.sendParty(pa)
	}
}

func (h *hub) partyLeaveMsg(p *player, rid uint32) {
	if p.party == nil {
		h.replyError(p, rid, codec.CodeBadRequest, "not in a party")
		return
	}
	h.leaveParty(p)
	p.out = codec.AppendOK(p.out, rid)
}

// leaveParty takes p out of its party: the party's ticket is withdrawn,
// the leader's role passes to the member who joined first, and the last
// member's leaving ends the party. p is told it is in no party.
func (h *hub) leaveParty(p *player) {
	pa := p.party
	if pa == nil {
		return
	}
	h.cancelTicket(pa.ticket, "a member left the party")
	if i := slices.Index(pa.members, p); i >= 0 {
		pa.members = slices.Delete(pa.members, i, i+1)
	}
	p.party = nil
	if !p.closing && p.link != nil {
		p.out = codec.AppendParty(p.out, 0, "", 0, nil)
	}
	if len(pa.members) == 0 {
		h.forgetParty(pa)
		return
	}
	if pa.leader == p {
		pa.leader = pa.members[0]
	}
	h.sendParty(pa)
}

// endParty dissolves pa: every member is told it is in no party.
func (h *hub) endParty(pa *party) {
	for _, m := range pa.members {
		m.party = nil
		if !m.closing && m.link != nil {
			m.out = codec.AppendParty(m.out, 0, "", 0, nil)
		}
	}
	pa.members = nil
	h.forgetParty(pa)
}

// forgetParty removes pa, which has no members left.
func (h *hub) forgetParty(pa *party) {
	delete(h.parties, pa.code)
	if pa.movedFrom != 0 && h.cl != nil {
		delete(h.cl.movedParties, pa.movedFrom)
	}
}

// leaveMeetingPlace takes a player that is leaving the server out of the
// queue, its party and its channels.
func (h *hub) leaveMeetingPlace(p *player) {
	if p.party != nil {
		h.leaveParty(p) // withdraws the party's ticket
	} else if p.ticket != 0 {
		h.cancelTicket(p.ticket, "a player left")
	}
	h.leaveChannels(p)
}

// sendParty tells every member the party as it is now.
func (h *hub) sendParty(pa *party) {
	h.partyScratch = h.partyScratch[:0]
	for _, m := range pa.members {
		h.partyScratch = append(h.partyScratch, codec.PartyMember{ID: m.id, Name: m.name})
	}
	for _, m := range pa.members {
		m.out = codec.AppendParty(m.out, pa.id, pa.code, pa.leader.id, h.partyScratch)
	}
}
