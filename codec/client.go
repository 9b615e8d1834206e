package codec

import (
	"errors"
	"fmt"
	"math"
)

// Prop is one property: a string key and an encoded msgpack value. An
// encoded nil value (0xc0) in a set request deletes the key.
type Prop struct {
	Key   []byte
	Value []byte
}

// ClientMsg is any client-to-server message, decoded. Only the fields of
// its Type are set; byte slices alias the decoded body, so a receiver copies
// what it keeps. One ClientMsg can be reused for every decode without
// allocating.
type ClientMsg struct {
	Type        Type
	RID         uint32 // request id, echoed in the reply
	Version     int64  // hello
	Name        []byte // hello
	Auth        []byte // hello, optional: a signed token from the game's backend
	Resume      []byte // hello, optional: the resume token of a lost session
	LastTick    uint64 // hello, optional: the last frame tick the lost session received
	Mode        []byte // create_room, list_rooms, join_or_create
	Code        []byte // join_code
	Text        []byte // chat
	Props       []Prop // hello, create_room, list_rooms (filter), join_or_create, set_*_props
	MaxPlayers  int    // create_room, join_or_create
	Limit       int    // list_rooms
	Public      bool   // create_room
	Locked      bool   // set_locked
	RoomID      uint32 // join_room
	PlayerID    uint32 // kick
	To          uint32 // chat: 0 for the room, else a player id
	Value       []byte // state value or event payload, encoded msgpack
	Target      uint8  // event
	EventCode   uint32 // event
	Targets     []uint32
	ClientTime  int64    // ping
	AckedTick   uint64   // ping, optional: the last frame tick received, so the server can forget what it kept for a resume
	Regions     [][]byte // queue_join: acceptable regions, empty for any
	Skill       float64  // queue_join
	Seats       []uint32 // backfill: the team of each open seat
	Channel     []byte   // channel_join, channel_leave, channel_say, channel_members
	PeerTo      int64    // peer_packet: 0 every other member, id one player, -id all but that one
	PeerMode    uint8    // peer_packet: PeerReliable, PeerUnreliable, PeerUnreliableOrdered
	PeerChannel uint8    // peer_packet
}

// minFields is the element count of each client message; a longer array is
// accepted and its extra elements skipped, so later versions can append.
var minFields = [256]uint8{
	THello: 4, TCreateRoom: 6, TJoinRoom: 3, TJoinCode: 3, TListRooms: 5,
	TJoinOrCreate: 5, TLeaveRoom: 2, TSetRoomProps: 3, TSetPlayerProps: 3,
	TSetLocked: 3, TKick: 3, TState: 2, TEvent: 5, TChat: 3, TPing: 2, TBye: 1,
	TQueueJoin: 6, TQueueLeave: 2, TBackfill: 3, TPartyCreate: 2, TPartyJoin: 3, TPartyLeave: 2,
	TChannelJoin: 3, TChannelLeave: 3, TChannelSay: 3, TChannelMembers: 3,
	TPeerPacket: 5, TJoinSeat: 3,
}

// ErrUnknownType is returned for a message type this version does not know.
var ErrUnknownType = errors.New("unknown message type")

// maxJoinCode bounds a join code's length on the wire.
const maxJoinCode = 16

// maxFields bounds the element count of any message array.
const maxFields = 64

// FieldError refuses one request for the value of one field: the message
// was framed and its type and rid read, but a field is out of range or over
// a limit. The server answers it with an error reply (rid 0 for messages
// without one) and keeps the session; only a refused hello closes it.
// Decoding stops at the first such field: the rest of the body is not read.
type FieldError struct {
	Type  Type
	RID   uint32
	Code  Code // CodeBadRequest, CodeTooLarge or CodeLimit
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("message %d: %s: %v", e.Type, e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// ErrorCode maps a decode error to the code a server sends with it.
func ErrorCode(err error) Code {
	// DecodeClient returns a *FieldError as it is, unwrapped: a type
	// assertion finds it without errors.As's allocation on the hostile
	// input path.
	fe, isField := err.(*FieldError)
	switch {
	case isField:
		return fe.Code
	case errors.Is(err, ErrUnknownType):
		return CodeUnknownMessage
	case errors.Is(err, ErrFrameTooLarge):
		return CodeFrameTooLarge
	default:
		return CodeMalformed
	}
}

// hasRID reports whether messages of type t carry a request id.
func hasRID(t Type) bool {
	switch t {
	case THello, TState, TEvent, TChat, TPing, TBye, TChannelSay, TPeerPacket:
		return false
	}
	return minFields[t] != 0
}

// PeekType returns the type of a client message body without decoding the
// rest (0 if the body does not start like a message). It reads bytes
// directly, so that a hostile body costs no error value.
func PeekType(body []byte) Type {
	if len(body) < 2 {
		return 0
	}
	i := 1
	switch c := body[0]; {
	case c >= 0x91 && c <= 0x9f:
	case c == 0xdc:
		i = 3
	case c == 0xdd:
		i = 5
	default:
		return 0
	}
	if i >= len(body) || body[i] > 0x7f { // every type is a positive fixint
		return 0
	}
	return Type(body[i])
}

// PeekRID returns the request id of a client message body without decoding
// the rest: 0 when the message has none or the body is not a request. A
// server refusing a message before decoding it (a rate limit) answers with
// it.
func PeekRID(body []byte) uint32 {
	r := NewReader(body)
	if n, err := r.ArrayLen(maxFields); err != nil || n < 2 {
		return 0
	}
	t, err := r.Uint(255)
	if err != nil || !hasRID(Type(t)) {
		return 0
	}
	rid, err := r.Uint(math.MaxUint32)
	if err != nil {
		return 0
	}
	return uint32(rid)
}

// DecodeClient decodes one client message body into m. It returns a
// *FieldError when the message is refused for a field's value (PROTOCOL.md
// section 4, "Refusals"), any other error when the body cannot be parsed.
func DecodeClient(body []byte, lim *Limits, m *ClientMsg) error {
	r := NewReader(body)
	n, err := r.ArrayLen(maxFields)
	if errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("%w: a message of %d fields or more", ErrType, maxFields+1)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: empty message", ErrType)
	}
	t, err := r.Uint(255)
	if err != nil {
		return err
	}
	want := int(minFields[t])
	if want == 0 {
		return fmt.Errorf("%w: %d", ErrUnknownType, t)
	}
	if n < want {
		return fmt.Errorf("%w: message %d has %d fields, needs %d", ErrType, t, n, want)
	}
	*m = ClientMsg{Props: m.Props[:0], Targets: m.Targets[:0], Regions: m.Regions[:0], Seats: m.Seats[:0], Type: Type(t)}
	d := fieldReader{r: &r, lim: lim, m: m}
	if err := d.fields(); err != nil {
		return d.wrap(err)
	}
	if m.Type == THello && n > want {
		if err := d.helloExtras(n - want); err != nil {
			return d.wrap(err)
		}
		want = min(n, want+helloExtras)
	}
	if m.Type == TPing && n > want {
		if m.AckedTick, err = d.uint("acked_tick", math.MaxInt64); err != nil {
			return d.wrap(err)
		}
		want++
	}
	for i := want; i < n; i++ {
		if err := r.Skip(); err != nil {
			return err
		}
	}
	if r.Len() != 0 {
		return fmt.Errorf("%w: %d bytes after the message", ErrType, r.Len())
	}
	return nil
}

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

func readID(r *Reader) (uint32, error) {
	v, err := r.Uint(math.MaxUint32)
	return uint32(v), err
}

func readInt(r *Reader, max int) (int, error) {
	v, err := r.Uint(uint64(max))
	return int(v), err
}

// AppendClient appends m as a complete frame (length prefix and body).
// Clients use it; the server only decodes these messages.
func AppendClient(b []byte, m *ClientMsg) []byte {
	b, start := BeginFrame(b)
	fields := int(minFields[m.Type])
	extras := m.Type == THello && (len(m.Auth) > 0 || len(m.Resume) > 0 || m.LastTick > 0)
	if extras {
		fields += helloExtras
	}
	if m.Type == TPing && m.AckedTick > 0 {
		fields++
	}
	b = AppendArrayLen(b, fields)
	b = AppendUint(b, uint64(m.Type))
	switch m.Type {
	case THello:
		b = AppendInt(b, m.Version)
		b = AppendStrBytes(b, m.Name)
		b = AppendProps(b, m.Props)
		if extras {
			b = AppendStrBytes(b, m.Auth)
			b = AppendStrBytes(b, m.Resume)
			b = AppendUint(b, m.LastTick)
		}
	case TCreateRoom:
		b = AppendUint(b, uint64(m.RID))
		b = AppendStrBytes(b, m.Mode)
		b = AppendUint(b, uint64(m.MaxPlayers))
		b = AppendBool(b, m.Public)
		b = AppendProps(b, m.Props)
	case TJoinRoom:
		b = AppendUint(AppendUint(b, uint64(m.RID)), uint64(m.RoomID))
	case TJoinCode:
		b = AppendStrBytes(AppendUint(b, uint64(m.RID)), m.Code)
	case TListRooms:
		b = AppendUint(b, uint64(m.RID))
		b = AppendStrBytes(b, m.Mode)
		b = AppendProps(b, m.Props)
		b = AppendUint(b, uint64(m.Limit))
	case TJoinOrCreate:
		b = AppendUint(b, uint64(m.RID))
		b = AppendStrBytes(b, m.Mode)
		b = AppendProps(b, m.Props)
		b = AppendUint(b, uint64(m.MaxPlayers))
	case TLeaveRoom:
		b = AppendUint(b, uint64(m.RID))
	case TSetRoomProps, TSetPlayerProps:
		b = AppendProps(AppendUint(b, uint64(m.RID)), m.Props)
	case TSetLocked:
		b = AppendBool(AppendUint(b, uint64(m.RID)), m.Locked)
	case TKick:
		b = AppendUint(AppendUint(b, uint64(m.RID)), uint64(m.PlayerID))
	case TState:
		b = AppendRawOrNil(b, m.Value)
	case TEvent:
		b = AppendUint(b, uint64(m.Target))
		b = AppendUint(b, uint64(m.EventCode))
		b = AppendRawOrNil(b, m.Value)
		if m.Target == TargetList {
			b = AppendArrayLen(b, len(m.Targets))
			for _, id := range m.Targets {
				b = AppendUint(b, uint64(id))
			}
		} else {
			b = AppendNil(b)
		}
	case TChat:
		b = AppendStrBytes(AppendUint(b, uint64(m.To)), m.Text)
	case TPing:
		b = AppendInt(b, m.ClientTime)
		if m.AckedTick > 0 {
			b = AppendUint(b, m.AckedTick)
		}
	case TBye:
	case TQueueJoin:
		b = AppendUint(b, uint64(m.RID))
		b = AppendStrBytes(b, m.Mode)
		if m.Regions == nil {
			b = AppendNil(b)
		} else {
			b = AppendArrayLen(b, len(m.Regions))
			for _, r := range m.Regions {
				b = AppendStrBytes(b, r)
			}
		}
		b = AppendFloat64(b, m.Skill)
		b = AppendProps(b, m.Props)
	case TQueueLeave, TPartyCreate, TPartyLeave:
		b = AppendUint(b, uint64(m.RID))
	case TBackfill:
		b = AppendArrayLen(AppendUint(b, uint64(m.RID)), len(m.Seats))
		for _, s := range m.Seats {
			b = AppendUint(b, uint64(s))
		}
	case TPartyJoin:
		b = AppendStrBytes(AppendUint(b, uint64(m.RID)), m.Code)
	case TChannelJoin, TChannelLeave, TChannelMembers:
		b = AppendStrBytes(AppendUint(b, uint64(m.RID)), m.Channel)
	case TChannelSay:
		b = AppendStrBytes(AppendStrBytes(b, m.Channel), m.Text)
	case TJoinSeat:
		b = AppendStrBytes(AppendUint(b, uint64(m.RID)), m.Code)
	case TPeerPacket:
		b = AppendInt(b, m.PeerTo)
		b = AppendUint(b, uint64(m.PeerMode))
		b = AppendUint(b, uint64(m.PeerChannel))
		b = AppendBin(b, m.Value)
	}
	EndFrame(b, start)
	return b
}

// AppendProps appends props as a string-keyed map (nil for no props).
func AppendProps(b []byte, props []Prop) []byte {
	if props == nil {
		return AppendNil(b)
	}
	b = AppendMapLen(b, len(props))
	for _, p := range props {
		b = AppendStrBytes(b, p.Key)
		b = AppendRawOrNil(b, p.Value)
	}
	return b
}
