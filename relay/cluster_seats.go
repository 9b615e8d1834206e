package relay

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/cluster"
)

// Seats: a player entering a room of another node (by code, id, quick
// match, or a new room placed on the least loaded node) gets a seat there,
// reserved by that node's tick for the token's lifetime, and is answered
// with a redirect carrying the token. The player reconnects to that node
// and presents it with join_seat.

// seatWait is a player's request waiting for another node's answer.
type seatWait struct {
	player   uint32
	rid      uint32
	deadline time.Time
	// local, when set, is the room to make here if the other node says
	// no (a quick match or a new room placed elsewhere): the player is
	// not failed for another node's trouble.
	local *roomSpec
}

// roomSpec is a room to create, as a request asked for it.
type roomSpec struct {
	mode       string
	maxPlayers int
	public     bool
	props      []codec.Prop
}

func specOf(m *codec.ClientMsg, public bool) *roomSpec {
	props := make([]codec.Prop, len(m.Props))
	for i, p := range m.Props {
		props[i] = codec.Prop{Key: bytes.Clone(p.Key), Value: bytes.Clone(p.Value)}
	}
	return &roomSpec{mode: string(m.Mode), maxPlayers: m.MaxPlayers, public: public, props: props}
}

// clusterSpec is s as the directory's seat requests carry it.
func (s *roomSpec) clusterSpec() *cluster.RoomSpec {
	cs := &cluster.RoomSpec{Mode: s.mode, MaxPlayers: s.maxPlayers, Public: s.public}
	if len(s.props) > 0 {
		cs.Props = make(map[string][]byte, len(s.props))
		for _, p := range s.props {
			cs.Props[string(p.Key)] = p.Value
		}
	}
	return cs
}

// requestSeat asks node for a seat for p (in req.Room, or a room it makes
// for req.Create); the answer, a redirect or an error, comes in a later
// tick. When the request cannot even be sent, local decides as a refusal
// would.
func (h *hub) requestSeat(p *player, rid uint32, node uint8, req cluster.SeatRequest, local *roomSpec) {
	c := h.cl
	req.Player, req.Name, req.UserID = p.id, p.name, p.userID
	c.nextTag++
	w := &seatWait{player: p.id, rid: rid, deadline: h.now.Add(seatWaitLimit), local: local}
	if err := c.node.RequestSeatAsync(node, req, c.nextTag); err != nil {
		h.seatFailed(w, err)
		return
	}
	c.waits[c.nextTag] = w
	p.seating = true
}

// seatAnswered hands another node's answer to the player that asked.
func (h *hub) seatAnswered(res *cluster.SeatResult) {
	w := h.cl.waits[res.Tag]
	if w == nil {
		return // answered unavailable already
	}
	delete(h.cl.waits, res.Tag)
	if res.Err != nil {
		h.seatFailed(w, res.Err)
		return
	}
	p := h.waitingPlayer(w)
	if p == nil {
		return // gone: the seat is let go when its token expires
	}
	p.seating = false
	s := res.Seat
	p.out = codec.AppendRedirect(p.out, w.rid, s.Node, s.PublicKCP, s.PublicWS, s.Token)
	p.log.Debug().Uint8("node", s.Node).Uint32("room", s.Room).Msg("redirected to another node")
}

// waitingPlayer is the player w waits for, if it is still here.
func (h *hub) waitingPlayer(w *seatWait) *player {
	p := h.players[w.player]
	if p == nil || p.closing || !p.helloed {
		return nil
	}
	return p
}

// seatFailed answers a seat request that got no seat: with a room here
// when the request allows it, else with the other node's refusal, or
// unavailable when it could not be asked (err nil: no answer in time).
func (h *hub) seatFailed(w *seatWait, err error) {
	p := h.waitingPlayer(w)
	if p == nil {
		return
	}
	p.seating = false
	if w.local != nil {
		s := w.local
		if r := h.newRoom(p, w.rid, s.mode, s.maxPlayers, s.public, s.props); r != nil {
			h.join(p, r, w.rid)
		}
		return
	}
	var refused *cluster.SeatRefused
	if errors.As(err, &refused) {
		if code, ok := codec.ParseCode(refused.Code); ok {
			h.replyError(p, w.rid, code, refused.Message)
			return
		}
	}
	msg := "the other node did not answer in time"
	if err != nil {
		msg = "the other node cannot be reached: " + err.Error()
	}
	h.replyError(p, w.rid, codec.CodeUnavailable, msg)
}

// joinElsewhere asks room r's node for a seat for p.
func (h *hub) joinElsewhere(p *player, rid uint32, r cluster.Room) {
	if h.canEnterRoom(p, rid) {
		h.requestSeat(p, rid, r.Node, cluster.SeatRequest{Room: r.ID}, nil)
	}
}

// placeRoom is the node a new room should go to: the least loaded live
// node (0: this one). A draining node sends new rooms elsewhere.
func (h *hub) placeRoom() uint8 {
	c := h.cl
	if c == nil {
		return 0
	}
	var best cluster.NodeInfo
	if !h.draining {
		best = c.node.LeastLoaded()
	} else {
		for _, n := range c.node.Nodes() {
			if n.ID != c.id && (best.ID == 0 || n.Players < best.Players || n.Players == best.Players && n.Rooms < best.Rooms) {
				best = n
			}
		}
	}
	if best.ID == c.id {
		return 0
	}
	return best.ID
}

// createElsewhere makes p's new room on node, falling back to this one.
func (h *hub) createElsewhere(p *player, rid uint32, node uint8, s *roomSpec) {
	h.requestSeat(p, rid, node, cluster.SeatRequest{Create: s.clusterSpec()}, s)
}

// answerSeat answers another node's request for a seat in one of this
// node's rooms, or in a new one. A granted seat is held (counted against
// the room's max_players) until its token is used or expires.
func (h *hub) answerSeat(call *cluster.SeatCall) {
	req := call.Request
	if req.Party != "" {
		h.answerPartySeat(call)
		return
	}
	var r *room
	if req.Create != nil {
		s := req.Create
		props := make([]codec.Prop, 0, len(s.Props))
		for _, k := range sortedKeys(s.Props) {
			props = append(props, codec.Prop{Key: []byte(k), Value: s.Props[k]})
		}
		var code codec.Code
		var msg string
		if r, code, msg = h.makeRoom(s.Mode, s.MaxPlayers, s.Public, props); r == nil {
			call.Refuse(code.String(), msg)
			return
		}
		r.emptySince = h.now // removed after the grace if nobody comes
	} else {
		r = h.rooms[req.Room]
		switch {
		case r == nil:
			call.Refuse(codec.CodeRoomNotFound.String(), "no such room")
			return
		case r.locked:
			call.Refuse(codec.CodeRoomLocked.String(), "the room is locked")
			return
		case r.full():
			call.Refuse(codec.CodeRoomFull.String(), "the room is full")
			return
		}
	}
	seat := call.Accept(r.id, r.code)
	if len(r.holds) == 0 {
		h.cl.held = append(h.cl.held, r)
	}
	r.holds = append(r.holds, seat.Expires)
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// joinSeat takes a seat another node reserved for this player in one of
// this node's rooms (the token came with a redirect).
func (h *hub) joinSeat(p *player, m *codec.ClientMsg) {
	if h.cl == nil {
		h.replyError(p, m.RID, codec.CodeForbidden, "this relay is not in a cluster: no seat to take")
		return
	}
	req, err := h.cl.node.VerifySeat(string(m.Code))
	if err != nil {
		h.replyError(p, m.RID, codec.CodeForbidden, strings.TrimPrefix(err.Error(), "cluster: "))
		return
	}
	// A seat from a room request names its player's user; a match's seat,
	// issued by the room's node, knows only the player's id there.
	if req.UserID != "" && req.UserID != p.userID {
		h.replyError(p, m.RID, codec.CodeForbidden, "the seat was granted to another user")
		return
	}
	if req.Party != "" {
		h.joinPartySeat(p, m.RID, req.Party, req.Expires)
		return
	}
	r := h.rooms[req.Room]
	if r == nil {
		h.replyError(p, m.RID, codec.CodeRoomNotFound, "the room was closed")
		return
	}
	r.holds = releaseHold(r.holds, req.Expires)
	ms, matched := r.matchSeats[req.Player]
	delete(r.matchSeats, req.Player)
	if matched && ms.teams && p.room == nil {
		if p.props.merge([]codec.Prop{{Key: []byte("team"), Value: codec.AppendInt(nil, int64(ms.team))}}, h.cfg.limits.PropKeys) == nil {
			p.propsTick = h.tick
		}
	}
	h.join(p, r, m.RID)
	if matched && ms.party != 0 && p.room == r {
		h.partyArrived(p, ms)
	}
}

// matchSeat is what a matched player of another node gets when it takes
// its seat.
type matchSeat struct {
	team   int
	teams  bool   // the match has teams: team goes in the "team" property
	party  uint64 // the ticket of the party it came with, on its node; 0: alone
	leader bool   // it led that party
}

// releaseHold lets go of the hold of the seat whose token expires at exp
// (a token carries its expiry in milliseconds), else of the oldest.
func releaseHold(holds []time.Time, exp time.Time) []time.Time {
	i := slices.IndexFunc(holds, func(e time.Time) bool { return e.Sub(exp).Abs() < time.Second })
	if i < 0 && len(holds) > 0 {
		i = 0
	}
	if i >= 0 {
		holds = slices.Delete(holds, i, i+1)
	}
	return holds
}
