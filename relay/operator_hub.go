package relay

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/admin"
)

// The hub's side of the operator's actions (admin API): each runs on the
// tick goroutine, like every other change to the hub.

// notify hands an event to the hooks, if any.
func (h *hub) notify(typ string, room uint32, data any) {
	if h.cfg.hooks != nil {
		h.cfg.hooks(typ, room, data)
	}
}

// refusedEntry closes a new player that may not enter: banned, or the
// server is draining. It reports whether p was closed.
func (h *hub) refusedEntry(p *player) bool {
	if b, ok := h.cfg.bans.match(p.userID, p.addr.Addr(), h.now); ok {
		h.closePlayer(p, codec.CodeBanned, banReason(b))
		return true
	}
	if h.draining {
		h.closePlayer(p, codec.CodeServerClosing, "the server is draining for maintenance")
		return true
	}
	return false
}

func banReason(b admin.Ban) string {
	r := "banned"
	if b.Reason != "" {
		r += ": " + b.Reason
	}
	if !b.Until.IsZero() {
		r += " (until " + b.Until.UTC().Format(time.RFC3339) + ")"
	}
	return r
}

// checkDrain closes everyone once the drain's deadline has come.
func (h *hub) checkDrain() {
	if h.draining && !h.shuttingDown && !h.now.Before(h.drainAt) {
		h.shutdown("the server is closing for maintenance")
	}
}

// drain starts a maintenance drain, or reports that one is under way.
func (h *hub) drain(deadline time.Time) error {
	if h.draining {
		return admin.ErrConflict
	}
	h.draining, h.drainAt = true, deadline
	h.cfg.log.Warn().Time("deadline", deadline).Msg("draining for maintenance")
	return nil
}

// operatorKick closes player id's session with the operator's reason.
func (h *hub) operatorKick(id uint32, reason string) error {
	p := h.players[id]
	if p == nil || p.closing || !p.helloed {
		return admin.ErrNotFound
	}
	msg := "removed by the server's operator"
	if reason != "" {
		msg += ": " + reason
	}
	h.closePlayer(p, codec.CodeKicked, msg)
	return nil
}

// closeRoom takes every member out of room id (each gets room_left with
// room_closed) and removes it.
func (h *hub) closeRoom(id uint32, reason string) error {
	r := h.rooms[id]
	if r == nil {
		return admin.ErrNotFound
	}
	why := "closed by the operator"
	if reason != "" {
		why += ": " + reason
	}
	for len(r.members) > 0 {
		m := r.members[0]
		h.leave(m, why)
		m.out = codec.AppendRoomLeft(m.out, 0, codec.CodeRoomClosed)
	}
	h.dropRoom(r, why)
	if i := slices.Index(h.roomOrder, r); i >= 0 {
		h.roomOrder = slices.Delete(h.roomOrder, i, i+1)
	}
	return nil
}

// announce queues text for every connected player.
func (h *hub) announce(text string) {
	for _, p := range h.order {
		if p.helloed && !p.closing && p.link != nil {
			p.out = codec.AppendAnnounce(p.out, text, h.nowMs)
		}
	}
}

// ban stores b (a player id resolved to its user id, or else its address)
// and closes every player it matches.
func (h *hub) ban(b admin.Ban) (admin.Ban, error) {
	b, err := h.resolveBan(b)
	if err != nil {
		return admin.Ban{}, err
	}
	stored, err := h.cfg.bans.add(b, h.now)
	if err != nil {
		return admin.Ban{}, err
	}
	h.closeBanned(stored)
	return stored, nil
}

// resolveBan turns a ban of a player of this node into a ban of its user
// id, or else of its address.
func (h *hub) resolveBan(b admin.Ban) (admin.Ban, error) {
	if b.PlayerID == 0 || h.cl.remote(b.PlayerID) {
		return b, nil // another node's player: its node closes it
	}
	p := h.players[b.PlayerID]
	if p == nil || !p.helloed {
		return admin.Ban{}, admin.ErrNotFound
	}
	if p.userID != "" {
		b.UserID = p.userID
	} else {
		b.Address = p.addr.Addr().Unmap().String()
	}
	return b, nil
}

// closeBanned closes every player the ban list refuses now; b is the new
// ban, for the reason.
func (h *hub) closeBanned(b admin.Ban) {
	for _, p := range h.order {
		if p.closing || !p.helloed {
			continue
		}
		if _, ok := h.cfg.bans.match(p.userID, p.addr.Addr(), h.now); ok {
			h.closePlayer(p, codec.CodeBanned, banReason(b))
		}
	}
}

// roomSummary describes r for the operator.
func roomSummary(r *room) admin.RoomSummary {
	return admin.RoomSummary{ID: r.id, Code: r.code, Mode: r.mode, Players: len(r.members), MaxPlayers: r.maxPlayers,
		Public: r.public, Locked: r.locked, Master: r.masterID(), Created: r.created}
}

// rooms lists the rooms q selects, by id.
func (h *hub) roomsFor(q admin.RoomQuery) []admin.RoomSummary {
	text := strings.ToLower(q.Text)
	var out []admin.RoomSummary
	pg := newPage(q.Offset, q.Limit)
	for _, r := range h.roomOrder { // creation order is id order
		if q.Mode != "" && r.mode != q.Mode {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(r.code), text) &&
			!strings.Contains(strconv.FormatUint(uint64(r.id), 10), text) && !strings.Contains(strings.ToLower(r.mode), text) {
			continue
		}
		take, full := pg.next()
		if full {
			break
		}
		if take {
			out = append(out, roomSummary(r))
		}
	}
	return out
}

// page selects a query's offset and limit from the items that match it,
// in order.
type page struct{ skip, left int }

func newPage(offset, limit int) page {
	if limit <= 0 {
		limit = admin.DefaultLimit
	}
	return page{skip: offset, left: limit}
}

// next is called for each matching item: take it, or (full) stop.
func (p *page) next() (take, full bool) {
	switch {
	case p.skip > 0:
		p.skip--
		return false, false
	case p.left == 0:
		return false, true
	}
	p.left--
	return true, false
}

// playerSummary describes p for the operator.
func playerSummary(p *player) admin.PlayerSummary {
	s := admin.PlayerSummary{ID: p.id, Name: p.name, UserID: p.userID, Transport: p.transport,
		Remote: p.addr.String(), BytesIn: p.bytesIn, BytesOut: p.bytesOut, StateBytes: len(p.state),
		ConnectedAt: p.connectedAt, Away: p.away}
	if p.room != nil {
		s.Room = p.room.id
	}
	if r, ok := p.link.(interface{ RTT() time.Duration }); ok && p.link != nil {
		s.RTT = admin.Millis(r.RTT())
	}
	return s
}

// playersFor lists the players q selects, by id.
func (h *hub) playersFor(q admin.PlayerQuery) []admin.PlayerSummary {
	text := strings.ToLower(q.Text)
	var out []admin.PlayerSummary
	pg := newPage(q.Offset, q.Limit)
	for _, p := range h.order { // connection order is id order
		if !p.helloed || p.closing {
			continue
		}
		if q.Room != 0 && (p.room == nil || p.room.id != q.Room) {
			continue
		}
		if q.Transport != "" && p.transport != q.Transport {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(p.name), text) && !strings.Contains(strconv.FormatUint(uint64(p.id), 10), text) &&
			!strings.Contains(strings.ToLower(p.userID), text) && !strings.Contains(p.addr.String(), text) {
			continue
		}
		take, full := pg.next()
		if full {
			break
		}
		if take {
			out = append(out, playerSummary(p))
		}
	}
	return out
}

// roomDetail describes room id with its members and properties.
func (h *hub) roomDetail(id uint32) (admin.RoomDetail, error) {
	r := h.rooms[id]
	if r == nil {
		return admin.RoomDetail{}, admin.ErrNotFound
	}
	d := admin.RoomDetail{RoomSummary: roomSummary(r), Props: map[string]any{}}
	for i, k := range r.props.keys {
		d.Props[k] = displayValue(r.props.values[i])
	}
	for _, m := range r.members {
		d.Members = append(d.Members, playerSummary(m))
	}
	return d, nil
}
