package relay

import (
	"slices"
	"time"

	"github.com/tickrelay/tickrelay/relay/cluster"
	"github.com/tickrelay/tickrelay/relay/match"
)

// A relay in a cluster (Server.Cluster) shares its lobby with the other
// nodes: its rooms go into the shared directory, players find other nodes'
// rooms by code, id, listing and quick match and are redirected there with
// a seat token, and direct messages, lobby channels and bans reach every
// node. Frames never cross nodes: a room's players are all on its node.
// This file is the tick's side of it; cluster_seats.go handles seats and
// redirects, cluster_lobby.go listings, messages and bans.

// Per tick, at most this many messages from other nodes and seat requests
// are handled: a burst waits for the next ticks instead of stretching one.
const (
	clusterInboxPerTick = 1024
	clusterSeatsPerTick = 256
)

// seatWaitLimit bounds how long a player's request waits for another
// node's answer before it is answered unavailable (the node's own bound,
// SeatTimeout, is shorter: this catches an answer lost to a full inbox).
const seatWaitLimit = 5 * time.Second

// clusterState is the hub's cluster membership. Owned by the tick goroutine.
type clusterState struct {
	node *cluster.Node
	id   uint8

	waits   map[uint64]*seatWait // seat requests sent, by tag
	nextTag uint64

	// held are the rooms holding seats granted to other nodes' players.
	held []*room
	// movedParties are the parties made again here for players that a
	// match brought from another node, by their ticket there.
	movedParties map[uint64]*party

	// leading: this node runs the cluster's matchmaker (h.mm). checker
	// checks this node's tickets and backfill requests before they go to
	// the leader: an empty matchmaker with the same configuration.
	leading bool
	checker *match.Matchmaker

	publishEvery uint64 // ticks between directory publications
	published    uint64 // signature of the rooms last published; 0: none yet
	lastSweep    time.Time
}

func newClusterState(node *cluster.Node, tickRate int, mm *match.Config) (*clusterState, error) {
	c := &clusterState{
		node:         node,
		id:           node.ID(),
		waits:        make(map[uint64]*seatWait),
		publishEvery: uint64(max(tickRate/4, 1)), // the node writes at most four times a second
	}
	if mm != nil {
		var err error
		if c.checker, err = match.New(*mm); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// firstID is the id before the first player or room id of this node: ids
// carry the node in their top byte (cluster.NodeOf).
func (c *clusterState) firstID() uint32 { return uint32(c.id) << 24 }

// remote reports whether id is a player or room of another node.
func (c *clusterState) remote(id uint32) bool {
	return c != nil && id != 0 && cluster.NodeOf(id) != c.id
}

// clusterTick handles what other nodes sent since the last tick and keeps
// this node's part of the directory current.
func (h *hub) clusterTick() {
	c := h.cl
	if c == nil {
		return
	}
	inbox := c.node.Inbox()
inboxLoop:
	for range clusterInboxPerTick {
		select {
		case m := <-inbox:
			h.clusterMessage(m)
		default:
			break inboxLoop
		}
	}
	calls := c.node.SeatRequests()
seatLoop:
	for range clusterSeatsPerTick {
		select {
		case call := <-calls:
			h.answerSeat(call)
		default:
			break seatLoop
		}
	}
	if lead := c.node.IsMatchmakerLeader(); lead != c.leading {
		if !lead {
			h.freshMatchmaker() // the next leader starts from the tickets the nodes send it
		}
		c.leading = lead
	}
	if h.tick%c.publishEvery == 0 {
		h.publishRooms()
	}
	if h.now.Sub(c.lastSweep) >= time.Second {
		c.lastSweep = h.now
		h.sweepSeats()
	}
}

// clusterMessage applies one message from the cluster.
func (h *hub) clusterMessage(m cluster.Message) {
	switch m := m.(type) {
	case *cluster.SeatResult:
		h.seatAnswered(m)
	case *cluster.DirectMessage:
		h.remoteDM(m)
	case *cluster.ChannelLine:
		h.remoteChannelLine(m)
	case *cluster.BanChanged:
		h.banChanged(m)
	case *cluster.LeaderChanged:
		h.leaderChanged(m)
	case *cluster.TicketAdd, *cluster.TicketCancel, *cluster.BackfillRequest, *cluster.BackfillCancel:
		h.leaderMessage(m)
	case *cluster.MatchAssign:
		if h.mm != nil {
			h.startMatch(&m.Match)
		}
	case *cluster.FillAssign:
		if h.mm != nil {
			h.fillSeats(&m.Fill)
		}
	case *cluster.MatchResult:
		h.matchResult(m)
	}
	// Node changes need nothing: the directory the tick reads is current.
}

// publishRooms gives the node this relay's rooms when they changed, and
// its load. Rooms are published whole, so a slice is built only on a
// change: rooms with members or seats held, listed or not (a private room
// is found by its code).
func (h *hub) publishRooms() {
	c := h.cl
	players := 0
	for _, p := range h.order {
		if p.helloed && !p.closing {
			players++
		}
	}
	c.node.ReportLoad(players, len(h.rooms))
	sig := roomsSignature(h.roomOrder)
	if sig == c.published {
		return
	}
	c.published = sig
	rooms := make([]cluster.Room, 0, len(h.roomOrder))
	for _, r := range h.roomOrder {
		rooms = append(rooms, cluster.Room{
			Node: c.id, ID: r.id, Code: r.code, Mode: r.mode, Props: r.props.asMap(),
			Players: len(r.members) + len(r.holds), MaxPlayers: r.maxPlayers, Public: r.public, Locked: r.locked,
		})
	}
	c.node.PublishRooms(rooms)
}

// roomsSignature changes when anything published of the rooms does
// (FNV-1a over each room's id, member and hold counts, flags and the tick
// of its last property change). Never 0.
func roomsSignature(rooms []*room) uint64 {
	sig := uint64(14695981039346656037)
	mix := func(v uint64) {
		sig ^= v
		sig *= 1099511628211
	}
	mix(uint64(len(rooms)))
	for _, r := range rooms {
		flags := uint64(0)
		if r.public {
			flags |= 1
		}
		if r.locked {
			flags |= 2
		}
		mix(uint64(r.id))
		mix(uint64(len(r.members))<<32 | uint64(len(r.holds))<<8 | flags)
		mix(r.propsTick)
	}
	return max(sig, 1)
}

// asMap returns the properties as the directory keeps them. The values are
// shared, not copied: merge replaces a value, it never writes into one.
func (ps *propSet) asMap() map[string][]byte {
	if len(ps.keys) == 0 {
		return nil
	}
	m := make(map[string][]byte, len(ps.keys))
	for i, k := range ps.keys {
		m[k] = ps.values[i]
	}
	return m
}

// sweepSeats lets go of seats whose tokens expired unused, and answers
// requests whose answer never came.
func (h *hub) sweepSeats() {
	c := h.cl
	c.held = slices.DeleteFunc(c.held, func(r *room) bool {
		r.holds = slices.DeleteFunc(r.holds, func(exp time.Time) bool { return !h.now.Before(exp) })
		return len(r.holds) == 0
	})
	for tag, w := range c.waits {
		if h.now.After(w.deadline) {
			delete(c.waits, tag)
			h.seatFailed(w, nil)
		}
	}
	if h.mm != nil {
		h.sweepTickets()
	}
}
