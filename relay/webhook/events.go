package webhook

import (
	"encoding/json"
	"strconv"
	"time"
)

// Event types the relay sends. The type is a free-form string (lower case
// letters, digits, '.', '_' and '-'), so that new kinds of event (the
// matchmaker's, say) need no change here.
const (
	RoomCreated  = "room.created"
	RoomClosed   = "room.closed" // the room's last event: its seq starts again after it
	PlayerJoined = "player.joined"
	PlayerLeft   = "player.left"
	MatchFormed  = "match.formed"
)

// Envelope is the JSON body of every webhook request.
type Envelope struct {
	// ID is unique per event and the same on every attempt to deliver it:
	// a backend that must act once per event deduplicates by it.
	ID   string `json:"id"`
	Type string `json:"type"`
	// Room is the room the event belongs to; 0 for events of no room.
	Room uint32 `json:"room"`
	// Seq numbers the room's events from 1, in the order the relay emitted
	// them; events are delivered in that order. A gap means events were
	// dropped (a full queue, or given up after retries). Events of no room
	// are numbered among themselves.
	Seq  uint64          `json:"seq"`
	Time time.Time       `json:"time"` // when the relay emitted it
	Data json.RawMessage `json:"data"`
}

// RoomEvent is the data of room.created and room.closed.
type RoomEvent struct {
	Room       uint32 `json:"room"`
	Code       string `json:"code,omitempty"`
	Mode       string `json:"mode,omitempty"`
	MaxPlayers int    `json:"max_players,omitempty"`
	Reason     string `json:"reason,omitempty"` // room.closed: why
}

// PlayerEvent is the data of player.joined and player.left.
type PlayerEvent struct {
	Room   uint32 `json:"room"`
	Player uint32 `json:"player"`
	UserID string `json:"user_id,omitempty"` // the auth token's subject
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason,omitempty"` // player.left: why
}

// validType reports whether t is a usable event type.
func validType(t string) bool {
	if t == "" || len(t) > 64 {
		return false
	}
	for _, c := range []byte(t) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// appendEnvelope writes the Envelope's JSON by hand: it runs under the
// dispatcher's lock (the sequence number and the queue position must be
// taken together), so it is kept to a few appends. id and typ need no
// escaping (rand.Text's alphabet; validType), and data is already JSON.
func appendEnvelope(b []byte, id, typ string, room uint32, seq uint64, t time.Time, data []byte) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	b = append(b, `","room":`...)
	b = strconv.AppendUint(b, uint64(room), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = append(b, data...)
	return append(b, '}')
}
