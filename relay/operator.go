package relay

import (
	"context"
	"errors"
	"maps"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/relay/admin"
	"github.com/tickrelay/tickrelay/tick"
)

// Server implements the operator's API (relay/admin): every call is handed
// to the tick goroutine, which owns the rooms and players, and answered
// there, or given up when ctx ends.
var _ admin.Relay = (*Server)(nil)

// errNotServing answers operator calls to a relay that is not running.
var errNotServing = errors.New("relay: not serving")

// maxOpsPerTick bounds the operator calls one tick runs, so that a burst
// of API requests cannot hold a tick.
const maxOpsPerTick = 32

// do runs f on the tick goroutine and waits for it, or for ctx. Either f
// runs and do returns after it, or ctx ended first and f never runs: f
// may write the caller's variables without a race either way.
func (s *Server) do(ctx context.Context, f func(h *hub)) error {
	s.mu.Lock()
	ops, started, closing := s.ops, s.started, s.closing
	s.mu.Unlock()
	if !started || closing {
		return errNotServing
	}
	done := make(chan struct{})
	var taken atomic.Bool // by the tick to run f, or by the caller giving up
	op := func() {
		if taken.CompareAndSwap(false, true) {
			f(s.hub)
		}
		close(done)
	}
	select {
	case ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		if taken.CompareAndSwap(false, true) {
			return ctx.Err()
		}
		<-done // f is running on the tick: it ends within the tick
		return nil
	}
}

// runOps runs the operator calls queued for this tick; owned by the tick.
func (s *Server) runOps() {
	for range maxOpsPerTick {
		select {
		case f := <-s.ops:
			f()
		default:
			return
		}
	}
}

// version is the module version the binary was built from.
var version = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}()

// Overview implements admin.Relay.
func (s *Server) Overview(ctx context.Context) (admin.Overview, error) {
	var o admin.Overview
	err := s.do(ctx, func(h *hub) {
		o.Draining, o.Rooms = h.draining, len(h.rooms)
		if h.draining {
			o.DrainDeadline = h.drainAt
		}
		o.TickRate = h.cfg.tickRate
	})
	if err != nil {
		return o, err
	}
	st := s.Stats()
	s.mu.Lock()
	started := s.startedAt
	s.mu.Unlock()
	o.Time = time.Now()
	o.Uptime = admin.Millis(o.Time.Sub(started))
	o.Version = version
	o.Players = int(st.Players)
	o.PlayersByTransport = maps.Clone(st.Transports)
	pct := func(w tick.Summary) admin.Percentiles {
		return admin.Percentiles{P50: admin.Millis(w.P50), P99: admin.Millis(w.P99), Max: admin.Millis(w.Max)}
	}
	o.TickWork, o.TickLateness = pct(st.Tick.Work), pct(st.Tick.Late)
	o.Overruns = st.Tick.Overruns
	o.BytesIn, o.BytesOut, o.FramesSent = st.BytesIn, st.BytesOut, st.FramesSent
	o.Drops = map[string]uint64{}
	for k, v := range st.Filter.Drops {
		if v > 0 {
			o.Drops["kcp_"+k] = v
		}
	}
	for k, v := range st.WebSocket.Refused {
		o.Drops["ws_"+k] = v
	}
	for k, v := range st.Webhooks.Drops {
		o.Drops["webhook_"+k] = v
	}
	o.Closes = st.Closes
	return o, nil
}

// Rooms implements admin.Relay.
func (s *Server) Rooms(ctx context.Context, q admin.RoomQuery) ([]admin.RoomSummary, error) {
	var out []admin.RoomSummary
	err := s.do(ctx, func(h *hub) { out = h.roomsFor(q) })
	return out, err
}

// Room implements admin.Relay.
func (s *Server) Room(ctx context.Context, id uint32) (admin.RoomDetail, error) {
	var d admin.RoomDetail
	var rerr error
	if err := s.do(ctx, func(h *hub) { d, rerr = h.roomDetail(id) }); err != nil {
		return d, err
	}
	return d, rerr
}

// Players implements admin.Relay.
func (s *Server) Players(ctx context.Context, q admin.PlayerQuery) ([]admin.PlayerSummary, error) {
	var out []admin.PlayerSummary
	err := s.do(ctx, func(h *hub) { out = h.playersFor(q) })
	return out, err
}

// Kick implements admin.Relay: the player's session is closed with
// kicked and the reason.
func (s *Server) Kick(ctx context.Context, player uint32, reason string) error {
	var rerr error
	if err := s.do(ctx, func(h *hub) { rerr = h.operatorKick(player, reason) }); err != nil {
		return err
	}
	return rerr
}

// CloseRoom implements admin.Relay: every member gets room_left with
// room_closed, and the room is gone.
func (s *Server) CloseRoom(ctx context.Context, room uint32, reason string) error {
	var rerr error
	if err := s.do(ctx, func(h *hub) { rerr = h.closeRoom(room, reason) }); err != nil {
		return err
	}
	return rerr
}

// Ban implements admin.Relay. In a cluster the ban goes to every node;
// each one, this one included, applies it when the cluster reports it.
func (s *Server) Ban(ctx context.Context, b admin.Ban) (admin.Ban, error) {
	var out admin.Ban
	var rerr error
	op := func(h *hub) { out, rerr = h.ban(b) }
	if s.Cluster != nil {
		op = func(h *hub) { out, rerr = h.resolveBan(b) }
	}
	if err := s.do(ctx, op); err != nil || rerr != nil || s.Cluster == nil {
		if err != nil {
			return out, err
		}
		return out, rerr
	}
	if _, err := checkBan(out); err != nil {
		return admin.Ban{}, err
	}
	stored, err := s.Cluster.PutBan(ctx, clusterBan(out))
	if err != nil {
		return admin.Ban{}, err
	}
	return adminBan(stored), nil
}

// Unban implements admin.Relay.
func (s *Server) Unban(ctx context.Context, id string) error {
	s.mu.Lock()
	bans := s.bans
	s.mu.Unlock()
	switch {
	case bans == nil:
		return errNotServing
	case s.Cluster == nil:
		return bans.remove(id)
	case !bans.has(id):
		return admin.ErrNotFound
	}
	return s.Cluster.DeleteBan(ctx, id) // every node removes it when the cluster reports it
}

// Bans implements admin.Relay.
func (s *Server) Bans(ctx context.Context) ([]admin.Ban, error) {
	s.mu.Lock()
	bans := s.bans
	s.mu.Unlock()
	if bans == nil {
		return nil, errNotServing
	}
	return bans.list(time.Now()), nil
}

// Announce implements admin.Relay: every connected player gets an announce
// message.
func (s *Server) Announce(ctx context.Context, text string) error {
	return s.do(ctx, func(h *hub) { h.announce(text) })
}

// Drain implements admin.Relay.
func (s *Server) Drain(ctx context.Context, deadline time.Time) error {
	var rerr error
	if err := s.do(ctx, func(h *hub) { rerr = h.drain(deadline) }); err != nil {
		return err
	}
	return rerr
}
