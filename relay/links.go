package relay

import (
	"slices"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// A player outlives its link: a player whose connection is lost stays in
// its room, marked away, and may resume on a new link. The functions here
// attach, detach and close links and remove players.

// closingLink is a link detached from its player that still delivers its
// last bytes (replies and a close message) before it is closed.
type closingLink struct {
	l       conn
	out     []byte
	sent    bool
	closeAt time.Time
}

// handleLink applies a message that arrived on l.
func (h *hub) handleLink(l conn, body []byte, arrived time.Time) {
	if p := h.links[l]; p != nil {
		h.handle(p, body, arrived)
	}
}

// lostLink is called when l stopped: its reader failed with code and
// reason (code 0: the transport itself is gone, nothing can be sent).
func (h *hub) lostLink(l conn, code codec.Code, reason string) {
	p := h.links[l]
	if p == nil {
		return
	}
	if code != 0 {
		h.closePlayer(p, code, reason)
		return
	}
	h.dropLink(p)
	l.Close()
	h.awayOrRemove(p, reason)
}

// linkIdle is called when nothing arrived on l within the idle timeout.
func (h *hub) linkIdle(l conn) {
	p := h.links[l]
	if p == nil || p.closing || !p.helloed {
		return
	}
	h.detach(p, codec.CodeIdleTimeout, "nothing received within the idle timeout")
	h.awayOrRemove(p, "idle timeout")
}

// dropLink unties p from its link without sending anything.
func (h *hub) dropLink(p *player) {
	if p.link == nil {
		return
	}
	delete(h.links, p.link)
	p.link = nil
	// The link may still own the buffer it is writing: leave it to it.
	p.inflight, p.spare = nil, nil
}

// detach ends p's link with a close message; p itself lives on.
func (h *hub) detach(p *player, code codec.Code, reason string) {
	l := p.link
	if l == nil {
		return
	}
	h.dropLink(p)
	out := codec.AppendClose(p.out, code, reason)
	p.out = nil
	h.closing = append(h.closing, closingLink{l: l, out: out, closeAt: h.now.Add(h.cfg.closeLinger)})
	if int(code) < len(h.stats.closes) {
		h.stats.closes[code].Add(1)
	}
	ev := p.log.Info()
	if code != codec.CodeClientClosed && code != codec.CodeServerClosing && code != codec.CodeReplaced {
		ev = p.log.Warn()
	}
	ev.Str("code", code.String()).Str("reason", reason).Msg("closing session")
}

// closePlayer sends p's link a close message with the reason and removes
// p: it leaves its room and cannot resume.
func (h *hub) closePlayer(p *player, code codec.Code, reason string) {
	if p.closing {
		return
	}
	if p.room != nil {
		h.leave(p, code.String())
	}
	p.closing = true
	h.leaveMeetingPlace(p)
	h.forgetToken(p)
	p.events, p.nEvents, p.chat, p.nChat = p.events[:0], 0, p.chat[:0], 0
	p.packets, p.nPackets, p.unrel = p.packets[:0], 0, p.unrel[:0]
	if p.link != nil {
		h.detach(p, code, reason)
	} else {
		p.log.Info().Str("code", code.String()).Str("reason", reason).Msg("player removed")
	}
	h.dead = append(h.dead, p)
}

// awayOrRemove keeps a player that lost its link for the resume grace, or
// removes it when it cannot resume.
func (h *hub) awayOrRemove(p *player, why string) {
	if p.closing {
		return
	}
	if !p.helloed || h.cfg.resumeGrace <= 0 || h.shuttingDown {
		if p.room != nil {
			h.leave(p, why)
		}
		p.closing = true
		h.leaveMeetingPlace(p)
		h.forgetToken(p)
		p.log.Info().Str("reason", why).Msg("session lost")
		h.dead = append(h.dead, p)
		return
	}
	p.away = true
	p.awayUntil = h.now.Add(h.cfg.resumeGrace)
	p.presenceTick = h.tick
	p.log.Info().Str("reason", why).Dur("grace", h.cfg.resumeGrace).Msg("session lost; player kept for resume")
}

func (h *hub) remove(p *player) {
	if _, ok := h.players[p.id]; !ok {
		return
	}
	delete(h.players, p.id)
	if i := slices.Index(h.order, p); i >= 0 {
		h.order = slices.Delete(h.order, i, i+1) // keeps the order; clears the freed slot
	}
	h.stats.players.Add(-1)
	if p.link != nil { // removed without a goodbye: the link goes too
		l := p.link
		h.dropLink(p)
		l.Close()
	}
}

// flushClosing delivers detached links' last bytes and closes them once
// their linger time is over.
func (h *hub) flushClosing() {
	kept := h.closing[:0]
	for _, c := range h.closing {
		if !c.sent && !c.l.Busy() {
			h.stats.bytesOut.Add(uint64(len(c.out)))
			c.l.Send(c.out)
			c.sent = true
		}
		if !h.now.Before(c.closeAt) {
			c.l.Close()
			continue
		}
		kept = append(kept, c)
	}
	clear(h.closing[len(kept):])
	h.closing = kept
}

func (h *hub) issueToken(p *player) {
	h.forgetToken(p)
	p.resumeToken = newToken()
	h.tokens[p.resumeToken] = p
}

func (h *hub) forgetToken(p *player) {
	if p.resumeToken != "" {
		delete(h.tokens, p.resumeToken)
		p.resumeToken = ""
	}
}
