package relay

import (
	"time"

	"golang.org/x/time/rate"

	"github.com/tickrelay/tickrelay/codec"
)

// RateLimits bound what one session may send. Zero fields take defaults;
// a negative field disables that limit. Bursts are twice the rate.
type RateLimits struct {
	Messages float64 // messages per second; default 120 (a 60 fps client sends ~60 states)
	Bytes    float64 // bytes per second; default 64 KiB
	Chat     float64 // chat lines per second; default 4
	// Packets bounds peer packets (Godot's multiplayer API) per second,
	// counted instead of Messages: a scene synchronizes several nodes at
	// its tick rate. Default 600.
	Packets float64
	// Violations is how many dropped messages a session may cause in a
	// burst (refilling at one per second) before it is disconnected.
	// Default 50.
	Violations float64
}

func (l RateLimits) withDefaults() RateLimits {
	def := func(v, d float64) float64 {
		switch {
		case v == 0:
			return d
		case v < 0:
			return float64(rate.Inf)
		}
		return v
	}
	return RateLimits{
		Messages:   def(l.Messages, 120),
		Bytes:      def(l.Bytes, 64<<10),
		Chat:       def(l.Chat, 4),
		Packets:    def(l.Packets, 600),
		Violations: def(l.Violations, 50),
	}
}

// limiter is one session's set of token buckets. golang.org/x/time/rate
// takes the time as an argument, so the tick's clock drives it and tests
// stay deterministic.
type limiter struct {
	messages, bytes, chat, packets, violations *rate.Limiter
}

func newLimiter(l RateLimits) *limiter {
	l = l.withDefaults()
	mk := func(r float64) *rate.Limiter {
		return rate.NewLimiter(rate.Limit(r), int(min(max(2*r, 1), 1<<30)))
	}
	return &limiter{
		messages:   mk(l.Messages),
		bytes:      rate.NewLimiter(rate.Limit(l.Bytes), int(min(max(2*l.Bytes, 64<<10), 1<<30))),
		chat:       mk(l.Chat),
		packets:    mk(l.Packets),
		violations: rate.NewLimiter(1, int(min(max(l.Violations, 1), 1<<30))),
	}
}

// admit reports whether a message of n bytes may be handled now; peer
// packets count against their own rate.
func (l *limiter) admit(now time.Time, n int, packet bool) bool {
	count := l.messages
	if packet {
		count = l.packets
	}
	return count.AllowN(now, 1) && l.bytes.AllowN(now, n)
}

// violate records a dropped message and reports whether the session has
// now used up its violations.
func (l *limiter) violate(now time.Time) (disconnect bool) {
	return !l.violations.AllowN(now, 1)
}

// rateLimited drops a message: p is told, and disconnected when it keeps on.
// rid answers the dropped request (0 for messages without one).
func (h *hub) rateLimited(p *player, rid uint32, what string) {
	if p.limits.violate(h.now) {
		h.closePlayer(p, codec.CodeRateLimited, "repeatedly over the "+what+" rate limit")
		return
	}
	h.replyError(p, rid, codec.CodeRateLimited, "over the "+what+" rate limit: message dropped")
}
