package kcplink

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/kcpx"
	"github.com/tickrelay/tickrelay/relay/link"
)

// kcpConn names a session's peer, as kcp-go's UDPSession did.
type kcpConn struct {
	to   netip.AddrPort // as the socket reported it: where output goes
	conv uint32
}

func (c kcpConn) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(c.to) }
func (c kcpConn) GetConv() uint32      { return c.conv }

// session is one KCP conversation. It has no goroutine: the transport's
// reader feeds its KCP and cuts frames into the inbox, the updater drives
// its timers, and the tick sends frames straight into its KCP.
type session struct {
	t    *Transport
	key  netip.AddrPort // normalised source address: the transport's map key
	conn kcpConn

	mu     sync.Mutex // guards the fields below
	kcp    *kcp.KCP
	rbuf   []byte         // received stream bytes not yet cut into frames
	inbox  []link.Inbound // cut frames for the tick, at most t.inboxSize
	failed bool           // a failure was queued: nothing more is read
	dead   bool           // closed: KCP is no longer driven
	// While Input or the updater's flush runs, datagrams of acks only are
	// held in stash (kcp-go flushes them from Input whenever una advances,
	// and from the updater's flushes for resends) and go out with the
	// session's next flush, usually in the datagram of its next frame.
	holdAcks   bool
	stash      []byte
	stashDue   uint32 // when held acks must go, even without a frame
	stashTimed bool   // stashDue is set
	// flushBy is when KCP must flush although nothing of its own is due:
	// it owes acks for data received (kept in its ack list until a
	// flush), a window update, or an answer to a window probe.
	flushBy  uint32
	flushSet bool
	// For Busy: segments sent in all, and the running total at the end of
	// each of the last messages (a ring; a frame may span segments).
	segsSent uint64
	msgEnds  [maxInFlightCap]uint64
	msgHead  int

	lastRecv  atomic.Int64 // unix nanoseconds of the last message received
	lastHeard atomic.Int64 // unix nanoseconds of the last datagram accepted, acks included
	done      chan struct{}
	once      sync.Once

	// Owned by the updater's heap (under transport.hmu).
	due  uint32 // kcpNow time
	hidx int    // index in the heap, -1 when not scheduled

	established atomic.Bool // the hello was accepted: the filter knows the address
}

func newSession(t *Transport, key, raw netip.AddrPort, conv uint32) *session {
	s := &session{
		t:    t,
		key:  key,
		conn: kcpConn{to: raw, conv: conv},
		done: make(chan struct{}),
		hidx: -1,
	}
	s.kcp = kcp.NewKCP(conv, s.output)
	t.configure(s.kcp)
	now := time.Now().UnixNano()
	s.lastRecv.Store(now)
	s.lastHeard.Store(now)
	return s
}

// input feeds one datagram to KCP and moves what it completes to the inbox.
// Called by the transport's reader.
func (s *session) input(b []byte) {
	s.lastHeard.Store(time.Now().UnixNano())
	now := kcpx.Now()
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return
	}
	s.holdAcks = true
	s.kcp.Input(b, kcp.IKCP_PACKET_REGULAR, false)
	s.holdAcks = false
	s.pumpLocked()
	// The acks go with the next frame (the tick flushes), or alone just
	// after the next tick.
	ackBy := now + uint32(s.t.ackDelay(now))
	if len(s.stash) > 0 && !s.stashTimed {
		s.stashDue, s.stashTimed = ackBy, true
	}
	if owesReply(b) {
		s.oweFlushLocked(ackBy)
	}
	delay := s.dueInLocked(now)
	s.mu.Unlock()
	s.t.schedule(s, delay, now)
}

// oweFlushLocked asks for a flush by time by at the latest.
func (s *session) oweFlushLocked(by uint32) {
	if !s.flushSet || kcpx.Before(by, s.flushBy) {
		s.flushBy, s.flushSet = by, true
	}
}

// dueInLocked is how many ms from now until s has something to send of its
// own (a resend, a window probe, held acks, a flush it owes), 0 if now, -1
// if nothing: then only input or a frame gives it work.
func (s *session) dueInLocked(now uint32) int {
	d := -1
	if ms, held, ok := kcpx.ResendIn(s.kcp, now, s.t.interval); ok {
		d = ms
		if s.kcp.WaitSnd() > held {
			// Data waits for the peer's window: KCP probes on its
			// interval clock.
			d = minDue(d, s.t.checkDelay(s.kcp, now))
		}
	} else if s.kcp.WaitSnd() > 0 {
		d = s.t.checkDelay(s.kcp, now)
	}
	if len(s.stash) > 0 && s.stashTimed {
		d = minDue(d, max(0, int(int32(s.stashDue-now))))
	}
	if s.flushSet {
		d = minDue(d, max(0, int(int32(s.flushBy-now))))
	}
	return d
}

// minDue is the sooner of two delays, where -1 means never.
func minDue(a, b int) int {
	if a < 0 || (b >= 0 && b < a) {
		return b
	}
	return a
}

// owesReply reports whether datagram b (already accepted by KCP's Input)
// has data or a window probe, which KCP answers only at its next flush.
func owesReply(b []byte) bool {
	cmds, _ := segmentCmds(b)
	return cmds&(cmdBit(kcpCmdPush)|cmdBit(kcpCmdWask)) != 0
}

// pumpLocked moves complete KCP messages into the stream buffer and cuts
// frames out of it while the inbox has room. Messages left in KCP keep its
// receive window closed, which slows that client only.
func (s *session) pumpLocked() bool {
	got := false
	limit := s.t.inboxSize
	for !s.failed && len(s.inbox) < limit {
		n := s.kcp.PeekSize()
		if n < 0 {
			break
		}
		l := len(s.rbuf)
		if cap(s.rbuf)-l < n {
			nb := make([]byte, l, max(2*cap(s.rbuf), l+n, 512))
			copy(nb, s.rbuf)
			s.rbuf = nb
		}
		s.rbuf = s.rbuf[:l+n]
		s.kcp.Recv(s.rbuf[l:])
		got = true
		s.cutLocked()
	}
	if got {
		s.lastRecv.Store(time.Now().UnixNano())
	}
	return got
}

// cutLocked queues every complete frame in rbuf, or a failure.
func (s *session) cutLocked() {
	max := s.t.maxFrame
	off := 0
	now := time.Time{}
	for len(s.rbuf)-off >= 4 {
		n := binary.BigEndian.Uint32(s.rbuf[off:])
		switch {
		case n == 0:
			s.failLocked(codec.CodeMalformed, codec.ErrEmptyFrame.Error())
			return
		case uint64(n) > uint64(max):
			s.failLocked(codec.CodeFrameTooLarge,
				fmt.Sprintf("%v: %d bytes declared, limit %d", codec.ErrFrameTooLarge, n, max))
			return
		case len(s.rbuf)-off-4 < int(n):
			s.keepFrom(off)
			return
		}
		if now.IsZero() {
			now = time.Now()
		}
		bp := link.GetBody()
		*bp = append(*bp, s.rbuf[off+4:off+4+int(n)]...)
		s.inbox = append(s.inbox, link.Inbound{Body: bp, Arrived: now})
		off += 4 + int(n)
	}
	s.keepFrom(off)
}

// keepFrom drops rbuf[:off], and gives a grown buffer back once it is
// mostly empty.
func (s *session) keepFrom(off int) {
	rest := len(s.rbuf) - off
	if cap(s.rbuf) > 4096 && rest <= 1024 {
		nb := make([]byte, rest, 1024)
		copy(nb, s.rbuf[off:])
		s.rbuf = nb
		return
	}
	if off > 0 {
		copy(s.rbuf, s.rbuf[off:])
		s.rbuf = s.rbuf[:rest]
	}
	if rest == 0 && cap(s.rbuf) > 4096 {
		s.rbuf = nil
	}
}

func (s *session) failLocked(code codec.Code, reason string) {
	s.failed = true
	s.rbuf = nil
	s.inbox = append(s.inbox, link.Inbound{Code: code, Reason: reason})
}

// Take implements link.Link: it hands the tick what is queued now, and
// refills the inbox from messages KCP held back while it was full. spare is
// the previous batch, reused.
func (s *session) Take(spare []link.Inbound) []link.Inbound {
	s.mu.Lock()
	items := s.inbox
	if cap(spare) > 64 {
		spare = nil
	}
	s.inbox = spare[:0]
	delay, now := -1, uint32(0)
	if !s.dead && s.pumpLocked() {
		// The window opened: tell the peer within an interval (the
		// player's next frame usually does it first).
		now = kcpx.Now()
		s.oweFlushLocked(now + uint32(s.t.interval))
		delay = s.dueInLocked(now)
	}
	s.mu.Unlock()
	s.t.schedule(s, delay, now)
	return items
}

// Busy implements link.Link: the peer has MaxInFlight messages (or a whole send
// window of packets) unacknowledged.
func (s *session) Busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return false
	}
	waiting := s.kcp.WaitSnd()
	if waiting >= s.t.sndWnd {
		return true
	}
	// Messages end at increasing totals; those past the acknowledged
	// total are in flight.
	acked := s.segsSent - uint64(waiting)
	n := 0
	for i := 1; i <= s.t.maxInFlight; i++ {
		if s.msgEnds[(s.msgHead-i+maxInFlightCap)%maxInFlightCap] <= acked {
			break
		}
		n++
	}
	return n >= s.t.maxInFlight
}

// maxInFlightCap bounds MaxInFlight (the ring of message ends).
const maxInFlightCap = 64

// Send implements link.Link: b is queued in KCP at once, in MSS-sized messages
// (the protocol is a byte stream; the server never sends frg > 0), and
// flushed into the shared output batch, which the tick sends at its end.
func (s *session) Send(b []byte) {
	now := kcpx.Now()
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return
	}
	for len(b) > 0 {
		n := min(len(b), s.t.mss)
		s.kcp.Send(b[:n])
		s.segsSent++
		b = b[n:]
	}
	s.msgEnds[s.msgHead] = s.segsSent
	s.msgHead = (s.msgHead + 1) % maxInFlightCap
	s.flushLocked(true, now)
	// Under s.mu, so that what input schedules for this session comes
	// after this exact due time and only ever moves it earlier.
	s.t.reschedule(s, s.dueInLocked(now), now)
	s.mu.Unlock()
}

// flushLocked flushes KCP at kcp-go time now, and the acks that were held
// if any output took them along or their time is up (force).
func (s *session) flushLocked(force bool, now uint32) {
	kcpx.FlushNow(s.kcp, now)
	s.flushSet = false
	if len(s.stash) > 0 && !s.stashTimed { // this flush held them
		s.stashDue, s.stashTimed = now+uint32(s.t.ackDelay(now)), true
	}
	if len(s.stash) > 0 && (force || !kcpx.Before(now, s.stashDue)) {
		s.t.out.add(s.conn.to, s.stash, nil)
		s.stash = s.stash[:0]
	}
	if len(s.stash) == 0 {
		s.stashTimed = false
	}
}

// output is KCP's output callback, called under s.mu.
func (s *session) output(buf []byte, size int) {
	b := buf[:size]
	if s.holdAcks && acksOnly(b) {
		if len(s.stash)+len(b) > s.t.mtu {
			s.t.out.add(s.conn.to, s.stash, nil)
			s.stash = s.stash[:0]
		}
		if s.stash == nil {
			s.stash = make([]byte, 0, s.t.mtu)
		}
		s.stash = append(s.stash, b...)
		return
	}
	if len(s.stash) > 0 {
		if len(s.stash)+len(b) <= s.t.mtu {
			s.t.out.add(s.conn.to, s.stash, b) // one datagram: held acks, then these segments
			s.stash = s.stash[:0]
			return
		}
		s.t.out.add(s.conn.to, s.stash, nil)
		s.stash = s.stash[:0]
	}
	s.t.out.add(s.conn.to, b, nil)
}

// acksOnly reports whether datagram b holds only ack segments.
func acksOnly(b []byte) bool {
	cmds, whole := segmentCmds(b)
	return whole && cmds == cmdBit(kcpCmdAck)
}

// segmentCmds walks the KCP segments of datagram b: a bit set (cmdBit) of
// the commands seen, and whether the segments fill b exactly.
func segmentCmds(b []byte) (cmds uint32, whole bool) {
	for len(b) >= kcpHeaderSize {
		cmds |= cmdBit(b[kcpOffCmd])
		n := int(binary.LittleEndian.Uint32(b[kcpOffLen:]))
		if n > len(b)-kcpHeaderSize {
			return cmds, false
		}
		b = b[kcpHeaderSize+n:]
	}
	return cmds, len(b) == 0
}

// cmdBit is command c's bit in segmentCmds' set (any other byte maps to 1<<31).
func cmdBit(c byte) uint32 { return 1 << min(uint32(c-kcpCmdPush), 31) }

// Heard implements link.Link.
func (s *session) Heard() int64 { return s.lastHeard.Load() }

// RTT is the round trip KCP measured for this session (0 before the
// first sample).
func (s *session) RTT() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return kcpx.SRTT(s.kcp)
}

// LastMessage implements link.Link.
func (s *session) LastMessage() int64 { return s.lastRecv.Load() }

// Remote implements link.Link.
func (s *session) Remote() netip.AddrPort { return s.conn.to }

// Transport implements link.Link.
func (s *session) Transport() string { return "kcp" }

// Established implements link.Link: the hello was accepted, so the address
// is no longer a pending handshake for the filter.
func (s *session) Established() {
	// Under s.mu, so that a close (which marks the session dead under it,
	// then forgets the key) comes wholly before or after: a closed
	// session's address is never recorded again.
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dead && s.established.CompareAndSwap(false, true) {
		s.t.adm.establishedKey(s.key, s.conn.conv)
	}
}

// Close implements link.Link.
func (s *session) Close() { s.close() }

func (s *session) close() {
	s.once.Do(func() {
		close(s.done)
		s.mu.Lock()
		s.dead = true
		s.mu.Unlock()
		// Forget the address in the filter with the session, so that the
		// next datagram from it must earn admission again.
		s.t.remove(s)
	})
}

// Closed implements link.Link.
func (s *session) Closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
