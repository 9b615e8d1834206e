// Package admit is the admission budget every transport of a relay shares:
// how many new sessions may start per second, how many may be half-open
// (admitted, not yet past their hello) and how many may be open, in total
// and per source IP (an IPv6 /64 counts as one). A KCP datagram and a
// WebSocket upgrade from the same host draw on the same counts, so a
// second transport does not double what one host or one flood can hold.
package admit

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickrelay/tickrelay/internal/dflt"
)

// Config sets the caps. Zero fields take the defaults.
type Config struct {
	NewPerSec        float64 // sessions admitted per second, all sources; default 200
	NewBurst         int     // token bucket size; default 200
	MaxPending       int     // admitted, not yet established, in total; default 128
	MaxPendingPerIP  int     // the same per source IP; default 4
	MaxSessionsPerIP int     // pending + established per source IP; default 32
	MaxSessions      int     // pending + established in total; default 10,000
}

// WithDefaults returns c with every zero field set.
func (c Config) WithDefaults() Config {
	if c.NewPerSec <= 0 {
		c.NewPerSec = 200
	}
	c.NewBurst = dflt.Or(c.NewBurst, 200)
	c.MaxPending = dflt.Or(c.MaxPending, 128)
	c.MaxPendingPerIP = dflt.Or(c.MaxPendingPerIP, 4)
	c.MaxSessionsPerIP = dflt.Or(c.MaxSessionsPerIP, 32)
	c.MaxSessions = dflt.Or(c.MaxSessions, 10000)
	return c
}

// Refusal says why a new session was not admitted (OK: it was).
type Refusal int

const (
	OK           Refusal = iota
	PerIPCap             // the source IP has its maximum of sessions
	PerIPPending         // the source IP has its maximum of half-open sessions
	PendingCap           // too many half-open sessions in total
	SessionCap           // the relay has its maximum of sessions
	RateCap              // over the new-session rate
	Banned               // the address is banned
	numRefusals
)

var refusalNames = [numRefusals]string{"ok", "per_ip_cap", "per_ip_pending", "pending_cap", "session_cap", "rate", "banned"}

func (r Refusal) String() string {
	if r < 0 || r >= numRefusals {
		return "unknown"
	}
	return refusalNames[r]
}

// Full reports whether r means the relay (or this host's share of it) has
// no room for another session: the client is told server_full rather than
// left to time out. Rate and pending refusals are what a flood meets, and
// get no answer.
func (r Refusal) Full() bool { return r == SessionCap || r == PerIPCap }

// Answered reports whether a client refused for r is told why (server_full
// or banned) instead of being left to time out.
func (r Refusal) Answered() bool { return r.Full() || r == Banned }

type ipCount struct{ pending, sessions int32 }

// Quota is the shared budget. Its methods are safe for concurrent use.
type Quota struct {
	cfg     Config
	limiter *rate.Limiter
	// last is the latest time the limiter was given: callers read the
	// clock before taking mu, and an earlier time would rewind the
	// limiter, which then refills the same interval twice.
	last time.Time

	mu       sync.Mutex
	perIP    map[netip.Addr]*ipCount
	pending  int
	sessions int
	free     []*ipCount
	// banned, when set, refuses addresses before anything is counted.
	banned func(netip.Addr) bool
}

// New returns a Quota with cfg's caps (defaults applied).
func New(cfg Config) *Quota {
	cfg = cfg.WithDefaults()
	return &Quota{
		cfg:     cfg,
		limiter: rate.NewLimiter(rate.Limit(cfg.NewPerSec), cfg.NewBurst),
		perIP:   make(map[netip.Addr]*ipCount),
	}
}

// Config returns the caps in force.
func (q *Quota) Config() Config { return q.cfg }

// SetBanned installs the address ban check (nil: none).
func (q *Quota) SetBanned(f func(netip.Addr) bool) {
	q.mu.Lock()
	q.banned = f
	q.mu.Unlock()
}

// IPKey is the per-source accounting key: the IPv4 address, or the /64 of
// an IPv6 address (one host or site usually holds a whole /64).
func IPKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is4() {
		return a
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return a
	}
	return p.Addr()
}

// Admit reserves a pending session for ip (an IPKey) at time now, or says
// why not. The checks that cost nothing come first, so a refused session
// spends no rate token.
func (q *Quota) Admit(ip netip.Addr, now time.Time) Refusal {
	q.mu.Lock()
	defer q.mu.Unlock()
	if now.Before(q.last) {
		now = q.last
	}
	q.last = now
	ic := q.perIP[ip]
	switch {
	case q.banned != nil && q.banned(ip):
		return Banned
	case ic != nil && int(ic.sessions) >= q.cfg.MaxSessionsPerIP:
		return PerIPCap
	case ic != nil && int(ic.pending) >= q.cfg.MaxPendingPerIP:
		return PerIPPending
	case q.pending >= q.cfg.MaxPending:
		return PendingCap
	case q.sessions >= q.cfg.MaxSessions:
		return SessionCap
	case !q.limiter.AllowN(now, 1):
		return RateCap
	}
	if ic == nil {
		ic = q.newCountLocked()
		q.perIP[ip] = ic
	}
	ic.pending++
	ic.sessions++
	q.pending++
	q.sessions++
	return OK
}

// Establish turns ip's pending session into an established one. With
// pending false it counts a session that is no longer pending (its pending
// reservation expired during a slow handshake) as established again.
func (q *Quota) Establish(ip netip.Addr, pending bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ic := q.perIP[ip]
	if !pending || ic == nil {
		if ic == nil {
			ic = q.newCountLocked()
			q.perIP[ip] = ic
		}
		ic.sessions++
		q.sessions++
		return
	}
	ic.pending--
	q.pending--
}

// Release gives back ip's session, pending or established.
func (q *Quota) Release(ip netip.Addr, pending bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ic := q.perIP[ip]
	if ic == nil {
		return
	}
	if pending {
		ic.pending--
		q.pending--
	}
	ic.sessions--
	q.sessions--
	if ic.sessions <= 0 {
		delete(q.perIP, ip)
		if len(q.free) < q.cfg.MaxPending {
			*ic = ipCount{}
			q.free = append(q.free, ic)
		}
	}
}

// Counts returns the pending and total sessions and the source IPs holding
// them.
func (q *Quota) Counts() (pending, sessions, sourceIPs int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending, q.sessions, len(q.perIP)
}

func (q *Quota) newCountLocked() *ipCount {
	if n := len(q.free); n > 0 {
		ic := q.free[n-1]
		q.free = q.free[:n-1]
		return ic
	}
	return new(ipCount)
}
