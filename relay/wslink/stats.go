package wslink

import (
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/tickrelay/tickrelay/relay/admit"
)

// counters are the transport's totals since it started.
type counters struct {
	accepted        atomic.Uint64
	handshakeFailed atomic.Uint64
	refused         [8]atomic.Uint64 // by admit.Refusal
	fullReplies     atomic.Uint64
	refusedText     atomic.Uint64
	refusedLarge    atomic.Uint64
	messagesOut     atomic.Uint64
	bytesOut        atomic.Uint64
}

// Stats is a snapshot of the transport's counters.
type Stats struct {
	Accepted        uint64            // connections upgraded and handed to the relay
	HandshakeFailed uint64            // upgrade requests that failed (bad handshake, origin refused)
	Refused         map[string]uint64 // connections refused at admission, by reason
	FullReplies     uint64            // refused connections told why in the protocol (server_full, banned)
	TextMessages    uint64            // connections closed for sending a text message
	TooLarge        uint64            // connections closed for a message over the limit
	MessagesOut     uint64
	BytesOut        uint64 // message bodies written
	Open            int    // connections open now
}

// Stats returns a snapshot; safe to call at any time.
func (t *Transport) Stats() Stats {
	s := Stats{
		Accepted:        t.stats.accepted.Load(),
		HandshakeFailed: t.stats.handshakeFailed.Load(),
		Refused:         map[string]uint64{},
		FullReplies:     t.stats.fullReplies.Load(),
		TextMessages:    t.stats.refusedText.Load(),
		TooLarge:        t.stats.refusedLarge.Load(),
		MessagesOut:     t.stats.messagesOut.Load(),
		BytesOut:        t.stats.bytesOut.Load(),
	}
	for i := range t.stats.refused {
		if v := t.stats.refused[i].Load(); v > 0 {
			s.Refused[admit.Refusal(i).String()] = v
		}
	}
	t.mu.Lock()
	s.Open = len(t.conns)
	t.mu.Unlock()
	return s
}

// newReplyLimiter bounds server_full answers, which cost an upgrade each.
func newReplyLimiter() *rate.Limiter { return rate.NewLimiter(20, 20) }
