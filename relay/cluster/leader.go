package cluster

import (
	"context"
	"time"
)

// One node at a time runs the matchmaker: the one holding the leader
// bucket's key. A node takes the key when it is free (never written,
// deleted, or expired) with a write on the condition that the bucket is
// as it read it (so of nodes racing for it, one wins), and keeps it by
// rewriting it every TTL/4 on the condition that its own write is still
// the last; the bucket's TTL removes the key of a leader that stops (it
// died, or lost NATS), and a leader that could not rewrite the key for
// TTL/2 gives it up itself, before the key can expire and another node
// take it. A leader that leaves deletes the key (on the same condition),
// and another node takes it at its next cycle. The revision of the write
// that took the key is the leadership's term: it grows with each
// leadership, so an assignment from a replaced leader is told apart.
// leaderkey.go has the writes, and why their conditions are on the
// bucket's stream rather than on the key.

// IsMatchmakerLeader reports whether this node runs the cluster's
// matchmaker: it holds the leadership, and renewed it within TTL/2 (a
// leader whose renewals are late stops acting as one before its key can
// expire and another node take over).
func (n *Node) IsMatchmakerLeader() bool {
	return n.isLeader.Load() && n.cfg.now().UnixNano() < n.leaseUntil.Load()
}

// renewed records a successful write of the leader key at now.
func (n *Node) renewed(rs *runState, now time.Time) {
	rs.renewedAt = now
	n.leaseUntil.Store(now.Add(n.leaderTTLNow() / 2).UnixNano())
}

func (n *Node) leaderTTLNow() time.Duration { return time.Duration(n.leaderTTL.Load()) }

// Leader is the matchmaker's leader as this node knows it (0 for none) and
// its term.
func (n *Node) Leader() (node uint8, term uint64) {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderNode, n.leaderTerm
}

// leaderCycle renews this node's leadership, or seeks it when no node
// holds it.
func (n *Node) leaderCycle(rs *runState, lb *leaderBucket, now time.Time) {
	ttl := n.leaderTTLNow()
	if n.isLeader.Load() {
		if now.Sub(rs.renewedAt) < ttl/4 {
			return
		}
		rec := leaderRecord{Node: n.id, Term: rs.leaderTerm}
		ctx, cancel := context.WithTimeout(n.ctx, opTimeout)
		rev, err := lb.put(ctx, rec.append(nil), rs.leaderRev)
		cancel()
		switch {
		case err == nil:
			rs.leaderRev = rev
			n.renewed(rs, now)
			n.stats.writes.Add(1)
		case isWrongLastSequence(err):
			n.writeFailed(leaderKey, err)
			n.stepDown(rs, "the leader key changed hands")
		default:
			n.writeFailed(leaderKey, err)
			if now.Sub(rs.renewedAt) >= ttl/2 {
				n.stepDown(rs, "could not renew the leadership")
			}
		}
		return
	}
	if leader, _ := n.Leader(); leader != 0 || !n.Ready() || now.Before(rs.nextAcquire) {
		return
	}
	rs.nextAcquire = now.Add(writeInterval)
	ctx, cancel := context.WithTimeout(n.ctx, opTimeout)
	defer cancel()
	last, free, err := lb.free(ctx)
	if err != nil {
		n.setError(err)
		n.log.Debug().Err(err).Msg("cluster: reading the leader key")
		return
	}
	if !free {
		return // another node holds it, or the old key has not expired yet
	}
	rec := leaderRecord{Node: n.id}
	rev, err := lb.put(ctx, rec.append(nil), last)
	if err != nil {
		if !isWrongLastSequence(err) {
			n.writeFailed(leaderKey, err)
		}
		return // another node took it first
	}
	n.stats.writes.Add(1)
	rs.leaderRev, rs.leaderTerm = rev, rev
	n.renewed(rs, now)
	n.isLeader.Store(true)
	n.log.Info().Uint64("term", rev).Msg("cluster: this node now runs the matchmaker")
	n.noteLeader(n.id, rev, true)
}

// stepDown gives up the leadership (without touching the key: it is
// someone else's now, or out of reach).
func (n *Node) stepDown(rs *runState, why string) {
	if !n.isLeader.Load() {
		return
	}
	n.isLeader.Store(false)
	rs.leaderRev, rs.leaderTerm = 0, 0
	n.log.Warn().Str("reason", why).Msg("cluster: this node no longer runs the matchmaker")
	n.noteLeader(0, 0, true)
}

// noteLeader records who leads, and tells the relay when that changed.
// The run loop (self) is the authority on this node's own leadership:
// what the watch says of it is ignored while the run loop holds or seeks
// it.
func (n *Node) noteLeader(node uint8, term uint64, self bool) {
	n.leaderMu.Lock()
	if !self && (n.isLeader.Load() || node == n.id) {
		n.leaderMu.Unlock() // a rival's key fails this node's next renewal
		return
	}
	if node == n.leaderNode && term == n.leaderTerm {
		n.leaderMu.Unlock()
		return
	}
	n.leaderNode, n.leaderTerm = node, term
	n.leaderMu.Unlock()
	n.deliver(&LeaderChanged{Leader: node, Term: term})
}
