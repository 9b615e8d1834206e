package cluster

import (
	"time"

	"github.com/tickrelay/tickrelay/relay/match"
)

// NodeOf is the node that owns a player or room id: its top byte.
func NodeOf(id uint32) uint8 { return uint8(id >> 24) }

// Room is one room in the shared directory.
type Room struct {
	Node       uint8  // the node it lives on (NodeOf(ID))
	ID         uint32 // its id, global: the node is its top byte
	Code       string // the join code
	Mode       string
	Props      map[string][]byte // key to encoded msgpack value; read only
	Players    int
	MaxPlayers int
	Public     bool
	Locked     bool
}

// NodeInfo is a live node's record.
type NodeInfo struct {
	ID        uint8
	PublicKCP string // host:port of its KCP
	PublicWS  string // ws:// or wss:// URL of its WebSocket endpoint, or ""
	Players   int    // its load, as it last reported
	Rooms     int
	// Seen is when this node last received the record (for this node
	// itself: now).
	Seen time.Time
}

// Ban is an operator's ban, shared by every node. At least one of PlayerID,
// UserID and Address is set.
type Ban struct {
	ID       string    // set by PutBan when empty; letters, digits, '-', '_'
	PlayerID uint32    // a player's global id
	UserID   string    // an auth token's sub
	Address  string    // an IP address or CIDR prefix
	Until    time.Time // zero: for good
	Reason   string
	Created  time.Time // set by PutBan when zero
	Node     uint8     // the node it was made on; set by PutBan
}

// Message is what arrives for the relay on Inbox: one of *DirectMessage,
// *ChannelLine, *BanChanged, *NodeChanged, *LeaderChanged, *TicketAdd,
// *TicketCancel, *BackfillRequest, *BackfillCancel, *MatchAssign,
// *FillAssign, *MatchResult and *SeatResult. A type switch tells them
// apart.
type Message interface{ kind() msgKind }

// DirectMessage is a player's direct message to a player of this node
// (SendDM on the sender's node).
type DirectMessage struct {
	From     uint32 // the sender's global id
	FromName string
	To       uint32 // the recipient, a player of this node
	TimeMs   int64  // when the sender's node took it, Unix ms
	Text     string
}

// ChannelLine is a line said in a lobby chat channel on another node.
type ChannelLine struct {
	Channel  string
	From     uint32 // the sender's global id
	FromName string
	TimeMs   int64
	Text     string
}

// BanChanged reports a ban put or removed anywhere in the cluster, this
// node's own changes included, and every ban found when the node
// (re)connects. A removed ban carries its ID only.
type BanChanged struct {
	Ban     Ban
	Removed bool
}

// NodeChanged reports a node that joined the cluster (or restarted) or
// left it (Gone: it left, died, or lost NATS). Load changes are not
// reported: read Nodes.
type NodeChanged struct {
	Node NodeInfo
	Gone bool
}

// LeaderChanged reports a new matchmaker leader, or none (Leader 0: the
// leader left and no other has taken over yet, or this node lost NATS).
// Every node sends its queued tickets again to a new leader (which starts
// with none), with their original Enqueued time; a node that becomes
// leader starts a fresh matchmaker. Term grows with each new leadership.
type LeaderChanged struct {
	Leader uint8
	Term   uint64
}

// TicketAdd is a ticket for the matchmaker; it arrives at the leader only.
// Its Origin is the node of its players.
type TicketAdd struct {
	Origin uint8
	Ticket match.Ticket
}

// TicketCancel withdraws a ticket; it arrives at the leader only.
type TicketCancel struct {
	Origin uint8
	ID     uint64
}

// BackfillRequest asks the leader to fill open seats of a room (its ID is
// the room's global id); it arrives at the leader only.
type BackfillRequest struct {
	Origin   uint8
	Backfill match.Backfill
}

// BackfillCancel withdraws a backfill request; it arrives at the leader
// only.
type BackfillCancel struct {
	Origin uint8
	ID     uint64
}

// MatchAssign asks this node to host a match the leader formed: make its
// room, seat this node's players, and send every other player's node a
// MatchResult with a seat token for the room.
type MatchAssign struct {
	Leader uint8
	Term   uint64
	Match  match.Match
}

// FillAssign gives this node players for one of its rooms' backfill
// requests (Fill.Backfill is the room's global id).
type FillAssign struct {
	Leader uint8
	Term   uint64
	Fill   match.Fill
}

// MatchResult tells a player's node what became of a ticket: a match in a
// room (on its node or another: then each player has a seat token), a
// backfill seat, a time out or a cancellation. Outcome takes the protocol's
// match outcomes (codec.MatchFound, ...).
type MatchResult struct {
	From     uint8 // the node that sent it
	Ticket   uint64
	Outcome  int
	Room     uint32 // the room's global id; 0 when there is none
	Code     string // the room's join code
	Region   string
	WaitedMs int64
	Players  []MatchedSeat
}

// MatchedSeat is one player of a MatchResult.
type MatchedSeat struct {
	Player uint32
	Team   int
	Seat   string // a seat token for a room on another node, else ""
}

// SeatResult answers RequestSeatAsync: Tag is the caller's, and either Err
// is set (a *SeatRefused when the owning node said no) or Seat is.
type SeatResult struct {
	Tag  uint64
	Seat Seat
	Err  error
}

func (*DirectMessage) kind() msgKind   { return kindDM }
func (*ChannelLine) kind() msgKind     { return kindChannelLine }
func (*BanChanged) kind() msgKind      { return kindBanChanged }
func (*NodeChanged) kind() msgKind     { return kindNodeChanged }
func (*LeaderChanged) kind() msgKind   { return kindLeaderChanged }
func (*TicketAdd) kind() msgKind       { return kindTicketAdd }
func (*TicketCancel) kind() msgKind    { return kindTicketCancel }
func (*BackfillRequest) kind() msgKind { return kindBackfillRequest }
func (*BackfillCancel) kind() msgKind  { return kindBackfillCancel }
func (*MatchAssign) kind() msgKind     { return kindMatchAssign }
func (*FillAssign) kind() msgKind      { return kindFillAssign }
func (*MatchResult) kind() msgKind     { return kindMatchResult }
func (*SeatResult) kind() msgKind      { return kindSeatResult }

// msgKind numbers the messages on the wire and names them in Stats.
type msgKind uint8

const (
	kindDM msgKind = iota + 1
	kindChannelLine
	kindBanChanged
	kindNodeChanged
	kindLeaderChanged
	kindTicketAdd
	kindTicketCancel
	kindBackfillRequest
	kindBackfillCancel
	kindMatchAssign
	kindFillAssign
	kindMatchResult
	kindSeatResult
	kindSeatRequest
	kindSeatReply
)

var kindNames = [...]string{
	kindDM: "dm", kindChannelLine: "channel_line", kindBanChanged: "ban_changed",
	kindNodeChanged: "node_changed", kindLeaderChanged: "leader_changed", kindTicketAdd: "ticket_add",
	kindTicketCancel: "ticket_cancel", kindBackfillRequest: "backfill_request",
	kindBackfillCancel: "backfill_cancel", kindMatchAssign: "match_assign", kindFillAssign: "fill_assign",
	kindMatchResult: "match_result", kindSeatResult: "seat_result", kindSeatRequest: "seat_request",
	kindSeatReply: "seat_reply",
}

func (k msgKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// toLeader reports whether a kind is meant for the matchmaker's leader.
func (k msgKind) toLeader() bool {
	return k == kindTicketAdd || k == kindTicketCancel || k == kindBackfillRequest || k == kindBackfillCancel
}
