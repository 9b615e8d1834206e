package relay

import (
	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/kcplink"
	"github.com/tickrelay/tickrelay/relay/webhook"
	"github.com/tickrelay/tickrelay/relay/wslink"
	"github.com/tickrelay/tickrelay/tick"
)

// Stats is a snapshot of the server's counters, for operators and the load
// generator. Counters are totals since Serve began.
type Stats struct {
	Tick          tick.Stats
	Players       int64 // connected sessions, including those still in the handshake
	Rooms         int64
	FramesSent    uint64
	FramesBehind  uint64 // frames held back because the client's send window was full
	BytesOut      uint64 // frame and reply bytes handed to KCP (before KCP and UDP headers)
	MessagesIn    uint64
	EventsRelayed uint64 // event deliveries (one per recipient)
	ChatRelayed   uint64 // chat deliveries (one per recipient)
	Closes        map[string]uint64
	Transports    map[string]int // open connections by transport ("kcp", "ws")
	Filter        FilterStats    // datagrams in front of KCP (the first KCP socket)
	WebSocket     wslink.Stats   // the WebSocket transport
	Webhooks      webhook.Stats  // the webhook dispatcher, if any
	BytesIn       uint64         // client message bytes received, framing included
	KCP           KCPStats
	Peer          PeerStats    // Godot multiplayer packets between members
	Meeting       MeetingStats // the matchmaker's queue, parties, lobby chat
}

// PeerStats count peer packets (PROTOCOL.md 4.20).
type PeerStats struct {
	Relayed  uint64 // deliveries, one per recipient
	Replaced uint64 // unreliable packets a newer one replaced before their frame
	Dropped  uint64 // to no member, or from outside a room
}

// MeetingStats are the meeting place's counts, as of the last tick.
type MeetingStats struct {
	Tickets        int64  // waiting in the matchmaker's queue
	MatchesFormed  uint64 // rooms the matchmaker made
	TicketsTimeout uint64 // tickets that waited too long
	Parties        int64
	Channels       int64 // lobby chat channels with members
}

// FilterStats counts what the datagram filter in front of KCP let through
// and dropped, by reason.
type FilterStats = kcplink.FilterStats

// KCPStats are kcp-go's segment counters. kcp-go keeps them per process,
// not per server: a process that runs other KCP endpoints (an embedded
// load generator, say) counts theirs too.
type KCPStats struct {
	OutSegs          uint64 // segments sent, first transmissions and resends
	InSegs           uint64
	RetransSegs      uint64 // resends, all causes
	FastRetransSegs  uint64 // resends after later segments were acked
	EarlyRetransSegs uint64
	LostSegs         uint64 // resends after a retransmission timeout
	RepeatSegs       uint64 // duplicate segments received
}

// Stats returns a snapshot; it is safe to call while the server runs.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	loop, kcpTr, wsTr := s.loop, s.kcp, s.ws
	s.mu.Unlock()
	st := Stats{
		Players:       s.stats.players.Load(),
		Rooms:         s.stats.rooms.Load(),
		FramesSent:    s.stats.framesSent.Load(),
		FramesBehind:  s.stats.framesBehind.Load(),
		BytesOut:      s.stats.bytesOut.Load(),
		MessagesIn:    s.stats.messagesIn.Load(),
		EventsRelayed: s.stats.eventsRelayed.Load(),
		ChatRelayed:   s.stats.chatRelayed.Load(),
		Closes:        map[string]uint64{},
	}
	k := kcp.DefaultSnmp.Copy()
	st.KCP = KCPStats{
		OutSegs: k.OutSegs, InSegs: k.InSegs, RetransSegs: k.RetransSegs,
		FastRetransSegs: k.FastRetransSegs, EarlyRetransSegs: k.EarlyRetransSegs,
		LostSegs: k.LostSegs, RepeatSegs: k.RepeatSegs,
	}
	if loop != nil {
		st.Tick = loop.Stats()
	}
	if kcpTr != nil {
		st.Filter = kcpTr.Stats()
	}
	if wsTr != nil {
		st.WebSocket = wsTr.Stats()
	}
	if s.Webhooks != nil {
		st.Webhooks = s.Webhooks.Stats()
	}
	st.BytesIn = s.stats.bytesIn.Load()
	st.Peer = PeerStats{Relayed: s.stats.peerRelayed.Load(), Replaced: s.stats.peerReplaced.Load(), Dropped: s.stats.peerDropped.Load()}
	st.Meeting = MeetingStats{Tickets: s.stats.tickets.Load(), MatchesFormed: s.stats.matchesFormed.Load(),
		TicketsTimeout: s.stats.ticketsTimeout.Load(), Parties: s.stats.parties.Load(), Channels: s.stats.channels.Load()}
	st.Transports = map[string]int{
		"kcp": int(s.stats.linksKCP.Load()),
		"ws":  int(s.stats.linksWS.Load()),
	}
	for i := range s.stats.closes {
		if v := s.stats.closes[i].Load(); v > 0 {
			st.Closes[codec.Code(i).String()] = v
		}
	}
	return st
}
