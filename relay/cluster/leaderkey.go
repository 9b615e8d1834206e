package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The matchmaker's leader key lives alone in a bucket of its own
// ("<Name>_leader", with the directory's TTL), and every conditional write
// on it states the stream's last sequence (Nats-Expected-Last-Sequence),
// not the key's (Nats-Expected-Last-Subject-Sequence, which KeyValue's
// Create, Update and Delete with LastRevision send). With the key alone in
// its stream the two conditions say the same. The per-key one is avoided
// because nats-server v2.15.3 has a data race on it: the first such write a
// new stream leader handles creates a map that the goroutine applying the
// stream's entries reads without a lock, and the leader key is written
// exactly when a node died and the streams' leaders moved.
//
// The writes are those KeyValue makes (a put is the value published to
// "$KV.<bucket>.<key>"; a delete is an empty message there with the
// header KV-Operation: DEL), so the bucket's watch and Get read them as
// usual.

// leaderBucket is the leader bucket, bound.
type leaderBucket struct {
	kv      jetstream.KeyValue // to watch, and to read the key
	stream  jetstream.Stream   // the bucket's stream: its last message and sequence
	js      jetstream.JetStream
	subject string // the key's: "$KV.<bucket>.<key>"
}

func newLeaderBucket(js jetstream.JetStream, kv jetstream.KeyValue, stream jetstream.Stream) *leaderBucket {
	return &leaderBucket{kv: kv, stream: stream, js: js, subject: "$KV." + kv.Bucket() + "." + leaderKey}
}

// free reports whether no node holds the key, and if so the stream's last
// sequence: the condition of the write that takes it. The two are read
// together: the write succeeds only if nothing was written since, so a
// leadership written after the read cannot be overwritten.
func (b *leaderBucket) free(ctx context.Context) (last uint64, free bool, err error) {
	m, err := b.stream.GetLastMsgForSubject(ctx, b.subject)
	switch {
	case err == nil:
		// The key's last message is the stream's, the key being alone there.
		return m.Sequence, isTombstone(m.Header), nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		// Never written, or its delete marker has gone too: the stream
		// is empty, and its last sequence is still counted.
		info, err := b.stream.Info(ctx)
		if err != nil {
			return 0, false, err
		}
		if info.State.Msgs != 0 {
			return 0, false, nil // written since: look again next time
		}
		return info.State.LastSeq, true, nil
	default:
		return 0, false, err
	}
}

// isTombstone reports a delete or purge marker: one KeyValue wrote, or the
// server's marker for a key whose TTL ran out.
func isTombstone(h nats.Header) bool {
	switch h.Get("KV-Operation") {
	case "DEL", "PURGE":
		return true
	}
	return h.Get(jetstream.MarkerReasonHeader) != ""
}

// put writes value as the key on the condition that the stream's last
// sequence is last, and returns the write's sequence (the key's new
// revision).
func (b *leaderBucket) put(ctx context.Context, value []byte, last uint64) (uint64, error) {
	ack, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: b.subject, Data: value}, jetstream.WithExpectLastSequence(last))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// del places a delete marker on the key on the condition that the
// stream's last sequence is last (this node's own write: it gives up its
// leadership, and not a successor's), and returns the marker's sequence.
func (b *leaderBucket) del(ctx context.Context, last uint64) (uint64, error) {
	m := &nats.Msg{Subject: b.subject, Header: nats.Header{"KV-Operation": []string{"DEL"}}}
	ack, err := b.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequence(last))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// isWrongLastSequence reports a write refused by its condition: the key
// was written since (another node took it, or it changed hands). A
// replicated stream may answer with either code.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// leaderView is what the watch of the leader bucket has seen, without I/O
// (the watch loop feeds it entries and the time). Like the directory's
// records, the key expires locally TTL after it was written unless a newer
// write refreshes it.
type leaderView struct {
	ttl   time.Duration
	entry *leaderEntry
	gen   uint64 // the replay generation, as dirCache's
}

type leaderEntry struct {
	node    uint8
	term    uint64
	expires time.Time
	gen     uint64
}

// apply takes one entry of the bucket; it returns an error for a record it
// cannot read (which it ignores).
func (v *leaderView) apply(e kvEntry, now time.Time) error {
	if e.key != leaderKey {
		return nil // not ours to read
	}
	if e.deleted {
		v.entry = nil
		return nil
	}
	rec, err := decodeLeader(e.value)
	if err != nil {
		return err
	}
	term := rec.Term
	if term == 0 {
		term = e.revision // the write that took the key: its revision is the term
	}
	created := e.created
	if created.IsZero() || created.After(now) {
		created = now
	}
	v.entry = &leaderEntry{node: rec.Node, term: term, expires: created.Add(v.ttl), gen: v.gen}
	return nil
}

// expire forgets a key whose time is up.
func (v *leaderView) expire(now time.Time) {
	if v.entry != nil && !now.Before(v.entry.expires) {
		v.entry = nil
	}
}

// beginReplay starts a new watch; endReplay then forgets a key the replay
// did not deliver.
func (v *leaderView) beginReplay() { v.gen++ }

func (v *leaderView) endReplay() {
	if v.entry != nil && v.entry.gen != v.gen {
		v.entry = nil
	}
}

// leader is the leader the bucket names (0 for none), and its term.
func (v *leaderView) leader() (uint8, uint64) {
	if v.entry == nil {
		return 0, 0
	}
	return v.entry.node, v.entry.term
}
