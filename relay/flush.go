package relay

import (
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// end finishes the tick: builds each player's frame, hands output to links
// that are free, and closes what has to close.
func (h *hub) end() {
	h.stepMatchmaker()
	// Every change stamped with this tick must happen before the first
	// frame of the tick is built, or members built earlier would miss it:
	// so players that must go leave their rooms in a first pass.
	for _, p := range h.order {
		h.checkPlayer(p)
	}
	for _, p := range h.order {
		h.flushPlayer(p)
	}
	h.flushClosing()
	for _, p := range h.dead {
		h.remove(p)
	}
	clear(h.dead)
	h.dead = h.dead[:0]
	if h.tick%uint64(h.cfg.tickRate) == 0 {
		h.reapRooms()
	}
}

// checkPlayer applies the timeouts and bounds that remove or pause p.
func (h *hub) checkPlayer(p *player) {
	if p.closing {
		return
	}
	if !p.helloed {
		if h.now.Sub(p.connectedAt) > h.cfg.handshakeTimeout {
			h.closePlayer(p, codec.CodeHandshakeTimeout, "no hello within the handshake timeout")
		}
		return
	}
	if p.link == nil { // away, waiting for a resume
		switch {
		case !h.now.Before(p.awayUntil):
			h.closePlayer(p, codec.CodeIdleTimeout, "did not resume within the grace")
		case p.pending() > h.cfg.maxPending:
			h.closePlayer(p, codec.CodeSlowConsumer, "too much output waiting while away")
		}
		return
	}
	if p.inflight != nil && !p.link.Busy() {
		p.spare, p.inflight = p.inflight[:0], nil
	}
	if p.inflight == nil {
		return
	}
	// The link is still writing an earlier frame: nothing is sent now.
	// States are latest-value-wins, so the next frame carries the delta
	// since the last one sent; events and chat wait, up to a bound.
	if p.room != nil || p.nEvents > 0 || p.nChat > 0 || p.nPackets > 0 || len(p.out) > 0 {
		if p.behind == 0 {
			p.behindSince = h.now
		}
		p.behind++
		h.stats.framesBehind.Add(1)
	}
	var why string
	switch {
	case p.pending() > h.cfg.maxPending:
		why = "too much output waiting for the client"
	case time.Duration(p.behind)*time.Second/time.Duration(h.cfg.tickRate) > h.cfg.slowTimeout:
		why = "the client stopped receiving"
	default:
		return
	}
	// A client that sent nothing at all (not even an ack) since its frames
	// were first held back has lost its network: that is a lost link, kept
	// for a resume. One that still sends but cannot keep up is the slow
	// consumer.
	if p.link.Heard() < p.behindSince.UnixNano() {
		h.detach(p, codec.CodeIdleTimeout, "nothing received while frames were held back")
		h.awayOrRemove(p, "link went silent")
		return
	}
	h.closePlayer(p, codec.CodeSlowConsumer, why)
}

func (h *hub) flushPlayer(p *player) {
	if p.closing || p.link == nil || p.inflight != nil {
		return
	}
	p.behind = 0
	if p.room != nil || p.nEvents > 0 || p.nChat > 0 {
		h.appendFrame(p)
	}
	if len(p.out) > 0 {
		h.send(p)
	}
}

// appendFrame appends p's frame for this tick to its output.
func (h *hub) appendFrame(p *player) {
	b, start := codec.AppendFrameStart(p.out, h.tick, h.nowMs)
	if r := p.room; r == nil {
		b = codec.AppendNil(b)
	} else {
		if !p.needFull && p.lastSent == h.prevTick && h.prevTick != 0 {
			b = append(b, r.sharedDelta(h.tick, h.prevTick)...)
		} else {
			b = r.appendDelta(b, p.lastSent, p.needFull)
		}
		p.lastSent, p.needFull = h.tick, false
	}
	h.recordHistory(p)
	b = codec.AppendArrayLen(b, p.nEvents)
	b = append(b, p.events...)
	b = codec.AppendArrayLen(b, p.nChat)
	b = append(b, p.chat...)
	b = appendPackets(b, start, p)
	codec.EndFrame(b, start)
	p.out = b
	p.events, p.nEvents, p.chat, p.nChat = p.events[:0], 0, p.chat[:0], 0
	h.stats.framesSent.Add(1)
}

func (h *hub) send(p *player) {
	h.stats.bytesOut.Add(uint64(len(p.out)))
	p.bytesOut += uint64(len(p.out))
	p.link.Send(p.out)
	p.inflight, p.out, p.spare = p.out, p.spare, nil
}
