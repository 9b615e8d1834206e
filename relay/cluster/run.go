package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The run loop owns what this node writes: it binds the buckets on each
// (re)connection, writes the node's record and rooms (at most every
// writeInterval, and again before their TTL runs out), and holds or seeks
// the matchmaker's leadership. The relay's calls only leave it work.

const (
	// writeInterval spaces this node's room writes: changes made within
	// it go out together.
	writeInterval = 250 * time.Millisecond
	// opTimeout bounds one NATS round trip of the run loop.
	opTimeout = 2 * time.Second
	// asyncBatch bounds the room writes in flight at once.
	asyncBatch = 512
)

// runState is the run loop's own state.
type runState struct {
	table       *roomTable
	needSetup   bool
	retryAt     time.Time
	backoff     time.Duration
	nodeWritten time.Time // when the node record was last written
	roomsAt     time.Time // when rooms were last written
	heldBack    bool      // room changes wait for writeInterval to pass
	// The matchmaker leadership this node holds.
	leaderRev   uint64 // the key's revision after this node's last write
	leaderTerm  uint64
	renewedAt   time.Time // the last successful write of the key
	nextAcquire time.Time
}

func (n *Node) ttlNow() time.Duration { return time.Duration(n.ttl.Load()) }

func (n *Node) run() {
	defer n.wg.Done()
	rs := n.rs
	tick := time.NewTicker(min(writeInterval, n.ttlNow()/8))
	defer tick.Stop()
	soon := time.NewTimer(time.Hour) // rooms held back by writeInterval
	soon.Stop()
	defer soon.Stop()
	for {
		if wait := n.cycle(rs); wait > 0 {
			soon.Reset(wait)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-n.wakeRun:
		case <-tick.C:
		case <-soon.C:
		}
	}
}

// cycle does whatever is due; it returns when room changes it held back
// may be written (0: none wait).
func (n *Node) cycle(rs *runState) time.Duration {
	now := n.cfg.now()
	if !n.connected() {
		rs.needSetup = true
		n.stepDown(rs, "NATS disconnected")
		return 0
	}
	if rs.needSetup {
		if now.Before(rs.retryAt) {
			return 0
		}
		if err := n.setup(rs); err != nil {
			rs.backoff = min(max(2*rs.backoff, 250*time.Millisecond), 5*time.Second)
			rs.retryAt = now.Add(rs.backoff)
			n.setError(err)
			n.log.Debug().Err(err).Dur("retry_in", rs.backoff).Msg("cluster: joining")
			return 0
		}
		rs.needSetup, rs.backoff = false, 0
		n.log.Info().Msg("cluster: joined; directory and records republished")
	}
	b := n.buckets.Load()
	refresh := n.ttlNow() / 3
	n.mu.Lock()
	rooms, roomsDirty := n.rooms, n.roomsDirty
	players, numRooms, loadDirty := n.players, n.numRooms, n.loadDirty
	n.roomsDirty, n.loadDirty = false, false
	n.mu.Unlock()
	if loadDirty || now.Sub(rs.nodeWritten) >= refresh {
		rec := nodeRecord{ID: n.id, Incarnation: n.incarnation, PublicKCP: n.cfg.PublicKCP, PublicWS: n.cfg.PublicWS, Players: players, NumRoom: numRooms}
		if err := n.put(b.dir, nodeKey(n.id), rec.append(nil)); err != nil {
			n.mu.Lock()
			n.loadDirty = true // try again next cycle
			n.mu.Unlock()
		} else {
			rs.nodeWritten = now
		}
	}
	if roomsDirty {
		if refused := rs.table.setDesired(rooms); len(refused) > 0 {
			n.stats.drops[dropRoomRefused].Add(uint64(len(refused)))
			n.log.Warn().Int("rooms", len(refused)).Uint32("first", refused[0]).Msg("cluster: rooms over the directory's limits are not shared")
		}
		rs.heldBack = true
	}
	var wait time.Duration
	if due := rs.roomsAt.Add(writeInterval); !now.Before(due) {
		if puts, dels := rs.table.plan(now, refresh); len(puts)+len(dels) > 0 {
			rs.roomsAt = now
			n.writeRooms(b.dir, rs.table, puts, dels, now)
		}
		rs.heldBack = false
	} else if rs.heldBack {
		wait = due.Sub(now)
	}
	n.leaderCycle(rs, b.leader, now)
	return wait
}

// setup binds (creating if needed) the buckets, then makes the table
// rewrite every room and delete the keys this node left behind (rooms
// that ended while it was cut off, or a previous run's).
func (n *Node) setup(rs *runState) error {
	ctx, cancel := context.WithTimeout(n.ctx, 2*opTimeout)
	defer cancel()
	dir, err := n.bucket(ctx, jetstream.KeyValueConfig{
		Bucket:      n.cfg.Name + "_directory",
		Description: "tickrelay: live nodes and their rooms",
		TTL:         n.cfg.TTL, History: 1, Storage: jetstream.MemoryStorage, Replicas: n.cfg.Replicas,
		LimitMarkerTTL: time.Second, MaxValueSize: maxWire,
	})
	if err != nil {
		return err
	}
	st, err := dir.Status(ctx)
	if err != nil {
		return fmt.Errorf("cluster: directory bucket: %w", err)
	}
	if ttl := st.TTL(); ttl != n.cfg.TTL {
		if ttl < time.Second {
			return fmt.Errorf("cluster: directory bucket %s has TTL %v: delete it (nats kv del) or use another Name", st.Bucket(), ttl)
		}
		n.log.Warn().Dur("bucket_ttl", ttl).Dur("config_ttl", n.cfg.TTL).Msg("cluster: the directory bucket keeps its own TTL; using it")
		n.ttl.Store(int64(ttl))
	}
	leader, err := n.bindLeaderBucket(ctx)
	if err != nil {
		return err
	}
	bans, err := n.bucket(ctx, jetstream.KeyValueConfig{
		Bucket:      n.cfg.Name + "_bans",
		Description: "tickrelay: bans, shared by every node",
		History:     1, Storage: jetstream.FileStorage, Replicas: n.cfg.Replicas,
		LimitMarkerTTL: time.Second, MaxValueSize: maxWire,
	})
	if err != nil {
		return err
	}
	// What this node left in the bucket: rooms to delete, and its old
	// leadership (held by a previous run) to give up at once.
	rs.table.forget()
	keys, err := dir.ListKeysFiltered(ctx, roomPrefix+fmt.Sprint(n.id)+".*")
	if err != nil {
		return fmt.Errorf("cluster: listing this node's rooms: %w", err)
	}
	for k := range keys.Keys() {
		if _, id, ok := parseRoomKey(k); ok {
			rs.table.found(id)
		}
	}
	if !n.isLeader.Load() {
		if e, err := leader.kv.Get(ctx, leaderKey); err == nil {
			if rec, err := decodeLeader(e.Value()); err == nil && rec.Node == n.id {
				_, _ = leader.del(ctx, e.Revision()) // the key alone in its stream: its revision is the last sequence
			}
		}
	}
	rs.nodeWritten, rs.roomsAt = time.Time{}, time.Time{}
	n.buckets.Store(&buckets{dir: dir, bans: bans, leader: leader})
	n.mu.Lock()
	n.st.ready = true
	n.mu.Unlock()
	signal(n.rewatch)
	return nil
}

// bindLeaderBucket binds (creating if needed) the leader bucket, with the
// directory's TTL. One made with another TTL (by a node configured
// otherwise) keeps it, and the leadership's timing follows it.
func (n *Node) bindLeaderBucket(ctx context.Context) (*leaderBucket, error) {
	kv, err := n.bucket(ctx, jetstream.KeyValueConfig{
		Bucket:      n.cfg.Name + "_leader",
		Description: "tickrelay: the matchmaker's leader (one key)",
		TTL:         n.ttlNow(), History: 1, Storage: jetstream.MemoryStorage, Replicas: n.cfg.Replicas,
		LimitMarkerTTL: time.Second, MaxValueSize: maxWire,
	})
	if err != nil {
		return nil, err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: leader bucket: %w", err)
	}
	if ttl := st.TTL(); ttl != n.ttlNow() {
		if ttl < time.Second {
			return nil, fmt.Errorf("cluster: leader bucket %s has TTL %v: delete it (nats kv del) or use another Name", st.Bucket(), ttl)
		}
		n.log.Warn().Dur("bucket_ttl", ttl).Dur("directory_ttl", n.ttlNow()).Msg("cluster: the leader bucket keeps its own TTL; the leadership follows it")
	}
	n.leaderTTL.Store(int64(st.TTL()))
	stream, err := n.js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		return nil, fmt.Errorf("cluster: leader bucket: %w", err)
	}
	return newLeaderBucket(n.js, kv, stream), nil
}

// bucket creates a bucket, or binds it if it exists (perhaps made by
// another node with other settings: the first node's win).
func (n *Node) bucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := n.js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = n.js.KeyValue(ctx, cfg.Bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// put writes one key and counts it.
func (n *Node) put(kv jetstream.KeyValue, key string, value []byte) error {
	ctx, cancel := context.WithTimeout(n.ctx, opTimeout)
	defer cancel()
	if _, err := kv.Put(ctx, key, value); err != nil {
		n.writeFailed(key, err)
		return err
	}
	n.stats.writes.Add(1)
	return nil
}

func (n *Node) writeFailed(key string, err error) {
	n.stats.writeErrors.Add(1)
	n.setError(err)
	n.log.Debug().Err(err).Str("key", key).Msg("cluster: write failed")
}

// writeRooms puts and deletes room records, many in flight at once, and
// tells the table which went through.
func (n *Node) writeRooms(kv jetstream.KeyValue, t *roomTable, puts, dels []uint32, now time.Time) {
	subj := "$KV." + kv.Bucket() + "."
	for start := 0; start < len(puts); start += asyncBatch {
		batch := puts[start:min(start+asyncBatch, len(puts))]
		futures := make([]jetstream.PubAckFuture, len(batch))
		for i, id := range batch {
			f, err := n.js.PublishAsync(subj+roomKey(n.id, id), t.desired[id])
			if err != nil {
				n.writeFailed(roomKey(n.id, id), err)
				continue
			}
			futures[i] = f
		}
		deadline := time.NewTimer(opTimeout)
		for i, f := range futures {
			if f == nil {
				continue
			}
			id := batch[i]
			select {
			case <-f.Ok():
				t.put(id, t.desired[id], now)
				n.stats.writes.Add(1)
			case err := <-f.Err():
				n.writeFailed(roomKey(n.id, id), err)
			case <-deadline.C:
				n.writeFailed(roomKey(n.id, id), context.DeadlineExceeded)
				deadline.Reset(0) // the rest have had their time too
			case <-n.ctx.Done():
				deadline.Stop()
				return
			}
		}
		deadline.Stop()
	}
	if len(dels) > 0 {
		keys := make([]string, len(dels))
		for i, id := range dels {
			keys[i] = roomKey(n.id, id)
		}
		ctx, cancel := context.WithTimeout(n.ctx, opTimeout)
		defer cancel()
		if err := n.deleteKeys(ctx, kv, keys); err == nil {
			for _, id := range dels {
				t.deleted(id)
			}
		}
	}
}

// deleteKeys places delete markers on keys, many in flight at once.
func (n *Node) deleteKeys(ctx context.Context, kv jetstream.KeyValue, keys []string) error {
	subj := "$KV." + kv.Bucket() + "."
	var futures []jetstream.PubAckFuture
	var errs []error
	for _, k := range keys {
		m := &nats.Msg{Subject: subj + k, Header: nats.Header{"KV-Operation": []string{"DEL"}}}
		f, err := n.js.PublishMsgAsync(m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
			n.stats.deletes.Add(1)
		case err := <-f.Err():
			errs = append(errs, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := errors.Join(errs...); err != nil {
		n.stats.writeErrors.Add(uint64(len(errs)))
		return err
	}
	return nil
}
