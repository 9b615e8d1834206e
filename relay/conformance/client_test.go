package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// client is a test's view of one connection: it sends messages built
// field by field as PROTOCOL.md lists them and reads the server's replies,
// checking every message against section 5 and every frame against the
// client's model of its room.
type client struct {
	t    testing.TB
	tr   Transport
	name string

	rid     uint32
	pingSeq int64
	welcome Welcome
	closed  *ServerMsg   // the close message, once read
	log     []*ServerMsg // every message read, in order

	view      *roomView // nil while in no room
	lastTick  uint64    // tick of the last frame
	frames    int
	events    []Event // every event received, in order
	chat      []Chat  // every chat line received, in order
	presences []Presence
	leaves    []uint32
}

// send sends one message body built from fields.
func (c *client) send(fields ...any) {
	c.t.Helper()
	c.sendBody(Msg(fields...))
}

func (c *client) sendBody(body []byte) {
	c.t.Helper()
	if err := c.tr.Send(body); err != nil {
		c.t.Fatalf("%s: send: %v", c.name, err)
	}
}

// request sends [typ, rid, fields...] with a fresh rid and returns the rid.
func (c *client) request(typ int, fields ...any) uint32 {
	c.t.Helper()
	c.rid++
	c.send(append([]any{typ, c.rid}, fields...)...)
	return c.rid
}

// hello sends [1, 1, name, props] and reads the welcome.
func (c *client) hello(name string, props any) Welcome {
	c.t.Helper()
	c.send(THello, 1, name, props)
	return c.expectWelcome()
}

func (c *client) expectWelcome() Welcome {
	c.t.Helper()
	m := c.next()
	if m.Type != TWelcome {
		c.t.Fatalf("%s: got %s, want welcome", c.name, describe(m))
	}
	c.welcome = m.Welcome
	return m.Welcome
}

// tryNext reads the next message; errors are returned, not fatal.
func (c *client) tryNext(d time.Duration) (*ServerMsg, error) {
	body, err := c.tr.Recv(time.Now().Add(d))
	if err != nil {
		return nil, err
	}
	m, err := ParseServer(body)
	if err != nil {
		return nil, fmt.Errorf("server message % x: %w", body, err)
	}
	c.log = append(c.log, m)
	if m.Extra != 0 {
		c.t.Errorf("%s: message %d has %d elements more than section 5 lists", c.name, m.Type, m.Extra)
	}
	switch m.Type {
	case TFrame:
		c.applyFrame(&m.Frame)
	case TClose:
		c.closed = m
	}
	return m, nil
}

// next reads the next message or fails the test.
func (c *client) next() *ServerMsg {
	c.t.Helper()
	m, err := c.tryNext(wait)
	if err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	return m
}

func describe(m *ServerMsg) string {
	switch m.Type {
	case TError:
		return fmt.Sprintf("error rid %d code %d (%s)", m.RID, m.Code, m.Text)
	case TClose:
		return fmt.Sprintf("close code %d (%s)", m.Code, m.Text)
	}
	return fmt.Sprintf("message %d %v", m.Type, m.Body.Items)
}

// reply reads until the reply to rid (ok, error, room_joined, room_list or
// room_left), skipping frames and pongs; anything else fails the test.
func (c *client) reply(rid uint32) *ServerMsg {
	c.t.Helper()
	for {
		m := c.next()
		switch m.Type {
		case TFrame, TPong:
			continue
		case TOK, TError, TRoomJoined, TRoomList, TRoomLeft:
			if m.RID == rid {
				return m
			}
		}
		c.t.Fatalf("%s: waiting for the reply to rid %d, got %s", c.name, rid, describe(m))
	}
}

func (c *client) expectOK(rid uint32) {
	c.t.Helper()
	if m := c.reply(rid); m.Type != TOK {
		c.t.Fatalf("%s: rid %d: got %s, want ok", c.name, rid, describe(m))
	}
}

// expectError reads the error answering rid and checks its code.
func (c *client) expectError(rid uint32, code int) *ServerMsg {
	c.t.Helper()
	m := c.reply(rid)
	if m.Type != TError || m.Code != code {
		c.t.Fatalf("%s: rid %d: got %s, want error code %d", c.name, rid, describe(m), code)
	}
	if m.Text == "" {
		c.t.Errorf("%s: error %d without a message", c.name, code)
	}
	return m
}

// expectRefused checks the refusal rule (decision 3): the message is
// answered with error code (rid as given, 0 for state, event and chat) and
// the session stays open.
func (c *client) expectRefused(rid uint32, code int) {
	c.t.Helper()
	for {
		m := c.next()
		switch {
		case m.Type == TFrame || m.Type == TPong:
			continue
		case m.Type == TError && m.RID == rid && m.Code == code:
			c.sync()
			return
		}
		c.t.Fatalf("%s: got %s, want error rid %d code %d and the session open", c.name, describe(m), rid, code)
	}
}

// joined reads room_joined for rid and the full frame after it.
func (c *client) joined(rid uint32) RoomJoined {
	c.t.Helper()
	m := c.reply(rid)
	if m.Type != TRoomJoined {
		c.t.Fatalf("%s: rid %d: got %s, want room_joined", c.name, rid, describe(m))
	}
	f := c.nextFrame()
	if f.Room == nil || !f.Room.Full || f.Room.ID != m.Joined.RoomID {
		c.t.Fatalf("%s: the frame after room_joined is %+v, want the full room %d", c.name, f.Room, m.Joined.RoomID)
	}
	return m.Joined
}

// nextFrame reads the next frame, skipping pongs.
func (c *client) nextFrame() *Frame {
	c.t.Helper()
	for {
		m := c.next()
		switch m.Type {
		case TFrame:
			return &m.Frame
		case TPong:
			continue
		}
		c.t.Fatalf("%s: waiting for a frame, got %s", c.name, describe(m))
	}
}

// waitFrame reads frames until cond holds for one (and the client's room
// view has been updated by it).
func (c *client) waitFrame(what string, cond func(f *Frame) bool) *Frame {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		m, err := c.tryNext(time.Until(deadline))
		if err != nil {
			break
		}
		switch m.Type {
		case TFrame:
			if cond(&m.Frame) {
				return &m.Frame
			}
		case TPong:
		default:
			c.t.Fatalf("%s: waiting for %s, got %s", c.name, what, describe(m))
		}
	}
	c.t.Fatalf("%s: no frame with %s within %v", c.name, what, wait)
	return nil
}

// waitView reads frames until the room view satisfies cond.
func (c *client) waitView(what string, cond func(v *roomView) bool) {
	c.t.Helper()
	c.waitFor(what, func() bool { return c.view != nil && cond(c.view) })
}

// waitFor reads frames until cond, a condition on what the client has
// received so far, holds.
func (c *client) waitFor(what string, cond func() bool) {
	c.t.Helper()
	if !cond() {
		c.waitFrame(what, func(*Frame) bool { return cond() })
	}
}

// sync pings and reads until the pong: everything sent before was handled
// without an error or a close (decision 3: refused messages leave the
// session open).
func (c *client) sync() Pong {
	c.t.Helper()
	c.pingSeq++
	c.send(TPing, c.pingSeq)
	for {
		m := c.next()
		switch {
		case m.Type == TPong && m.Pong.ClientTime == c.pingSeq:
			return m.Pong
		case m.Type == TFrame || m.Type == TPong:
		default:
			c.t.Fatalf("%s: waiting for the pong, got %s", c.name, describe(m))
		}
	}
}

// expectClose reads until the server's close (skipping frames, pongs and
// errors) and checks its code; the connection is closed afterwards.
func (c *client) expectClose(code int) *ServerMsg {
	c.t.Helper()
	for {
		m := c.next()
		if m.Type == TWelcome {
			c.t.Fatalf("%s: got a welcome (%+v), want close %d", c.name, m.Welcome, code)
		}
		if m.Type == TClose {
			if m.Code != code {
				c.t.Fatalf("%s: closed with %d (%s), want %d", c.name, m.Code, m.Text, code)
			}
			if m.Text == "" && code != CodeServerFull {
				c.t.Errorf("%s: close %d without a reason", c.name, code)
			}
			c.tr.Close()
			return m
		}
	}
}

// applyFrame checks one frame against what came before and updates the
// client's model.
func (c *client) applyFrame(f *Frame) {
	if c.frames > 0 && f.Tick <= c.lastTick {
		c.t.Errorf("%s: frame tick %d after tick %d (section 5.6: ticks increase)", c.name, f.Tick, c.lastTick)
	}
	c.frames++
	c.lastTick = f.Tick
	c.events = append(c.events, f.Events...)
	c.chat = append(c.chat, f.Chat...)
	if f.Room == nil {
		c.view = nil
		return
	}
	c.presences = append(c.presences, f.Room.Presence...)
	c.leaves = append(c.leaves, f.Room.Leaves...)
	if err := c.applyRoom(f.Room); err != nil {
		c.t.Errorf("%s: frame at tick %d: %v", c.name, f.Tick, err)
	}
}

// roomView is a client's model of its room, built from frames only.
type roomView struct {
	id      uint32
	master  uint32
	locked  bool
	props   Props
	players map[uint32]*playerView
}

type playerView struct {
	name  string
	props Props
	state []byte
	away  bool
}

// applyRoom applies the room part of a frame as section 5.6 says.
func (c *client) applyRoom(r *FrameRoom) error {
	if r.Full {
		if r.Props == nil {
			return errors.New("a full frame without the room's props")
		}
		c.view = &roomView{id: r.ID, players: map[uint32]*playerView{}}
	} else if c.view == nil || c.view.id != r.ID {
		return fmt.Errorf("a delta for room %d before its full frame", r.ID)
	}
	v := c.view
	v.master, v.locked = r.Master, r.Locked
	if r.Props != nil {
		v.props = r.Props
	}
	for _, id := range r.Leaves { // before joins
		delete(v.players, id)
	}
	for _, j := range r.Joins {
		v.players[j.ID] = &playerView{name: j.Name, props: j.Props}
	}
	for _, pp := range r.PlayerProps {
		p := v.players[pp.ID]
		if p == nil {
			return fmt.Errorf("player_props for %d, not a member", pp.ID)
		}
		p.props = pp.Props
	}
	for _, s := range r.States {
		p := v.players[s.ID]
		if p == nil {
			return fmt.Errorf("a state for %d, not a member", s.ID)
		}
		p.state = bytes.Clone(s.Value)
	}
	for _, pr := range r.Presence {
		p := v.players[pr.ID]
		if p == nil {
			return fmt.Errorf("presence for %d, not a member", pr.ID)
		}
		p.away = !pr.Connected
	}
	if _, ok := v.players[v.master]; !ok {
		return fmt.Errorf("master %d is not a member", v.master)
	}
	return nil
}

// props builds a Props from key, value pairs, each value encoded.
func props(kv ...any) Props {
	p := Props{}
	for i := 0; i < len(kv); i += 2 {
		p[kv[i].(string)] = string(Encode(kv[i+1]))
	}
	return p
}

// propsMap builds the msgpack map a client sends for key, value pairs.
func propsMap(kv ...any) Map {
	m := Map{}
	for i := 0; i < len(kv); i += 2 {
		m = append(m, KV{kv[i], kv[i+1]})
	}
	return m
}

func equalProps(a, b Props) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// padFrames makes the next frames of c's room about a kilobyte larger (c's
// properties change), so that a stalled client's buffers fill within a
// second whatever the transport below buffers: a WebSocket's TCP takes tens
// of kilobytes before the relay sees it stalled.
func padFrames(c *client, i int) {
	pad := strings.Repeat(string(rune('a'+i%26)), 240)
	c.expectOK(c.request(TSetPlayer, Map{{"p1", pad}, {"p2", pad}, {"p3", pad}, {"p4", pad}}))
}
