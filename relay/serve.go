package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/tickrelay/tickrelay/relay/admit"
	"github.com/tickrelay/tickrelay/relay/kcplink"
	"github.com/tickrelay/tickrelay/relay/link"
	"github.com/tickrelay/tickrelay/relay/wslink"
	"github.com/tickrelay/tickrelay/tick"
)

// transport is what the tick needs of a transport besides its links.
type transport interface {
	// BeginTick says a tick started and the next is due after d.
	BeginTick(d time.Duration)
	// EndTick says the tick handed out its frames.
	EndTick()
	// Stop ends the transport's goroutines and closes its links.
	Stop()
}

// Listen opens the UDP socket a Server serves KCP on (what ListenAndServe
// uses): on Linux a pair of sockets on one port, one that receives and one
// that only sends (see kcplink.Listen).
func Listen(addr string) (net.PacketConn, error) { return kcplink.Listen(addr) }

// ListenAndServe serves KCP on UDP Addr and WebSocket on TCP
// WebSocketAddr until Shutdown or Close; it returns ErrServerClosed then,
// or the first error that stopped either.
func (s *Server) ListenAndServe() error {
	pc, err := Listen(s.addr())
	if err != nil {
		return err
	}
	var ln net.Listener
	if addr := s.wsAddr(); addr != "" {
		if ln, err = net.Listen("tcp", addr); err != nil {
			pc.Close()
			return err
		}
	}
	errc := make(chan error, 2)
	go func() { errc <- s.Serve(pc) }()
	if ln != nil {
		go func() { errc <- s.ServeWebSocket(ln) }()
	}
	first := <-errc
	if !errors.Is(first, ErrServerClosed) {
		s.Close() // one transport failed: stop the other
	}
	if ln != nil {
		<-errc
	}
	return first
}

// wsAddr is the WebSocket listener's address: "" when off.
func (s *Server) wsAddr() string {
	switch s.WebSocketAddr {
	case "off":
		return ""
	case "":
		return s.addr()
	}
	return s.WebSocketAddr
}

// ServeWebSocket serves WebSocket players arriving on ln until Shutdown or
// Close, then returns ErrServerClosed. It may be called beside Serve, and
// for several listeners.
func (s *Server) ServeWebSocket(ln net.Listener) error {
	s.mu.Lock()
	if err := s.startLocked(); err != nil {
		s.mu.Unlock()
		ln.Close()
		return err
	}
	tr := s.ws
	if tr == nil {
		var err error
		if tr, err = wslink.New(s.wsConfig(), s.quota, acceptor{s}); err != nil {
			s.mu.Unlock()
			ln.Close()
			return err
		}
		s.ws = tr
		s.transports = append(s.transports, tr)
	}
	s.mu.Unlock()
	scheme := "ws"
	if tr.TLS() {
		scheme = "wss"
	}
	s.Logger.Info().Str("addr", ln.Addr().String()).Str("transport", scheme).Msg("relay listening")
	err := tr.Serve(ln)
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if err != nil && !closing {
		return err
	}
	return ErrServerClosed
}

// Serve serves KCP sessions arriving on pc until Shutdown or Close, then
// returns ErrServerClosed. It closes pc when it returns. Serve may be called
// for several sockets, and beside ServeWebSocket: every transport feeds the
// same rooms and tick.
func (s *Server) Serve(pc net.PacketConn) error {
	s.mu.Lock()
	if err := s.startLocked(); err != nil {
		s.mu.Unlock()
		pc.Close()
		return err
	}
	tr := kcplink.New(pc, s.kcpConfig(), s.quota, acceptor{s})
	s.transports = append(s.transports, tr)
	if s.kcp == nil {
		s.kcp = tr
	}
	readerDone := tr.Start(&s.wg)
	s.mu.Unlock()

	s.Logger.Info().Str("addr", pc.LocalAddr().String()).Str("transport", "kcp").Msg("relay listening")
	<-readerDone
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if err := tr.Err(); err != nil && !closing {
		return err
	}
	return ErrServerClosed
}

// startLocked starts the tick on the first Serve call; s.mu is held.
func (s *Server) startLocked() error {
	if s.closing {
		return ErrServerClosed
	}
	if s.started {
		return nil
	}
	rate, err := tick.ResolveRate(s.TickRate)
	if err != nil {
		return err
	}
	s.bans = newBanList()
	hub, err := newHub(s.hubConfig(rate), &s.stats)
	if err != nil {
		return fmt.Errorf("relay: matchmaker: %w", err)
	}
	s.hub = hub
	s.started = true
	s.startedAt = time.Now()
	s.ops = make(chan func(), 64)
	s.quota = admit.New(s.quotaConfig())
	s.quota.SetBanned(s.bans.addressBanned)
	s.shutdown = make(chan struct{})
	s.drained = make(chan struct{})
	s.gc = newGCPacer()
	ctx, cancel := context.WithCancel(context.Background())
	s.stopTick = cancel
	loop := &tick.Loop{Rate: rate, Clock: s.Clock, Work: s.onTick}
	s.loop = loop
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = loop.Run(ctx) // returns when stopTick is called
	}()
	s.Logger.Info().Int("tick_rate", rate).Msg("relay started")
	return nil
}

// hook hands a hub event to the webhook dispatcher, if there is one.
func (s *Server) hook(typ string, room uint32, data any) {
	if s.Webhooks != nil {
		_ = s.Webhooks.Enqueue(typ, room, data) // a drop is counted in its Stats
	}
}

// acceptor hands a transport's new links to the tick.
type acceptor struct{ s *Server }

// Accept queues l for the next tick; false when the server is closing.
func (a acceptor) Accept(l link.Link) bool {
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.pending = append(s.pending, l)
	return true
}
