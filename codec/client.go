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
