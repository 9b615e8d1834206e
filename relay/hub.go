package relay

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/cluster"
	"github.com/tickrelay/tickrelay/relay/match"
)

// hubConfig is the hub's part of the server configuration, with defaults
// already applied.
type hubConfig struct {
	limits            codec.Limits
	tickRate          int
	maxPlayersPerRoom int
	maxRooms          int
	maxListed         int
	emptyRoomGrace    time.Duration
	slowTimeout       time.Duration
	maxPending        int
	closeLinger       time.Duration
	authSecret        []byte // nil: anonymous play
	handshakeTimeout  time.Duration
	resumeGrace       time.Duration // 0: no resume
	idleTimeout       time.Duration
	rateLimits        RateLimits
	log               zerolog.Logger
	// bans, when set, refuses banned players and addresses at hello.
	bans *banList
	// matchmaker configures the matchmaker; nil: none.
	matchmaker *match.Config
	// hooks, when set, receives room and player events (webhooks); it
	// must not block.
	hooks func(typ string, room uint32, data any)
	// cluster, when set, shares the lobby with the other nodes.
	cluster *cluster.Node
}

// hub is the relay's state machine: players, rooms, and what each player is
// sent. It does no I/O of its own: the server feeds it message bodies and
// ticks, and it hands finished frames to each player's link. Everything in
// it is owned by the tick goroutine.
type hub struct {
	cfg hubConfig

	players map[uint32]*player
	links   map[conn]*player   // the player each attached link speaks for
	tokens  map[string]*player // resume token to player
	closing []closingLink      // detached links delivering their last bytes
	order   []*player          // stable iteration order for flushing
	dead    []*player          // closed during this tick, removed after flushing
	// established are the conns whose hello or resume was accepted in
	// this tick: the server tells their transports, then clears it.
	established []conn
	rooms       map[uint32]*room
	roomOrder   []*room // creation order, for listing
	codes       map[string]*room

	nextPlayer uint32
	nextRoom   uint32

	tick     uint64 // the tick being run
	prevTick uint64 // the tick run before it
	now      time.Time
	nowMs    int64

	msg     codec.ClientMsg // reused for every decode
	scratch []byte          // one encoded event or chat entry

	// The meeting place (matchmaking.go, party.go, channels.go).
	mm           *match.Matchmaker // nil: no matchmaker
	mmResults    match.Results
	tickets      map[uint64]*ticketInfo
	nextTicket   uint64
	parties      map[string]*party // by code
	nextParty    uint32
	partyScratch []codec.PartyMember
	channels     map[string]*channel
	cl           *clusterState // nil: not in a cluster (cluster.go)

	shuttingDown bool
	// A maintenance drain: no new sessions or rooms; at drainAt every
	// client is closed, as on a shutdown.
	draining bool
	drainAt  time.Time
	stats    *counters
}

// counters are read by Server.Stats from other goroutines.
type counters struct {
	framesSent     atomic.Uint64
	framesBehind   atomic.Uint64 // frames not built because the link was busy
	bytesOut       atomic.Uint64
	bytesIn        atomic.Uint64 // message bytes received, framing included
	messagesIn     atomic.Uint64
	eventsRelayed  atomic.Uint64
	chatRelayed    atomic.Uint64
	players        atomic.Int64
	rooms          atomic.Int64
	closes         [32]atomic.Uint64 // by codec.Code
	peerRelayed    atomic.Uint64     // peer packet deliveries (one per recipient)
	peerReplaced   atomic.Uint64     // unreliable peer packets replaced by a newer one before their frame
	peerDropped    atomic.Uint64     // peer packets to no member, or from outside a room
	tickets        atomic.Int64      // the meeting place, counted by the tick
	parties        atomic.Int64
	channels       atomic.Int64
	matchesFormed  atomic.Uint64
	ticketsTimeout atomic.Uint64
	linksKCP       atomic.Int64 // open links by transport, counted by the tick
	linksWS        atomic.Int64
}

func newHub(cfg hubConfig, stats *counters) (*hub, error) {
	h := &hub{
		cfg:      cfg,
		players:  make(map[uint32]*player),
		links:    make(map[conn]*player),
		tokens:   make(map[string]*player),
		rooms:    make(map[uint32]*room),
		codes:    make(map[string]*room),
		tickets:  make(map[uint64]*ticketInfo),
		parties:  make(map[string]*party),
		channels: make(map[string]*channel),
		stats:    stats,
	}
	if cfg.cluster != nil {
		cl, err := newClusterState(cfg.cluster, cfg.tickRate, cfg.matchmaker)
		if err != nil {
			return nil, err
		}
		h.cl = cl
		h.nextPlayer = cl.firstID()
		h.nextRoom = cl.firstID()
		h.nextTicket = uint64(cl.id) << ticketBits
	}
	if cfg.matchmaker != nil {
		mm, err := match.New(*cfg.matchmaker)
		if err != nil {
			return nil, err
		}
		h.mm = mm
	}
	return h, nil
}

// begin starts tick n at now; every handle call until end belongs to it.
func (h *hub) begin(n uint64, now time.Time) {
	h.prevTick, h.tick = h.tick, n
	h.now = now
	h.nowMs = now.UnixMilli()
}

// connect registers a new transport; the player must say hello first.
func (h *hub) connect(l conn, addr netip.AddrPort, transport string) *player {
	h.nextPlayer++
	p := &player{id: h.nextPlayer, link: l, addr: addr, transport: transport, connectedAt: h.now, limits: newLimiter(h.cfg.rateLimits)}
	p.log = h.cfg.log.With().Uint32("player", p.id).Str("remote", addr.String()).Str("transport", transport).Logger()
	h.players[p.id] = p
	h.links[l] = p
	h.order = append(h.order, p)
	h.stats.players.Add(1)
	if h.shuttingDown {
		h.closePlayer(p, codec.CodeServerClosing, "the server is shutting down")
	}
	return p
}

// handle applies one message body from p.
func (h *hub) handle(p *player, body []byte, arrived time.Time) {
	if p.closing {
		return
	}
	h.stats.messagesIn.Add(1)
	h.stats.bytesIn.Add(uint64(len(body) + codec.FrameHeaderSize))
	p.bytesIn += uint64(len(body) + codec.FrameHeaderSize)
	if !p.limits.admit(h.now, len(body)+codec.FrameHeaderSize, codec.PeekType(body) == codec.TPeerPacket) {
		h.rateLimited(p, codec.PeekRID(body), "message")
		return
	}
	m := &h.msg
	if err := codec.DecodeClient(body, &h.cfg.limits, m); err != nil {
		h.refuse(p, err)
		return
	}
	if !p.helloed {
		if m.Type != codec.THello {
			h.closePlayer(p, codec.CodeNotReady, "the first message must be hello")
			return
		}
		h.hello(p, m)
		return
	}
	switch m.Type {
	case codec.THello:
		h.closePlayer(p, codec.CodeNotReady, "hello was already received")
	case codec.TCreateRoom:
		h.createRoom(p, m)
	case codec.TJoinRoom:
		h.joinRoom(p, m)
	case codec.TJoinCode:
		h.joinCode(p, m)
	case codec.TListRooms:
		h.listRooms(p, m)
	case codec.TJoinOrCreate:
		h.joinOrCreate(p, m)
	case codec.TLeaveRoom:
		if p.room == nil {
			h.replyError(p, m.RID, codec.CodeNotInRoom, "not in a room")
			return
		}
		h.leave(p, "left")
		p.out = codec.AppendRoomLeft(p.out, m.RID, 0)
	case codec.TSetRoomProps:
		h.setRoomProps(p, m)
	case codec.TSetPlayerProps:
		if err := p.props.merge(m.Props, h.cfg.limits.PropKeys); err != nil {
			h.replyError(p, m.RID, codec.CodeLimit, err.Error())
			return
		}
		p.propsTick = h.tick
		p.out = codec.AppendOK(p.out, m.RID)
	case codec.TSetLocked:
		if r := h.masterRoom(p, m.RID); r != nil {
			r.locked = m.Locked
			p.out = codec.AppendOK(p.out, m.RID)
		}
	case codec.TKick:
		h.kick(p, m)
	case codec.TState:
		// A state sent just after leaving a room is not an error: the
		// client could not know yet. It is dropped.
		if p.room != nil {
			p.state = append(p.state[:0], m.Value...)
			p.stateTick = h.tick
		}
	case codec.TEvent:
		h.event(p, m)
	case codec.TChat:
		if !p.limits.chat.AllowN(h.now, 1) {
			h.rateLimited(p, 0, "chat")
			return
		}
		h.chat(p, m)
	case codec.TPing:
		p.pruneHistory(m.AckedTick)
		hold := h.now.Sub(arrived).Microseconds()
		p.out = codec.AppendPong(p.out, m.ClientTime, h.nowMs, h.tick, max(hold, 0))
	case codec.TBye:
		h.closePlayer(p, codec.CodeClientClosed, "client said bye")
	case codec.TPeerPacket:
		h.peerPacket(p, m)
	case codec.TJoinSeat:
		h.joinSeat(p, m)
	case codec.TQueueJoin:
		h.queueJoin(p, m)
	case codec.TQueueLeave:
		h.queueLeave(p, m.RID)
	case codec.TBackfill:
		h.backfill(p, m)
	case codec.TPartyCreate:
		h.partyCreate(p, m.RID)
	case codec.TPartyJoin:
		h.partyJoin(p, m.RID, m.Code)
	case codec.TPartyLeave:
		h.partyLeaveMsg(p, m.RID)
	case codec.TChannelJoin:
		h.channelJoin(p, m.RID, string(m.Channel))
	case codec.TChannelLeave:
		h.channelLeave(p, m.RID, string(m.Channel))
	case codec.TChannelMembers:
		h.channelMembers(p, m.RID, string(m.Channel))
	case codec.TChannelSay:
		if !p.limits.chat.AllowN(h.now, 1) {
			h.rateLimited(p, 0, "chat")
			return
		}
		h.channelSay(p, string(m.Channel), m.Text)
	}
}

func (h *hub) hello(p *player, m *codec.ClientMsg) {
	if m.Version != codec.ProtocolVersion {
		h.closePlayer(p, codec.CodeVersionMismatch,
			fmt.Sprintf("server speaks protocol version %d, client sent %d", codec.ProtocolVersion, m.Version))
		return
	}
	if len(m.Resume) > 0 {
		h.resume(p, m)
		return
	}
	p.name = string(m.Name)
	if h.cfg.authSecret != nil {
		c, err := verifyToken(h.cfg.authSecret, string(m.Auth), h.now)
		if err != nil {
			h.closePlayer(p, codec.CodeUnauthorized, err.Error())
			return
		}
		p.userID, p.allowedRoom = c.Subject, c.Room
		if c.Name != "" {
			p.name = c.Name
		}
	}
	if err := p.props.merge(m.Props, h.cfg.limits.PropKeys); err != nil {
		h.closePlayer(p, codec.CodeLimit, err.Error())
		return
	}
	if h.refusedEntry(p) {
		return
	}
	p.helloed = true
	h.established = append(h.established, p.link)
	h.issueToken(p)
	lc := p.log.With().Str("name", p.name)
	if p.userID != "" {
		lc = lc.Str("user", p.userID)
	}
	p.log = lc.Logger()
	p.out = codec.AppendWelcome(p.out, p.id, p.resumeToken, h.cfg.tickRate, h.nowMs, h.tick, false, 0)
	p.log.Info().Msg("player connected")
}

// refuse answers a message that did not decode. A request refused for a
// field's value gets an error and the session stays; what cannot be parsed,
// a refused hello, or a message before hello closes it (PROTOCOL.md 4,
// "Refusals").
func (h *hub) refuse(p *player, err error) {
	fe, isField := err.(*codec.FieldError) // DecodeClient returns it unwrapped
	switch {
	case !isField:
		h.closePlayer(p, codec.ErrorCode(err), err.Error())
	case !p.helloed && fe.Type != codec.THello:
		h.closePlayer(p, codec.CodeNotReady, "the first message must be hello")
	case p.helloed && fe.Type == codec.THello:
		h.closePlayer(p, codec.CodeNotReady, "hello was already received")
	case fe.Type == codec.THello:
		h.closePlayer(p, fe.Code, err.Error())
	default:
		h.replyError(p, fe.RID, fe.Code, err.Error())
	}
}

func (h *hub) replyError(p *player, rid uint32, code codec.Code, msg string) {
	p.out = codec.AppendError(p.out, rid, code, msg)
}

// shutdown closes every player with a server_closing reason, and every
// connection from now on.
func (h *hub) shutdown(reason string) {
	h.shuttingDown = true
	for _, p := range h.order {
		h.closePlayer(p, codec.CodeServerClosing, reason)
	}
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
