package relay

import (
	"github.com/tickrelay/tickrelay/codec"
)

// resume attaches p's new link to the player that owns the resume token.
// p is the fresh, nameless player the new connection created: it is
// discarded. The resumed player gets a full snapshot and every event and
// chat line its lost link did not deliver, once.
func (h *hub) resume(p *player, m *codec.ClientMsg) {
	q := h.tokens[string(m.Resume)]
	switch {
	case q == nil || q.closing || q == p:
		h.closePlayer(p, codec.CodeResumeFailed, "unknown, used or expired resume token")
		return
	case m.LastTick < q.histFloor:
		h.closePlayer(p, codec.CodeResumeFailed, "the lost session missed more than the server kept")
		return
	}
	if b, ok := h.cfg.bans.match(q.userID, p.addr.Addr(), h.now); ok {
		h.closePlayer(p, codec.CodeBanned, banReason(b))
		return
	}
	l := p.link
	h.dropLink(p)
	p.closing = true
	h.dead = append(h.dead, p)

	if q.link != nil {
		// The old link is still open: typically a NAT rebinding moved the
		// client to a new source port before the old session timed out.
		h.detach(q, codec.CodeReplaced, "the player resumed on another connection")
	}
	q.link = l
	h.links[l] = q
	h.established = append(h.established, l)
	if q.away {
		q.away = false
		q.presenceTick = h.tick
	}
	q.behind = 0
	q.addr, q.transport = p.addr, p.transport
	q.log = q.log.With().Str("remote", p.addr.String()).Str("transport", p.transport).Logger()
	h.issueToken(q)

	// Replay what was sent after the last frame the client saw, then what
	// is pending: in the order it was first queued.
	var events, chat, packets []byte
	var nEvents, nChat, nPackets int
	for _, e := range q.hist {
		if e.tick > m.LastTick {
			events, nEvents = append(events, e.events...), nEvents+e.nEvents
			chat, nChat = append(chat, e.chat...), nChat+e.nChat
			packets, nPackets = append(packets, e.packets...), nPackets+e.nPackets
		}
	}
	q.events, q.nEvents = append(events, q.events...), nEvents+q.nEvents
	q.chat, q.nChat = append(chat, q.chat...), nChat+q.nChat
	q.packets, q.nPackets = append(packets, q.packets...), nPackets+q.nPackets
	q.hist, q.histBytes = nil, 0
	q.needFull = true

	var roomID uint32
	if q.room != nil {
		roomID = q.room.id
	}
	q.out = codec.AppendWelcome(q.out, q.id, q.resumeToken, h.cfg.tickRate, h.nowMs, h.tick, true, roomID)
	q.log.Info().Int("replayed_events", nEvents).Int("replayed_chat", nChat).Msg("player resumed")
}

// recordHistory keeps what p's frame for this tick carries of events and
// chat, while resume is enabled.
func (h *hub) recordHistory(p *player) {
	if h.cfg.resumeGrace <= 0 || (p.nEvents == 0 && p.nChat == 0 && p.nPackets == 0) {
		return
	}
	e := histEntry{tick: h.tick, nEvents: p.nEvents, nChat: p.nChat, nPackets: p.nPackets}
	e.events = append(e.events, p.events...)
	e.chat = append(e.chat, p.chat...)
	e.packets = append(e.packets, p.packets...)
	p.hist = append(p.hist, e)
	p.histBytes += e.size()
	// Bounded in bytes and in age: a client that never acknowledges
	// frames (acked_tick is optional) would otherwise keep the most. A
	// frame older than the idle timeout plus the grace cannot be needed by
	// a resume. Past either bound the oldest entries go, and a resume that
	// would need them fails instead of delivering a gap.
	oldest := uint64(0)
	if keep := uint64((h.cfg.idleTimeout + h.cfg.resumeGrace).Seconds() * float64(h.cfg.tickRate)); h.tick > keep {
		oldest = h.tick - keep
	}
	for len(p.hist) > 0 && (p.histBytes > h.cfg.maxPending || p.hist[0].tick < oldest) {
		p.histFloor = p.hist[0].tick
		p.histBytes -= p.hist[0].size()
		p.hist[0] = histEntry{}
		p.hist = p.hist[1:]
	}
}

// pruneHistory forgets frames the client says it received. The floor
// rises with them: a resume claiming an older last frame would need them.
func (p *player) pruneHistory(acked uint64) {
	i := 0
	for i < len(p.hist) && p.hist[i].tick <= acked {
		p.histFloor = max(p.histFloor, p.hist[i].tick)
		p.histBytes -= p.hist[i].size()
		p.hist[i] = histEntry{}
		i++
	}
	p.hist = p.hist[i:]
}
