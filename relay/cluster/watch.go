package cluster

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The watch loop keeps the directory cache, the matchmaker's leader and the
// ban list: it watches the three buckets, applies what they deliver,
// expires directory records and the leader key on its own clock, and
// publishes a snapshot for readers after each batch. It starts its
// watches afresh whenever the run loop (re)binds the buckets, and when the
// directory has been quiet for longer than nodes take to refresh their
// records (a watch that stalled); the leader bucket's watch alone when
// that bucket has.

// snapshotEvery bounds how often a burst of changes rebuilds the snapshot.
const snapshotEvery = 50 * time.Millisecond

func (n *Node) watch() {
	defer n.wg.Done()
	cache := newDirCache(n.id, n.ttlNow())
	sweep := time.NewTicker(max(20*time.Millisecond, min(250*time.Millisecond, n.ttlNow()/40)))
	defer sweep.Stop()
	w := &watchState{n: n, cache: cache, leader: &leaderView{ttl: n.leaderTTLNow()}}
	for {
		b := n.buckets.Load()
		if b == nil || !n.connected() {
			select {
			case <-n.ctx.Done():
				return
			case <-n.rewatch:
			case <-sweep.C:
				w.expire()
			}
			continue
		}
		if !w.follow(b, sweep) {
			return
		}
		n.stats.watchRestarts.Add(1)
	}
}

// watchState is the watch loop's.
type watchState struct {
	n        *Node
	cache    *dirCache
	leader   *leaderView
	lastSnap time.Time
	events   []Message
}

// follow watches the buckets until the watch must restart (true) or the
// node stops (false).
func (w *watchState) follow(b *buckets, sweep *time.Ticker) bool {
	n := w.n
	var dw, bw, lw jetstream.KeyWatcher
	defer func() { // lw may have been replaced, or failed to be
		w.whileSweeping(sweep, func() {
			for _, kw := range []jetstream.KeyWatcher{dw, bw, lw} {
				if kw != nil {
					stopWatch(kw)
				}
			}
		})
	}()
	var err error
	w.whileSweeping(sweep, func() {
		if dw, err = b.dir.WatchAll(n.ctx); err != nil {
			return
		}
		if bw, err = b.bans.WatchAll(n.ctx); err != nil {
			return
		}
		lw, err = b.leader.kv.WatchAll(n.ctx)
	})
	if err != nil {
		n.setError(err)
		return w.pause(sweep)
	}
	w.cache.ttl = n.ttlNow()
	w.cache.beginReplay()
	w.leader.ttl = n.leaderTTLNow()
	w.leader.beginReplay()
	n.bans.beginReplay()
	dirReplayed, bansReplayed, leaderReplayed := false, false, false
	replayed := func() bool { return dirReplayed && bansReplayed && leaderReplayed }
	lastEntry := n.cfg.now()
	lastLeaderEntry := lastEntry
	defer w.setLive(false)
	for {
		select {
		case <-n.ctx.Done():
			return false
		case <-n.rewatch:
			return true
		case e, ok := <-dw.Updates():
			if !ok {
				return true
			}
			lastEntry = n.cfg.now()
			if e == nil {
				w.cache.endReplay(&w.events)
				dirReplayed = true
				w.setLive(replayed())
				break
			}
			w.applyDir(e)
		case e, ok := <-bw.Updates():
			if !ok {
				return true
			}
			if e == nil {
				n.bans.endReplay(n)
				bansReplayed = true
				w.setLive(replayed())
				break
			}
			if err := n.bans.apply(n, toEntry(e)); err != nil {
				n.stats.drop(dropMalformed)
			}
		case e, ok := <-updates(lw):
			if !ok {
				return true
			}
			lastLeaderEntry = n.cfg.now()
			if e == nil {
				w.leader.endReplay()
				if !leaderReplayed {
					leaderReplayed = true
					w.setLive(replayed())
				}
				break
			}
			if err := w.leader.apply(toEntry(e), n.cfg.now()); err != nil {
				n.stats.drop(dropMalformed)
				n.log.Debug().Err(err).Str("key", e.Key()).Msg("cluster: unreadable leader record")
			}
		case <-sweep.C:
			w.expire()
			// Every node, this one included, rewrites its record every
			// TTL/3: a directory quiet for 2/3 TTL is a stalled watch
			// (during its first replay too).
			if n.cfg.now().Sub(lastEntry) > 2*w.cache.ttl/3 {
				n.log.Warn().Msg("cluster: the directory watch went quiet; restarting it")
				return true
			}
			// Its first replay too: a watch started while the stream
			// was still coming back (NATS restarted) may never deliver,
			// and the node is not ready until that replay ends.
			if n.cfg.now().Sub(lastLeaderEntry) > 2*w.leader.ttl/3 {
				lw = w.rewatchLeader(b, lw, sweep) // nil if it cannot start now: tried again 2/3 TTL later
				lastLeaderEntry = n.cfg.now()
			}
		}
		if dirReplayed && w.cache.dirty() && (len(dw.Updates()) == 0 || n.cfg.now().Sub(w.lastSnap) >= snapshotEvery) {
			w.publish()
		}
		w.flush(leaderReplayed) // before its replay ends, the view may not know the leader yet
	}
}

// updates is a watch's channel; nil (never ready) for no watch.
func updates(kw jetstream.KeyWatcher) <-chan jetstream.KeyValueEntry {
	if kw == nil {
		return nil
	}
	return kw.Updates()
}

// rewatchLeader replaces the leader bucket's watch old (nil: none), which
// went quiet:
// a leader rewrites the key every TTL/4, and without one the nodes seek
// it, so the bucket is quiet for 2/3 TTL only while a dead leader's key
// waits to expire, or when the watch stalled (its consumer was on a NATS
// server that died). A new watch costs the replay of one key, which keeps
// the view meanwhile. It returns nil if no new watch could start (the
// stream may have no leader for a few seconds after a server died): the
// directory's and the bans' watches go on meanwhile.
func (w *watchState) rewatchLeader(b *buckets, old jetstream.KeyWatcher, sweep *time.Ticker) jetstream.KeyWatcher {
	n := w.n
	if l, _ := w.leader.leader(); l != 0 && old != nil {
		n.stats.watchRestarts.Add(1)
		n.log.Info().Msg("cluster: the leader bucket went quiet; watching it afresh")
	}
	var lw jetstream.KeyWatcher
	var err error
	w.whileSweeping(sweep, func() {
		if old != nil {
			stopWatch(old) // a stalled watch may take a while to stop
		}
		lw, err = b.leader.kv.WatchAll(n.ctx)
	})
	if err != nil {
		n.setError(err)
		return nil
	}
	w.leader.beginReplay()
	return lw
}

// whileSweeping runs f, JetStream calls that can block (for the API's
// timeout while a stream elects a leader after a server left, or while a
// stalled watch stops), on a goroutine of its own, and expires records
// until it returns: a node's view of the others must age on time whatever
// NATS is doing. Seen before: a split's lone node stayed in the others'
// directories for 6-11 s with a TTL of 2 s.
func (w *watchState) whileSweeping(sweep *time.Ticker, f func()) {
	done := make(chan struct{})
	w.n.wg.Add(1) // the watch loop holds the group: this Add cannot race its Wait
	go func() {
		defer w.n.wg.Done()
		defer close(done)
		f()
	}()
	for {
		select {
		case <-done:
			return
		case <-sweep.C:
			w.expire()
		}
	}
}

// stopWatch ends a watch. Its NATS goroutine may be blocked handing over
// an entry (it does not give up while its channel is full): the entries
// left are drained until the watch closes its channel, so that goroutine
// ends too.
func stopWatch(kw jetstream.KeyWatcher) {
	_ = kw.Stop()
	limit := time.NewTimer(2 * time.Second)
	defer limit.Stop()
	for {
		select {
		case _, ok := <-kw.Updates():
			if !ok {
				return
			}
		case <-limit.C:
			return // the connection's close ends it
		}
	}
}

// pause waits a little before a failed watch is tried again.
func (w *watchState) pause(sweep *time.Ticker) bool {
	retry := time.NewTimer(time.Second)
	defer retry.Stop()
	for {
		select {
		case <-w.n.ctx.Done():
			return false
		case <-w.n.rewatch:
			return true
		case <-retry.C:
			return true
		case <-sweep.C:
			w.expire()
		}
	}
}

func toEntry(e jetstream.KeyValueEntry) kvEntry {
	return kvEntry{
		key: e.Key(), value: e.Value(), created: e.Created(), revision: e.Revision(),
		deleted: e.Operation() != jetstream.KeyValuePut,
	}
}

func (w *watchState) applyDir(e jetstream.KeyValueEntry) {
	if err := w.cache.apply(toEntry(e), w.n.cfg.now(), &w.events); err != nil {
		w.n.stats.drop(dropMalformed)
		w.n.log.Debug().Err(err).Str("key", e.Key()).Msg("cluster: unreadable directory record")
	}
}

// expire drops the records whose time is up, and publishes the result.
func (w *watchState) expire() {
	now := w.n.cfg.now()
	w.cache.expire(now, &w.events)
	w.leader.expire(now)
	if w.cache.dirty() {
		w.publish()
	}
	w.flush(true)
}

// publish makes the cache the readers' snapshot.
func (w *watchState) publish() {
	n := w.n
	n.snap.Store(w.cache.snapshot())
	w.lastSnap = n.cfg.now()
	n.mu.Lock()
	close(n.snapWait)
	n.snapWait = make(chan struct{})
	n.mu.Unlock()
}

// flush hands the relay what the cache reported, and (with leader) the
// leader the leader bucket names.
func (w *watchState) flush(leader bool) {
	for _, e := range w.events {
		w.n.deliver(e)
	}
	clear(w.events)
	w.events = w.events[:0]
	if leader {
		node, term := w.leader.leader()
		w.n.noteLeader(node, term, false)
	}
}

func (w *watchState) setLive(live bool) {
	n := w.n
	n.mu.Lock()
	n.setDirLiveLocked(live)
	n.mu.Unlock()
	if live {
		w.publish()
		signal(n.wakeRun) // the run loop may seek the leadership now
	}
}
