package conformance

import (
	"fmt"
	"math"
)

// Message types (PROTOCOL.md sections 4 and 5).
const (
	THello        = 1
	TWelcome      = 2
	TError        = 3
	TClose        = 4
	TOK           = 5
	TCreateRoom   = 10
	TJoinRoom     = 11
	TJoinCode     = 12
	TListRooms    = 13
	TJoinOrCreate = 14
	TLeaveRoom    = 15
	TSetRoomProps = 16
	TSetPlayer    = 17
	TSetLocked    = 18
	TKick         = 19
	TState        = 20
	TEvent        = 21
	TChat         = 22
	TPing         = 23
	TBye          = 24
	TRoomJoined   = 31
	TRoomList     = 32
	TRoomLeft     = 33
	TPong         = 34
	TAnnounce     = 35
	TMatch        = 36
	TParty        = 37
	TChannel      = 38
	TRedirect     = 39
	TFrame        = 40
	// Matchmaking, parties and lobby chat (sections 4.15-4.19).
	TQueueJoin      = 50
	TQueueLeave     = 51
	TBackfill       = 52
	TPartyCreate    = 53
	TPartyJoin      = 54
	TPartyLeave     = 55
	TChannelJoin    = 56
	TChannelLeave   = 57
	TChannelSay     = 58
	TChannelMembers = 59
	TPeerPacket     = 60
	TJoinSeat       = 61 // clusters (section 4.21)
)

// Error and close codes (section 6).
const (
	CodeBadRequest       = 1
	CodeVersionMismatch  = 2
	CodeRoomNotFound     = 3
	CodeRoomFull         = 4
	CodeRoomLocked       = 5
	CodeNotInRoom        = 6
	CodeNotMaster        = 7
	CodeAlreadyInRoom    = 8
	CodeTooLarge         = 9
	CodeLimit            = 10
	CodeServerClosing    = 11
	CodeIdleTimeout      = 12
	CodeSlowConsumer     = 13
	CodeFrameTooLarge    = 14
	CodeHandshakeTimeout = 15
	CodeUnknownMessage   = 16
	CodeMalformed        = 17
	CodePlayerNotFound   = 18
	CodeKicked           = 19
	CodeServerFull       = 20
	CodeNotReady         = 21
	CodeClientClosed     = 22
	CodeUnauthorized     = 23
	CodeForbidden        = 24
	CodeRateLimited      = 25
	CodeResumeFailed     = 26
	CodeReplaced         = 27
	CodeBanned           = 28
	CodeRoomClosed       = 29
	CodeNotLeader        = 30
	CodeInParty          = 31
	CodeQueued           = 32
	CodeUnavailable      = 33
)

// ServerMsg is one server message, checked against the field types of
// section 5. Only the fields of its Type are set.
type ServerMsg struct {
	Type  int
	Body  Node
	Extra int // elements after the documented ones (forward compatibility)

	RID  uint32 // error, ok, room_joined, room_list, room_left
	Code int    // error, close, room_left
	Text string // error message, close reason, announce text
	// Match, Party and Channel are those messages' fields.
	Match   Match
	Party   Party
	Channel Channel
	// Redirect is the redirect message's fields.
	Redirect Redirect
	// ServerTimeMs is the announce message's time.
	ServerTimeMs uint64
	Welcome      Welcome
	Joined       RoomJoined
	Rooms        []RoomEntry
	Pong         Pong
	Frame        Frame
}

// Redirect is [39, rid, node, kcp_addr, ws_url, token].
type Redirect struct {
	Node    uint64
	KCPAddr string
	WSURL   string
	Token   string
}

// Welcome is [2, version, player_id, resume_token, tick_rate,
// server_time_ms, tick, resumed, room_id].
type Welcome struct {
	Version      uint64
	PlayerID     uint32
	ResumeToken  string
	TickRate     uint64
	ServerTimeMs uint64
	Tick         uint64
	Resumed      bool
	RoomID       uint32
}

// RoomJoined is [31, rid, room_id, code, mode, max_players].
type RoomJoined struct {
	RoomID     uint32
	Code       string
	Mode       string
	MaxPlayers uint64
}

// RoomEntry is one room of a room_list: [room_id, mode, players,
// max_players, locked, props].
type RoomEntry struct {
	RoomID     uint32
	Mode       string
	Players    uint64
	MaxPlayers uint64
	Locked     bool
	Props      Props
}

// Pong is [34, client_time, server_time_ms, tick, hold_us].
type Pong struct {
	ClientTime   int64
	ServerTimeMs uint64
	Tick         uint64
	HoldUs       uint64
}

// Frame is [40, tick, server_time_ms, room, events, chat].
type Frame struct {
	Tick         uint64
	ServerTimeMs uint64
	Room         *FrameRoom // nil when in no room
	Events       []Event
	Chat         []Chat
	Packets      []PeerPacket // the seventh element, when present (4.20)
}

// PeerPacket is [from, mode, channel, data].
type PeerPacket struct {
	From    uint32
	Mode    uint64
	Channel uint64
	Data    []byte
}

// FrameRoom is [room_id, full, master, locked, props, leaves, joins,
// player_props, states, presence].
type FrameRoom struct {
	ID          uint32
	Full        bool
	Master      uint32
	Locked      bool
	Props       Props // nil when unchanged
	Leaves      []uint32
	Joins       []Join
	PlayerProps []PlayerProps
	States      []State
	Presence    []Presence
}

// Join is [player_id, name, props].
type Join struct {
	ID    uint32
	Name  string
	Props Props
}

// PlayerProps is [player_id, props].
type PlayerProps struct {
	ID    uint32
	Props Props
}

// State is [player_id, value]; Value is the value's exact encoding.
type State struct {
	ID    uint32
	Value []byte
}

// Presence is [player_id, connected].
type Presence struct {
	ID        uint32
	Connected bool
}

// Event is [tick, from, code, payload]; Payload is its exact encoding.
type Event struct {
	Tick    uint64
	From    uint32
	Code    uint32
	Payload []byte
}

// Chat is [from, to, server_time_ms, text], and for a lobby chat line
// also [channel, from_name] (section 5.6).
type Chat struct {
	From, To     uint32
	ServerTimeMs uint64
	Text         string
	Channel      string
	FromName     string
}

// Match is [36, outcome, room_id, team, region, waited_ms] (5.9).
type Match struct {
	Outcome  uint64
	RoomID   uint32
	Team     uint64
	Region   string
	WaitedMs uint64
}

// Member is a party's or channel's [player_id, name].
type Member struct {
	ID   uint32
	Name string
}

// Party is [37, party_id, code, leader, members] (5.10).
type Party struct {
	ID      uint32
	Code    string
	Leader  uint32
	Members []Member
}

// Channel is [38, rid, name, count, members, history] (5.11); each line of
// history is [from, name, server_time_ms, text].
type Channel struct {
	Name    string
	Count   uint64
	Members []Member
	History []Chat
}

// Props is a properties map: key to the value's exact encoding. Keys are
// unique; their order is not part of the protocol.
type Props map[string]string

// fields is a cursor over a message array that records the first type
// mismatch, so a parser reads like the documented field list.
type fields struct {
	items []Node
	i     int
	path  string
	err   error
}

func (f *fields) next(name string) Node {
	if f.err != nil {
		return Node{}
	}
	if f.i >= len(f.items) {
		f.err = fmt.Errorf("%s: missing field %s", f.path, name)
		return Node{}
	}
	n := f.items[f.i]
	f.i++
	return n
}

func (f *fields) fail(name string, n Node, want string) {
	if f.err == nil {
		f.err = fmt.Errorf("%s: field %s is %v, want %s", f.path, name, n, want)
	}
}

func (f *fields) uint(name string, max uint64) uint64 {
	n := f.next(name)
	if f.err == nil && (n.Kind != KindUint || n.Uint > max) {
		f.fail(name, n, fmt.Sprintf("an unsigned integer up to %d", max))
	}
	return n.Uint
}

func (f *fields) u32(name string) uint32 { return uint32(f.uint(name, math.MaxUint32)) }

func (f *fields) int(name string) int64 {
	n := f.next(name)
	switch {
	case f.err != nil:
	case n.Kind == KindInt:
		return n.Int
	case n.Kind == KindUint && n.Uint <= math.MaxInt64:
		return int64(n.Uint)
	default:
		f.fail(name, n, "an integer")
	}
	return 0
}

func (f *fields) bool(name string) bool {
	n := f.next(name)
	if f.err == nil && n.Kind != KindBool {
		f.fail(name, n, "a bool")
	}
	return n.Bool
}

func (f *fields) str(name string) string {
	n := f.next(name)
	if f.err == nil && n.Kind != KindStr {
		f.fail(name, n, "a str")
	}
	return string(n.Bytes)
}

func (f *fields) array(name string) []Node {
	n := f.next(name)
	if f.err == nil && n.Kind != KindArray {
		f.fail(name, n, "an array")
	}
	return n.Items
}

// tuple reads an array field that is itself a fixed list of fields.
func (f *fields) tuple(name string, n Node, count int) *fields {
	sub := &fields{items: n.Items, path: f.path + "/" + name}
	if f.err == nil && (n.Kind != KindArray || len(n.Items) < count) {
		f.fail(name, n, fmt.Sprintf("an array of %d", count))
	}
	if f.err != nil {
		sub.err = f.err
	}
	return sub
}

func (f *fields) props(name string, nilOK bool) Props {
	n := f.next(name)
	if f.err != nil {
		return nil
	}
	if n.Kind == KindNil && nilOK {
		return nil
	}
	p, err := PropsOf(n)
	if err != nil {
		f.fail(name, n, "a map of str keys")
	}
	return p
}

// PropsOf converts a decoded map of str keys to Props.
func PropsOf(n Node) (Props, error) {
	if n.Kind != KindMap {
		return nil, fmt.Errorf("props are %v, want a map", n.Kind)
	}
	p := Props{}
	for i := 0; i < len(n.Items); i += 2 {
		k := n.Items[i]
		if k.Kind != KindStr {
			return nil, fmt.Errorf("a props key is %v, want a str", k.Kind)
		}
		if _, dup := p[string(k.Bytes)]; dup {
			return nil, fmt.Errorf("props key %q twice", k.Bytes)
		}
		p[string(k.Bytes)] = string(n.Items[i+1].Raw)
	}
	return p, nil
}

// documented is the element count of each server message in section 5.
var documented = map[int]int{
	TWelcome: 9, TError: 4, TClose: 3, TOK: 2, TRoomJoined: 6,
	TRoomList: 3, TRoomLeft: 3, TPong: 5, TAnnounce: 3, TMatch: 6, TParty: 5, TChannel: 6, TFrame: 6,
	TRedirect: 6,
}

// ParseServer decodes one server message body and checks every field
// against its documented type.
func ParseServer(body []byte) (*ServerMsg, error) {
	root, err := Decode(body)
	if err != nil {
		return nil, err
	}
	if root.Kind != KindArray || len(root.Items) == 0 {
		return nil, fmt.Errorf("a message body is %v, want a non-empty array", root)
	}
	t := root.Items[0]
	if t.Kind != KindUint || t.Raw[0] > 0x7f {
		return nil, fmt.Errorf("message type %v is not a positive fixint (section 2)", t)
	}
	m := &ServerMsg{Type: int(t.Uint), Body: root}
	want, ok := documented[m.Type]
	if !ok {
		return nil, fmt.Errorf("unknown server message type %d", m.Type)
	}
	if len(root.Items) < want {
		return nil, fmt.Errorf("message %d has %d elements, want %d", m.Type, len(root.Items), want)
	}
	m.Extra = len(root.Items) - want
	f := &fields{items: root.Items, i: 1, path: fmt.Sprintf("message %d", m.Type)}
	switch m.Type {
	case TWelcome:
		w := &m.Welcome
		w.Version = f.uint("version", math.MaxUint64)
		w.PlayerID = f.u32("player_id")
		w.ResumeToken = f.str("resume_token")
		w.TickRate = f.uint("tick_rate", math.MaxUint64)
		w.ServerTimeMs = f.uint("server_time_ms", math.MaxUint64)
		w.Tick = f.uint("tick", math.MaxUint64)
		w.Resumed = f.bool("resumed")
		w.RoomID = f.u32("room_id")
	case TError:
		m.RID = f.u32("rid")
		m.Code = int(f.uint("code", math.MaxUint16))
		m.Text = f.str("message")
	case TClose:
		m.Code = int(f.uint("code", math.MaxUint16))
		m.Text = f.str("reason")
	case TOK:
		m.RID = f.u32("rid")
	case TRoomJoined:
		m.RID = f.u32("rid")
		j := &m.Joined
		j.RoomID = f.u32("room_id")
		j.Code = f.str("code")
		j.Mode = f.str("mode")
		j.MaxPlayers = f.uint("max_players", math.MaxUint64)
	case TRoomList:
		m.RID = f.u32("rid")
		for _, r := range f.array("rooms") {
			e := f.tuple("rooms[]", r, 6)
			m.Rooms = append(m.Rooms, RoomEntry{
				RoomID: e.u32("room_id"), Mode: e.str("mode"), Players: e.uint("players", math.MaxUint64),
				MaxPlayers: e.uint("max_players", math.MaxUint64), Locked: e.bool("locked"), Props: e.props("props", false),
			})
			f.keep(e)
		}
	case TRoomLeft:
		m.RID = f.u32("rid")
		m.Code = int(f.uint("code", math.MaxUint16))
	case TPong:
		p := &m.Pong
		p.ClientTime = f.int("client_time")
		p.ServerTimeMs = f.uint("server_time_ms", math.MaxUint64)
		p.Tick = f.uint("tick", math.MaxUint64)
		p.HoldUs = f.uint("hold_us", math.MaxUint64)
	case TAnnounce:
		m.Text = f.str("text")
		m.ServerTimeMs = f.uint("server_time_ms", math.MaxUint64)
	case TMatch:
		m.Match = Match{Outcome: f.uint("outcome", 3), RoomID: f.u32("room_id"), Team: f.uint("team", math.MaxUint32),
			Region: f.str("region"), WaitedMs: f.uint("waited_ms", math.MaxUint64)}
	case TParty:
		m.Party = Party{ID: f.u32("party_id"), Code: f.str("code"), Leader: f.u32("leader"), Members: parseMembers(f)}
	case TChannel:
		m.RID = f.u32("rid")
		c := &m.Channel
		c.Name = f.str("name")
		c.Count = f.uint("count", math.MaxUint64)
		c.Members = parseMembers(f)
		for _, h := range f.array("history") {
			hf := f.tuple("history[]", h, 4)
			c.History = append(c.History, Chat{From: hf.u32("from"), FromName: hf.str("name"),
				ServerTimeMs: hf.uint("server_time_ms", math.MaxUint64), Text: hf.str("text"), Channel: c.Name})
			f.keep(hf)
		}
	case TRedirect:
		m.RID = f.u32("rid")
		m.Redirect = Redirect{Node: f.uint("node", 255), KCPAddr: f.str("kcp_addr"), WSURL: f.str("ws_url"), Token: f.str("token")}
	case TFrame:
		parseFrame(f, &m.Frame)
		if len(root.Items) > want && f.err == nil { // packets: documented, present when there are any
			m.Extra--
			for _, n := range f.array("packets") {
				pf := f.tuple("packets[]", n, 4)
				pk := PeerPacket{From: pf.u32("from"), Mode: pf.uint("mode", 2), Channel: pf.uint("channel", 255)}
				if d := pf.next("data"); pf.err == nil {
					if d.Kind != KindBin {
						pf.fail("data", d, "bin")
					}
					pk.Data = d.Bytes
				}
				m.Frame.Packets = append(m.Frame.Packets, pk)
				f.keep(pf)
			}
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return m, nil
}

func parseFrame(f *fields, fr *Frame) {
	fr.Tick = f.uint("tick", math.MaxUint64)
	fr.ServerTimeMs = f.uint("server_time_ms", math.MaxUint64)
	if room := f.next("room"); f.err == nil && room.Kind != KindNil {
		rf := f.tuple("room", room, 10)
		fr.Room = parseFrameRoom(rf)
		f.keep(rf)
	}
	for _, e := range f.array("events") {
		ef := f.tuple("events[]", e, 4)
		ev := Event{Tick: ef.uint("tick", math.MaxUint64), From: ef.u32("from"), Code: ef.u32("code")}
		if p := ef.next("payload"); ef.err == nil {
			ev.Payload = p.Raw
		}
		fr.Events = append(fr.Events, ev)
		f.keep(ef)
	}
	for _, c := range f.array("chat") {
		cf := f.tuple("chat[]", c, 4)
		ch := Chat{From: cf.u32("from"), To: cf.u32("to"),
			ServerTimeMs: cf.uint("server_time_ms", math.MaxUint64), Text: cf.str("text")}
		if len(c.Items) >= 6 {
			ch.Channel, ch.FromName = cf.str("channel"), cf.str("from_name")
		}
		fr.Chat = append(fr.Chat, ch)
		f.keep(cf)
	}
}

// parseFrameRoom reads the room part of a frame; errors stay in f.
func parseFrameRoom(f *fields) *FrameRoom {
	r := &FrameRoom{}
	r.ID = f.u32("room_id")
	r.Full = f.bool("full")
	r.Master = f.u32("master")
	r.Locked = f.bool("locked")
	r.Props = f.props("props", true)
	for _, id := range f.array("leaves") {
		sub := &fields{items: []Node{id}, path: f.path + "/leaves"}
		r.Leaves = append(r.Leaves, sub.u32("id"))
		f.keep(sub)
	}
	for _, j := range f.array("joins") {
		jf := f.tuple("joins[]", j, 3)
		r.Joins = append(r.Joins, Join{ID: jf.u32("player_id"), Name: jf.str("name"), Props: jf.props("props", false)})
		f.keep(jf)
	}
	for _, p := range f.array("player_props") {
		pf := f.tuple("player_props[]", p, 2)
		r.PlayerProps = append(r.PlayerProps, PlayerProps{ID: pf.u32("player_id"), Props: pf.props("props", false)})
		f.keep(pf)
	}
	for _, s := range f.array("states") {
		sf := f.tuple("states[]", s, 2)
		st := State{ID: sf.u32("player_id")}
		if v := sf.next("value"); sf.err == nil {
			st.Value = v.Raw
		}
		r.States = append(r.States, st)
		f.keep(sf)
	}
	for _, p := range f.array("presence") {
		pf := f.tuple("presence[]", p, 2)
		r.Presence = append(r.Presence, Presence{ID: pf.u32("player_id"), Connected: pf.bool("connected")})
		f.keep(pf)
	}
	return r
}

// keep takes a sub-cursor's first error.
func (f *fields) keep(sub *fields) {
	if f.err == nil {
		f.err = sub.err
	}
}

// parseMembers reads an array of [player_id, name].
func parseMembers(f *fields) []Member {
	var out []Member
	for _, n := range f.array("members") {
		mf := f.tuple("members[]", n, 2)
		out = append(out, Member{ID: mf.u32("player_id"), Name: mf.str("name")})
		f.keep(mf)
	}
	return out
}
