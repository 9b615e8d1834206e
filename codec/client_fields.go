package codec

import (
	"errors"
	"fmt"
	"math"
)

// fieldReader reads one client message's fields, turning a value that is
// present but out of range or over its limit into a *FieldError.
type fieldReader struct {
	r   *Reader
	lim *Limits
	m   *ClientMsg
}

func (d *fieldReader) wrap(err error) error {
	if _, ok := err.(*FieldError); ok {
		return err
	}
	return fmt.Errorf("message %d: %w", d.m.Type, err)
}

func (d *fieldReader) refuse(field string, code Code, err error) error {
	return &FieldError{Type: d.m.Type, RID: d.m.RID, Code: code, Field: field, Err: err}
}

// str reads a string of at most limit bytes.
func (d *fieldReader) str(field string, limit int) ([]byte, error) {
	v, err := d.r.StrBytes(limit)
	if errors.Is(err, ErrTooLarge) {
		return nil, d.refuse(field, CodeTooLarge, err)
	}
	return v, err
}

// raw reads an opaque value of at most limit encoded bytes.
func (d *fieldReader) raw(field string, limit int) ([]byte, error) {
	v, err := d.r.Raw(limit)
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrTooDeep) {
		return nil, d.refuse(field, CodeTooLarge, err)
	}
	return v, err
}

// uint reads an integer that must lie in [0, max].
func (d *fieldReader) uint(field string, max uint64) (uint64, error) {
	v, err := d.r.Uint(max)
	if errors.Is(err, ErrRange) {
		return 0, d.refuse(field, CodeBadRequest, err)
	}
	return v, err
}

func (d *fieldReader) id(field string) (uint32, error) {
	v, err := d.uint(field, math.MaxUint32)
	return uint32(v), err
}

func (d *fieldReader) int(field string, max int) (int, error) {
	v, err := d.uint(field, uint64(max))
	return int(v), err
}

func (d *fieldReader) fields() (err error) {
	r, lim, m := d.r, d.lim, d.m
	if hasRID(m.Type) {
		// Without a rid there is nothing to answer: a bad one is malformed.
		rid, err := r.Uint(math.MaxUint32)
		if errors.Is(err, ErrRange) {
			return fmt.Errorf("%w: rid %v", ErrType, err)
		}
		if err != nil {
			return err
		}
		m.RID = uint32(rid)
	}
	switch m.Type {
	case THello:
		if m.Version, err = r.Int(); err != nil {
			return err
		}
		if m.Name, err = d.str("name", lim.Name); err != nil {
			return err
		}
		return d.props()
	case TCreateRoom:
		if m.Mode, err = d.str("mode", lim.Mode); err != nil {
			return err
		}
		if m.MaxPlayers, err = d.int("max_players", lim.MaxPlayers); err != nil {
			return err
		}
		if m.Public, err = r.Bool(); err != nil {
			return err
		}
		return d.props()
	case TJoinRoom:
		m.RoomID, err = d.id("room_id")
	case TJoinCode:
		m.Code, err = d.str("code", maxJoinCode)
	case TListRooms:
		if m.Mode, err = d.str("mode", lim.Mode); err != nil {
			return err
		}
		if err = d.props(); err != nil {
			return err
		}
		m.Limit, err = d.int("limit", math.MaxInt32)
	case TJoinOrCreate:
		if m.Mode, err = d.str("mode", lim.Mode); err != nil {
			return err
		}
		if err = d.props(); err != nil {
			return err
		}
		m.MaxPlayers, err = d.int("max_players", lim.MaxPlayers)
	case TLeaveRoom, TBye:
	case TSetRoomProps, TSetPlayerProps:
		err = d.props()
	case TSetLocked:
		m.Locked, err = r.Bool()
	case TKick:
		m.PlayerID, err = d.id("player_id")
	case TState:
		m.Value, err = d.raw("value", lim.State)
	case TEvent:
		return d.event()
	case TChat:
		if m.To, err = d.id("to"); err != nil {
			return err
		}
		m.Text, err = d.str("text", lim.Chat)
	case TPing:
		m.ClientTime, err = r.Int()
	case TQueueJoin:
		return d.queueJoin()
	case TQueueLeave, TPartyCreate, TPartyLeave:
	case TBackfill:
		return d.seats()
	case TPartyJoin:
		m.Code, err = d.str("code", maxJoinCode)
	case TChannelJoin, TChannelLeave, TChannelMembers:
		m.Channel, err = d.str("channel", lim.Mode)
	case TChannelSay:
		if m.Channel, err = d.str("channel", lim.Mode); err != nil {
			return err
		}
		m.Text, err = d.str("text", lim.Chat)
	case TPeerPacket:
		return d.peerPacket()
	case TJoinSeat:
		m.Code, err = d.str("token", maxToken)
	}
	return err
}

// peerPacket reads [to, mode, channel, data].
func (d *fieldReader) peerPacket() error {
	r, m := d.r, d.m
	to, err := r.Int()
	if err != nil {
		return err
	}
	if to < -math.MaxUint32 || to > math.MaxUint32 {
		return d.refuse("to", CodeBadRequest, fmt.Errorf("%w: %d is not a player id", ErrRange, to))
	}
	m.PeerTo = to
	mode, err := d.uint("mode", PeerUnreliableOrdered)
	if err != nil {
		return err
	}
	ch, err := d.uint("channel", 255)
	if err != nil {
		return err
	}
	m.PeerMode, m.PeerChannel = uint8(mode), uint8(ch)
	m.Value, err = r.Bin(d.lim.Packet)
	if errors.Is(err, ErrTooLarge) {
		return d.refuse("data", CodeTooLarge, err)
	}
	return err
}

// queueJoin reads [mode, regions, skill, props].
func (d *fieldReader) queueJoin() (err error) {
	r, m := d.r, d.m
	if m.Mode, err = d.str("mode", d.lim.Mode); err != nil {
		return err
	}
	if !r.IsNil() {
		n, err := r.ArrayLen(d.lim.Regions)
		if errors.Is(err, ErrTooLarge) {
			return d.refuse("regions", CodeLimit, err)
		}
		if err != nil {
			return err
		}
		for range n {
			reg, err := d.str("regions", d.lim.Region)
			if err != nil {
				return err
			}
			m.Regions = append(m.Regions, reg)
		}
	}
	if m.Skill, err = r.Float(); err != nil {
		return err
	}
	if math.IsNaN(m.Skill) || math.IsInf(m.Skill, 0) {
		return d.refuse("skill", CodeBadRequest, fmt.Errorf("%w: skill %v", ErrRange, m.Skill))
	}
	return d.props()
}

// seats reads backfill's array of team numbers.
func (d *fieldReader) seats() error {
	n, err := d.r.ArrayLen(d.lim.Seats)
	if errors.Is(err, ErrTooLarge) {
		return d.refuse("seats", CodeLimit, err)
	}
	if err != nil {
		return err
	}
	for range n {
		s, err := d.uint("seats", 255)
		if err != nil {
			return err
		}
		d.m.Seats = append(d.m.Seats, uint32(s))
	}
	return nil
}

// helloExtras are hello's optional trailing fields: auth, resume, last_tick.
const helloExtras = 3

// maxToken bounds an auth token's length.
const maxToken = 4096

func (d *fieldReader) helloExtras(n int) (err error) {
	m := d.m
	if m.Auth, err = d.str("auth", maxToken); err != nil {
		return err
	}
	if n < 2 {
		return nil
	}
	if m.Resume, err = d.str("resume", 64); err != nil {
		return err
	}
	if n < 3 {
		return nil
	}
	m.LastTick, err = d.uint("last_tick", math.MaxInt64)
	return err
}

func (d *fieldReader) event() error {
	r, m := d.r, d.m
	t, err := d.uint("target", TargetMaster)
	if err != nil {
		return err
	}
	m.Target = uint8(t)
	if m.EventCode, err = d.id("code"); err != nil {
		return err
	}
	if m.Value, err = d.raw("payload", d.lim.Payload); err != nil {
		return err
	}
	if r.IsNil() {
		return nil
	}
	n, err := r.ArrayLen(d.lim.Targets)
	if errors.Is(err, ErrTooLarge) {
		return d.refuse("ids", CodeLimit, err)
	}
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		id, err := d.id("ids")
		if err != nil {
			return err
		}
		m.Targets = append(m.Targets, id)
	}
	return nil
}

// props reads a string-keyed map of opaque values; nil means no map.
func (d *fieldReader) props() error {
	r, lim, m := d.r, d.lim, d.m
	if r.IsNil() {
		return nil
	}
	n, err := r.MapLen(lim.PropKeys)
	if errors.Is(err, ErrTooLarge) {
		return d.refuse("props", CodeLimit, err)
	}
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		k, err := d.str("props key", lim.PropKey)
		if err != nil {
			return err
		}
		v, err := d.raw("props value", lim.PropValue)
		if err != nil {
			return err
		}
		m.Props = append(m.Props, Prop{Key: k, Value: v})
	}
	return nil
}
