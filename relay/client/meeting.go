package client

import (
	"context"

	"github.com/tickrelay/tickrelay/codec"
)

// The meeting place: the matchmaker's queue, parties, lobby chat channels.
// Match outcomes (codec.TMatch: found, timed out, cancelled, backfill),
// party changes (codec.TParty) and channel lines (frames' chat entries with
// a Channel) also arrive on Messages.

// QueueOptions describe what match a player (or its party, when its
// leader queues) waits for.
type QueueOptions struct {
	Mode    string
	Regions []string // acceptable regions, most preferred first; empty: any
	Skill   float64
	Props   map[string]any // must match exactly among a match's players
}

// QueueJoin puts this player, or its whole party if it leads one, in the
// matchmaker's queue. The match, when found, comes as a match message and
// a room_joined on Messages; the player is then in the room.
func (c *Client) QueueJoin(ctx context.Context, o QueueOptions) error {
	props, err := encodeProps(o.Props)
	if err != nil {
		return err
	}
	m := &codec.ClientMsg{Type: codec.TQueueJoin, Mode: []byte(o.Mode), Skill: o.Skill, Props: props}
	for _, r := range o.Regions {
		m.Regions = append(m.Regions, []byte(r))
	}
	_, err = c.request(ctx, m)
	return err
}

// QueueLeave takes this player (or its party) out of the queue.
func (c *Client) QueueLeave(ctx context.Context) error {
	_, err := c.request(ctx, &codec.ClientMsg{Type: codec.TQueueLeave})
	return err
}

// RequestBackfill asks the matchmaker to fill open seats of this master's
// room, one team number per seat; no seats withdraws the request.
func (c *Client) RequestBackfill(ctx context.Context, teams []int) error {
	m := &codec.ClientMsg{Type: codec.TBackfill, Seats: []uint32{}}
	for _, t := range teams {
		m.Seats = append(m.Seats, uint32(t))
	}
	_, err := c.request(ctx, m)
	return err
}

// Party is this player's party as of the relay's last party message.
type Party struct {
	ID      uint32 // 0: in no party
	Code    string // what friends type to join
	Leader  uint32
	Members []codec.PartyMember
}

// Party returns this player's party.
func (c *Client) Party() Party {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.party
	p.Members = append([]codec.PartyMember(nil), p.Members...)
	return p
}

// CreateParty makes a party led by this player and returns it.
func (c *Client) CreateParty(ctx context.Context) (Party, error) {
	if _, err := c.request(ctx, &codec.ClientMsg{Type: codec.TPartyCreate}); err != nil {
		return Party{}, err
	}
	return c.WaitParty(ctx, func(p Party) bool { return p.ID != 0 })
}

// JoinParty joins a friend's party by its code and returns it. In a
// cluster the party may be on another node: the client moves there (as
// for a room on another node; its id changes) and joins it there.
func (c *Client) JoinParty(ctx context.Context, code string) (Party, error) {
	m, err := c.request(ctx, &codec.ClientMsg{Type: codec.TPartyJoin, Code: []byte(code)})
	if err == nil {
		_, err = c.maybeFollow(ctx, m)
	}
	if err != nil {
		return Party{}, err
	}
	return c.WaitParty(ctx, func(p Party) bool { return p.ID != 0 })
}

// LeaveParty leaves this player's party.
func (c *Client) LeaveParty(ctx context.Context) error {
	if _, err := c.request(ctx, &codec.ClientMsg{Type: codec.TPartyLeave}); err != nil {
		return err
	}
	_, err := c.WaitParty(ctx, func(p Party) bool { return p.ID == 0 })
	return err
}

// WaitParty waits until cond holds for this player's party (as of the
// relay's party messages) and returns it.
func (c *Client) WaitParty(ctx context.Context, cond func(Party) bool) (Party, error) {
	for {
		c.mu.Lock()
		p := c.party
		changed := c.changed
		closed := c.closed
		c.mu.Unlock()
		if cond(p) {
			return c.Party(), nil
		}
		if closed {
			return Party{}, c.Err()
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Party{}, ctx.Err()
		}
	}
}

// Channel is a lobby chat channel as the relay described it.
type Channel struct {
	Name    string
	Count   int                 // members in all
	Members []codec.PartyMember // the first of them
	History []codec.ChatMsg     // its last lines, oldest first (on joining)
}

func channelOf(m *codec.ServerMsg) Channel {
	return Channel{Name: m.Channel, Count: m.Count, Members: m.Members, History: m.History}
}

// JoinChannel joins a lobby chat channel ("global", "mode:<mode>", or a
// name of the game's) and returns its members and last lines.
func (c *Client) JoinChannel(ctx context.Context, name string) (Channel, error) {
	m, err := c.request(ctx, &codec.ClientMsg{Type: codec.TChannelJoin, Channel: []byte(name)})
	if err != nil {
		return Channel{}, err
	}
	return channelOf(m), nil
}

// LeaveChannel leaves a lobby chat channel.
func (c *Client) LeaveChannel(ctx context.Context, name string) error {
	_, err := c.request(ctx, &codec.ClientMsg{Type: codec.TChannelLeave, Channel: []byte(name)})
	return err
}

// ChannelMembers returns a channel's member count and its first members.
func (c *Client) ChannelMembers(ctx context.Context, name string) (Channel, error) {
	m, err := c.request(ctx, &codec.ClientMsg{Type: codec.TChannelMembers, Channel: []byte(name)})
	if err != nil {
		return Channel{}, err
	}
	return channelOf(m), nil
}

// ChannelSay says text in a channel ("party" for this player's party); the
// line comes back in a frame's chat, with its channel.
func (c *Client) ChannelSay(name, text string) error {
	return c.send(&codec.ClientMsg{Type: codec.TChannelSay, Channel: []byte(name), Text: []byte(text)})
}

// SendPeerPacket sends data to other members of the room, for Godot's
// multiplayer API: to 0 is every other member, a player id that player,
// minus a player id every other member but that one. mode is
// codec.PeerReliable (ordered, exactly once), codec.PeerUnreliable or
// codec.PeerUnreliableOrdered (the latest per sender and channel in a
// frame). Packets arrive in frames' Packets.
func (c *Client) SendPeerPacket(to int64, mode, channel uint8, data []byte) error {
	return c.send(&codec.ClientMsg{Type: codec.TPeerPacket, PeerTo: to, PeerMode: mode, PeerChannel: channel, Value: data})
}
