package relay

import (
	"bytes"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/admin"
	"github.com/tickrelay/tickrelay/relay/cluster"
)

// The lobby across nodes: other nodes' rooms in listings and quick match,
// direct messages to their players, lobby channels and bans.

// remoteListed returns up to limit public rooms of other nodes with
// players, of mode (any when empty) and with the filter's properties.
func (h *hub) remoteListed(mode []byte, filter []codec.Prop, limit int) []cluster.Room {
	var out []cluster.Room
	for _, r := range h.cl.node.Rooms() {
		if len(out) == limit {
			break
		}
		if r.Public && r.Players > 0 && (len(mode) == 0 || r.Mode == string(mode)) && propsMatch(r.Props, filter) {
			out = append(out, r)
		}
	}
	return out
}

// remoteMatch is quick match's pick among other nodes' rooms: the fullest
// open public room of mode with the filter's properties.
func (h *hub) remoteMatch(mode []byte, filter []codec.Prop) (cluster.Room, bool) {
	var best cluster.Room
	found := false
	for _, r := range h.cl.node.Rooms() {
		open := r.Public && !r.Locked && r.Players > 0 && r.Players < r.MaxPlayers
		if open && r.Mode == string(mode) && propsMatch(r.Props, filter) && (!found || r.Players > best.Players) {
			best, found = r, true
		}
	}
	return best, found
}

// propsMatch reports whether every filter key is in props with the same
// encoded value.
func propsMatch(props map[string][]byte, filter []codec.Prop) bool {
	for _, f := range filter {
		v, ok := props[string(f.Key)]
		if !ok || !bytes.Equal(v, f.Value) {
			return false
		}
	}
	return true
}

// appendPropMap appends props as a msgpack map, keys in order.
func appendPropMap(b []byte, props map[string][]byte) []byte {
	b = codec.AppendMapLen(b, len(props))
	for _, k := range sortedKeys(props) {
		b = codec.AppendStr(b, k)
		b = append(b, props[k]...)
	}
	return b
}

// dmElsewhere sends p's direct message to a player of another node; p sees
// its own line at once, as with a local one.
func (h *hub) dmElsewhere(p *player, to uint32, text []byte) {
	err := h.cl.node.SendDM(cluster.DirectMessage{From: p.id, FromName: p.name, To: to, TimeMs: h.nowMs, Text: string(text)})
	if err != nil {
		h.replyError(p, 0, codec.CodePlayerNotFound, "the player's node cannot be reached: "+err.Error())
		return
	}
	h.scratch = codec.AppendChatEntry(h.scratch[:0], p.id, to, h.nowMs, text)
	h.queueChat(p)
}

// remoteDM delivers another node's player's direct message.
func (h *hub) remoteDM(m *cluster.DirectMessage) {
	q := h.players[m.To]
	if q == nil || !q.helloed || q.closing {
		return // left meanwhile
	}
	h.scratch = codec.AppendChatEntry(h.scratch[:0], m.From, m.To, m.TimeMs, []byte(m.Text))
	h.queueChat(q)
}

// remoteChannelLine delivers a line said on another node to this node's
// members of the channel, and keeps it in the channel's history.
func (h *hub) remoteChannelLine(m *cluster.ChannelLine) {
	c := h.channels[m.Channel]
	if c == nil {
		return // its last member here left meanwhile
	}
	c.history[c.lines%channelHistory] = chanLine{from: m.From, name: m.FromName, timeMs: m.TimeMs, text: m.Text}
	c.lines++
	h.scratch = codec.AppendChannelChatEntry(h.scratch[:0], m.From, m.TimeMs, []byte(m.Text), m.Channel, m.FromName)
	for _, q := range c.members {
		if !q.closing {
			h.queueChat(q)
		}
	}
}

// channelOpened and channelClosed follow a channel's first member here
// and its last: the node hears the other nodes' lines while it has one.
func (h *hub) channelOpened(name string) {
	if h.cl != nil {
		_ = h.cl.node.JoinChannel(name) // fails only once the node is closed
	}
}

func (h *hub) channelClosed(name string) {
	if h.cl != nil {
		_ = h.cl.node.LeaveChannel(name)
	}
}

// channelSaid passes a line said here to the other nodes in the channel.
func (h *hub) channelSaid(p *player, name string, text []byte) {
	if h.cl != nil {
		// A line that cannot go (NATS unreachable) still reaches this
		// node's members; the node counts the failure.
		_ = h.cl.node.SayChannel(cluster.ChannelLine{Channel: name, From: p.id, FromName: p.name, TimeMs: h.nowMs, Text: string(text)})
	}
}

// banChanged applies a ban put or removed on any node (this one included):
// the list follows the cluster's, and a new ban closes the players it
// matches.
func (h *hub) banChanged(m *cluster.BanChanged) {
	if m.Removed {
		_ = h.cfg.bans.remove(m.Ban.ID) // not found: it expired here already
		return
	}
	b := adminBan(m.Ban)
	if err := h.cfg.bans.put(b); err != nil {
		h.cfg.log.Warn().Err(err).Str("ban", b.ID).Msg("cluster ban not applied")
		return
	}
	if m.Ban.PlayerID != 0 {
		if p := h.players[m.Ban.PlayerID]; p != nil && p.helloed && !p.closing {
			h.closePlayer(p, codec.CodeBanned, banReason(b))
		}
	}
	h.closeBanned(b)
}

func adminBan(b cluster.Ban) admin.Ban {
	return admin.Ban{ID: b.ID, PlayerID: b.PlayerID, UserID: b.UserID, Address: b.Address, Until: b.Until,
		Reason: b.Reason, Created: b.Created}
}

func clusterBan(b admin.Ban) cluster.Ban {
	return cluster.Ban{ID: b.ID, PlayerID: b.PlayerID, UserID: b.UserID, Address: b.Address, Until: b.Until,
		Reason: b.Reason, Created: b.Created}
}
