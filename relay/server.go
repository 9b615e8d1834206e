// Package relay is the relay server: rooms, and a fixed-rate tick that
// sends each client one frame per tick with what changed. Clients connect
// through transports (relay/kcplink for KCP over UDP, relay/wslink for
// WebSocket), each of which hands the tick its connections as link.Links.
package relay

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/dflt"
	"github.com/tickrelay/tickrelay/relay/admit"
	"github.com/tickrelay/tickrelay/relay/cluster"
	"github.com/tickrelay/tickrelay/relay/kcplink"
	"github.com/tickrelay/tickrelay/relay/link"
	"github.com/tickrelay/tickrelay/relay/match"
	"github.com/tickrelay/tickrelay/relay/webhook"
	"github.com/tickrelay/tickrelay/relay/wslink"
	"github.com/tickrelay/tickrelay/tick"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close.
var ErrServerClosed = errors.New("relay: server closed")

// Server is a relay server. Its exported fields are its configuration; the
// zero value of each means the documented default. Set them before Serve.
type Server struct {
	// Addr is the UDP address ListenAndServe serves KCP on. Default ":7777".
	Addr string
	// WebSocketAddr is the TCP address ListenAndServe serves WebSocket
	// players on. Default: the host and port of Addr (TCP :7777 beside
	// UDP :7777). "off" serves no WebSocket.
	WebSocketAddr string
	// WebSocket configures the WebSocket transport.
	WebSocket WebSocketConfig
	// TickRate is frames per second, 1 to 128. Default 30.
	TickRate int
	// Limits bounds message fields (names, properties, states, payloads,
	// chat). Zero fields take codec.DefaultLimits.
	Limits codec.Limits
	// MaxFrameSize is the largest client message body in bytes. A larger
	// declared frame closes the session. Default 16 KiB.
	MaxFrameSize int
	// MaxPlayersPerRoom caps a room's max_players (and is the default when
	// a client asks for 0). Default 16, at most Limits.MaxPlayers.
	MaxPlayersPerRoom int
	// MaxRooms caps rooms on the server. Default 10,000.
	MaxRooms int
	// MaxSessions caps connected sessions. Default 10,000.
	MaxSessions int
	// MaxSessionsPerIP caps sessions from one source IP (an IPv6 /64 counts
	// as one). Default 32.
	MaxSessionsPerIP int
	// MaxHandshakesPerIP caps the sessions from one source IP that were
	// admitted but have not completed their hello yet. Default 4: enough
	// for players behind one NAT, too few to let one address hold many
	// half-open sessions.
	MaxHandshakesPerIP int
	// NewSessionRate caps how many new sessions per second the server
	// admits from unknown addresses, all sources together; a datagram
	// from an unknown address creates a KCP session only if it is a
	// well-formed hello within this rate. Default 200.
	NewSessionRate float64
	// MaxListedRooms caps one room list reply. Default 100.
	MaxListedRooms int
	// EmptyRoomGrace is how long an empty room lives before removal, so a
	// player can come back to it. Default 10 s.
	EmptyRoomGrace time.Duration
	// IdleTimeout closes a session that has sent nothing for this long
	// (clients ping every second). Default 10 s.
	IdleTimeout time.Duration
	// HandshakeTimeout closes a session that has not said hello in time.
	// Default 5 s.
	HandshakeTimeout time.Duration
	// SlowClientTimeout drops a client whose frames have been held back by
	// a full KCP send window for this long. Default 5 s.
	SlowClientTimeout time.Duration
	// MaxPendingBytes drops a client when this much output (events, chat,
	// replies) waits for it. Default 256 KiB.
	MaxPendingBytes int
	// InboxSize bounds the messages a session may queue between ticks; a
	// reader with a full inbox waits, which slows that client only.
	// Default 64 (the default rate limit allows 4 messages per tick).
	InboxSize int
	// ResumeGrace is how long a player whose connection was lost keeps its
	// place (room, state, missed events) for a resume. Default 15 s;
	// negative disables resume.
	ResumeGrace time.Duration
	// CloseLinger is how long a closing session stays open so that its
	// close message can be delivered. Default 500 ms.
	CloseLinger time.Duration
	// AuthSecret, when set, makes every hello carry a token signed with it
	// (HMAC, see MintToken); without one, play is anonymous.
	AuthSecret []byte
	// RateLimits bound what one session may send.
	RateLimits RateLimits
	// KCP tunes the transport.
	KCP KCPConfig
	// Matchmaker configures the matchmaker's queues (per mode: players,
	// teams, skill windows, waits); nil means match.Config{}: every mode
	// gets match.DefaultQueue, free-for-all matches of 2 to 8.
	Matchmaker *match.Config
	// Webhooks, when set, receives room and player events for the game's
	// backend (room created and closed, player joined and left). The tick
	// only enqueues: a slow backend never holds it. The server neither
	// starts nor stops it: its owner does.
	Webhooks *webhook.Dispatcher
	// Cluster, when set, makes this relay a node of a cluster sharing one
	// lobby (see relay/cluster and docs/cluster.md): its rooms are listed
	// and found by code on every node, players are redirected to the node
	// of the room they join, new rooms go to the least loaded node, and
	// direct messages, lobby channels and bans reach every node. As with
	// Webhooks, the server neither starts nor stops it: its owner closes it
	// after the server's Shutdown.
	Cluster *cluster.Node
	// Logger receives the server's logs. The zero value logs nothing.
	Logger zerolog.Logger
	// Clock drives the tick; nil means the system clock. For tests.
	Clock tick.Clock

	mu         sync.Mutex // guards the fields below
	quota      *admit.Quota
	transports []transport
	kcp        *kcplink.Transport // the first KCP transport, for Stats
	ws         *wslink.Transport  // the WebSocket transport, once ServeWebSocket ran
	pending    []link.Link        // accepted, not yet adopted by the tick
	ops        chan func()        // operator calls for the tick (operator.go)
	bans       *banList
	startedAt  time.Time
	started    bool
	closing    bool          // Shutdown or Close was called
	shutdown   chan struct{} // closed when Shutdown asks the tick to close players
	drained    chan struct{} // closed by the tick when no player is left after shutdown
	stopTick   context.CancelFunc
	closeOnce  sync.Once
	wg         sync.WaitGroup

	loop  *tick.Loop // set by start, guarded by mu
	stats counters

	// Owned by the tick goroutine.
	hub        *hub
	spareItems []link.Inbound // the last drained inbox, reused
	lastWork   time.Duration  // how long the last tick took
	gc         *gcPacer       // collections between ticks
	live       []link.Link
	shutSeen   bool
	drainDone  bool
}

// WebSocketConfig configures the WebSocket transport. Zero fields take the
// defaults.
type WebSocketConfig struct {
	// Path is the endpoint's URL path. Default "/".
	Path string
	// AllowedOrigins lists the page origins that may connect (host
	// patterns such as "*.itch.zone", or "https://game.example.com").
	// Empty allows every origin: a web export is usually served from
	// another site than the relay's.
	AllowedOrigins []string
	// TrustedProxies are reverse proxies in front of the relay: for their
	// connections the client's address is read from X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// TLSCertFile and TLSKeyFile make the relay serve wss:// itself; the
	// files are read again when they change.
	TLSCertFile, TLSKeyFile string
	// MaxQueued is how many ticks of output may wait for a client's socket
	// before its frames are held back and merged. Default 4.
	MaxQueued int
}

// KCPConfig holds transport settings. Zero fields take the defaults, tuned
// for games: no delay, 10 ms interval, fast resend after 2 skipped acks, no
// congestion control, 128-packet windows, 1200-byte MTU.
type KCPConfig struct {
	MTU        int // bytes per UDP payload; default 1200 (safe on internet paths)
	SendWindow int // packets; default 128
	// MaxInFlight is how many messages (frames and replies) a client may
	// leave unacknowledged before its frames are held back, the next one
	// it gets carrying the delta since the last: default 8, about a
	// quarter second of frames at 30 Hz, at most 64. Frames queued behind
	// more would only arrive staler, and each one is resent when the
	// client stops acknowledging: a low bound keeps an overloaded client
	// (or server) from drowning in resends.
	MaxInFlight int
	RecvWindow  int // packets; default 128
	Interval    int // ms between KCP updates; default 10
	Resend      int // fast resend after this many skipped acks; default 2, -1 disables
	// MinRTO is the least time, in ms, before an unacknowledged packet is
	// sent again: default kcp-go's 30 plus one tick (63 at 30 Hz). Clients
	// may hold their acks for up to about a tick to send them with their
	// next state (the Godot client does, by default); with kcp-go's bound
	// alone, frames that were not lost went twice.
	MinRTO       int
	Congestion   bool
	SocketBuffer int // bytes for the UDP socket's send and receive buffers; default 4 MiB
}

func (s *Server) addr() string {
	if s.Addr == "" {
		return ":7777"
	}
	return s.Addr
}

func (s *Server) resumeGrace() time.Duration {
	if s.ResumeGrace < 0 {
		return 0
	}
	return dflt.Or(s.ResumeGrace, 15*time.Second)
}

func (s *Server) authSecret() []byte {
	if len(s.AuthSecret) == 0 {
		return nil
	}
	return s.AuthSecret
}

func (s *Server) maxFrameSize() int { return dflt.Or(s.MaxFrameSize, 16<<10) }

// kcpConfig is the KCP transport's configuration.
func (s *Server) kcpConfig() kcplink.Config {
	c := s.KCP
	return kcplink.Config{
		MTU: c.MTU, SendWindow: c.SendWindow, RecvWindow: c.RecvWindow, Interval: c.Interval,
		Resend: c.Resend, MinRTO: c.MinRTO, MaxInFlight: c.MaxInFlight, Congestion: c.Congestion,
		SocketBuffer: c.SocketBuffer, TickRate: s.TickRate, MaxFrameSize: s.maxFrameSize(),
		InboxSize: s.InboxSize, HandshakeTimeout: s.HandshakeTimeout,
	}
}

// wsConfig is the WebSocket transport's configuration.
func (s *Server) wsConfig() wslink.Config {
	w := s.WebSocket
	return wslink.Config{
		Path: w.Path, MaxFrameSize: s.maxFrameSize(), InboxSize: s.InboxSize, MaxQueued: w.MaxQueued,
		HandshakeTimeout: s.HandshakeTimeout, AllowedOrigins: w.AllowedOrigins,
		TrustedProxies: w.TrustedProxies, TLSCertFile: w.TLSCertFile, TLSKeyFile: w.TLSKeyFile,
		Log: s.Logger,
	}
}

// matchmakerConfig is the matchmaker's configuration: Matchmaker, or the
// defaults.
func (s *Server) matchmakerConfig() *match.Config {
	if s.Matchmaker != nil {
		return s.Matchmaker
	}
	return &match.Config{}
}

// quotaConfig is the admission budget every transport shares.
func (s *Server) quotaConfig() admit.Config {
	return admit.Config{
		NewPerSec:        s.NewSessionRate,
		MaxPendingPerIP:  s.MaxHandshakesPerIP,
		MaxSessionsPerIP: s.MaxSessionsPerIP,
		MaxSessions:      dflt.Or(s.MaxSessions, 10000),
	}
}

func (s *Server) hubConfig(rate int) hubConfig {
	lim := s.Limits.WithDefaults()
	return hubConfig{
		limits:            lim,
		tickRate:          rate,
		maxPlayersPerRoom: min(dflt.Or(s.MaxPlayersPerRoom, 16), lim.MaxPlayers),
		maxRooms:          dflt.Or(s.MaxRooms, 10000),
		maxListed:         dflt.Or(s.MaxListedRooms, 100),
		emptyRoomGrace:    dflt.Or(s.EmptyRoomGrace, 10*time.Second),
		slowTimeout:       dflt.Or(s.SlowClientTimeout, 5*time.Second),
		maxPending:        dflt.Or(s.MaxPendingBytes, 256<<10),
		closeLinger:       dflt.Or(s.CloseLinger, 500*time.Millisecond),
		authSecret:        s.authSecret(),
		handshakeTimeout:  dflt.Or(s.HandshakeTimeout, 5*time.Second),
		resumeGrace:       s.resumeGrace(),
		idleTimeout:       dflt.Or(s.IdleTimeout, 10*time.Second),
		rateLimits:        s.RateLimits.withDefaults(),
		log:               s.Logger,
		bans:              s.bans,
		matchmaker:        s.matchmakerConfig(),
		hooks:             s.hook,
		cluster:           s.Cluster,
	}
}
