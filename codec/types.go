// Package codec defines the relay's wire protocol: length-prefixed frames
// whose bodies are msgpack arrays starting with a message type number.
// PROTOCOL.md at the repository root documents every message.
//
// Decoders here see untrusted bytes: they check every declared length
// against a limit and against the bytes left, and return sub-slices of the
// input instead of allocating.
package codec

// ProtocolVersion is sent in hello and welcome; a server refuses a client
// whose version differs.
const ProtocolVersion = 1

// Type is a message type number, the first element of every message body.
type Type uint8

// Client to server messages.
const (
	THello          Type = 1
	TCreateRoom     Type = 10
	TJoinRoom       Type = 11
	TJoinCode       Type = 12
	TListRooms      Type = 13
	TJoinOrCreate   Type = 14
	TLeaveRoom      Type = 15
	TSetRoomProps   Type = 16
	TSetPlayerProps Type = 17
	TSetLocked      Type = 18
	TKick           Type = 19
	TState          Type = 20
	TEvent          Type = 21
	TChat           Type = 22
	TPing           Type = 23
	TBye            Type = 24
	// Matchmaking, parties and lobby chat.
	TQueueJoin      Type = 50
	TQueueLeave     Type = 51
	TBackfill       Type = 52
	TPartyCreate    Type = 53
	TPartyJoin      Type = 54
	TPartyLeave     Type = 55
	TChannelJoin    Type = 56
	TChannelLeave   Type = 57
	TChannelSay     Type = 58
	TChannelMembers Type = 59
	// Godot's multiplayer API over the relay.
	TPeerPacket Type = 60
	// Clusters: taking a seat on another node.
	TJoinSeat Type = 61
)

// Server to client messages.
const (
	TWelcome    Type = 2
	TError      Type = 3
	TClose      Type = 4
	TOK         Type = 5
	TRoomJoined Type = 31
	TRoomList   Type = 32
	TRoomLeft   Type = 33
	TPong       Type = 34
	TAnnounce   Type = 35
	TMatch      Type = 36
	TParty      Type = 37
	TChannel    Type = 38
	TRedirect   Type = 39
	TFrame      Type = 40
)

// Code is an error or close reason code.
type Code uint16

// Error and close codes. Numbers are part of the protocol: never reuse one.
const (
	CodeBadRequest       Code = 1  // a field is missing, of the wrong type or out of range
	CodeVersionMismatch  Code = 2  // hello carried another protocol version
	CodeRoomNotFound     Code = 3  // no room with that id or code
	CodeRoomFull         Code = 4  // the room has max_players members
	CodeRoomLocked       Code = 5  // the room is locked
	CodeNotInRoom        Code = 6  // the operation needs room membership
	CodeNotMaster        Code = 7  // the operation is for the master client only
	CodeAlreadyInRoom    Code = 8  // leave the current room first
	CodeTooLarge         Code = 9  // a value is over its size limit
	CodeLimit            Code = 10 // a count limit was reached (rooms, properties)
	CodeServerClosing    Code = 11 // the server is shutting down
	CodeIdleTimeout      Code = 12 // nothing was received for too long
	CodeSlowConsumer     Code = 13 // the client did not keep up with its frames
	CodeFrameTooLarge    Code = 14 // a frame's declared length is over the limit
	CodeHandshakeTimeout Code = 15 // no hello in time
	CodeUnknownMessage   Code = 16 // unknown message type
	CodeMalformed        Code = 17 // the body is not valid msgpack of the expected shape
	CodePlayerNotFound   Code = 18 // no such player (kick, direct message)
	CodeKicked           Code = 19 // the master removed this player from the room
	CodeServerFull       Code = 20 // the server has no room for another session
	CodeNotReady         Code = 21 // a message other than hello before the handshake, or a second hello
	CodeClientClosed     Code = 22 // the client said bye
	CodeUnauthorized     Code = 23 // the server needs a valid auth token in hello
	CodeForbidden        Code = 24 // the auth token does not allow this (e.g. another room)
	CodeRateLimited      Code = 25 // too many messages, bytes or chat lines per second
	CodeResumeFailed     Code = 26 // the resume token is unknown, used, or expired
	CodeReplaced         Code = 27 // the player resumed on another connection
	CodeBanned           Code = 28 // the operator banned this player or address
	CodeRoomClosed       Code = 29 // the operator closed the room
	CodeNotLeader        Code = 30 // only the party's leader may do this
	CodeInParty          Code = 31 // leave the party first, or let its leader act
	CodeQueued           Code = 32 // the player (or its party) is in the matchmaker's queue
	CodeUnavailable      Code = 33 // another node of the cluster did not answer in time: try again
)

var codeNames = [...]string{
	CodeBadRequest:       "bad_request",
	CodeVersionMismatch:  "version_mismatch",
	CodeRoomNotFound:     "room_not_found",
	CodeRoomFull:         "room_full",
	CodeRoomLocked:       "room_locked",
	CodeNotInRoom:        "not_in_room",
	CodeNotMaster:        "not_master",
	CodeAlreadyInRoom:    "already_in_room",
	CodeTooLarge:         "too_large",
	CodeLimit:            "limit",
	CodeServerClosing:    "server_closing",
	CodeIdleTimeout:      "idle_timeout",
	CodeSlowConsumer:     "slow_consumer",
	CodeFrameTooLarge:    "frame_too_large",
	CodeHandshakeTimeout: "handshake_timeout",
	CodeUnknownMessage:   "unknown_message",
	CodeMalformed:        "malformed",
	CodePlayerNotFound:   "player_not_found",
	CodeKicked:           "kicked",
	CodeServerFull:       "server_full",
	CodeNotReady:         "not_ready",
	CodeClientClosed:     "client_closed",
	CodeUnauthorized:     "unauthorized",
	CodeForbidden:        "forbidden",
	CodeRateLimited:      "rate_limited",
	CodeResumeFailed:     "resume_failed",
	CodeReplaced:         "replaced",
	CodeBanned:           "banned",
	CodeRoomClosed:       "room_closed",
	CodeNotLeader:        "not_leader",
	CodeInParty:          "in_party",
	CodeQueued:           "queued",
	CodeUnavailable:      "unavailable",
}

// String returns the code's protocol name, e.g. "room_full".
func (c Code) String() string {
	if int(c) < len(codeNames) && codeNames[c] != "" {
		return codeNames[c]
	}
	return "unknown"
}

// ParseCode returns the code named name ("room_full"), or false.
func ParseCode(name string) (Code, bool) {
	for c, n := range codeNames {
		if n != "" && n == name {
			return Code(c), true
		}
	}
	return 0, false
}

// Event targets.
const (
	TargetAll    = 0 // every room member, the sender included
	TargetOthers = 1 // every member but the sender
	TargetList   = 2 // the listed player ids
	TargetMaster = 3 // the master client
)

// Limits bounds what a decoder accepts. The zero value of a field means its
// default (see DefaultLimits).
type Limits struct {
	Name       int // bytes in a player name
	Mode       int // bytes in a room mode
	PropKeys   int // keys in one properties map
	PropKey    int // bytes in a property key
	PropValue  int // encoded bytes of one property value
	State      int // encoded bytes of a player state value
	Payload    int // encoded bytes of an event payload
	Targets    int // player ids in one event's target list
	Chat       int // bytes in a chat text
	MaxPlayers int // largest max_players a room may ask for
	Regions    int // regions in one queue request
	Region     int // bytes in a region name
	Seats      int // seats in one backfill request
	Packet     int // bytes of one peer packet's data
}

// DefaultLimits are the limits used where a field is zero.
var DefaultLimits = Limits{
	Name:       32,
	Mode:       32,
	PropKeys:   32,
	PropKey:    32,
	PropValue:  256,
	State:      1024,
	Payload:    1024,
	Targets:    64,
	Chat:       256,
	MaxPlayers: 64,
	Regions:    8,
	Region:     32,
	Seats:      64,
	Packet:     4096,
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.Name, d.Name)
	set(&l.Mode, d.Mode)
	set(&l.PropKeys, d.PropKeys)
	set(&l.PropKey, d.PropKey)
	set(&l.PropValue, d.PropValue)
	set(&l.State, d.State)
	set(&l.Payload, d.Payload)
	set(&l.Targets, d.Targets)
	set(&l.Chat, d.Chat)
	set(&l.MaxPlayers, d.MaxPlayers)
	set(&l.Regions, d.Regions)
	set(&l.Region, d.Region)
	set(&l.Seats, d.Seats)
	set(&l.Packet, d.Packet)
	return l
}

// Match outcomes, the second element of a match message.
const (
	MatchFound     = 0 // a match formed: the player is in its room
	MatchTimedOut  = 1 // the queue's maximum wait passed without a match
	MatchCancelled = 2 // the ticket was withdrawn (the party changed, its leader left the queue)
	MatchBackfill  = 3 // the player filled an open seat of a running room
)

// Peer packet transfer modes (peer_packet and a frame's packets).
const (
	PeerReliable          = 0 // ordered, exactly once
	PeerUnreliable        = 1 // latest per sender and channel in a frame
	PeerUnreliableOrdered = 2 // as unreliable; the client drops one older than the last it took
)
