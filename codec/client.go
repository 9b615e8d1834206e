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
	Type       Type
	RID        uint32 // request id, echoed in the reply
	Version    int64  // hello
	Name       []byte // hello
	Auth       []byte // hello, optional: a signed token from the game's backend
	Resume     []byte // hello, optional: the resume token of a lost session
	LastTick   uint64 // hello, optional: the last frame tick the lost session received
	Mode       []byte // create_room, list_rooms, join_or_create
	Code       []byte // join_code
	Text       []byte // chat
	Props      []Prop // hello, create_room, list_rooms (filter), join_or_create, set_*_props
	MaxPlayers int    // create_room, join_or_create
	Limit      int    // list_rooms
	Public     bool   // create_room
	Locked     bool   // set_locked
	RoomID     uint32 // join_room
	PlayerID   uint32 // kick
	To         uint32 // chat: 0 for the room, else a player id
	Value      []byte // state value or event payload, encoded msgpack
	Target     uint8  // event
	EventCode  uint32 // event
	Targets    []uint32
	ClientTime int64  // ping
	AckedTick  uint64 // ping, optional: the last frame tick received, so the server can forget what it kept for a resume
}

// minFields is the element count of each client message; a longer array is
// accepted and its extra elements skipped, so later versions can append.
var minFields = [256]uint8{
	THello: 4, TCreateRoom: 6, TJoinRoom: 3, TJoinCode: 3, TListRooms: 5,
	TJoinOrCreate: 5, TLeaveRoom: 2, TSetRoomProps: 3, TSetPlayerProps: 3,
	TSetLocked: 3, TKick: 3, TState: 2, TEvent: 5, TChat: 3, TPing: 2, TBye: 1,
}

// ErrUnknownType is returned for a message type this version does not know.
var ErrUnknownType = errors.New("unknown message type")

// maxJoinCode bounds a join code's length on the wire.
const maxJoinCode = 16

// maxFields bounds the element count of any message array.
const maxFields = 64

// ErrorCode maps a decode error to the code a server sends before closing.
func ErrorCode(err error) Code {
	switch {
	case errors.Is(err, ErrUnknownType):
		return CodeUnknownMessage
	case errors.Is(err, ErrTooLarge):
		return CodeTooLarge
	case errors.Is(err, ErrFrameTooLarge):
		return CodeFrameTooLarge
	default:
		return CodeMalformed
	}
}

// DecodeClient decodes one client message body into m.
func DecodeClient(body []byte, lim *Limits, m *ClientMsg) error {
	r := NewReader(body)
	n, err := r.ArrayLen(maxFields)
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
	*m = ClientMsg{Props: m.Props[:0], Targets: m.Targets[:0], Type: Type(t)}
	if err := decodeClientFields(&r, lim, m); err != nil {
		return fmt.Errorf("message %d: %w", t, err)
	}
	if m.Type == THello && n > want {
		if err := decodeHelloExtras(&r, m, n-want); err != nil {
			return fmt.Errorf("message %d: %w", t, err)
		}
		want = min(n, want+helloExtras)
	}
	if m.Type == TPing && n > want {
		if m.AckedTick, err = r.Uint(math.MaxInt64); err != nil {
			return fmt.Errorf("message %d: %w", t, err)
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

func decodeClientFields(r *Reader, lim *Limits, m *ClientMsg) (err error) {
	if m.Type != THello && m.Type != TState && m.Type != TEvent && m.Type != TChat &&
		m.Type != TPing && m.Type != TBye {
		rid, err := r.Uint(math.MaxUint32)
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
		if m.Name, err = r.StrBytes(lim.Name); err != nil {
			return err
		}
		return decodeProps(r, lim, m)
	case TCreateRoom:
		if m.Mode, err = r.StrBytes(lim.Mode); err != nil {
			return err
		}
		if m.MaxPlayers, err = readInt(r, lim.MaxPlayers); err != nil {
			return err
		}
		if m.Public, err = r.Bool(); err != nil {
			return err
		}
		return decodeProps(r, lim, m)
	case TJoinRoom:
		m.RoomID, err = readID(r)
	case TJoinCode:
		m.Code, err = r.StrBytes(maxJoinCode)
	case TListRooms:
		if m.Mode, err = r.StrBytes(lim.Mode); err != nil {
			return err
		}
		if err = decodeProps(r, lim, m); err != nil {
			return err
		}
		m.Limit, err = readInt(r, math.MaxInt32)
	case TJoinOrCreate:
		if m.Mode, err = r.StrBytes(lim.Mode); err != nil {
			return err
		}
		if err = decodeProps(r, lim, m); err != nil {
			return err
		}
		m.MaxPlayers, err = readInt(r, lim.MaxPlayers)
	case TLeaveRoom, TBye:
	case TSetRoomProps, TSetPlayerProps:
		err = decodeProps(r, lim, m)
	case TSetLocked:
		m.Locked, err = r.Bool()
	case TKick:
		m.PlayerID, err = readID(r)
	case TState:
		m.Value, err = r.Raw(lim.State)
	case TEvent:
		return decodeEvent(r, lim, m)
	case TChat:
		if m.To, err = readID(r); err != nil {
			return err
		}
		m.Text, err = r.StrBytes(lim.Chat)
	case TPing:
		m.ClientTime, err = r.Int()
	}
	return err
}

// helloExtras are hello's optional trailing fields: auth, resume, last_tick.
const helloExtras = 3

// maxToken bounds an auth token's length.
const maxToken = 4096

func decodeHelloExtras(r *Reader, m *ClientMsg, n int) (err error) {
	if m.Auth, err = r.StrBytes(maxToken); err != nil {
		return err
	}
	if n < 2 {
		return nil
	}
	if m.Resume, err = r.StrBytes(64); err != nil {
		return err
	}
	if n < 3 {
		return nil
	}
	m.LastTick, err = r.Uint(math.MaxInt64)
	return err
}

func decodeEvent(r *Reader, lim *Limits, m *ClientMsg) error {
	t, err := r.Uint(TargetMaster)
	if err != nil {
		return err
	}
	m.Target = uint8(t)
	code, err := r.Uint(math.MaxUint32)
	if err != nil {
		return err
	}
	m.EventCode = uint32(code)
	if m.Value, err = r.Raw(lim.Payload); err != nil {
		return err
	}
	if r.IsNil() {
		return nil
	}
	n, err := r.ArrayLen(lim.Targets)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		id, err := readID(r)
		if err != nil {
			return err
		}
		m.Targets = append(m.Targets, id)
	}
	return nil
}

// decodeProps reads a string-keyed map of raw values; nil means no map.
func decodeProps(r *Reader, lim *Limits, m *ClientMsg) error {
	if r.IsNil() {
		return nil
	}
	n, err := r.MapLen(lim.PropKeys)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		k, err := r.StrBytes(lim.PropKey)
		if err != nil {
			return err
		}
		v, err := r.Raw(lim.PropValue)
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
