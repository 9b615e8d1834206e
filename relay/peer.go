package relay

import (
	"github.com/tickrelay/tickrelay/codec"
)

// Peer packets carry Godot's high-level multiplayer (SceneMultiplayer over
// the addon's MultiplayerPeer) between a room's members, in the tick's
// frames like everything else. Reliable packets queue like events (in
// order, exactly once, replayed on a resume); an unreliable packet
// replaces the one from the same sender on the same channel that is still
// waiting for the recipient's frame, so a synchronizer's latest update
// never waits behind stale ones.

// unrelPacket is the latest unreliable packet from one sender on one
// channel, waiting for its recipient's frame. Its data buffer is reused.
type unrelPacket struct {
	from    uint32
	mode    uint8
	channel uint8
	data    []byte
}

// peerPacket relays m (peer_packet) from p to the members it names.
func (h *hub) peerPacket(p *player, m *codec.ClientMsg) {
	r := p.room
	if r == nil {
		h.stats.peerDropped.Add(1)
		h.replyError(p, 0, codec.CodeNotInRoom, "peer packets need a room")
		return
	}
	switch to := m.PeerTo; {
	case to > 0:
		q := r.member(uint32(to))
		if q == nil || q == p {
			h.stats.peerDropped.Add(1) // the peer left, or never was
			return
		}
		h.queuePacket(q, p.id, m)
	default: // 0: every other member; -id: every other member but id
		for _, q := range r.members {
			if q != p && (to == 0 || q.id != uint32(-to)) {
				h.queuePacket(q, p.id, m)
			}
		}
	}
}

func (h *hub) queuePacket(q *player, from uint32, m *codec.ClientMsg) {
	h.stats.peerRelayed.Add(1)
	if m.PeerMode == codec.PeerReliable {
		q.packets = codec.AppendPeerPacket(q.packets, from, m.PeerMode, m.PeerChannel, m.Value)
		q.nPackets++
		return
	}
	for i := range q.unrel {
		u := &q.unrel[i]
		if u.from == from && u.channel == m.PeerChannel {
			u.mode, u.data = m.PeerMode, append(u.data[:0], m.Value...)
			h.stats.peerReplaced.Add(1)
			return
		}
	}
	n := len(q.unrel)
	if n < cap(q.unrel) {
		q.unrel = q.unrel[:n+1] // reuse the slot and its buffer
	} else {
		q.unrel = append(q.unrel, unrelPacket{})
	}
	u := &q.unrel[n]
	u.from, u.mode, u.channel = from, m.PeerMode, m.PeerChannel
	u.data = append(u.data[:0], m.Value...)
}

// appendPackets appends p's waiting packets to its frame begun at start,
// if it has any, and forgets them.
func appendPackets(b []byte, start int, p *player) []byte {
	if p.nPackets == 0 && len(p.unrel) == 0 {
		return b
	}
	codec.FrameWithPackets(b, start)
	b = codec.AppendArrayLen(b, p.nPackets+len(p.unrel))
	b = append(b, p.packets...)
	for i := range p.unrel {
		u := &p.unrel[i]
		b = codec.AppendPeerPacket(b, u.from, u.mode, u.channel, u.data)
	}
	p.packets, p.nPackets, p.unrel = p.packets[:0], 0, p.unrel[:0]
	return b
}
