package relay

import (
	"slices"
	"strings"

	"golang.org/x/time/rate"

	"github.com/tickrelay/tickrelay/codec"
)

// Lobby chat: named channels a player joins without being in a room.
const (
	maxChannels         = 1000 // channels on the server
	maxChannelsPerUser  = 8    // channels one player is in
	channelHistory      = 20   // lines a player gets on joining
	channelMembersShown = 50   // members listed in a channel message
	channelRate         = 10   // lines per second in one channel, all senders (burst twice that)
	partyChannel        = "party"
)

// channel is one lobby chat channel. Owned by the tick goroutine.
type channel struct {
	name    string
	members []*player // join order
	history [channelHistory]chanLine
	lines   int // lines ever said, the ring's write count
	rate    *rate.Limiter
}

type chanLine struct {
	from   uint32
	name   string
	timeMs int64
	text   string
}

// validChannel reports whether a player may name a channel so: "global",
// "mode:<mode>" or any other name; "party" is the player's party.
func validChannel(name string) bool {
	return name != "" && strings.TrimSpace(name) == name
}

func (h *hub) channelJoin(p *player, rid uint32, name string) {
	c := h.channels[name]
	switch {
	case !validChannel(name) || name == partyChannel:
		h.replyError(p, rid, codec.CodeBadRequest, "not a channel name")
		return
	case c != nil && slices.Contains(c.members, p):
		h.channelInfo(p, rid, c, true)
		return
	case len(p.channels) >= maxChannelsPerUser:
		h.replyError(p, rid, codec.CodeLimit, "in too many channels")
		return
	case c == nil && len(h.channels) >= maxChannels:
		h.replyError(p, rid, codec.CodeLimit, "the server has its maximum of channels")
		return
	}
	if c == nil {
		c = &channel{name: name, rate: rate.NewLimiter(channelRate, 2*channelRate)}
		h.channels[name] = c
		h.channelOpened(name)
	}
	c.members = append(c.members, p)
	p.channels = append(p.channels, c)
	h.channelInfo(p, rid, c, true)
}

func (h *hub) channelLeave(p *player, rid uint32, name string) {
	c := h.channels[name]
	if c == nil || !slices.Contains(c.members, p) {
		h.replyError(p, rid, codec.CodeBadRequest, "not in that channel")
		return
	}
	h.leaveChannel(p, c)
	p.out = codec.AppendOK(p.out, rid)
}

// leaveChannel takes p out of c; an empty channel is forgotten.
func (h *hub) leaveChannel(p *player, c *channel) {
	if i := slices.Index(c.members, p); i >= 0 {
		c.members = slices.Delete(c.members, i, i+1)
	}
	if i := slices.Index(p.channels, c); i >= 0 {
		p.channels = slices.Delete(p.channels, i, i+1)
	}
	if len(c.members) == 0 {
		delete(h.channels, c.name)
		h.channelClosed(c.name)
	}
}

// leaveChannels takes p out of every channel (it is leaving the server).
func (h *hub) leaveChannels(p *player) {
	for len(p.channels) > 0 {
		h.leaveChannel(p, p.channels[0])
	}
}

func (h *hub) channelMembers(p *player, rid uint32, name string) {
	c := h.channels[name]
	if c == nil || !slices.Contains(c.members, p) {
		h.replyError(p, rid, codec.CodeBadRequest, "not in that channel")
		return
	}
	h.channelInfo(p, rid, c, false)
}

// channelInfo replies with c's member count, its first members and, with
// history, its last lines.
func (h *hub) channelInfo(p *player, rid uint32, c *channel, history bool) {
	shown := min(len(c.members), channelMembersShown)
	b, start := codec.AppendChannelHeader(p.out, rid, c.name, len(c.members), shown)
	for _, m := range c.members[:shown] {
		b = codec.AppendChannelMember(b, m.id, m.name)
	}
	n := 0
	if history {
		n = min(c.lines, channelHistory)
	}
	b = codec.AppendArrayLen(b, n)
	for i := c.lines - n; i < c.lines; i++ {
		l := c.history[i%channelHistory]
		b = codec.AppendChannelLine(b, l.from, l.name, l.timeMs, []byte(l.text))
	}
	codec.EndFrame(b, start)
	p.out = b
}

// channelSay delivers a line to every member of the channel (the sender
// too), or of the sender's party for "party".
func (h *hub) channelSay(p *player, name string, text []byte) {
	var to []*player
	var c *channel
	if name == partyChannel {
		if p.party == nil {
			h.replyError(p, 0, codec.CodeBadRequest, "not in a party")
			return
		}
		to = p.party.members
	} else {
		c = h.channels[name]
		if c == nil || !slices.Contains(c.members, p) {
			h.replyError(p, 0, codec.CodeBadRequest, "not in that channel")
			return
		}
		if !c.rate.AllowN(h.now, 1) {
			h.rateLimited(p, 0, "channel")
			return
		}
		to = c.members
		c.history[c.lines%channelHistory] = chanLine{from: p.id, name: p.name, timeMs: h.nowMs, text: string(text)}
		c.lines++
		h.channelSaid(p, name, text)
	}
	h.scratch = codec.AppendChannelChatEntry(h.scratch[:0], p.id, h.nowMs, text, name, p.name)
	for _, q := range to {
		if !q.closing {
			h.queueChat(q)
		}
	}
}
