package match

// Results collects what Step decided. Step appends to it; a caller that
// keeps one Results and calls Reset before each Step allocates nothing once
// the slices have grown. The Tickets and Players slices of every Match and
// Fill share storage owned by the Results: they are valid until its next
// Reset.
type Results struct {
	// Matches are new matches. Their tickets have left the queue.
	Matches []Match
	// Fills are players placed into open backfill requests. Their tickets
	// have left the queue.
	Fills []Fill
	// TimedOut are tickets that waited their queue's MaxWait, oldest first
	// within a queue. They have left the queue.
	TimedOut []uint64
	// Expired are backfill requests that reached their deadline. They are
	// closed.
	Expired []uint64

	players []MatchedPlayer
	tickets []uint64
}

// Reset empties r for reuse, keeping its storage.
func (r *Results) Reset() {
	clear(r.Matches) // drop the references to props maps
	r.Matches = r.Matches[:0]
	r.Fills = r.Fills[:0]
	r.TimedOut = r.TimedOut[:0]
	r.Expired = r.Expired[:0]
	r.players = r.players[:0]
	r.tickets = r.tickets[:0]
}

// Len is the number of results of every kind.
func (r *Results) Len() int {
	return len(r.Matches) + len(r.Fills) + len(r.TimedOut) + len(r.Expired)
}

// MatchedPlayer is one player placed in a match or a backfill.
type MatchedPlayer struct {
	ID     uint32 // the player, as given in its ticket
	Ticket uint64 // the ticket it came with
	Team   int    // 0 to Teams-1; always 0 in free-for-all
}

// Match is a match formed from queued tickets.
type Match struct {
	Mode string
	// Region is a region every ticket accepts: the first, in the oldest
	// ticket's order of preference, that all accept (tickets that accept
	// any region have no say). Empty when every ticket accepts any region:
	// the caller picks one.
	Region string
	// Props are the properties every ticket has. Shared: do not modify.
	Props map[string]string
	// Teams is the queue's number of teams; 0 in free-for-all.
	Teams int
	// Skill is the players' mean skill: the centre to give a backfill
	// request for this match.
	Skill float64
	// Tickets lists the tickets, oldest first.
	Tickets []uint64
	// Players lists every player, the players of a ticket together in the
	// order the ticket gave them.
	Players []MatchedPlayer
}

// Fill reports tickets placed into an open backfill request.
type Fill struct {
	Backfill uint64   // the request's ID
	Tickets  []uint64 // oldest first
	Players  []MatchedPlayer
	// Open is how many seats the request still has open. Zero: it is
	// complete and closed; otherwise it stays open.
	Open int
}

// appendPlayers appends the players of t on team and the ticket's ID to
// the shared storage.
func (r *Results) appendTicket(t *ticket, team int) {
	r.tickets = append(r.tickets, t.id)
	for _, p := range t.players {
		r.players = append(r.players, MatchedPlayer{ID: p.ID, Ticket: t.id, Team: team})
	}
}

// since returns the tickets and players appended since the given lengths,
// capped so that a caller's append cannot overwrite later results.
func (r *Results) since(tickets, players int) ([]uint64, []MatchedPlayer) {
	return r.tickets[tickets:len(r.tickets):len(r.tickets)], r.players[players:len(r.players):len(r.players)]
}
