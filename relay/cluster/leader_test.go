package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// testLeaderKeyRace: contenders on every node's connection race for the
// key of a leader bucket (a replicated one of the test's own, so that the
// nodes' run loops stay out of it), round after round. Each round every
// contender reads the key free, all write at once, and exactly one wins;
// the losers' writes are refused as a wrong last sequence. Then a renewal
// or a delete with a stale sequence fails, and the bucket's own reads
// (KeyValue's Get) see the writes as KeyValue's would be.
func testLeaderKeyRace(t *testing.T, nodes []*Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*joinBound)
	defer cancel()
	const bucket = "leader_race"
	_, err := nodes[0].js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: bucket, TTL: time.Minute, History: 1, Storage: jetstream.MemoryStorage,
		Replicas: len(nodes), LimitMarkerTTL: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nodes[0].js.DeleteKeyValue(context.Background(), bucket) }()
	var contenders []*leaderBucket
	for _, n := range nodes {
		for range 2 {
			kv, err := n.js.KeyValue(ctx, bucket)
			if err != nil {
				t.Fatal(err)
			}
			stream, err := n.js.Stream(ctx, "KV_"+bucket)
			if err != nil {
				t.Fatal(err)
			}
			contenders = append(contenders, newLeaderBucket(n.js, kv, stream))
		}
	}
	var free uint64 // the stream's last sequence while the key is free
	var lastTerm uint64
	for round := range 5 {
		for i, c := range contenders {
			// A read may be served by a replica a little behind.
			waitFor(t, changeBound, "contenders read the key free", func() bool {
				last, ok, err := c.free(ctx)
				if err != nil {
					t.Logf("round %d, contender %d: %v", round, i, err)
				}
				return err == nil && ok && last == free
			})
		}
		revs := make([]uint64, len(contenders))
		errs := make([]error, len(contenders))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, c := range contenders {
			wg.Go(func() {
				rec := leaderRecord{Node: uint8(i + 1)}
				<-start
				revs[i], errs[i] = c.put(ctx, rec.append(nil), free)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: contenders %d and %d both took the key", round, winner, i)
			case err == nil:
				winner = i
			case !isWrongLastSequence(err):
				t.Errorf("round %d: contender %d lost with %v, want a wrong last sequence", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no contender took the free key: %v", round, errs)
		}
		w, term := contenders[winner], revs[winner]
		if term <= lastTerm {
			t.Errorf("round %d: term %d after %d: terms must grow", round, term, lastTerm)
		}
		lastTerm = term
		loser := contenders[(winner+1)%len(contenders)]
		waitFor(t, changeBound, "KeyValue's Get reads the winner's record", func() bool {
			e, err := loser.kv.Get(ctx, leaderKey)
			if err != nil {
				return false
			}
			rec, err := decodeLeader(e.Value())
			return err == nil && e.Revision() == term && e.Operation() == jetstream.KeyValuePut && rec.Node == uint8(winner+1)
		})

		// The winner renews; a renewal or a delete with a stale sequence
		// (the loser's, or the winner's own before its renewal) fails.
		rec := leaderRecord{Node: uint8(winner + 1), Term: term}
		rev, err := w.put(ctx, rec.append(nil), term)
		if err != nil {
			t.Fatalf("round %d: the winner's renewal: %v", round, err)
		}
		if _, err := w.put(ctx, rec.append(nil), term); !isWrongLastSequence(err) {
			t.Errorf("round %d: a renewal with a stale sequence: %v, want a wrong last sequence", round, err)
		}
		if _, err := loser.put(ctx, (&leaderRecord{Node: 99, Term: term}).append(nil), free); !isWrongLastSequence(err) {
			t.Errorf("round %d: a loser's write with the sequence it read: %v, want a wrong last sequence", round, err)
		}
		if _, err := loser.del(ctx, term); !isWrongLastSequence(err) {
			t.Errorf("round %d: a delete with a stale sequence: %v, want a wrong last sequence", round, err)
		}
		if _, ok, err := loser.free(ctx); err == nil && ok {
			t.Errorf("round %d: the key reads free while held", round)
		}
		// The winner gives it up: KeyValue's Get no longer finds it.
		if free, err = w.del(ctx, rev); err != nil {
			t.Fatalf("round %d: the winner's delete: %v", round, err)
		}
		waitFor(t, changeBound, "KeyValue's Get reads the key deleted", func() bool {
			_, err := loser.kv.Get(ctx, leaderKey)
			return errors.Is(err, jetstream.ErrKeyNotFound)
		})
	}
}

// testStaleRenewal: the key changes hands behind the leader's back (as
// when its renewals were lost for so long that its key expired and
// another node took it). The leader's next renewal, on the condition of
// its own last write, fails, and it steps down; every node learns the
// key's new holder. That holder (a node that does not exist) never renews
// it: the key expires, and the survivors race for it, one of them winning
// with a greater term, never two leaders at once.
func testStaleRenewal(t *testing.T, leader *Node, survivors []*Node, slogs []*inboxLog) {
	const rival = 200
	ctx, cancel := context.WithTimeout(context.Background(), changeBound)
	defer cancel()
	lb := leader.buckets.Load().leader
	_, oldTerm := leader.Leader()
	errsBefore := leader.Stats().WriteErrors
	var rivalTerm uint64
	waitFor(t, changeBound, "a rival's write of the key", func() bool {
		m, err := lb.stream.GetLastMsgForSubject(ctx, lb.subject)
		if err != nil {
			return false
		}
		rivalTerm, err = lb.put(ctx, (&leaderRecord{Node: rival}).append(nil), m.Sequence)
		return err == nil // else the leader renewed meanwhile, or the read lagged: again
	})
	written := time.Now()
	waitFor(t, changeBound, "the leader steps down", func() bool { return !leader.isLeader.Load() })
	took := time.Since(written)
	t.Logf("the leader stepped down %v after its key changed hands (renewals every %v)", took.Round(time.Millisecond), leader.leaderTTLNow()/4)
	if took >= leader.leaderTTLNow() {
		t.Errorf("the leader stepped down %v after its key changed hands: not at its next renewal", took)
	}
	// At its first failed renewal; a leader that only fails to reach NATS
	// goes on trying until TTL/2 has passed, failing every cycle.
	if failed := leader.Stats().WriteErrors - errsBefore; failed == 0 || failed > 2 {
		t.Errorf("the leader stepped down after %d failed writes, want its first failed renewal", failed)
	}
	if leader.IsMatchmakerLeader() {
		t.Error("a leader that stepped down still runs the matchmaker")
	}
	for i, n := range survivors {
		slogs[i].wait(t, changeBound, "the key's new holder", func(m Message) bool {
			c, ok := m.(*LeaderChanged)
			return ok && c.Leader == rival && c.Term == rivalTerm
		})
		if l, term := n.Leader(); l != rival || term != rivalTerm {
			t.Errorf("node %d sees leader %d term %d, want %d term %d", n.ID(), l, term, rival, rivalTerm)
		}
	}

	var next *Node
	waitFor(t, joinBound, "a survivor takes the expired key", func() bool {
		var leaders []*Node
		for _, n := range survivors {
			if n.IsMatchmakerLeader() {
				leaders = append(leaders, n)
			}
		}
		if len(leaders) > 1 {
			t.Fatalf("two leaders at once: nodes %d and %d", leaders[0].ID(), leaders[1].ID())
		}
		if len(leaders) == 0 {
			return false
		}
		next = leaders[0]
		_, term := next.Leader()
		for _, n := range survivors {
			if l, tm := n.Leader(); l != next.ID() || tm != term {
				return false
			}
		}
		return true
	})
	_, term := next.Leader()
	t.Logf("node %d took the expired key %v after the rival's write: term %d (rival's %d, before %d)",
		next.ID(), time.Since(written).Round(time.Millisecond), term, rivalTerm, oldTerm)
	if term <= rivalTerm || rivalTerm <= oldTerm {
		t.Errorf("terms %d, %d, %d: they must grow", oldTerm, rivalTerm, term)
	}
}
