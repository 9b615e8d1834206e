package relay

import (
	"context"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/kcpx"
)

// onTick is the tick's work: adopt new sessions, apply every session's
// queued messages in arrival order, then send each player its frame.
func (s *Server) onTick(n uint64, now time.Time) {
	h := s.hub
	h.begin(n, now)
	start := kcpx.Now()
	period := uint32(time.Second / time.Duration(h.cfg.tickRate) / time.Millisecond)
	s.tr.nextTick.Store(start + period + s.lastWork + 2)
	defer func() { s.lastWork = uint32(max(0, int32(kcpx.Now()-start))) }()

	s.mu.Lock()
	newcomers := s.pending
	s.pending = nil
	shutdown := s.closing
	s.mu.Unlock()

	maxSessions := orInt(s.MaxSessions, 10000)
	for _, sess := range newcomers {
		p := h.connect(sess, sess.conn.to.String())
		s.live = append(s.live, sess)
		if len(s.live) > maxSessions {
			h.closePlayer(p, codec.CodeServerFull, "the server is full")
		}
	}
	if shutdown && !s.shutSeen {
		s.shutSeen = true
		h.shutdown()
	}

	idle := int64(h.cfg.idleTimeout)
	for _, sess := range s.live {
		s.drain(sess)
		switch {
		case sess.closed():
			h.lostLink(sess, 0, "transport closed")
		case now.UnixNano()-sess.lastRecv.Load() > idle:
			h.linkIdle(sess)
		}
	}

	h.end()
	s.tr.out.flush() // the frames of this tick, across sessions
	s.gc.afterTick(&s.wg)

	// A session stays listed while it is open: attached to a player, or
	// delivering its last bytes.
	kept := s.live[:0]
	for _, sess := range s.live {
		if !sess.closed() {
			kept = append(kept, sess)
		}
	}
	clear(s.live[len(kept):])
	s.live = kept

	if s.shutSeen && len(s.live) == 0 && len(h.players) == 0 && !s.drainDone {
		s.drainDone = true
		close(s.drained)
	}
}

// drain applies what sess queued since the last tick. It takes only what
// is queued now, so a client that keeps sending cannot hold the tick.
func (s *Server) drain(sess *session) {
	items := sess.takeInbox(s.spareItems)
	for i := range items {
		item := items[i]
		items[i] = inItem{}
		if item.body == nil {
			s.hub.lostLink(sess, item.code, item.reason)
			continue
		}
		s.hub.handleLink(sess, *item.body, item.arrived)
		bodyPool.Put(item.body)
		// Once the session's player said hello (or resumed), its address
		// is established for the filter and no longer pending.
		if !sess.filterKnown && s.filter != nil {
			if p := s.hub.links[sess]; p != nil && p.helloed {
				sess.filterKnown = true
				s.filter.establishedKey(sess.key, sess.conn.conv)
			}
		}
	}
	s.spareItems = items[:0]
}

// Shutdown stops accepting sessions, tells every client the server is
// closing, waits until their sessions are closed or ctx is done, then stops
// everything. It returns ctx.Err() if ctx ended first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.started {
		s.closing = true
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	drained := s.drained
	s.mu.Unlock()

	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.Close()
	return err
}

// Close stops the server at once: sessions are closed without a goodbye.
// It waits for every goroutine the server started.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	s.closeOnce.Do(func() {
		s.stopTick()
		s.tr.stop() // closes the socket: the reader and the updater return
		s.mu.Lock()
		open := make([]*session, 0, len(s.sessions))
		for sess := range s.sessions {
			open = append(open, sess)
		}
		s.mu.Unlock()
		for _, sess := range open {
			sess.close()
		}
	})
	s.wg.Wait()
	return nil
}
