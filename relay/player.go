package relay

import (
	"net/netip"
	"time"

	"github.com/rs/zerolog"
)

// conn is the transport under a player, as the hub uses it: a link.Link in
// the server, a fake in tests. The hub hands it whole frames and never
// waits for it.
type conn interface {
	// Busy reports whether the last buffer handed to Send is still being
	// written (the peer's KCP send window is full). A busy link is skipped.
	Busy() bool
	// Send hands b to the transport, which owns it until Busy is false.
	Send(b []byte)
	// Close ends the transport at once.
	Close()
	// Heard is when anything at all last arrived from the peer (Unix ns):
	// a message, or only transport acknowledgements. A link silent while
	// its frames are held back is lost, not slow.
	Heard() int64
}

// player is one connected client. Owned by the tick goroutine.
type player struct {
	id        uint32
	link      conn
	log       zerolog.Logger
	addr      netip.AddrPort // where its connection comes from
	transport string         // "kcp", "ws" (the link's, as of its last connection)
	bytesIn   uint64         // message bytes received, framing included
	bytesOut  uint64         // bytes handed to its links

	limits *limiter

	// set by hello
	helloed     bool
	name        string
	userID      string // the auth token's subject; empty without auth
	allowedRoom string // the auth token's room restriction
	resumeToken string
	connectedAt time.Time

	props     propSet
	propsTick uint64

	room       *room
	joinedTick uint64
	state      []byte // encoded msgpack; empty until set in this room
	stateTick  uint64

	// Output. Replies accumulate in out while the link is busy; frames are
	// only built when it is not, from what changed since lastSent.
	lastSent uint64 // tick of the last frame sent in the current room
	needFull bool   // next frame carries the whole room
	events   []byte // encoded event entries not yet sent
	nEvents  int
	chat     []byte // encoded chat entries not yet sent
	nChat    int
	packets  []byte // encoded reliable peer packets not yet sent
	nPackets int
	unrel    []unrelPacket // the latest unreliable peer packet per sender and channel
	out      []byte        // bytes to hand to the link
	inflight []byte        // handed to the link, not yet released
	spare    []byte
	behind   int // consecutive ticks with output held back by a busy link
	// behindSince is when the current run of held-back ticks began.
	behindSince time.Time

	closing bool // being removed: no more input is handled

	// The meeting place: a ticket in the matchmaker's queue (0: none), a
	// party, lobby chat channels, and the skill of its last ticket.
	ticket   uint64
	seating  bool // a room request waits for another node of the cluster
	party    *party
	channels []*channel
	skill    float64

	// Resume: a player whose link is lost stays away until awayUntil.
	away         bool
	awayUntil    time.Time
	presenceTick uint64      // tick of the last away/back change
	hist         []histEntry // events, chat and reliable packets sent but not yet acknowledged
	histBytes    int
	histFloor    uint64 // the newest frame whose events and chat were dropped from hist (acknowledged, or over a bound): a resume from before it fails
}

// histEntry is what one sent frame carried of events and chat, kept until
// the client acknowledges the frame, so that a resumed session receives
// exactly what the lost one did not.
type histEntry struct {
	tick     uint64
	events   []byte
	nEvents  int
	chat     []byte
	nChat    int
	packets  []byte
	nPackets int
}

func (e *histEntry) size() int { return len(e.events) + len(e.chat) + len(e.packets) }

// pending is how many bytes wait for a busy link.
func (p *player) pending() int {
	n := len(p.out) + len(p.events) + len(p.chat) + len(p.packets)
	for i := range p.unrel {
		n += len(p.unrel[i].data)
	}
	return n
}
