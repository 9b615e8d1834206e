package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// Response bodies that wrap a list, so that fields can be added later
// without breaking clients.
type (
	roomsResponse struct {
		Rooms  []RoomSummary `json:"rooms"`
		Limit  int           `json:"limit"`
		Offset int           `json:"offset"`
	}
	playersResponse struct {
		Players []PlayerSummary `json:"players"`
		Limit   int             `json:"limit"`
		Offset  int             `json:"offset"`
	}
	bansResponse struct {
		Bans []Ban `json:"bans"`
	}
	okResponse struct {
		OK bool `json:"ok"`
	}
	drainResponse struct {
		Draining bool      `json:"draining"`
		Deadline time.Time `json:"deadline"`
	}
)

func (h *Handler) getOverview(w http.ResponseWriter, r *http.Request) {
	if err := queryParams(r.URL.Query()); err != nil {
		writeInputError(w, err)
		return
	}
	ctx, cancel := h.relayCtx(r)
	defer cancel()
	o, err := h.Relay.Overview(ctx)
	if err != nil {
		h.relayError(w, err)
		return
	}
	// Empty maps, not null, so the dashboard can iterate without checks.
	if o.PlayersByTransport == nil {
		o.PlayersByTransport = map[string]int{}
	}
	if o.Drops == nil {
		o.Drops = map[string]uint64{}
	}
	if o.Closes == nil {
		o.Closes = map[string]uint64{}
	}
	writeJSON(w, http.StatusOK, o)
}

func (h *Handler) getRooms(w http.ResponseWriter, r *http.Request) {
	q, err := parseRoomQuery(r.URL.Query())
	if err != nil {
		writeInputError(w, err)
		return
	}
	ctx, cancel := h.relayCtx(r)
	defer cancel()
	rooms, err := h.Relay.Rooms(ctx, q)
	if err != nil {
		h.relayError(w, err)
		return
	}
	if len(rooms) > q.Limit {
		rooms = rooms[:q.Limit]
	}
	now := h.now()
	for i := range rooms {
		rooms[i].Age = age(now, rooms[i].Created)
	}
	writeJSON(w, http.StatusOK, roomsResponse{Rooms: nonNil(rooms), Limit: q.Limit, Offset: q.Offset})
}

func (h *Handler) getRoom(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "room")
	if err != nil {
		writeInputError(w, err)
		return
	}
	ctx, cancel := h.relayCtx(r)
	defer cancel()
	d, err := h.Relay.Room(ctx, id)
	if err != nil {
		h.relayError(w, err)
		return
	}
	now := h.now()
	d.Age = age(now, d.Created)
	for i := range d.Members {
		d.Members[i].Age = age(now, d.Members[i].ConnectedAt)
	}
	d.Members = nonNil(d.Members)
	if d.Props == nil {
		d.Props = map[string]any{}
	}
	writeJSON(w, http.StatusOK, d)
}

func (h *Handler) getPlayers(w http.ResponseWriter, r *http.Request) {
	q, err := parsePlayerQuery(r.URL.Query())
	if err != nil {
		writeInputError(w, err)
		return
	}
	ctx, cancel := h.relayCtx(r)
	defer cancel()
	players, err := h.Relay.Players(ctx, q)
	if err != nil {
		h.relayError(w, err)
		return
	}
	if len(players) > q.Limit {
		players = players[:q.Limit]
	}
	now := h.now()
	for i := range players {
		players[i].Age = age(now, players[i].ConnectedAt)
	}
	writeJSON(w, http.StatusOK, playersResponse{Players: nonNil(players), Limit: q.Limit, Offset: q.Offset})
}

func (h *Handler) postKick(w http.ResponseWriter, r *http.Request) {
	h.reasonAction(w, r, "kick", "player", h.Relay.Kick)
}

func (h *Handler) postCloseRoom(w http.ResponseWriter, r *http.Request) {
	h.reasonAction(w, r, "close_room", "room", h.Relay.CloseRoom)
}

// reasonAction runs an action on the {id} in the path with the reason in
// the body (optional).
func (h *Handler) reasonAction(w http.ResponseWriter, r *http.Request, action, what string,
	do func(ctx context.Context, id uint32, reason string) error) {
	id, err := pathID(r, what)
	var body reasonRequest
	if err == nil {
		err = decodeBody(w, r, &body, true)
	}
	if err == nil {
		body.Reason, err = checkText("reason", body.Reason, MaxReasonBytes, false)
	}
	if err != nil {
		writeInputError(w, err)
		return
	}
	ctx, cancel := h.relayCtx(r)
	defer cancel()
	err = do(ctx, id, body.Reason)
	h.audit(r, action, err, func(e *zerolog.Event) { e.Uint32(what, id).Str("reason", body.Reason) })
	if err != nil {
		h.relayError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, okResponse{true})
}

func (h *Handler) getBans(w http.ResponseWriter, r *http.Request) {
	if err := queryParams(r.URL.Query()); err != nil {
		writeInputError(w, err)
		return
	}
	ctx, cancel := h.relayCtx(r)
	defer cancel()
	bans, err := h.Relay.Bans(ctx)
	if err != nil {
		h.relayError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, bansResponse{nonNil(bans)})
}

func (h *Handler) postBan(w http.ResponseWriter, r *http.Request) {
	var req banRequest
	err := decodeBody(w, r, &req, false)
	var b Ban
	if err == nil {
		b, err = req.ban(h.now())
	}
	if err != nil {
		writeInputError(w, err)
		return
	}
	ctx, cancel := h.relayCtx(r)
	defer cancel()
	stored, err := h.Relay.Ban(ctx, b)
	h.audit(r, "ban", err, func(e *zerolog.Event) {
		e.Str("ban", stored.ID).Uint32("player", b.PlayerID).Str("user", b.UserID).Str("address", b.Address).
			Time("until", b.Until).Str("reason", b.Reason)
	})
	if err != nil {
		h.relayError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, stored)
}

func (h *Handler) deleteBan(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := printable("ban id", id); err != nil || id == "" || len(id) > 64 {
		writeError(w, http.StatusBadRequest, "bad ban id")
		return
	}
	ctx, cancel := h.relayCtx(r)
	defer cancel()
	err := h.Relay.Unban(ctx, id)
	h.audit(r, "unban", err, func(e *zerolog.Event) { e.Str("ban", id) })
	if err != nil {
		h.relayError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, okResponse{true})
}

func (h *Handler) postAnnounce(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Text string `json:"text"`
	}
	err := decodeBody(w, r, &req, false)
	if err == nil {
		req.Text, err = checkText("text", req.Text, MaxAnnounceBytes, true)
	}
	if err != nil {
		writeInputError(w, err)
		return
	}
	ctx, cancel := h.relayCtx(r)
	defer cancel()
	err = h.Relay.Announce(ctx, req.Text)
	h.audit(r, "announce", err, func(e *zerolog.Event) { e.Str("text", req.Text) })
	if err != nil {
		h.relayError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, okResponse{true})
}

func (h *Handler) postDrain(w http.ResponseWriter, r *http.Request) {
	var req drainRequest
	err := decodeBody(w, r, &req, false)
	var deadline time.Time
	if err == nil {
		deadline, err = req.deadline(h.now())
	}
	if err != nil {
		writeInputError(w, err)
		return
	}
	ctx, cancel := h.relayCtx(r)
	defer cancel()
	err = h.Relay.Drain(ctx, deadline)
	h.audit(r, "drain", err, func(e *zerolog.Event) { e.Time("deadline", deadline) })
	if err != nil {
		h.relayError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, drainResponse{Draining: true, Deadline: deadline})
}

// age is how long ago t was; zero when t is unknown.
func age(now, t time.Time) Millis {
	if t.IsZero() {
		return 0
	}
	return Millis(now.Sub(t))
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
