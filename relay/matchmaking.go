package relay

import (
	"errors"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/match"
	"github.com/tickrelay/tickrelay/relay/webhook"
)

// The hub's side of the matchmaker (relay/match, a state machine it owns):
// tickets in, rooms and seats out, on the tick.

// ticketInfo is what the hub keeps of a queued ticket.
type ticketInfo struct {
	players  []*player
	party    *party // nil for a player alone
	mode     string
	skill    float64
	enqueued time.Time
	ticket   match.Ticket // as queued: a cluster's nodes send it again to a new leader
}

// MatchFormed is the data of a match.formed webhook event.
type MatchFormed struct {
	Room    uint32        `json:"room"`
	Code    string        `json:"code"`
	Mode    string        `json:"mode"`
	Region  string        `json:"region,omitempty"`
	Players []MatchPlayer `json:"players"`
}

// MatchPlayer is one player of a match.formed event.
type MatchPlayer struct {
	Player uint32 `json:"player"`
	UserID string `json:"user_id,omitempty"`
	Team   int    `json:"team"`
}

func (h *hub) queueJoin(p *player, m *codec.ClientMsg) {
	players := []*player{p}
	switch {
	case h.mm == nil:
		h.replyError(p, m.RID, codec.CodeBadRequest, "this server has no matchmaker")
		return
	case p.ticket != 0:
		h.replyError(p, m.RID, codec.CodeQueued, "already in the queue")
		return
	case p.party != nil && p.party.leader != p:
		h.replyError(p, m.RID, codec.CodeNotLeader, "only the party's leader queues the party")
		return
	case p.allowedRoom != "":
		h.replyError(p, m.RID, codec.CodeForbidden, "the auth token allows one room only")
		return
	case h.draining:
		h.replyError(p, m.RID, codec.CodeServerClosing, "the server is draining for maintenance: no new matches")
		return
	}
	if p.party != nil {
		players = p.party.members
	}
	for _, q := range players {
		if q.room != nil {
			h.replyError(p, m.RID, codec.CodeAlreadyInRoom, "every player must leave their room first")
			return
		}
	}
	t := match.Ticket{Mode: string(m.Mode), Enqueued: h.now}
	for _, q := range players {
		t.Players = append(t.Players, match.Player{ID: q.id, Skill: m.Skill})
	}
	for _, r := range m.Regions {
		t.Regions = append(t.Regions, string(r))
	}
	if len(m.Props) > 0 {
		t.Props = make(map[string]string, len(m.Props))
		for _, pr := range m.Props {
			t.Props[string(pr.Key)] = string(pr.Value)
		}
	}
	h.nextTicket++
	t.ID = h.nextTicket
	add := h.mm.Add
	if h.cl != nil {
		add = h.clusterQueue
	}
	if err := add(t); err != nil {
		code := codec.CodeBadRequest
		switch {
		case errors.Is(err, match.ErrPartyTooLarge), errors.Is(err, match.ErrFull):
			code = codec.CodeLimit
		case errors.Is(err, match.ErrPlayerQueued):
			code = codec.CodeQueued
		}
		h.replyError(p, m.RID, code, err.Error())
		return
	}
	h.tickets[t.ID] = &ticketInfo{players: append([]*player(nil), players...), party: p.party, mode: t.Mode, skill: m.Skill,
		enqueued: h.now, ticket: t}
	for _, q := range players {
		q.ticket = t.ID
	}
	if p.party != nil {
		p.party.ticket = t.ID
	}
	p.out = codec.AppendOK(p.out, m.RID)
}

func (h *hub) queueLeave(p *player, rid uint32) {
	switch {
	case p.ticket == 0:
		h.replyError(p, rid, codec.CodeBadRequest, "not in the queue")
	case p.party != nil && p.party.leader != p:
		h.replyError(p, rid, codec.CodeNotLeader, "only the party's leader takes the party out of the queue")
	default:
		id := p.ticket
		p.ticket = 0 // p asked: an ok says it, not a match message
		h.cancelTicket(id, "the party's leader left the queue")
		p.out = codec.AppendOK(p.out, rid)
	}
}

// cancelTicket withdraws ticket id (0: none); its players still queued are
// told it was cancelled.
func (h *hub) cancelTicket(id uint64, why string) {
	t := h.tickets[id]
	if t == nil {
		return
	}
	if h.cl != nil {
		_ = h.cl.node.CancelTicket(id) // not sent: the leader that has it is gone
	} else {
		h.mm.Cancel(id)
	}
	h.endTicket(id, t, codec.MatchCancelled, why)
}

// endTicket forgets ticket id and tells its players the outcome (those
// still holding it: one that left the queue itself was told already).
func (h *hub) endTicket(id uint64, t *ticketInfo, outcome int, why string) {
	delete(h.tickets, id)
	if t.party != nil && t.party.ticket == id {
		t.party.ticket = 0
	}
	waited := h.now.Sub(t.enqueued).Milliseconds()
	for _, q := range t.players {
		if q.ticket != id {
			continue
		}
		q.ticket = 0
		if outcome != codec.MatchFound && !q.closing {
			q.out = codec.AppendMatch(q.out, outcome, 0, 0, "", waited)
		}
	}
	_ = why
}

// backfill asks the matchmaker for players for the open seats of the
// master's room (each seat names its team); no seats withdraws the request.
func (h *hub) backfill(p *player, m *codec.ClientMsg) {
	r := h.masterRoom(p, m.RID)
	if r == nil {
		return
	}
	if h.mm == nil {
		h.replyError(p, m.RID, codec.CodeBadRequest, "this server has no matchmaker")
		return
	}
	h.cancelBackfill(r)
	if len(m.Seats) == 0 {
		p.out = codec.AppendOK(p.out, m.RID)
		return
	}
	if len(r.members)+len(m.Seats) > r.maxPlayers {
		h.replyError(p, m.RID, codec.CodeBadRequest, "more seats than the room has room for")
		return
	}
	req := match.Backfill{ID: uint64(r.id), Mode: r.mode, Region: r.region, Props: r.matchProps, Created: h.now}
	var sum float64
	for _, q := range r.members {
		sum += q.skill
	}
	req.Skill = sum / float64(len(r.members))
	for _, s := range m.Seats {
		req.Seats = append(req.Seats, int(s))
	}
	request := h.mm.RequestBackfill
	if h.cl != nil {
		request = func(req match.Backfill) error { return h.clusterBackfill(r, req) }
	}
	if err := request(req); err != nil {
		h.replyError(p, m.RID, codec.CodeBadRequest, err.Error())
		return
	}
	r.backfill = true
	p.out = codec.AppendOK(p.out, m.RID)
}

// cancelBackfill withdraws r's backfill request, if it has one.
func (h *hub) cancelBackfill(r *room) {
	if !r.backfill {
		return
	}
	r.backfill = false
	if h.cl != nil {
		_ = h.cl.node.CancelBackfill(uint64(r.id))
		return
	}
	h.mm.CancelBackfill(uint64(r.id))
}

// stepMatchmaker runs the matchmaker and applies what it decided. In a
// cluster only the leader runs it, for every node.
func (h *hub) stepMatchmaker() {
	if h.mm == nil || (h.cl != nil && !h.cl.leading) {
		h.countMeetingPlace()
		return
	}
	res := &h.mmResults
	res.Reset()
	h.mm.Step(h.now, res)
	h.stats.matchesFormed.Add(uint64(len(res.Matches)))
	h.stats.ticketsTimeout.Add(uint64(len(res.TimedOut)))
	defer h.countMeetingPlace()
	for i := range res.Matches {
		if h.cl != nil {
			h.routeMatch(&res.Matches[i])
		} else {
			h.startMatch(&res.Matches[i])
		}
	}
	for i := range res.Fills {
		if h.cl != nil {
			h.routeFill(&res.Fills[i])
		} else {
			h.fillSeats(&res.Fills[i])
		}
	}
	for _, id := range res.TimedOut {
		if h.cl != nil {
			h.sendOutcome(id, codec.MatchTimedOut)
		} else if t := h.tickets[id]; t != nil {
			h.endTicket(id, t, codec.MatchTimedOut, "no match within the queue's maximum wait")
		}
	}
	for _, id := range res.Expired {
		if r := h.rooms[uint32(id)]; r != nil {
			r.backfill = false
		}
	}
}

// countMeetingPlace updates the meeting place's gauges.
func (h *hub) countMeetingPlace() {
	h.stats.tickets.Store(int64(len(h.tickets)))
	h.stats.parties.Store(int64(len(h.parties)))
	h.stats.channels.Store(int64(len(h.channels)))
}

// startMatch makes the match's room and seats its players on their teams.
func (h *hub) startMatch(mt *match.Match) {
	q, err := h.mm.Queue(mt.Mode)
	if err != nil {
		return // the queue was configured away: cannot happen within a run
	}
	r := &room{mode: mt.Mode, maxPlayers: min(q.MaxPlayers, h.cfg.limits.MaxPlayers), created: h.now,
		region: mt.Region, matchProps: mt.Props}
	props := make([]codec.Prop, 0, len(mt.Props)+1)
	for k, v := range mt.Props {
		props = append(props, codec.Prop{Key: []byte(k), Value: []byte(v)})
	}
	if mt.Region != "" {
		props = append(props, codec.Prop{Key: []byte("region"), Value: codec.AppendStr(nil, mt.Region)})
	}
	_ = r.props.merge(props, h.cfg.limits.PropKeys+1) // at most match.MaxProps + 1 keys, checked at queue time
	h.addRoom(r)
	ev := MatchFormed{Room: r.id, Code: r.code, Mode: r.mode, Region: mt.Region}
	h.seat(r, mt.Players, codec.MatchFound, mt.Teams > 0, mt.Region)
	if h.cl != nil {
		h.seatRemote(r, mt.Players, mt.Tickets, codec.MatchFound, mt.Teams > 0, mt.Region)
	}
	for _, mp := range mt.Players {
		if p := h.players[mp.ID]; p != nil {
			ev.Players = append(ev.Players, MatchPlayer{Player: p.id, UserID: p.userID, Team: mp.Team})
		} else if h.cl.remote(mp.ID) {
			ev.Players = append(ev.Players, MatchPlayer{Player: mp.ID, Team: mp.Team}) // seated on arrival
		}
	}
	for _, id := range mt.Tickets {
		if t := h.tickets[id]; t != nil {
			h.endTicket(id, t, codec.MatchFound, "")
		}
	}
	h.notify(webhook.MatchFormed, r.id, ev)
}

// fillSeats seats a backfill's players in its room.
func (h *hub) fillSeats(f *match.Fill) {
	r := h.rooms[uint32(f.Backfill)]
	if r == nil {
		for _, id := range f.Tickets {
			if h.cl != nil {
				h.sendOutcome(id, codec.MatchCancelled)
			} else if t := h.tickets[id]; t != nil {
				h.endTicket(id, t, codec.MatchCancelled, "the room closed")
			}
		}
		return
	}
	if f.Open == 0 {
		r.backfill = false
	}
	q, _ := h.mm.Queue(r.mode)
	h.seat(r, f.Players, codec.MatchBackfill, q.Teams > 0, r.region)
	if h.cl != nil {
		h.seatRemote(r, f.Players, f.Tickets, codec.MatchBackfill, q.Teams > 0, r.region)
	}
	for _, id := range f.Tickets {
		if t := h.tickets[id]; t != nil {
			h.endTicket(id, t, codec.MatchFound, "")
		}
	}
}

// seat puts matched players into r, each with its team in its "team"
// property when the queue has teams, and tells each.
func (h *hub) seat(r *room, players []match.MatchedPlayer, outcome int, teams bool, region string) {
	for _, mp := range players {
		p := h.players[mp.ID]
		if p == nil || p.closing || p.room != nil || r.full() {
			continue // gone meanwhile: the match starts without it
		}
		if t := h.tickets[p.ticket]; t != nil {
			p.skill = t.skill
			p.out = codec.AppendMatch(p.out, outcome, r.id, mp.Team, region, h.now.Sub(t.enqueued).Milliseconds())
		}
		if teams {
			if p.props.merge([]codec.Prop{{Key: []byte("team"), Value: codec.AppendInt(nil, int64(mp.Team))}}, h.cfg.limits.PropKeys) == nil {
				p.propsTick = h.tick
			}
		}
		p.ticket = 0 // so that joining does not withdraw the ticket
		r.add(p, h.tick)
		p.out = codec.AppendRoomJoined(p.out, 0, r.id, r.code, r.mode, r.maxPlayers)
		h.notify(webhook.PlayerJoined, r.id, webhook.PlayerEvent{Room: r.id, Player: p.id, UserID: p.userID, Name: p.name})
	}
}
