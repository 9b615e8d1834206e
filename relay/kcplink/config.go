// Package kcplink is the relay's KCP transport: sessions of reliable UDP
// (kcp-go's KCP state machine, no encryption, no FEC, so a plain KCP client
// such as the GDScript addon interoperates) on one socket, with an
// admission filter in front of them, batched socket I/O, and one updater
// for every session's timers. Each session is a link.Link for the relay's
// tick; the rooms never see KCP.
package kcplink

import "time"

// Config tunes the transport. Zero fields take the defaults, tuned for
// games: no delay, 10 ms interval, fast resend after 2 skipped acks, no
// congestion control, 128-packet windows, 1200-byte MTU.
type Config struct {
	MTU        int // bytes per UDP payload; default 1200 (safe on internet paths)
	SendWindow int // packets; default 128
	RecvWindow int // packets; default 128
	Interval   int // ms between KCP updates; default 10
	Resend     int // fast resend after this many skipped acks; default 2, -1 disables
	// MinRTO is the least time, in ms, before an unacknowledged packet is
	// sent again: default kcp-go's 30 plus one tick (DefaultMinRTO).
	MinRTO int
	// MaxInFlight is how many messages a client may leave unacknowledged
	// before its link is busy (frames held back): default 8, at most 64.
	MaxInFlight  int
	Congestion   bool
	SocketBuffer int // bytes for the socket's send and receive buffers; default 4 MiB

	TickRate         int           // the relay's tick rate, for MinRTO's default
	MaxFrameSize     int           // largest client message body; default 16 KiB
	InboxSize        int           // messages a session may queue between ticks; default 64
	HandshakeTimeout time.Duration // a pending address is forgotten after this; default 5 s
}
