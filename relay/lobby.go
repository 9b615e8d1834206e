package relay

import (
	"bytes"
	"math/rand/v2"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/cluster"
	"github.com/tickrelay/tickrelay/relay/webhook"
)

// codeAlphabet leaves out letters and digits that read alike (0/O, 1/I/L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

const codeLen = 6

func normalizeCode(c []byte) string {
	return string(bytes.ToUpper(bytes.TrimSpace(c)))
}

// newCode returns a fresh code that taken does not know.
func newCode(taken func(string) bool) string {
	var b [codeLen]byte
	for {
		for i := range b {
			b[i] = codeAlphabet[rand.IntN(len(codeAlphabet))]
		}
		if !taken(string(b[:])) {
			return string(b[:])
		}
	}
}

// roomCodeTaken reports whether a room of this node, or of another node of
// the cluster, has code c.
func (h *hub) roomCodeTaken(c string) bool {
	if h.codes[c] != nil {
		return true
	}
	if h.cl != nil {
		_, taken := h.cl.node.RoomByCode(c)
		return taken
	}
	return false
}

// newRoom creates a room with p's requested settings, or replies an error
// and returns nil.
func (h *hub) newRoom(p *player, rid uint32, mode string, maxPlayers int, public bool, props []codec.Prop) *room {
	r, code, msg := h.makeRoom(mode, maxPlayers, public, props)
	if r == nil {
		h.replyError(p, rid, code, msg)
	}
	return r
}

// makeRoom creates a room, or says why not.
func (h *hub) makeRoom(mode string, maxPlayers int, public bool, props []codec.Prop) (*room, codec.Code, string) {
	if h.draining {
		return nil, codec.CodeServerClosing, "the server is draining for maintenance: no new rooms"
	}
	if len(h.rooms) >= h.cfg.maxRooms {
		return nil, codec.CodeLimit, "the server has its maximum number of rooms"
	}
	if maxPlayers == 0 {
		maxPlayers = h.cfg.maxPlayersPerRoom
	}
	if maxPlayers > h.cfg.maxPlayersPerRoom {
		return nil, codec.CodeBadRequest, "max_players is over the server's limit"
	}
	r := &room{mode: mode, maxPlayers: maxPlayers, public: public, created: h.now}
	if err := r.props.merge(props, h.cfg.limits.PropKeys); err != nil {
		return nil, codec.CodeLimit, err.Error()
	}
	h.addRoom(r)
	return r, 0, ""
}

// addRoom gives r its id and code and makes it known.
func (h *hub) addRoom(r *room) {
	h.nextRoom++
	r.id = h.nextRoom
	r.code = newCode(h.roomCodeTaken)
	r.propsTick = h.tick
	h.rooms[r.id] = r
	h.roomOrder = append(h.roomOrder, r)
	h.codes[r.code] = r
	h.stats.rooms.Add(1)
	h.cfg.log.Info().Uint32("room", r.id).Str("mode", r.mode).Bool("public", r.public).Msg("room created")
	h.notify(webhook.RoomCreated, r.id, webhook.RoomEvent{Room: r.id, Code: r.code, Mode: r.mode, MaxPlayers: r.maxPlayers})
}

// canEnterRoom reports whether p may join or create a room now, else
// replies why not.
func (h *hub) canEnterRoom(p *player, rid uint32) bool {
	switch {
	case p.room != nil:
		h.replyError(p, rid, codec.CodeAlreadyInRoom, "leave the current room first")
	case p.ticket != 0:
		h.replyError(p, rid, codec.CodeQueued, "leave the matchmaker's queue first")
	case p.seating:
		h.replyError(p, rid, codec.CodeBadRequest, "a room request is waiting for another node's answer")
	default:
		return true
	}
	return false
}

// createRoom makes p's room here, or, in a cluster, on the least loaded
// node (then p is redirected there).
func (h *hub) createRoom(p *player, m *codec.ClientMsg) {
	if p.allowedRoom != "" {
		h.replyError(p, m.RID, codec.CodeForbidden, "the auth token allows one room only")
		return
	}
	if !h.canEnterRoom(p, m.RID) {
		return
	}
	if node := h.placeRoom(); node != 0 {
		h.createElsewhere(p, m.RID, node, specOf(m, m.Public))
		return
	}
	if r := h.newRoom(p, m.RID, string(m.Mode), m.MaxPlayers, m.Public, m.Props); r != nil {
		h.join(p, r, m.RID)
	}
}

func (h *hub) join(p *player, r *room, rid uint32) {
	if !h.canEnterRoom(p, rid) {
		return
	}
	switch {
	case !roomAllowed(p.allowedRoom, r):
		h.replyError(p, rid, codec.CodeForbidden, "the auth token does not allow this room")
	case r.locked:
		h.replyError(p, rid, codec.CodeRoomLocked, "the room is locked")
	case r.full():
		h.replyError(p, rid, codec.CodeRoomFull, "the room is full")
	default:
		r.add(p, h.tick)
		p.out = codec.AppendRoomJoined(p.out, rid, r.id, r.code, r.mode, r.maxPlayers)
		p.log.Debug().Uint32("room", r.id).Msg("joined room")
		h.notify(webhook.PlayerJoined, r.id, webhook.PlayerEvent{Room: r.id, Player: p.id, UserID: p.userID, Name: p.name})
	}
}

// joinRoom joins a public room by id: here, or on another node.
func (h *hub) joinRoom(p *player, m *codec.ClientMsg) {
	if r := h.rooms[m.RoomID]; r != nil && r.public {
		h.join(p, r, m.RID)
		return
	}
	if h.cl.remote(m.RoomID) {
		if r, ok := h.cl.node.RoomByID(m.RoomID); ok && r.Public {
			h.joinElsewhere(p, m.RID, r)
			return
		}
	}
	h.replyError(p, m.RID, codec.CodeRoomNotFound, "no public room with that id")
}

// joinCode joins a room by its code: here, or on another node.
func (h *hub) joinCode(p *player, m *codec.ClientMsg) {
	code := normalizeCode(m.Code)
	if r := h.codes[code]; r != nil {
		h.join(p, r, m.RID)
		return
	}
	if h.cl != nil {
		if r, ok := h.cl.node.RoomByCode(code); ok {
			h.joinElsewhere(p, m.RID, r)
			return
		}
	}
	h.replyError(p, m.RID, codec.CodeRoomNotFound, "no room with that code")
}

// matchable reports whether quick match may put a player into r.
func matchable(r *room, mode []byte, props []codec.Prop) bool {
	return r.public && !r.locked && !r.full() && len(r.members) > 0 &&
		r.mode == string(mode) && r.props.matches(props)
}

// joinOrCreate is the simplest quick match: the fullest open public room of
// the mode whose properties match (here, else on another node), else a new
// public room with them.
func (h *hub) joinOrCreate(p *player, m *codec.ClientMsg) {
	if p.allowedRoom != "" {
		h.replyError(p, m.RID, codec.CodeForbidden, "the auth token allows one room only")
		return
	}
	if !h.canEnterRoom(p, m.RID) {
		return
	}
	var best *room
	for _, r := range h.roomOrder {
		if matchable(r, m.Mode, m.Props) && (best == nil || len(r.members) > len(best.members)) {
			best = r
		}
	}
	if best != nil {
		h.join(p, best, m.RID)
		return
	}
	if h.cl != nil {
		// Another node's room, else a new room where it belongs; either
		// way a refusal makes the room here.
		if r, ok := h.remoteMatch(m.Mode, m.Props); ok {
			h.requestSeat(p, m.RID, r.Node, cluster.SeatRequest{Room: r.ID}, specOf(m, true))
			return
		}
		if node := h.placeRoom(); node != 0 {
			h.createElsewhere(p, m.RID, node, specOf(m, true))
			return
		}
	}
	if best = h.newRoom(p, m.RID, string(m.Mode), m.MaxPlayers, true, m.Props); best != nil {
		h.join(p, best, m.RID)
	}
}

func (h *hub) listRooms(p *player, m *codec.ClientMsg) {
	limit := m.Limit
	if limit <= 0 || limit > h.cfg.maxListed {
		limit = h.cfg.maxListed
	}
	listed := func(r *room) bool {
		return r.public && len(r.members) > 0 && (len(m.Mode) == 0 || r.mode == string(m.Mode)) &&
			r.props.matches(m.Props)
	}
	n := 0
	for _, r := range h.roomOrder {
		if n < limit && listed(r) {
			n++
		}
	}
	var remote []cluster.Room
	if h.cl != nil && n < limit {
		remote = h.remoteListed(m.Mode, m.Props, limit-n)
	}
	b, start := codec.AppendRoomListHeader(p.out, m.RID, n+len(remote))
	for _, r := range h.roomOrder {
		if n == 0 {
			break
		}
		if listed(r) {
			b = codec.AppendRoomListEntry(b, r.id, r.mode, len(r.members), r.maxPlayers, r.locked, r.props.bytes())
			n--
		}
	}
	for _, r := range remote {
		h.scratch = appendPropMap(h.scratch[:0], r.Props)
		b = codec.AppendRoomListEntry(b, r.ID, r.Mode, r.Players, r.MaxPlayers, r.Locked, h.scratch)
	}
	codec.EndFrame(b, start)
	p.out = b
}

// leave takes p out of its room; why is for the game's backend.
func (h *hub) leave(p *player, why string) {
	r := p.room
	r.remove(p, h.tick, h.now)
	p.log.Debug().Uint32("room", r.id).Msg("left room")
	h.notify(webhook.PlayerLeft, r.id, webhook.PlayerEvent{Room: r.id, Player: p.id, UserID: p.userID, Name: p.name, Reason: why})
}

// masterRoom returns p's room if p is its master, else replies an error.
func (h *hub) masterRoom(p *player, rid uint32) *room {
	switch {
	case p.room == nil:
		h.replyError(p, rid, codec.CodeNotInRoom, "not in a room")
		return nil
	case p.room.master != p:
		h.replyError(p, rid, codec.CodeNotMaster, "only the master client may do this")
		return nil
	}
	return p.room
}

func (h *hub) setRoomProps(p *player, m *codec.ClientMsg) {
	r := h.masterRoom(p, m.RID)
	if r == nil {
		return
	}
	if err := r.props.merge(m.Props, h.cfg.limits.PropKeys); err != nil {
		h.replyError(p, m.RID, codec.CodeLimit, err.Error())
		return
	}
	r.propsTick = h.tick
	p.out = codec.AppendOK(p.out, m.RID)
}

func (h *hub) kick(p *player, m *codec.ClientMsg) {
	r := h.masterRoom(p, m.RID)
	if r == nil {
		return
	}
	target := r.member(m.PlayerID)
	switch {
	case target == nil:
		h.replyError(p, m.RID, codec.CodePlayerNotFound, "no such player in the room")
	case target == p:
		h.replyError(p, m.RID, codec.CodeBadRequest, "the master cannot kick itself; leave instead")
	default:
		h.leave(target, codec.CodeKicked.String())
		target.out = codec.AppendRoomLeft(target.out, 0, codec.CodeKicked)
		p.out = codec.AppendOK(p.out, m.RID)
		target.log.Info().Uint32("room", r.id).Uint32("by", p.id).Msg("kicked")
	}
}

func (h *hub) event(p *player, m *codec.ClientMsg) {
	r := p.room
	if r == nil {
		h.replyError(p, 0, codec.CodeNotInRoom, "events need a room")
		return
	}
	h.scratch = codec.AppendEventEntry(h.scratch[:0], h.tick, p.id, m.EventCode, m.Value)
	switch m.Target {
	case codec.TargetAll, codec.TargetOthers:
		for _, q := range r.members {
			if q != p || m.Target == codec.TargetAll {
				h.queueEvent(q)
			}
		}
	case codec.TargetMaster:
		h.queueEvent(r.master)
	case codec.TargetList:
		// Each listed member gets the event once, even if listed twice;
		// ids that are not members are skipped, as they may just have left.
		for i, id := range m.Targets {
			if q := r.member(id); q != nil && !containsID(m.Targets[:i], id) {
				h.queueEvent(q)
			}
		}
	}
}

func containsID(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (h *hub) queueEvent(q *player) {
	q.events = append(q.events, h.scratch...)
	q.nEvents++
	h.stats.eventsRelayed.Add(1)
}

func (h *hub) queueChat(q *player) {
	q.chat = append(q.chat, h.scratch...)
	q.nChat++
	h.stats.chatRelayed.Add(1)
}

// chat delivers room chat to every member (the sender sees its own line
// with the server's timestamp) and a direct message to its target and back
// to its sender.
func (h *hub) chat(p *player, m *codec.ClientMsg) {
	h.scratch = codec.AppendChatEntry(h.scratch[:0], p.id, m.To, h.nowMs, m.Text)
	if m.To == 0 {
		if p.room == nil {
			h.replyError(p, 0, codec.CodeNotInRoom, "room chat needs a room")
			return
		}
		for _, q := range p.room.members {
			h.queueChat(q)
		}
		return
	}
	if h.cl.remote(m.To) {
		h.dmElsewhere(p, m.To, m.Text)
		return
	}
	q := h.players[m.To]
	if q == nil || !q.helloed || q.closing {
		h.replyError(p, 0, codec.CodePlayerNotFound, "no such player")
		return
	}
	h.queueChat(q)
	if q != p {
		h.queueChat(p)
	}
}

// dropRoom forgets r (its members are gone); the caller takes it out of
// roomOrder.
func (h *hub) dropRoom(r *room, why string) {
	h.cancelBackfill(r)
	delete(h.rooms, r.id)
	delete(h.codes, r.code)
	h.stats.rooms.Add(-1)
	h.cfg.log.Info().Uint32("room", r.id).Str("reason", why).Msg("room removed")
	h.notify(webhook.RoomClosed, r.id, webhook.RoomEvent{Room: r.id, Code: r.code, Mode: r.mode, Reason: why})
}

// reapRooms removes rooms that have been empty for longer than the grace.
func (h *hub) reapRooms() {
	kept := h.roomOrder[:0]
	for _, r := range h.roomOrder {
		if len(r.members) == 0 && len(r.holds) == 0 && !r.emptySince.IsZero() && h.now.Sub(r.emptySince) >= h.cfg.emptyRoomGrace {
			h.dropRoom(r, "empty")
			continue
		}
		kept = append(kept, r)
	}
	clear(h.roomOrder[len(kept):])
	h.roomOrder = kept
}
