package admin

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Relay is what the admin API needs of a running relay. Every method may be
// called from any goroutine; implementations hand the request to the relay's
// tick and wait for the answer or ctx, so a relay that cannot answer makes
// the call return ctx.Err() rather than hang. The handler gives every call a
// deadline (Handler.Timeout).
//
// Errors: ErrNotFound, ErrConflict and *InputError (or errors wrapping them)
// become 404, 409 and 400; ctx's errors become 503; anything else 500.
type Relay interface {
	Overview(ctx context.Context) (Overview, error)
	// Rooms returns the rooms q selects, in a stable order (by id), at most
	// q.Limit of them after skipping q.Offset.
	Rooms(ctx context.Context, q RoomQuery) ([]RoomSummary, error)
	Room(ctx context.Context, id uint32) (RoomDetail, error) // ErrNotFound
	// Players returns the players q selects, like Rooms.
	Players(ctx context.Context, q PlayerQuery) ([]PlayerSummary, error)
	// Kick closes the player's session; the client is told reason.
	Kick(ctx context.Context, player uint32, reason string) error
	// CloseRoom removes every member from the room, telling them reason,
	// and closes it.
	CloseRoom(ctx context.Context, room uint32, reason string) error
	// Ban stores b (already validated: exactly one of PlayerID, UserID and
	// Address is set, Address is a canonical IP or CIDR prefix), closes the
	// sessions it matches and refuses matching sessions until b.Until (zero:
	// for good). It returns the stored ban with ID and Created set.
	Ban(ctx context.Context, b Ban) (Ban, error)
	Unban(ctx context.Context, id string) error // ErrNotFound
	Bans(ctx context.Context) ([]Ban, error)
	// Announce delivers text to every connected client.
	Announce(ctx context.Context, text string) error
	// Drain starts a maintenance drain (see the package documentation).
	// A relay already draining returns ErrConflict.
	Drain(ctx context.Context, deadline time.Time) error
}

// Errors a Relay returns for the handler to map onto status codes.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// InputError is a request the relay refused as invalid (400): the message
// is shown to the operator.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Millis is a duration that JSON-encodes as a number of milliseconds, the
// unit a person reads tick times and round trips in.
type Millis time.Duration

// MarshalJSON writes m in milliseconds with microsecond precision.
func (m Millis) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(m)/float64(time.Millisecond), 'f', -1, 64), nil
}

// UnmarshalJSON reads a number of milliseconds; null leaves m as it is.
func (m *Millis) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*m = Millis(f * float64(time.Millisecond))
	return nil
}

// Transports a player can be connected over.
const (
	TransportKCP = "kcp"
	TransportWS  = "ws"
)

// Overview is the state of the whole relay at one moment.
type Overview struct {
	Time     time.Time `json:"time"`
	Uptime   Millis    `json:"uptime_ms"`
	Version  string    `json:"version"`
	TickRate int       `json:"tick_rate"` // ticks per second

	Players            int            `json:"players"` // CCU: connected sessions
	PlayersByTransport map[string]int `json:"players_by_transport"`
	Rooms              int            `json:"rooms"`

	TickWork     Percentiles `json:"tick_work"`     // time a tick's work took
	TickLateness Percentiles `json:"tick_lateness"` // how late ticks started
	Overruns     uint64      `json:"overruns"`      // ticks whose work ended after the next was due

	BytesIn    uint64            `json:"bytes_in"`  // total since start
	BytesOut   uint64            `json:"bytes_out"` // total since start
	FramesSent uint64            `json:"frames_sent"`
	Drops      map[string]uint64 `json:"drops"`  // dropped datagrams or messages, by reason
	Closes     map[string]uint64 `json:"closes"` // sessions closed, by reason

	Draining      bool      `json:"draining"`
	DrainDeadline time.Time `json:"drain_deadline,omitzero"`
}

// Percentiles of a duration over the relay's recent ticks.
type Percentiles struct {
	P50 Millis `json:"p50_ms"`
	P99 Millis `json:"p99_ms"`
	Max Millis `json:"max_ms"`
}

// RoomSummary is one row of the room table.
type RoomSummary struct {
	ID         uint32    `json:"id"`
	Code       string    `json:"code"`
	Mode       string    `json:"mode"`
	Players    int       `json:"players"`
	MaxPlayers int       `json:"max_players"`
	Public     bool      `json:"public"`
	Locked     bool      `json:"locked"`
	Master     uint32    `json:"master"` // player id; 0: none
	Created    time.Time `json:"created"`
	// Age is filled in by the handler from Created.
	Age Millis `json:"age_ms"`
}

// RoomDetail is one room with its properties and members.
type RoomDetail struct {
	RoomSummary
	// Props are the room's properties decoded for display (the relay keeps
	// them as msgpack; values must be JSON-encodable).
	Props   map[string]any  `json:"props"`
	Members []PlayerSummary `json:"members"`
}

// PlayerSummary is one connected (or away, awaiting resume) player.
type PlayerSummary struct {
	ID          uint32    `json:"id"`
	Name        string    `json:"name"`
	UserID      string    `json:"user_id,omitempty"` // the auth token's subject
	Room        uint32    `json:"room,omitempty"`    // 0: in no room
	Transport   string    `json:"transport"`         // TransportKCP or TransportWS
	Remote      string    `json:"remote"`            // ip:port
	RTT         Millis    `json:"rtt_ms"`
	BytesIn     uint64    `json:"bytes_in"`
	BytesOut    uint64    `json:"bytes_out"`
	StateBytes  int       `json:"state_bytes"` // size of its encoded state (room members)
	ConnectedAt time.Time `json:"connected_at"`
	// Age is filled in by the handler from ConnectedAt.
	Age  Millis `json:"age_ms"`
	Away bool   `json:"away"` // connection lost, kept for a resume
}

// Ban refuses sessions of one player, user or address.
type Ban struct {
	ID       string    `json:"id"`
	PlayerID uint32    `json:"player_id,omitempty"`
	UserID   string    `json:"user_id,omitempty"`
	Address  string    `json:"address,omitempty"` // an IP or a CIDR prefix
	Until    time.Time `json:"until,omitzero"`    // zero: for good
	Reason   string    `json:"reason"`
	Created  time.Time `json:"created"`
}

// RoomQuery selects rooms. Text matches a room's code, id or mode
// (case-insensitive substring); Mode, when set, must match exactly.
type RoomQuery struct {
	Mode   string
	Text   string
	Limit  int // 1..MaxLimit; the handler sets DefaultLimit when absent
	Offset int
}

// PlayerQuery selects players. Text matches name, id, user id or remote
// address (case-insensitive substring); Room and Transport, when set, must
// match exactly.
type PlayerQuery struct {
	Text      string
	Room      uint32
	Transport string
	Limit     int
	Offset    int
}

// Limits on what a request may ask for.
const (
	DefaultLimit     = 50
	MaxLimit         = 500
	MaxReasonBytes   = 200  // kick, close and ban reasons
	MaxAnnounceBytes = 500  // announcement text
	MaxBodyBytes     = 8192 // request body
)
