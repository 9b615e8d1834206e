package kcplink

// admission: admission control in front of KCP. The server's transport
// asks it about every datagram from an address without a session, before
// one exists.
//
// A KCP server naively creates a session for any datagram of 24 bytes or
// more from an address it does not know (kcp-go's listener does, at about
// 270 KiB of heap each in v5.6.72), and kcp-go replaces a live session
// when a packet from the same address carries another conv with sn 0. The
// admission table decides, before any session is spent, whether a datagram
// may reach KCP at all.
//
// Covered:
//   - Junk: any datagram from an unknown address that is not a plausible
//     session start (a KCP PUSH with sn 0 whose data begins with a frame
//     header and a hello array) is dropped. It costs one table lookup and a
//     few byte comparisons; it never allocates a session.
//   - Hello floods: new sessions are admitted at most at a global rate
//     (token bucket, default 200/s, burst 200). At most 128 admitted
//     addresses may be pending (admitted, not yet past hello) at once, at
//     most 4 per source IP, and one source IP (an IPv6 /64 counts as one)
//     may hold at most 32 pending-or-established sessions, so one host
//     cannot take the server. The total of pending and established sessions
//     is capped too (default 10,000: set it to Server.MaxSessions).
//   - Session hijack/reset: a packet from a known address whose conv differs
//     from the conv recorded for that address is dropped, so a spoofed or
//     stale sn-0 packet cannot make kcp-go replace a live player's session.
//     (A client that reconnects from the same address and port with a new
//     conv is refused until its old session is forgotten: at most the idle
//     timeout.)
//   - The filter's own memory is bounded by the caps: one table entry per
//     pending or established address, one counter per source IP with such
//     an entry, and a free list of at most maxPending entries. Pending
//     entries expire lazily (ReadFrom checks the head of a time-ordered
//     list), never with a timer per entry.
//
// Not covered:
//   - Spoofed sources. KCP has no handshake and protocol v1 has no
//     return-routability cookie, so a sender that forges source addresses
//     can send well-formed hellos that are admitted up to the rate and the
//     caps. Each admitted hello costs a session and a player: 7.6 KiB of
//     heap with the relay's own transport (TestTransportMemoryPerSession);
//     ~295 KiB when kcp-go's UDPSession sits behind filterConn.
//     . While pending (before the server accepts the hello): at most
//     maxPending of them, 128 x 7.6 KiB ~= 1 MiB.
//     . But the hello IS valid: the server accepts it and calls established,
//     which frees the pending slot. A silent spoofed session then lives
//     until the idle timeout (10 s) + close linger (0.5 s): at the default
//     rate up to 200/s x 10.5 s = 2,100 sessions ~= 16 MiB. A spoofer that
//     also sends pings blindly (conv and sn are its own choice; nothing in
//     them is secret) keeps them open for good, up to maxSessions x
//     7.6 KiB (10,000 -> ~76 MiB). Size newPerSec and maxSessions to the
//     machine's memory; the per-IP caps only stop senders that cannot
//     forge addresses.
//     . A real fix needs a protocol change: a stateless cookie (the server
//     answers a first hello with HMAC(addr, conv, time) and admits only a
//     hello that echoes it, as QUIC's Retry does).
//   - Amplification. For an admitted spoofed hello (34 bytes of UDP payload
//     with a one-byte name) the server sends the forged source a 24-byte
//     ack and a welcome of ~79 bytes (55-byte frame + 24-byte KCP header),
//     retransmitted with KCP's RTO backoff (nodelay and no RTT sample:
//     200 ms, +100 ms per try: t = 0, .2, .5, .9, 1.4, 2.0, 2.7, 3.5, 4.4,
//     5.4, 6.5, 7.7, 9.0, 10.4 s, 14 sends) until the idle timeout, then a
//     ~73-byte close sent 2-3 times in the 0.5 s linger: 24 + 14 x 79 +
//     3 x 73 ~= 1.35 KB of UDP payload, ~1.85 KB on the wire with IPv4/UDP
//     headers, per spoofed hello (~40x the payload, ~30x on the wire;
//     TestFloodAmplification measures it with a 2 s idle timeout). The
//     admission rate bounds the total to ~200 x 1.3 KB/s ~= 0.26 MB/s, and
//     the per-IP cap to 32 concurrent sessions per victim IP. A spoofer
//     that blindly follows its hello with join_or_create into a busy public
//     room makes the server stream room frames to the victim until the
//     slow-consumer timeout: up to a full send window (128 x 1200 B)
//     retransmitted ~10 times, ~1.5 MB per spoofed session (an estimate,
//     not measured). Only a
//     return-routability check (above) fixes that.
//   - Volumetric floods that fill the link or the socket's receive buffer:
//     the filter runs after the kernel has queued the datagram.
//
// The server's transport (transport.go) uses the admission table directly:
// its reader calls admit for every datagram from an address it has no
// session for, and checks a live session's datagrams itself with
// checkKnown, the same test the table applies to a known address, and
// counts them here. (filterConn, the same table as a PacketConn wrapper in
// front of kcp-go's own listener, lives in the tests.)

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/dflt"
	"github.com/tickrelay/tickrelay/relay/admit"
)

// filterConfig configures an admission table. Zero fields take the
// defaults. The caps are admit.Config's: a table given a shared Quota uses
// the Quota's caps and ignores these.
type filterConfig struct {
	newPerSec        float64       // sessions admitted per second, all sources; default 200
	newBurst         int           // token bucket size; default 200
	maxPending       int           // admitted, not yet established, in total; default 128
	maxPendingPerIP  int           // the same per source IP; default 4
	maxSessionsPerIP int           // pending + established per source IP; default 32
	maxSessions      int           // pending + established in total; default 10,000
	pendingTimeout   time.Duration // a pending address is forgotten after this; default 5 s
	maxFrameSize     int           // largest frame body a hello may declare; default 16 KiB
	now              func() time.Time
}

func (c filterConfig) withDefaults() filterConfig {
	q := c.quotaConfig().WithDefaults()
	c.newPerSec, c.newBurst, c.maxPending = q.NewPerSec, q.NewBurst, q.MaxPending
	c.maxPendingPerIP, c.maxSessionsPerIP, c.maxSessions = q.MaxPendingPerIP, q.MaxSessionsPerIP, q.MaxSessions
	c.pendingTimeout = dflt.Or(c.pendingTimeout, 5*time.Second)
	c.maxFrameSize = dflt.Or(c.maxFrameSize, 16<<10)
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

func (c filterConfig) quotaConfig() admit.Config {
	return admit.Config{
		NewPerSec: c.newPerSec, NewBurst: c.newBurst, MaxPending: c.maxPending,
		MaxPendingPerIP: c.maxPendingPerIP, MaxSessionsPerIP: c.maxSessionsPerIP, MaxSessions: c.maxSessions,
	}
}

// dropReason says why a datagram was not handed to kcp-go.
type dropReason int

const (
	dropJunk         dropReason = iota // not a plausible session start from an unknown address, or malformed
	dropRate                           // the global admission rate was exceeded
	dropPendingCap                     // too many pending addresses in total
	dropPerIPCap                       // too many pending or established sessions for the source IP
	dropSessionCap                     // too many pending + established sessions in total
	dropConvMismatch                   // known address, another conv
	dropBanned                         // the address is banned
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"junk", "rate", "pending_cap", "per_ip_cap", "session_cap", "conv_mismatch", "banned"}

// dropFor maps a quota refusal to the drop it counts as.
func dropFor(r admit.Refusal) dropReason {
	switch r {
	case admit.RateCap:
		return dropRate
	case admit.PendingCap:
		return dropPendingCap
	case admit.SessionCap:
		return dropSessionCap
	case admit.Banned:
		return dropBanned
	}
	return dropPerIPCap
}

func (r dropReason) String() string { return dropReasonNames[r] }

// FilterStats counts what the datagram filter in front of KCP let through
// and dropped, by reason.
type FilterStats struct {
	Passed, PassedBytes   uint64 // datagrams handed to KCP
	Dropped, DroppedBytes uint64 // datagrams dropped, for any reason
	Drops                 map[string]uint64
	Admitted              uint64 // unknown addresses let through: each may create a kcp-go session
	Established           uint64 // established calls
	Forgotten             uint64 // forget calls that removed an entry
	Expired               uint64 // pending entries that timed out
	Sent, SentBytes       uint64 // datagrams the server sent
	SendRefused           uint64 // datagrams the kernel refused (socket buffer full), dropped
	FullReplies           uint64 // hellos answered with close server_full, without a session
	Pending               int    // KCP addresses pending now
	Sessions              int    // KCP addresses pending or established now
	SourceIPs             int    // source IPs (IPv6: /64s) holding a session on any transport
}

// filterEntry is one pending or established address.
type filterEntry struct {
	key        netip.AddrPort
	ip         netip.Addr // per-IP accounting key
	conv       uint32
	pending    bool
	expires    time.Time    // pending only
	prev, next *filterEntry // pending list, oldest first
}

// admission is the filter's table and counters, usable without a
// PacketConn: the transport calls admit for every datagram from an unknown
// address, and establishedKey and forgetKey as sessions say hello and
// close. Counts per source IP and in total live in the shared admit.Quota,
// which the relay's other transports draw on too.
type admission struct {
	cfg   filterConfig
	quota *admit.Quota
	// replies bounds the server_full answers sent without a session, so
	// a flood of hellos at a full server draws few datagrams.
	replies *rate.Limiter

	mu       sync.Mutex
	table    map[netip.AddrPort]*filterEntry
	head     *filterEntry // oldest pending
	tail     *filterEntry // newest pending
	nPending int
	free     []*filterEntry // recycled entries, at most cfg.maxPending

	passed, passedBytes   atomic.Uint64
	dropped, droppedBytes atomic.Uint64
	drops                 [numDropReasons]atomic.Uint64
	admitted, establishN  atomic.Uint64
	forgotten, expired    atomic.Uint64
	sent, sentBytes       atomic.Uint64
	sendRefused           atomic.Uint64
	fullReplies           atomic.Uint64
}

// fullReplyRate is how many server_full answers per second (and in a
// burst) a transport sends at most.
const fullReplyRate = 50

// newAdmission returns a table with a quota of its own, from cfg's caps.
func newAdmission(cfg filterConfig) *admission {
	cfg = cfg.withDefaults()
	return newAdmissionQuota(cfg, admit.New(cfg.quotaConfig()))
}

// newAdmissionQuota returns a table drawing on a shared quota.
func newAdmissionQuota(cfg filterConfig, q *admit.Quota) *admission {
	cfg = cfg.withDefaults()
	qc := q.Config()
	cfg.newPerSec, cfg.newBurst, cfg.maxPending = qc.NewPerSec, qc.NewBurst, qc.MaxPending
	cfg.maxPendingPerIP, cfg.maxSessionsPerIP, cfg.maxSessions = qc.MaxPendingPerIP, qc.MaxSessionsPerIP, qc.MaxSessions
	return &admission{
		cfg:     cfg,
		quota:   q,
		replies: rate.NewLimiter(fullReplyRate, fullReplyRate),
		table:   make(map[netip.AddrPort]*filterEntry),
	}
}

// KCP segment layout (little-endian), PROTOCOL.md section 1.
const (
	kcpHeaderSize = 24
	kcpCmdPush    = 81
	kcpCmdAck     = 82
	kcpCmdWask    = 83
	kcpCmdMax     = 84
	kcpOffCmd     = 4
	kcpOffSN      = 12
	kcpOffLen     = 20
)

// classifyHello reports whether b, a whole datagram, is a plausible start of
// a session: its first KCP segment is a PUSH with sn 0 whose length fits the
// datagram and whose data begins with a frame header (body length 5 to
// maxFrame) and a msgpack array of 4 to 64 elements whose first element is
// 1 (hello). It returns the segment's conv. It does not decode msgpack.
//
// frg is not checked: a hello larger than one segment (an auth token or
// props of a few KiB) arrives from ikcp-style clients (the Godot addon) as
// a first segment with frg > 0, while kcp-go clients send frg 0 messages.
// The data prefix is checked either way.
func classifyHello(b []byte, maxFrame int) (conv uint32, ok bool) {
	if len(b) < kcpHeaderSize || b[kcpOffCmd] != kcpCmdPush || binary.LittleEndian.Uint32(b[kcpOffSN:]) != 0 {
		return 0, false
	}
	n := binary.LittleEndian.Uint32(b[kcpOffLen:])
	if uint64(n) > uint64(len(b)-kcpHeaderSize) {
		return 0, false
	}
	d := b[kcpHeaderSize : kcpHeaderSize+int(n)]
	if len(d) < 6 {
		return 0, false
	}
	if body := binary.BigEndian.Uint32(d); body < 5 || uint64(body) > uint64(maxFrame) {
		return 0, false
	}
	var elems uint32
	var typeAt int
	switch h := d[4]; {
	case h >= 0x94 && h <= 0x9f: // fixarray of 4 to 15
		elems, typeAt = uint32(h&0x0f), 5
	case h == 0xdc && len(d) >= 8: // array 16
		elems, typeAt = uint32(binary.BigEndian.Uint16(d[5:])), 7
	case h == 0xdd && len(d) >= 10: // array 32 (not minimal, but the codec accepts it)
		elems, typeAt = binary.BigEndian.Uint32(d[5:]), 9
	default:
		return 0, false
	}
	if elems < 4 || elems > 64 || d[typeAt] != 0x01 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// addrKey returns the table key for a: the address with an IPv4-mapped IPv6
// address unmapped, as kcp-go's string keys treat them alike.
func addrKey(a net.Addr) (netip.AddrPort, bool) {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	case nil:
		return ap, false
	default:
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return ap, false
		}
	}
	return normKey(ap), ap.IsValid()
}

// normKey unmaps an IPv4-mapped IPv6 address, without allocating.
func normKey(ap netip.AddrPort) netip.AddrPort {
	if !ap.Addr().Is4In6() {
		return ap
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func ipKey(a netip.Addr) netip.Addr { return admit.IPKey(a) }

// admit decides one datagram's fate and counts it; key is its source,
// normalised by addrKey or normKey. A hello refused for a reason the client
// is told (admit.Refusal.Answered) comes with the close code to answer it
// with: server_full or banned.
func (f *admission) admit(b []byte, key netip.AddrPort) (ok bool, answer codec.Code) {
	r, refusal, ok := f.check(b, key)
	f.count(r, ok, len(b))
	switch {
	case refusal == admit.Banned:
		answer = codec.CodeBanned
	case refusal.Full():
		answer = codec.CodeServerFull
	}
	return ok, answer
}

func (f *admission) count(r dropReason, ok bool, n int) {
	if ok {
		f.passed.Add(1)
		f.passedBytes.Add(uint64(n))
		return
	}
	f.dropped.Add(1)
	f.droppedBytes.Add(uint64(n))
	f.drops[r].Add(1)
}

// allowReply reports whether a refusal may be answered now, and counts
// it.
func (f *admission) allowReply() bool {
	if !f.replies.Allow() {
		return false
	}
	f.fullReplies.Add(1)
	return true
}

// countSent counts datagrams the server sent and their bytes, and those
// the kernel refused.
func (f *admission) countSent(datagrams, bytes, refused int) {
	f.sent.Add(uint64(datagrams))
	f.sentBytes.Add(uint64(bytes))
	if refused > 0 {
		f.sendRefused.Add(uint64(refused))
	}
}

// checkKnown decides the fate of a datagram from an address whose session
// has conv: it must be KCP with that conv.
func checkKnown(b []byte, conv uint32) (dropReason, bool) {
	switch {
	case len(b) < kcpHeaderSize || b[kcpOffCmd] < kcpCmdPush || b[kcpOffCmd] > kcpCmdMax:
		return dropJunk, false // kcp-go would ignore it, or read it as FEC
	case binary.LittleEndian.Uint32(b) != conv:
		return dropConvMismatch, false
	}
	return 0, true
}

// check decides one datagram's fate.
func (f *admission) check(b []byte, key netip.AddrPort) (dropReason, admit.Refusal, bool) {
	now := f.cfg.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expireLocked(now)
	if e := f.table[key]; e != nil {
		r, ok := checkKnown(b, e.conv)
		return r, admit.OK, ok
	}
	conv, ok := classifyHello(b, f.cfg.maxFrameSize)
	if !ok {
		return dropJunk, admit.OK, false
	}
	ip := ipKey(key.Addr())
	if r := f.quota.Admit(ip, now); r != admit.OK {
		return dropFor(r), r, false
	}
	e := f.newEntryLocked()
	*e = filterEntry{key: key, ip: ip, conv: conv, pending: true, expires: now.Add(f.cfg.pendingTimeout)}
	f.pushLocked(e)
	f.table[key] = e
	f.admitted.Add(1)
	return 0, admit.OK, true
}

// establishedKey records that the session at key said hello with conv: it
// stops being pending and no longer expires.
func (f *admission) establishedKey(key netip.AddrPort, conv uint32) {
	f.establishN.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.table[key]
	switch {
	case e == nil:
		// Its pending entry expired (a slow handshake) or the filter
		// never saw it: the session exists, so record it.
		e = f.newEntryLocked()
		*e = filterEntry{key: key, ip: ipKey(key.Addr())}
		f.table[key] = e
		f.quota.Establish(e.ip, false)
	case e.pending:
		f.unlinkLocked(e)
		f.quota.Establish(e.ip, true)
	}
	e.conv = conv
}

// forgetKey drops key from the table: its session is closed. A later
// datagram from it must earn admission again.
func (f *admission) forgetKey(key netip.AddrPort) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.table[key]; e != nil {
		f.removeLocked(e)
		f.forgotten.Add(1)
	}
}

// expireLocked drops pending entries whose time is up. The list is in
// admission order and the timeout is fixed, so only its head is checked.
func (f *admission) expireLocked(now time.Time) {
	for f.head != nil && !now.Before(f.head.expires) {
		f.removeLocked(f.head)
		f.expired.Add(1)
	}
}

func (f *admission) removeLocked(e *filterEntry) {
	pending := e.pending
	if pending {
		f.unlinkLocked(e)
	}
	f.quota.Release(e.ip, pending)
	delete(f.table, e.key)
	if len(f.free) < f.cfg.maxPending {
		*e = filterEntry{}
		f.free = append(f.free, e)
	}
}

func (f *admission) pushLocked(e *filterEntry) {
	e.prev = f.tail
	if f.tail != nil {
		f.tail.next = e
	} else {
		f.head = e
	}
	f.tail = e
	f.nPending++
}

func (f *admission) unlinkLocked(e *filterEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		f.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		f.tail = e.prev
	}
	e.prev, e.next, e.pending = nil, nil, false
	f.nPending--
}

func (f *admission) newEntryLocked() *filterEntry {
	if n := len(f.free); n > 0 {
		e := f.free[n-1]
		f.free = f.free[:n-1]
		return e
	}
	return new(filterEntry)
}

// stats returns the counters and the table's current size.
func (f *admission) stats() FilterStats {
	s := FilterStats{
		Passed:       f.passed.Load(),
		PassedBytes:  f.passedBytes.Load(),
		Dropped:      f.dropped.Load(),
		DroppedBytes: f.droppedBytes.Load(),
		Drops:        make(map[string]uint64, numDropReasons),
		Admitted:     f.admitted.Load(),
		Established:  f.establishN.Load(),
		Forgotten:    f.forgotten.Load(),
		Expired:      f.expired.Load(),
		Sent:         f.sent.Load(),
		SentBytes:    f.sentBytes.Load(),
		SendRefused:  f.sendRefused.Load(),
		FullReplies:  f.fullReplies.Load(),
	}
	for r := range numDropReasons {
		s.Drops[r.String()] = f.drops[r].Load()
	}
	f.mu.Lock()
	f.expireLocked(f.cfg.now()) // datagrams of known sessions skip check, and expiry
	s.Pending, s.Sessions = f.nPending, len(f.table)
	_, _, s.SourceIPs = f.quota.Counts()
	f.mu.Unlock()
	return s
}
