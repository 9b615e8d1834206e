package client

import (
	"context"
	"maps"

	"github.com/tickrelay/tickrelay/codec"
)

// RoomView is the client's copy of its room, as of the last frame.
type RoomView struct {
	ID      uint32 // 0 when in no room
	Master  uint32
	Locked  bool
	Props   codec.Props
	Players map[uint32]PlayerView
	Tick    uint64 // tick of the last frame applied
}

// PlayerView is one member as the client sees it.
type PlayerView struct {
	ID        uint32
	Name      string
	Props     codec.Props
	State     []byte // encoded msgpack; nil until the player sets one
	StateTick uint64 // tick of the frame that carried State
	Away      bool   // its connection is lost; it may still resume
}

// Room returns a copy of the current room view.
func (c *Client) Room() RoomView {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.view.clone()
}

func (v RoomView) clone() RoomView {
	out := v
	out.Players = maps.Clone(v.Players)
	return out
}

// WaitFor blocks until cond holds for the room view (checked after every
// frame) or ctx ends or the connection closes.
func (c *Client) WaitFor(ctx context.Context, cond func(RoomView) bool) error {
	for {
		c.mu.Lock()
		ok := cond(c.view.clone())
		changed := c.changed
		closed := c.closed
		c.mu.Unlock()
		if ok {
			return nil
		}
		if closed {
			return c.Err()
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// current reports whether gen is the live connection.
func (c *Client) current(gen int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen == gen
}

func (c *Client) readLoop(conn wire, gen int) {
	// The reader of the live connection ends Messages when the client ends.
	defer func() {
		if c.current(gen) {
			c.msgOnce.Do(func() { close(c.msgs) })
		}
	}()
	for {
		body, err := conn.next()
		if err != nil {
			if !c.current(gen) {
				conn.close() // replaced by Reconnect, dropped on purpose, or left
				return
			}
			c.shut(err)
			return
		}
		if !c.current(gen) {
			// Left with a bye (a redirect): nothing it says is for this
			// player any more; the relay's close ends it.
			if m, err := codec.DecodeServer(body); err != nil || m.Type == codec.TClose {
				conn.close()
				return
			}
			continue
		}
		m, err := codec.DecodeServer(body)
		if err != nil {
			c.shut(err)
			return
		}
		if !c.dispatch(m, gen) {
			return
		}
	}
}

// dispatch routes one server message of connection generation gen; false
// ends the read loop.
func (c *Client) dispatch(m *codec.ServerMsg, gen int) bool {
	switch m.Type {
	case codec.TWelcome:
		c.reply(0, m)
		return true
	case codec.TOK, codec.TRoomJoined, codec.TRoomList, codec.TChannel, codec.TRedirect:
		if m.RID != 0 {
			c.reply(m.RID, m)
			return true
		}
		// rid 0: the server's own doing (a match seating this player)
	case codec.TParty:
		c.mu.Lock()
		c.party = Party{ID: m.PartyID, Code: m.JoinCode, Leader: m.Leader, Members: m.Members}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	case codec.TError:
		if m.RID != 0 && c.reply(m.RID, m) {
			return true
		}
	case codec.TRoomLeft:
		c.mu.Lock()
		c.view = RoomView{Tick: c.view.Tick}
		c.mu.Unlock()
		if m.RID != 0 && c.reply(m.RID, m) {
			return true
		}
	case codec.TPong:
		c.mu.Lock()
		ch := c.pings[m.ClientTime]
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
		return true
	case codec.TFrame:
		c.dmu.Lock()
		defer c.dmu.Unlock()
		if !c.current(gen) {
			return false // a resume asks for this frame again
		}
		c.apply(m.Frame)
		if !c.queue(m) {
			return false
		}
		c.mu.Lock()
		c.delivered = m.Frame.Tick
		c.mu.Unlock()
		return true
	case codec.TClose:
		c.queue(m)
		if m.Code == codec.CodeClientClosed {
			c.shut(ErrClosed) // the relay's answer to this client's bye (Close)
		} else {
			c.shut(&Error{Code: m.Code, Message: m.Message})
		}
		return false
	}
	if m.Type == codec.TRedirect { // rid 0: a match seated this player on another node
		c.followLater(m)
	}
	return c.queue(m)
}

// reply hands m to the request waiting for rid, if any.
func (c *Client) reply(rid uint32, m *codec.ServerMsg) bool {
	c.mu.Lock()
	ch := c.pending[rid]
	delete(c.pending, rid)
	c.mu.Unlock()
	if ch != nil {
		ch <- m
	}
	return ch != nil
}

func (c *Client) queue(m *codec.ServerMsg) bool {
	select {
	case c.msgs <- m:
		return true
	case <-c.done:
		return false
	}
}

// apply updates the room view with a frame and wakes WaitFor callers.
func (c *Client) apply(f *codec.Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := &c.view
	v.Tick = f.Tick
	if d := f.Room; d != nil {
		if d.Full || v.ID != d.ID {
			*v = RoomView{ID: d.ID, Tick: f.Tick, Players: map[uint32]PlayerView{}}
		}
		if v.Players == nil {
			v.Players = map[uint32]PlayerView{}
		}
		v.Master, v.Locked = d.Master, d.Locked
		if d.Props != nil {
			v.Props = d.Props
		}
		for _, id := range d.Leaves {
			delete(v.Players, id)
		}
		for _, j := range d.Joins {
			v.Players[j.ID] = PlayerView{ID: j.ID, Name: j.Name, Props: j.Props}
		}
		for _, pp := range d.PlayerProps {
			if pv, ok := v.Players[pp.ID]; ok {
				pv.Props = pp.Props
				v.Players[pp.ID] = pv
			}
		}
		for _, s := range d.States {
			if pv, ok := v.Players[s.ID]; ok {
				pv.State, pv.StateTick = s.Value, f.Tick
				v.Players[s.ID] = pv
			}
		}
		for _, pr := range d.Presence {
			if pv, ok := v.Players[pr.ID]; ok {
				pv.Away = !pr.Connected
				v.Players[pr.ID] = pv
			}
		}
	}
	close(c.changed)
	c.changed = make(chan struct{})
}
