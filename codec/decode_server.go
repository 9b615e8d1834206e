package codec

import (
	"fmt"
	"math"
)

// ServerMsg is any server-to-client message, decoded by a client. Unlike
// ClientMsg it owns its memory: clients keep what they receive.
type ServerMsg struct {
	Type         Type
	RID          uint32
	Version      int64  // welcome
	PlayerID     uint32 // welcome
	ResumeToken  string // welcome
	Resumed      bool   // welcome: the session took over a lost one
	TickRate     int    // welcome
	ServerTimeMs int64  // welcome, pong, announce
	Tick         uint64 // welcome, pong
	Code         Code   // error, close, room_left
	Message      string // error, close, announce
	RoomID       uint32 // room_joined, welcome
	JoinCode     string // room_joined
	Mode         string // room_joined
	MaxPlayers   int    // room_joined
	Rooms        []RoomInfo
	ClientTime   int64 // pong
	HoldUs       int64 // pong: microseconds the ping waited in the server
	Frame        *Frame
	Outcome      int           // match
	Team         int           // match
	Region       string        // match
	WaitedMs     int64         // match
	PartyID      uint32        // party
	Leader       uint32        // party
	Members      []PartyMember // party, channel
	Channel      string        // channel
	Count        int           // channel: members in all
	Node         uint8         // redirect
	KCPAddr      string        // redirect
	WSURL        string        // redirect
	Token        string        // redirect: the seat token for join_seat
	History      []ChatMsg     // channel: its last lines, oldest first
}

// Props maps property keys to encoded msgpack values.
type Props map[string][]byte

// RoomInfo is one entry of a room list.
type RoomInfo struct {
	ID         uint32
	Mode       string
	Players    int
	MaxPlayers int
	Locked     bool
	Props      Props
}

// Frame is the per-tick message.
type Frame struct {
	Tick         uint64
	ServerTimeMs int64
	Room         *RoomDelta // nil when the client is in no room
	Events       []Event
	Chat         []ChatMsg
	Packets      []PeerPacket // Godot multiplayer packets from other members
}

// PeerPacket is a packet another member sent with peer_packet.
type PeerPacket struct {
	From    uint32
	Mode    uint8
	Channel uint8
	Data    []byte
}

// RoomDelta is what changed in the client's room since its last frame, or
// the whole room when Full is set.
type RoomDelta struct {
	ID          uint32
	Full        bool
	Master      uint32
	Locked      bool
	Props       Props    // nil: unchanged; otherwise the complete new set
	Leaves      []uint32 // apply before Joins: a player can leave and rejoin in one frame
	Joins       []PlayerInfo
	PlayerProps []PlayerProps
	States      []PlayerState
	Presence    []Presence // members whose connection came or went
}

// Presence is a member's connection state: a disconnected member keeps its
// place while it may resume.
type Presence struct {
	ID        uint32
	Connected bool
}

// PlayerInfo describes a member that joined.
type PlayerInfo struct {
	ID    uint32
	Name  string
	Props Props
}

// PlayerProps is a member's complete new property set.
type PlayerProps struct {
	ID    uint32
	Props Props
}

// PlayerState is a member's latest state value (encoded msgpack).
type PlayerState struct {
	ID    uint32
	Value []byte
}

// Event is a delivered event.
type Event struct {
	Tick    uint64
	From    uint32
	Code    uint32
	Payload []byte
}

// ChatMsg is a delivered chat line; To is 0 for room chat. Lobby chat
// lines carry their channel and the sender's name.
type ChatMsg struct {
	From         uint32
	To           uint32
	ServerTimeMs int64
	Text         string
	Channel      string
	FromName     string
}

// serverLimit bounds counts and sizes when decoding server messages: looser
// than client limits, but still never trusting a declared length.
const serverLimit = 1 << 20

// DecodeServer decodes one server message body.
func DecodeServer(body []byte) (*ServerMsg, error) {
	r := NewReader(body)
	n, err := r.ArrayLen(maxFields)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrType)
	}
	t, err := r.Uint(255)
	if err != nil {
		return nil, err
	}
	m := &ServerMsg{Type: Type(t)}
	d := serverDecoder{r: &r}
	switch m.Type {
	case TWelcome:
		m.Version = d.int()
		m.PlayerID = d.id()
		m.ResumeToken = d.str()
		m.TickRate = int(d.uint())
		m.ServerTimeMs = d.int()
		m.Tick = d.uint()
		if n > 7 {
			m.Resumed = d.bool()
			m.RoomID = d.id()
		}
	case TError:
		m.RID = d.id()
		m.Code = Code(d.uint())
		m.Message = d.str()
	case TClose:
		m.Code = Code(d.uint())
		m.Message = d.str()
	case TOK:
		m.RID = d.id()
	case TRoomJoined:
		m.RID = d.id()
		m.RoomID = d.id()
		m.JoinCode = d.str()
		m.Mode = d.str()
		m.MaxPlayers = int(d.uint())
	case TRoomList:
		m.RID = d.id()
		m.Rooms = d.roomList()
	case TRoomLeft:
		m.RID = d.id()
		m.Code = Code(d.uint())
	case TPong:
		m.ClientTime = d.int()
		m.ServerTimeMs = d.int()
		m.Tick = d.uint()
		m.HoldUs = d.int()
	case TAnnounce:
		m.Message = d.str()
		m.ServerTimeMs = d.int()
	case TRedirect:
		m.RID = d.id()
		m.Node = uint8(d.uint())
		m.KCPAddr = d.str()
		m.WSURL = d.str()
		m.Token = d.str()
	case TMatch:
		m.Outcome = int(d.uint())
		m.RoomID = d.id()
		m.Team = int(d.uint())
		m.Region = d.str()
		m.WaitedMs = d.int()
	case TParty:
		m.PartyID = d.id()
		m.JoinCode = d.str()
		m.Leader = d.id()
		m.Members = d.members()
	case TChannel:
		m.RID = d.id()
		m.Channel = d.str()
		m.Count = int(d.uint())
		m.Members = d.members()
		n := d.array()
		for i := 0; i < n && d.err == nil; i++ {
			x := d.tuple(4)
			m.History = append(m.History, ChatMsg{From: d.id(), FromName: d.str(), ServerTimeMs: d.int(), Text: d.str(), Channel: m.Channel})
			d.skip(x)
		}
	case TFrame:
		m.Frame = d.frame(n)
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnknownType, t)
	}
	if d.err != nil {
		return nil, fmt.Errorf("message %d: %w", t, d.err)
	}
	return m, nil
}

// serverDecoder keeps the first error so field-by-field decoding reads
// straight; after an error every call returns a zero value.
type serverDecoder struct {
	r   *Reader
	err error
}

func (d *serverDecoder) set(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *serverDecoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, err := d.r.Int()
	d.set(err)
	return v
}

func (d *serverDecoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := d.r.Uint(math.MaxInt64)
	d.set(err)
	return v
}

func (d *serverDecoder) id() uint32 {
	if d.err != nil {
		return 0
	}
	v, err := d.r.Uint(math.MaxUint32)
	d.set(err)
	return uint32(v)
}

func (d *serverDecoder) bool() bool {
	if d.err != nil {
		return false
	}
	v, err := d.r.Bool()
	d.set(err)
	return v
}

func (d *serverDecoder) str() string {
	if d.err != nil {
		return ""
	}
	v, err := d.r.Str(serverLimit)
	d.set(err)
	return v
}

func (d *serverDecoder) raw() []byte {
	if d.err != nil {
		return nil
	}
	v, err := d.r.Raw(serverLimit)
	d.set(err)
	return append([]byte(nil), v...)
}

func (d *serverDecoder) array() int {
	if d.err != nil {
		return 0
	}
	n, err := d.r.ArrayLen(serverLimit)
	d.set(err)
	return n
}

// tuple reads an array header that must hold at least want elements and
// returns how many extra elements to skip afterwards.
func (d *serverDecoder) tuple(want int) int {
	n := d.array()
	if d.err == nil && n < want {
		d.set(fmt.Errorf("%w: %d elements, want %d", ErrType, n, want))
	}
	return n - want
}

func (d *serverDecoder) skip(extra int) {
	for i := 0; i < extra && d.err == nil; i++ {
		d.set(d.r.Skip())
	}
}

func (d *serverDecoder) props() Props {
	if d.err != nil || d.r.IsNil() {
		return nil
	}
	n, err := d.r.MapLen(serverLimit)
	if err != nil {
		d.set(err)
		return nil
	}
	p := make(Props, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.str()
		p[k] = d.raw()
	}
	return p
}

func (d *serverDecoder) members() []PartyMember {
	n := d.array()
	var out []PartyMember
	for i := 0; i < n && d.err == nil; i++ {
		x := d.tuple(2)
		out = append(out, PartyMember{ID: d.id(), Name: d.str()})
		d.skip(x)
	}
	return out
}

func (d *serverDecoder) roomList() []RoomInfo {
	n := d.array()
	var rooms []RoomInfo
	for i := 0; i < n && d.err == nil; i++ {
		extra := d.tuple(6)
		ri := RoomInfo{ID: d.id(), Mode: d.str(), Players: int(d.uint()), MaxPlayers: int(d.uint()), Locked: d.bool(), Props: d.props()}
		d.skip(extra)
		rooms = append(rooms, ri)
	}
	return rooms
}

// frame reads a frame message of n elements: the packets are the seventh.
func (d *serverDecoder) frame(fields int) *Frame {
	f := &Frame{Tick: d.uint(), ServerTimeMs: d.int()}
	if d.err == nil && !d.r.IsNil() {
		f.Room = d.room()
	}
	n := d.array()
	for i := 0; i < n && d.err == nil; i++ {
		extra := d.tuple(4)
		f.Events = append(f.Events, Event{Tick: d.uint(), From: d.id(), Code: d.id(), Payload: d.raw()})
		d.skip(extra)
	}
	n = d.array()
	for i := 0; i < n && d.err == nil; i++ {
		extra := d.tuple(4)
		c := ChatMsg{From: d.id(), To: d.id(), ServerTimeMs: d.int(), Text: d.str()}
		if extra >= 2 {
			c.Channel, c.FromName = d.str(), d.str()
			extra -= 2
		}
		f.Chat = append(f.Chat, c)
		d.skip(extra)
	}
	if fields > FrameFields { // packets: present when there are any
		n = d.array()
		for i := 0; i < n && d.err == nil; i++ {
			extra := d.tuple(4)
			pk := PeerPacket{From: d.id(), Mode: uint8(d.uint()), Channel: uint8(d.uint())}
			if d.err == nil {
				v, err := d.r.Bin(serverLimit)
				d.set(err)
				pk.Data = append([]byte(nil), v...)
			}
			f.Packets = append(f.Packets, pk)
			d.skip(extra)
		}
	}
	return f
}

func (d *serverDecoder) room() *RoomDelta {
	extra := d.tuple(RoomFields - 1) // presence arrived later: optional
	rd := &RoomDelta{ID: d.id(), Full: d.bool(), Master: d.id(), Locked: d.bool(), Props: d.props()}
	n := d.array()
	for i := 0; i < n && d.err == nil; i++ {
		rd.Leaves = append(rd.Leaves, d.id())
	}
	n = d.array()
	for i := 0; i < n && d.err == nil; i++ {
		x := d.tuple(3)
		rd.Joins = append(rd.Joins, PlayerInfo{ID: d.id(), Name: d.str(), Props: d.props()})
		d.skip(x)
	}
	n = d.array()
	for i := 0; i < n && d.err == nil; i++ {
		x := d.tuple(2)
		rd.PlayerProps = append(rd.PlayerProps, PlayerProps{ID: d.id(), Props: d.props()})
		d.skip(x)
	}
	n = d.array()
	for i := 0; i < n && d.err == nil; i++ {
		x := d.tuple(2)
		rd.States = append(rd.States, PlayerState{ID: d.id(), Value: d.raw()})
		d.skip(x)
	}
	if extra > 0 {
		extra--
		n = d.array()
		for i := 0; i < n && d.err == nil; i++ {
			x := d.tuple(2)
			rd.Presence = append(rd.Presence, Presence{ID: d.id(), Connected: d.bool()})
			d.skip(x)
		}
	}
	d.skip(extra)
	return rd
}
