package relay

import (
	"github.com/tickrelay/tickrelay/codec"
)

// joinSeat takes a seat another node of the cluster reserved for this
// player in one of this node's rooms (the token came with a redirect).
func (h *hub) joinSeat(p *player, m *codec.ClientMsg) {
	if h.seats == nil {
		h.replyError(p, m.RID, codec.CodeForbidden, "this relay is not in a cluster: no seat to take")
		return
	}
	h.seats.take(h, p, m.RID, string(m.Code))
}

// seatTaker is the cluster's side of join_seat (cluster.go).
type seatTaker interface {
	take(h *hub, p *player, rid uint32, token string)
}
