package relay

import (
	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/cluster"
	"github.com/tickrelay/tickrelay/relay/match"
)

// The matchmaker of a cluster runs on one node, the leader (relay/cluster
// elects it). Every node keeps its own players' tickets (h.tickets, as
// without a cluster) and sends them to the leader; the leader's tick steps
// the one matchmaker and hands each match to the node that hosts its room:
// the node of most of its players. The host seats its own players and
// sends every other player's node a result with a seat token per player;
// that node tells its players (match message, then a redirect with rid 0)
// and they move. When the leader changes, every node sends its tickets and
// backfill requests again: the new leader starts with an empty queue, and
// the tickets keep their place in line by their enqueue time.

// ticketBits places the node in a ticket id's top bits, so that ids are
// unique in the cluster and name the node of their players.
const ticketBits = 40

func ticketOrigin(id uint64) uint8 { return uint8(id >> ticketBits) }

// clusterQueue hands a new ticket to the leader (after checking it here,
// so that a refusal answers the request).
func (h *hub) clusterQueue(t match.Ticket) error {
	c := h.cl
	if err := c.checker.Check(t); err != nil {
		return err
	}
	if err := c.node.SendTicket(t); err != nil {
		// No leader reachable now: the ticket waits here and goes at the
		// next leader change (or times out, see sweepTickets).
		h.cfg.log.Debug().Err(err).Uint64("ticket", t.ID).Msg("ticket not sent to the matchmaker's leader yet")
	}
	return nil
}

// clusterBackfill hands a room's backfill request to the leader.
func (h *hub) clusterBackfill(r *room, req match.Backfill) error {
	c := h.cl
	if err := c.checker.CheckBackfill(req); err != nil {
		return err
	}
	_ = c.node.CancelBackfill(req.ID)
	r.backfillReq = req
	_ = c.node.SendBackfill(req) // not sent: it goes at the next leader change
	return nil
}

// leaderChanged sends every queued ticket and open backfill request of
// this node to the new leader; a node that stopped leading forgets the
// queue it ran.
func (h *hub) leaderChanged(m *cluster.LeaderChanged) {
	c := h.cl
	if m.Leader != c.id && c.leading {
		h.freshMatchmaker()
	}
	c.leading = m.Leader == c.id
	if m.Leader == 0 {
		return
	}
	for _, t := range h.tickets {
		_ = c.node.SendTicket(t.ticket)
	}
	for _, r := range h.roomOrder {
		if r.backfill {
			_ = c.node.SendBackfill(r.backfillReq)
		}
	}
}

// freshMatchmaker replaces the matchmaker with an empty one.
func (h *hub) freshMatchmaker() {
	if mm, err := match.New(*h.cfg.matchmaker); err == nil { // the configuration was accepted at start
		h.mm = mm
	}
}

// leaderMessage applies matchmaker traffic that arrives at the leader.
func (h *hub) leaderMessage(m cluster.Message) {
	if !h.cl.leading {
		return // sent to a leader that is no more: its sender sends it again
	}
	switch m := m.(type) {
	case *cluster.TicketAdd:
		if err := h.mm.Add(m.Ticket); err != nil && !h.mm.Queued(m.Ticket.ID) {
			h.sendOutcome(m.Ticket.ID, codec.MatchCancelled)
		}
	case *cluster.TicketCancel:
		h.mm.Cancel(m.ID)
	case *cluster.BackfillRequest:
		h.mm.CancelBackfill(m.Backfill.ID)
		_ = h.mm.RequestBackfill(m.Backfill) // refused: its room gets no players
	case *cluster.BackfillCancel:
		h.mm.CancelBackfill(m.ID)
	}
}

// sendOutcome tells a ticket's node that it ended without a room.
func (h *hub) sendOutcome(id uint64, outcome int) {
	if origin := ticketOrigin(id); origin != h.cl.id {
		_ = h.cl.node.SendMatchResult(origin, cluster.MatchResult{Ticket: id, Outcome: outcome})
		return
	}
	if t := h.tickets[id]; t != nil {
		h.endTicket(id, t, outcome, "")
	}
}

// routeMatch sends a match the leader formed to its host: the live node
// with most of its players (the lowest id on a tie), this one included.
func (h *hub) routeMatch(mt *match.Match) {
	c := h.cl
	var count [256]int
	for _, p := range mt.Players {
		count[cluster.NodeOf(p.ID)]++
	}
	host := c.id
	for _, n := range c.node.Nodes() {
		if count[n.ID] > count[host] {
			host = n.ID
		}
	}
	if host != c.id && c.node.SendMatch(host, *mt) == nil {
		return
	}
	h.startMatch(mt) // here, or the host cannot be reached: this node hosts it
}

// routeFill sends a backfill's players to the node of its room.
func (h *hub) routeFill(f *match.Fill) {
	if node := cluster.NodeOf(uint32(f.Backfill)); node != h.cl.id {
		if h.cl.node.SendFill(*f) != nil {
			for _, id := range f.Tickets {
				h.sendOutcome(id, codec.MatchCancelled)
			}
		}
		return
	}
	h.fillSeats(f)
}

// seatRemote gives the players of mt's tickets from other nodes seats in
// r, and tells their nodes. Each seat is held until used or expired; the
// player's team (when the match has teams) and party are set when it takes
// the seat.
func (h *hub) seatRemote(r *room, players []match.MatchedPlayer, tickets []uint64, outcome int, teams bool, region string) {
	c := h.cl
	for _, id := range tickets {
		origin := ticketOrigin(id)
		if origin == c.id {
			continue
		}
		res := cluster.MatchResult{Ticket: id, Outcome: outcome, Room: r.id, Code: r.code, Region: region}
		party := countTicket(players, id) > 1
		for _, mp := range players {
			if mp.Ticket != id {
				continue
			}
			ms := matchSeat{team: mp.Team, teams: teams}
			if party {
				// The party comes along: its leader is the first of its
				// players (a party's leader is its first member).
				ms.party, ms.leader = id, len(res.Players) == 0
			}
			if r.matchSeats == nil {
				r.matchSeats = make(map[uint32]matchSeat)
			}
			r.matchSeats[mp.ID] = ms
			seat := c.node.IssueSeat(cluster.SeatRequest{Room: r.id, Player: mp.ID}, r.id, r.code)
			res.Players = append(res.Players, cluster.MatchedSeat{Player: mp.ID, Team: mp.Team, Seat: seat.Token})
			if len(r.holds) == 0 {
				c.held = append(c.held, r)
			}
			r.holds = append(r.holds, seat.Expires)
		}
		_ = c.node.SendMatchResult(origin, res) // lost: the ticket times out on its node
	}
}

// matchResult applies what became of a ticket of this node: a seat in a
// room of another node for each of its players (a match message, then a
// redirect there), or its end.
func (h *hub) matchResult(m *cluster.MatchResult) {
	t := h.tickets[m.Ticket]
	if t == nil {
		return // left the queue meanwhile: the seats expire
	}
	if m.Room == 0 || (m.Outcome != codec.MatchFound && m.Outcome != codec.MatchBackfill) {
		h.endTicket(m.Ticket, t, m.Outcome, "")
		return
	}
	host, ok := h.nodeInfo(m.From)
	if !ok {
		h.endTicket(m.Ticket, t, codec.MatchCancelled, "")
		return
	}
	waited := h.now.Sub(t.enqueued).Milliseconds()
	if t.party != nil && t.party.ticket == m.Ticket && len(m.Players) > 0 {
		// The party moves with its match (the room's node makes it
		// again): it ends here first, so that nobody joins it on its
		// members' way out.
		h.endParty(t.party)
	}
	for _, q := range t.players {
		if q.ticket != m.Ticket || q.closing {
			continue
		}
		for _, s := range m.Players {
			if s.Player == q.id && s.Seat != "" {
				q.skill = t.skill
				q.out = codec.AppendMatch(q.out, m.Outcome, m.Room, s.Team, m.Region, waited)
				q.out = codec.AppendRedirect(q.out, 0, host.ID, host.PublicKCP, host.PublicWS, s.Seat)
			}
		}
	}
	h.endTicket(m.Ticket, t, codec.MatchFound, "") // told above: no further message
}

func (h *hub) nodeInfo(id uint8) (cluster.NodeInfo, bool) {
	for _, n := range h.cl.node.Nodes() {
		if n.ID == id {
			return n, true
		}
	}
	return cluster.NodeInfo{}, false
}

// sweepTickets ends tickets the leader has not answered well past their
// queue's longest wait (no leader for that long, or its answer lost).
func (h *hub) sweepTickets() {
	for id, t := range h.tickets {
		q, err := h.mm.Queue(t.mode)
		if err != nil || h.now.Sub(t.enqueued) > q.MaxWait+seatWaitLimit {
			_ = h.cl.node.CancelTicket(id)
			h.endTicket(id, t, codec.MatchTimedOut, "no answer from the matchmaker's leader")
		}
	}
}
