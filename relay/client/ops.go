package client

import (
	"context"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// RoomOptions describe a room to create.
type RoomOptions struct {
	Mode       string
	MaxPlayers int  // 0: the server's default
	Private    bool // private rooms are not listed or matched; join them by code
	Props      map[string]any
}

// Joined describes the room a request put this client in. The room's
// contents arrive with the next frame.
type Joined struct {
	RoomID     uint32
	Code       string
	Mode       string
	MaxPlayers int
}

func joined(m *codec.ServerMsg) Joined {
	return Joined{RoomID: m.RoomID, Code: m.JoinCode, Mode: m.Mode, MaxPlayers: m.MaxPlayers}
}

// CreateRoom creates a room and joins it as its master.
func (c *Client) CreateRoom(ctx context.Context, o RoomOptions) (Joined, error) {
	props, err := encodeProps(o.Props)
	if err != nil {
		return Joined{}, err
	}
	if props == nil {
		props = []codec.Prop{}
	}
	m, err := c.request(ctx, &codec.ClientMsg{Type: codec.TCreateRoom, Mode: []byte(o.Mode), MaxPlayers: o.MaxPlayers, Public: !o.Private, Props: props})
	if err == nil {
		m, err = c.maybeFollow(ctx, m)
	}
	if err != nil {
		return Joined{}, err
	}
	return joined(m), nil
}

// JoinRoom joins a public room by id.
func (c *Client) JoinRoom(ctx context.Context, id uint32) (Joined, error) {
	m, err := c.request(ctx, &codec.ClientMsg{Type: codec.TJoinRoom, RoomID: id})
	if err == nil {
		m, err = c.maybeFollow(ctx, m)
	}
	if err != nil {
		return Joined{}, err
	}
	return joined(m), nil
}

// JoinByCode joins any room by its join code.
func (c *Client) JoinByCode(ctx context.Context, code string) (Joined, error) {
	m, err := c.request(ctx, &codec.ClientMsg{Type: codec.TJoinCode, Code: []byte(code)})
	if err == nil {
		m, err = c.maybeFollow(ctx, m)
	}
	if err != nil {
		return Joined{}, err
	}
	return joined(m), nil
}

// JoinOrCreate joins the fullest open public room of mode whose properties
// include props, or creates one with them.
func (c *Client) JoinOrCreate(ctx context.Context, mode string, props map[string]any, maxPlayers int) (Joined, error) {
	p, err := encodeProps(props)
	if err != nil {
		return Joined{}, err
	}
	m, err := c.request(ctx, &codec.ClientMsg{Type: codec.TJoinOrCreate, Mode: []byte(mode), Props: p, MaxPlayers: maxPlayers})
	if err == nil {
		m, err = c.maybeFollow(ctx, m)
	}
	if err != nil {
		return Joined{}, err
	}
	return joined(m), nil
}

// ListRooms lists public rooms with players; mode "" lists every mode, and
// filter keeps rooms whose properties include it.
func (c *Client) ListRooms(ctx context.Context, mode string, filter map[string]any, limit int) ([]codec.RoomInfo, error) {
	p, err := encodeProps(filter)
	if err != nil {
		return nil, err
	}
	m, err := c.request(ctx, &codec.ClientMsg{Type: codec.TListRooms, Mode: []byte(mode), Props: p, Limit: limit})
	if err != nil {
		return nil, err
	}
	return m.Rooms, nil
}

// LeaveRoom leaves the current room.
func (c *Client) LeaveRoom(ctx context.Context) error {
	_, err := c.request(ctx, &codec.ClientMsg{Type: codec.TLeaveRoom})
	return err
}

// SetRoomProps merges props into the room's properties (master only); a
// nil value deletes its key.
func (c *Client) SetRoomProps(ctx context.Context, props map[string]any) error {
	p, err := encodeProps(props)
	if err != nil {
		return err
	}
	_, err = c.request(ctx, &codec.ClientMsg{Type: codec.TSetRoomProps, Props: p})
	return err
}

// SetPlayerProps merges props into this player's properties.
func (c *Client) SetPlayerProps(ctx context.Context, props map[string]any) error {
	p, err := encodeProps(props)
	if err != nil {
		return err
	}
	_, err = c.request(ctx, &codec.ClientMsg{Type: codec.TSetPlayerProps, Props: p})
	return err
}

// SetLocked locks or unlocks the room (master only).
func (c *Client) SetLocked(ctx context.Context, locked bool) error {
	_, err := c.request(ctx, &codec.ClientMsg{Type: codec.TSetLocked, Locked: locked})
	return err
}

// Kick removes a player from the room (master only).
func (c *Client) Kick(ctx context.Context, player uint32) error {
	_, err := c.request(ctx, &codec.ClientMsg{Type: codec.TKick, PlayerID: player})
	return err
}

// SetState sets this player's state to v, encoded with msgpack.
func (c *Client) SetState(v any) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	return c.SetStateRaw(b)
}

// SetStateRaw sets this player's state to an encoded msgpack value.
func (c *Client) SetStateRaw(value []byte) error {
	return c.send(&codec.ClientMsg{Type: codec.TState, Value: value})
}

// SendEvent sends a reliable event to target (codec.TargetAll, TargetOthers,
// TargetMaster, or TargetList with ids).
func (c *Client) SendEvent(target uint8, ids []uint32, code uint32, payload any) error {
	b, err := Marshal(payload)
	if err != nil {
		return err
	}
	return c.send(&codec.ClientMsg{Type: codec.TEvent, Target: target, Targets: ids, EventCode: code, Value: b})
}

// Chat sends a line to the room.
func (c *Client) Chat(text string) error {
	return c.send(&codec.ClientMsg{Type: codec.TChat, Text: []byte(text)})
}

// DirectMessage sends a line to one player.
func (c *Client) DirectMessage(to uint32, text string) error {
	return c.send(&codec.ClientMsg{Type: codec.TChat, To: to, Text: []byte(text)})
}

// Ping measures the round trip to the server, without the time the ping
// waited in the server for its tick.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	now := time.Now().UnixNano()
	ch := make(chan *codec.ServerMsg, 1)
	c.mu.Lock()
	c.pings[now] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pings, now)
		c.mu.Unlock()
	}()
	if err := c.send(&codec.ClientMsg{Type: codec.TPing, ClientTime: now}); err != nil {
		return 0, err
	}
	select {
	case m := <-ch:
		rtt := time.Duration(time.Now().UnixNano()-now) - time.Duration(m.HoldUs)*time.Microsecond
		return max(rtt, 0), nil
	case <-c.done:
		return 0, c.Err()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
