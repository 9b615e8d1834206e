package cluster

import "sync/atomic"

// Why a message was dropped.
const (
	dropInboxFull     = "inbox_full"      // the relay did not drain Inbox in time
	dropSeatQueueFull = "seat_queue_full" // SeatRequests was full: refused as busy
	dropOutboundFull  = "outbound_full"   // too many messages waiting to be sent
	dropPublishFailed = "publish_failed"  // NATS refused it (disconnected)
	dropMalformed     = "malformed"       // a record or message that does not decode
	dropNotLeader     = "not_leader"      // matchmaker traffic for a leader this node no longer is
	dropStaleLeader   = "stale_leader"    // an assignment from a leader since replaced
	dropRoomRefused   = "room_refused"    // a room over the directory's limits, not shared
)

var dropReasons = []string{
	dropInboxFull, dropSeatQueueFull, dropOutboundFull, dropPublishFailed, dropMalformed,
	dropNotLeader, dropStaleLeader, dropRoomRefused,
}

// Stats counts what the node did, for the relay's metrics.
type Stats struct {
	// Sent and Received count messages to and from other nodes by kind
	// ("dm", "channel_line", "ticket_add", "seat_request", ...).
	Sent, Received map[string]uint64
	// Drops counts messages dropped, by reason: "inbox_full",
	// "seat_queue_full", "outbound_full", "publish_failed", "malformed",
	// "not_leader", "stale_leader", "room_refused" (a published room over
	// the directory's limits: 256-byte code and mode, 64 properties of
	// 64-byte keys and 4 KiB values).
	Drops map[string]uint64
	// RecordWrites and RecordDeletes count this node's directory writes
	// (rooms, its node record, the leader key); WriteErrors the failed ones.
	RecordWrites, RecordDeletes, WriteErrors uint64
	// WatchRestarts counts restarts of the directory watch (after a
	// reconnect, or a watch that went quiet).
	WatchRestarts uint64
}

type counters struct {
	sent, received               [kindSeatReply + 1]atomic.Uint64
	drops                        map[string]*atomic.Uint64
	writes, deletes, writeErrors atomic.Uint64
	watchRestarts                atomic.Uint64
}

func (c *counters) init() {
	c.drops = make(map[string]*atomic.Uint64, len(dropReasons))
	for _, r := range dropReasons {
		c.drops[r] = new(atomic.Uint64)
	}
}

func (c *counters) drop(reason string) { c.drops[reason].Add(1) }

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	c := &n.stats
	s := Stats{
		Sent: map[string]uint64{}, Received: map[string]uint64{}, Drops: map[string]uint64{},
		RecordWrites: c.writes.Load(), RecordDeletes: c.deletes.Load(), WriteErrors: c.writeErrors.Load(),
		WatchRestarts: c.watchRestarts.Load(),
	}
	for k := range c.sent {
		if v := c.sent[k].Load(); v > 0 {
			s.Sent[msgKind(k).String()] = v
		}
		if v := c.received[k].Load(); v > 0 {
			s.Received[msgKind(k).String()] = v
		}
	}
	for r, v := range c.drops {
		s.Drops[r] = v.Load()
	}
	return s
}
