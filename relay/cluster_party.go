package relay

import (
	"strings"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/cluster"
	"github.com/tickrelay/tickrelay/relay/match"
)

// Parties in a cluster: a party lives on the node where it was made, and
// its members are players of that node (a match or a game starts from one
// node's queue). A friend connected to another node joins it by its code
// like a room: the friend's node asks the party's node for a place, which
// holds one for the seat token's lifetime, and answers the friend with a
// redirect; the friend moves there and takes the place with join_seat.
//
// The party's node is in its code: a cluster's party codes are eight
// characters, the first two naming the node, the other six random as on a
// single relay. No directory is needed, and a code made on one node
// cannot be made on another.

// partyCodeLen is a party code's length in a cluster.
const partyCodeLen = 2 + codeLen

// nodeCodePrefix is the two code characters that name node id.
func nodeCodePrefix(id uint8) string {
	n := len(codeAlphabet)
	return string([]byte{codeAlphabet[int(id)/n], codeAlphabet[int(id)%n]})
}

// partyCodeNode is the node a cluster's party code names.
func partyCodeNode(code string) (uint8, bool) {
	if len(code) != partyCodeLen {
		return 0, false
	}
	hi, lo := strings.IndexByte(codeAlphabet, code[0]), strings.IndexByte(codeAlphabet, code[1])
	if hi < 0 || lo < 0 {
		return 0, false
	}
	id := hi*len(codeAlphabet) + lo
	if id == 0 || id > 255 {
		return 0, false
	}
	return uint8(id), true
}

// newPartyCode is a fresh code for a party of this relay.
func (h *hub) newPartyCode() string {
	prefix := ""
	if h.cl != nil {
		prefix = nodeCodePrefix(h.cl.id)
	}
	return prefix + newCode(func(c string) bool { return h.parties[prefix+c] != nil })
}

// partyElsewhere asks the node of party code for a place for p, when the
// code names another node of the cluster; it reports whether the request
// was taken (answered or sent).
func (h *hub) partyElsewhere(p *player, rid uint32, code string) bool {
	if h.cl == nil {
		return false
	}
	node, ok := partyCodeNode(code)
	if !ok || node == h.cl.id {
		return false
	}
	if _, live := h.nodeInfo(node); !live {
		h.replyError(p, rid, codec.CodeRoomNotFound, "no party with that code")
		return true
	}
	switch {
	case p.party != nil:
		h.replyError(p, rid, codec.CodeInParty, "leave your party first")
	case p.ticket != 0:
		h.replyError(p, rid, codec.CodeQueued, "leave the queue first")
	case p.room != nil:
		h.replyError(p, rid, codec.CodeAlreadyInRoom, "the party is on another node: leave your room to join it there")
	case p.seating:
		h.replyError(p, rid, codec.CodeBadRequest, "a request is waiting for another node's answer")
	default:
		h.requestSeat(p, rid, node, cluster.SeatRequest{Party: code}, nil)
	}
	return true
}

// answerPartySeat answers another node's request for a place in one of
// this node's parties: the place is held until the token is used or
// expires.
func (h *hub) answerPartySeat(call *cluster.SeatCall) {
	pa := h.parties[call.Request.Party]
	switch {
	case pa == nil:
		call.Refuse(codec.CodeRoomNotFound.String(), "no party with that code")
	case pa.ticket != 0:
		call.Refuse(codec.CodeQueued.String(), "the party is in the queue: its leader must leave it first")
	case pa.full(h.now):
		call.Refuse(codec.CodeRoomFull.String(), "the party is full")
	default:
		seat := call.Accept(0, pa.code)
		pa.holds = append(pa.holds, seat.Expires)
	}
}

// joinPartySeat takes a place another node asked for p in party code.
func (h *hub) joinPartySeat(p *player, rid uint32, code string, expires time.Time) {
	pa := h.parties[code]
	if pa == nil {
		h.replyError(p, rid, codec.CodeRoomNotFound, "the party ended")
		return
	}
	pa.holds = releaseHold(pa.holds, expires)
	h.enterParty(pa, p, rid)
}

// A party that a match sends to a room on another node moves with it: it
// ends on its node when the match's result arrives there (matchResult),
// and the room's node makes it again as its members arrive (with a code of
// that node), the first to arrive making it, its leader leading it again
// once there.

// countTicket is how many of players came with ticket id.
func countTicket(players []match.MatchedPlayer, id uint64) int {
	n := 0
	for _, mp := range players {
		if mp.Ticket == id {
			n++
		}
	}
	return n
}

// partyArrived puts p, matched on another node with its party, in the
// party made here for that party's members (an ended one is no longer in
// movedParties: forgetParty).
func (h *hub) partyArrived(p *player, ms matchSeat) {
	if p.party != nil {
		return
	}
	c := h.cl
	pa := c.movedParties[ms.party]
	if pa == nil {
		h.nextParty++
		pa = &party{id: h.nextParty, code: h.newPartyCode(), leader: p, movedFrom: ms.party}
		h.parties[pa.code] = pa
		if c.movedParties == nil {
			c.movedParties = make(map[uint64]*party)
		}
		c.movedParties[ms.party] = pa
	}
	if len(pa.members) >= maxPartySize {
		return
	}
	p.party = pa
	if ms.leader {
		// The leader is the party's first member, wherever it arrives.
		pa.members = append([]*player{p}, pa.members...)
		pa.leader = p
	} else {
		pa.members = append(pa.members, p)
	}
	h.sendParty(pa)
}
