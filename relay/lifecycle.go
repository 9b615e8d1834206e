package relay

import (
	"context"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/dflt"
	"github.com/tickrelay/tickrelay/relay/link"
)

// onTick is the tick's work: adopt new links, apply every link's queued
// messages in arrival order, then send each player its frame.
func (s *Server) onTick(n uint64, now time.Time) {
	h := s.hub
	h.begin(n, now)
	s.runOps()
	h.checkDrain()
	h.clusterTick()
	start := time.Now()
	period := time.Second / time.Duration(h.cfg.tickRate)

	s.mu.Lock()
	newcomers := s.pending
	s.pending = nil
	shutdown := s.closing
	transports := s.transports
	s.mu.Unlock()

	for _, tr := range transports {
		// Acks for what clients send now wait until just after the next
		// tick, to ride in the datagram of their next frame.
		tr.BeginTick(period + s.lastWork + 2*time.Millisecond)
	}
	defer func() { s.lastWork = time.Since(start) }()

	maxSessions := dflt.Or(s.MaxSessions, 10000)
	for _, l := range newcomers {
		p := h.connect(l, l.Remote(), l.Transport())
		s.live = append(s.live, l)
		if len(s.live) > maxSessions {
			h.closePlayer(p, codec.CodeServerFull, "the server is full")
		}
	}
	if shutdown && !s.shutSeen {
		s.shutSeen = true
		h.shutdown("the server is shutting down")
	}

	idle := int64(h.cfg.idleTimeout)
	for _, l := range s.live {
		s.drain(l)
		switch {
		case l.Closed():
			h.lostLink(l, 0, "transport closed")
		case now.UnixNano()-l.LastMessage() > idle:
			h.linkIdle(l)
		}
	}
	for _, c := range h.established {
		if l, ok := c.(link.Link); ok {
			l.Established()
		}
	}
	clear(h.established)
	h.established = h.established[:0]

	h.end()
	for _, tr := range transports {
		tr.EndTick() // the frames of this tick, across sessions
	}
	s.gc.afterTick(&s.wg)

	// A link stays listed while it is open: attached to a player, or
	// delivering its last bytes.
	kept := s.live[:0]
	var ws int64
	for _, l := range s.live {
		if !l.Closed() {
			kept = append(kept, l)
			if l.Transport() == "ws" {
				ws++
			}
		}
	}
	s.stats.linksWS.Store(ws)
	s.stats.linksKCP.Store(int64(len(kept)) - ws)
	clear(s.live[len(kept):])
	s.live = kept

	if s.shutSeen && len(s.live) == 0 && len(h.players) == 0 && !s.drainDone {
		s.drainDone = true
		close(s.drained)
	}
}

// drain applies what l queued since the last tick. It takes only what is
// queued now, so a client that keeps sending cannot hold the tick.
func (s *Server) drain(l link.Link) {
	items := l.Take(s.spareItems)
	for i := range items {
		item := items[i]
		items[i] = link.Inbound{}
		if item.Body == nil {
			s.hub.lostLink(l, item.Code, item.Reason)
			continue
		}
		s.hub.handleLink(l, *item.Body, item.Arrived)
		link.PutBody(item.Body)
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
		s.mu.Lock()
		transports := s.transports
		s.mu.Unlock()
		for _, tr := range transports {
			tr.Stop() // closes sockets and links: their goroutines return
		}
	})
	s.wg.Wait()
	return nil
}
