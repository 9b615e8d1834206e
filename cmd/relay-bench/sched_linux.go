package main

import (
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/kcpx"
)

// A bot's KCP is flushed only when something is due: a state or a ping to
// send, an ack or queued data owed since the last flush (by one interval
// later, as a client updating its KCP every interval would send it), a
// resend, or held acks to release. kcp-go's Check would instead wake every
// bot every interval (10 ms) whether or not it has anything to do; that
// was over half of the generator's CPU at 2,000 bots. The wheel holds each
// bot at its next due time, up to wheelSize-1 ms ahead; a bot moved earlier
// leaves a stale entry behind, which runWheel recognises and drops.

// plan puts b in the wheel at its next due time after a flush at nowMs.
func (w *worker) plan(b *bot, now int64, nowMs uint32) {
	next := nowMs + wheelSize - 1
	earlier := func(ms int64) {
		if d := nowMs + uint32(max(1, ms)); kcpx.Before(d, next) {
			next = d
		}
	}
	untilMs := func(t int64) int64 { return (t - now + int64(time.Millisecond) - 1) / int64(time.Millisecond) }
	if rs, held, ok := kcpx.ResendIn(b.k, nowMs, kcpInterval); !ok {
		earlier(int64(int32(b.k.Check() - nowMs))) // kcp-go changed: wake as Check asks
	} else {
		if rs >= 0 {
			earlier(int64(rs))
		}
		if b.k.WaitSnd() > held {
			earlier(kcpInterval) // queued beyond the send window
		}
	}
	if b.flushOwed {
		earlier(int64(int32(b.flushDue - nowMs)))
	}
	if b.state == botInRoom && b.room != nil && w.cfg.rate > 0 {
		if b.answering {
			earlier(untilMs(b.answerAt))
		} else {
			earlier(untilMs(b.nextState))
		}
	}
	if b.state >= botWelcomed {
		earlier(untilMs(b.nextPing))
	}
	if len(b.held) > 0 {
		earlier(untilMs(b.heldAt + w.periodOr()))
	}
	w.wake(b, next)
}

// wake makes sure b is in the wheel no later than due.
func (w *worker) wake(b *bot, due uint32) {
	// The wheel covers lastMs+1 .. lastMs+wheelSize-1.
	if kcpx.Before(due, w.lastMs+1) {
		due = w.lastMs + 1
	} else if kcpx.Before(w.lastMs+wheelSize-1, due) {
		due = w.lastMs + wheelSize - 1
	}
	if b.inWheel && !kcpx.Before(due, b.due) {
		return
	}
	b.due, b.inWheel = due, true
	w.wheel[due%wheelSize] = append(w.wheel[due%wheelSize], b)
}

// owe records that b must flush by due: it received data to acknowledge,
// or queued a message outside a turn (which flushes what it sends itself).
func (w *worker) owe(b *bot, due uint32) {
	if !b.flushOwed || kcpx.Before(due, b.flushDue) {
		b.flushOwed, b.flushDue = true, due
	}
	if !w.turning {
		w.wake(b, due)
	}
}

// received is called after b's KCP took datagram p: data, or a window
// probe, must be acknowledged within an interval, and an ack may have made
// a resend due early (fast retransmit).
func (w *worker) received(b *bot, p []byte) {
	nowMs := w.clk.Check()
	if !ackOnly(p) {
		w.owe(b, nowMs+kcpInterval)
	}
	if rs, _, ok := kcpx.ResendIn(b.k, nowMs, kcpInterval); ok && rs >= 0 {
		w.wake(b, nowMs+uint32(rs))
	}
}

// runWheel runs every bot due by now.
func (w *worker) runWheel(now int64, ph phase) {
	nowMs := w.clk.Check()
	behind := int32(nowMs - w.lastMs)
	if behind <= 0 {
		return
	}
	steps := uint32(min(behind, wheelSize))
	w.lastMs = nowMs
	w.turning = true
	for ms := nowMs - steps + 1; ms != nowMs+1; ms++ {
		slot := ms % wheelSize
		list := w.wheel[slot]
		w.wheel[slot] = w.spare[:0] // turns may schedule into this slot
		for _, b := range list {
			switch {
			case !b.inWheel || b.due%wheelSize != slot:
				// stale: the bot was moved earlier, or already ran
			case kcpx.Before(nowMs, b.due):
				w.wheel[slot] = append(w.wheel[slot], b) // a later lap
			default:
				b.inWheel = false
				w.turn(b, now, nowMs, ph)
			}
		}
		clear(list)
		w.spare = list[:0]
	}
	w.turning = false
}

// turn is a bot's scheduled work: what it has to send, then one flush if
// anything is due, then its next due time.
func (w *worker) turn(b *bot, now int64, nowMs uint32, ph phase) {
	if b.state == botClosed {
		return // not rescheduled: the bot is done
	}
	flush := false
	if ph < phaseBye {
		inRoom := b.state == botInRoom && b.room != nil && w.cfg.rate > 0
		switch {
		case inRoom && b.answering && now >= b.answerAt:
			b.answering = false
			w.sendState(b)
			b.nextState = now + 2*w.periodOr() // the fallback if frames stop
			flush = true
		case inRoom && !b.answering && now >= b.nextState:
			w.sendState(b)
			period := int64(time.Second) / int64(w.cfg.rate)
			switch {
			case w.statesOnFrames():
				// No frame for two ticks: the Godot client then sends
				// without waiting for one, every two ticks.
				b.nextState = now + 2*period
			case b.nextState+period <= now: // more than a period late: drop, don't burst
				b.nextState = now + period
			default:
				b.nextState += period
			}
			flush = true
		}
		if b.state >= botWelcomed && now >= b.nextPing {
			w.sbuf = codec.AppendClient(w.sbuf[:0], &codec.ClientMsg{Type: codec.TPing, ClientTime: mono()})
			w.send(b, w.sbuf)
			w.st.c.Pings++
			b.nextPing = now + int64(time.Second)
			flush = true
		}
	}
	if ph >= phaseBye && b.answering {
		b.answering = false // no more states; held acks go with the bye
		flush = true
	}
	if b.flushOwed && !kcpx.Before(nowMs, b.flushDue) {
		flush = true
	}
	if rs, held, ok := kcpx.ResendIn(b.k, nowMs, kcpInterval); !ok || rs == 0 || b.k.WaitSnd() > held {
		flush = true
	}
	if flush {
		kcpx.FlushNow(b.k, nowMs)
		b.flushOwed = false
	}
	if w.cfg.holdAcks {
		w.releaseHeld(b, now)
	}
	w.plan(b, now, nowMs)
}
