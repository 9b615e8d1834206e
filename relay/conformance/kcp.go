package conformance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// A minimal KCP endpoint (PROTOCOL.md section 1), written from the
// reference protocol (ikcp) rather than taken from kcp-go, which the relay
// uses: the suite must catch a server that only talks to itself. It is a
// state machine without I/O: time comes in as milliseconds, datagrams go out
// through a callback. It keeps what a conformance client needs and no more:
// no congestion control, no fast resend, no RTT estimate (a fixed resend
// time), which loopback does not miss.

// KCP segment commands.
const (
	CmdPush = 81 // data
	CmdAck  = 82
	CmdWask = 83 // window probe: ask
	CmdWins = 84 // window probe: tell
)

// SegmentHeaderSize is the size of a KCP segment header.
const SegmentHeaderSize = 24

// Segment is one KCP segment: the 24-byte little-endian header and its data.
type Segment struct {
	Conv uint32
	Cmd  uint8
	Frg  uint8  // fragments that follow in this message
	Wnd  uint16 // sender's free receive window, packets
	TS   uint32 // sender's clock, ms; an ack echoes the pushed segment's
	SN   uint32
	UNA  uint32 // next sequence number the sender expects
	Data []byte
}

// AppendTo appends the segment's wire form to b.
func (s *Segment) AppendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, s.Conv)
	b = append(b, s.Cmd, s.Frg)
	b = binary.LittleEndian.AppendUint16(b, s.Wnd)
	b = binary.LittleEndian.AppendUint32(b, s.TS)
	b = binary.LittleEndian.AppendUint32(b, s.SN)
	b = binary.LittleEndian.AppendUint32(b, s.UNA)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.Data)))
	return append(b, s.Data...)
}

// Errors of ParseSegments.
var (
	ErrShortSegment = errors.New("kcp: datagram shorter than a segment header")
	ErrSegmentLen   = errors.New("kcp: segment length runs past the datagram")
	ErrSegmentCmd   = errors.New("kcp: unknown segment command")
)

// ParseSegments splits a datagram into its segments. Data aliases d.
func ParseSegments(d []byte) ([]Segment, error) {
	var segs []Segment
	for len(d) > 0 {
		if len(d) < SegmentHeaderSize {
			return segs, ErrShortSegment
		}
		s := Segment{
			Conv: binary.LittleEndian.Uint32(d),
			Cmd:  d[4],
			Frg:  d[5],
			Wnd:  binary.LittleEndian.Uint16(d[6:]),
			TS:   binary.LittleEndian.Uint32(d[8:]),
			SN:   binary.LittleEndian.Uint32(d[12:]),
			UNA:  binary.LittleEndian.Uint32(d[16:]),
		}
		n := binary.LittleEndian.Uint32(d[20:])
		if uint64(n) > uint64(len(d)-SegmentHeaderSize) {
			return segs, ErrSegmentLen
		}
		if s.Cmd < CmdPush || s.Cmd > CmdWins {
			return segs, fmt.Errorf("%w: %d", ErrSegmentCmd, s.Cmd)
		}
		s.Data = d[SegmentHeaderSize : SegmentHeaderSize+int(n)]
		segs = append(segs, s)
		d = d[SegmentHeaderSize+int(n):]
	}
	return segs, nil
}

// before reports a < b for wrapping u32 sequence numbers and times.
func before(a, b uint32) bool { return int32(a-b) < 0 }

// KCP is one conversation's state.
type KCP struct {
	conv   uint32
	mtu    int
	sndWnd uint32
	rcvWnd uint32
	rto    uint32
	output func(datagram []byte)

	sndUna, sndNxt uint32
	sndQueue       []*outSeg // waiting for the window
	sndBuf         []*outSeg // in flight, by sequence number
	rmtWnd         uint32

	rcvNxt   uint32
	rcvBuf   []Segment // arrived out of order, by sequence number
	rcvQueue []Segment // in order, not yet taken by Recv
	acks     []ackItem

	probeAsk, probeTell bool
	probeAt             uint32
	probing             bool

	// Counters, for tests.
	Resent   int // segments sent again after the resend time
	Received int // data segments accepted (duplicates included)
}

type outSeg struct {
	sn, ts   uint32
	frg      uint8
	data     []byte
	sent     bool
	resendAt uint32
}

type ackItem struct{ sn, ts uint32 }

// KCPConfig holds a conversation's settings; zero fields take defaults.
type KCPConfig struct {
	MTU        int    // UDP payload bytes; default 1200 (the relay's)
	SendWindow int    // packets; default 128
	RecvWindow int    // packets; default 128
	RTO        uint32 // ms before an unacknowledged segment is resent; default 100
}

// NewKCP returns conversation conv sending its datagrams through output.
func NewKCP(conv uint32, cfg KCPConfig, output func(datagram []byte)) *KCP {
	k := &KCP{conv: conv, mtu: cfg.MTU, sndWnd: uint32(cfg.SendWindow), rcvWnd: uint32(cfg.RecvWindow),
		rto: cfg.RTO, output: output, rmtWnd: 128}
	if k.mtu <= SegmentHeaderSize {
		k.mtu = 1200
	}
	if k.sndWnd == 0 {
		k.sndWnd = 128
	}
	if k.rcvWnd == 0 {
		k.rcvWnd = 128
	}
	if k.rto == 0 {
		k.rto = 100
	}
	return k
}

// MSS is the data bytes one segment carries.
func (k *KCP) MSS() int { return k.mtu - SegmentHeaderSize }

// Send queues one message, split into fragments counting down to 0 as
// ikcp does. The reference limits a message to 127 fragments.
func (k *KCP) Send(msg []byte) error {
	mss := k.MSS()
	count := max(1, (len(msg)+mss-1)/mss)
	if count > 127 {
		return fmt.Errorf("kcp: a %d-byte message needs %d fragments, limit 127", len(msg), count)
	}
	for i := range count {
		n := min(mss, len(msg))
		k.sndQueue = append(k.sndQueue, &outSeg{frg: uint8(count - 1 - i), data: slices.Clone(msg[:n])})
		msg = msg[n:]
	}
	return nil
}

// WaitSend is how many segments are queued or unacknowledged.
func (k *KCP) WaitSend() int { return len(k.sndQueue) + len(k.sndBuf) }

// Input applies one received datagram at time now (ms).
func (k *KCP) Input(d []byte, now uint32) error {
	segs, err := ParseSegments(d)
	for _, s := range segs {
		if s.Conv != k.conv {
			return fmt.Errorf("kcp: segment of conv %d in conv %d", s.Conv, k.conv)
		}
		k.rmtWnd = uint32(s.Wnd)
		k.ackUpTo(s.UNA)
		switch s.Cmd {
		case CmdAck:
			k.ackOne(s.SN)
		case CmdPush:
			if !before(s.SN, k.rcvNxt+k.rcvWnd) {
				continue // beyond the window: dropped unacknowledged
			}
			k.Received++
			k.acks = append(k.acks, ackItem{s.SN, s.TS})
			k.store(s)
		case CmdWask:
			k.probeTell = true
		}
	}
	return err
}

// ackUpTo drops every in-flight segment before una.
func (k *KCP) ackUpTo(una uint32) {
	i := 0
	for i < len(k.sndBuf) && before(k.sndBuf[i].sn, una) {
		i++
	}
	k.sndBuf = k.sndBuf[i:]
	k.updateUna()
}

func (k *KCP) ackOne(sn uint32) {
	for i, s := range k.sndBuf {
		if s.sn == sn {
			k.sndBuf = slices.Delete(k.sndBuf, i, i+1)
			break
		}
	}
	k.updateUna()
}

func (k *KCP) updateUna() {
	if len(k.sndBuf) > 0 {
		k.sndUna = k.sndBuf[0].sn
	} else {
		k.sndUna = k.sndNxt
	}
}

// store keeps a pushed segment (a copy) unless it is old or a duplicate,
// then moves what is now in order to the receive queue.
func (k *KCP) store(s Segment) {
	if before(s.SN, k.rcvNxt) {
		return
	}
	i, found := slices.BinarySearchFunc(k.rcvBuf, s.SN, func(e Segment, sn uint32) int {
		return int(int32(e.SN - sn))
	})
	if found {
		return
	}
	s.Data = slices.Clone(s.Data)
	k.rcvBuf = slices.Insert(k.rcvBuf, i, s)
	k.fillQueue()
}

func (k *KCP) fillQueue() {
	for len(k.rcvBuf) > 0 && k.rcvBuf[0].SN == k.rcvNxt && uint32(len(k.rcvQueue)) < k.rcvWnd {
		k.rcvQueue = append(k.rcvQueue, k.rcvBuf[0])
		k.rcvBuf = k.rcvBuf[1:]
		k.rcvNxt++
	}
}

// Recv returns the next complete message, reassembled from its fragments,
// or nil when none is complete.
func (k *KCP) Recv() []byte {
	if len(k.rcvQueue) == 0 {
		return nil
	}
	n := int(k.rcvQueue[0].Frg) + 1
	if len(k.rcvQueue) < n {
		return nil
	}
	full := uint32(len(k.rcvQueue)) >= k.rcvWnd
	var msg []byte
	for _, s := range k.rcvQueue[:n] {
		msg = append(msg, s.Data...)
	}
	k.rcvQueue = k.rcvQueue[n:]
	k.fillQueue()
	if full && uint32(len(k.rcvQueue)) < k.rcvWnd {
		k.probeTell = true // the window opened: say so at once
	}
	return msg
}

// Flush sends what is due at time now (ms): acks, window probes, new
// segments the peer's window allows, and resends whose time has come.
func (k *KCP) Flush(now uint32) {
	wnd := uint16(0)
	if free := int(k.rcvWnd) - len(k.rcvQueue); free > 0 {
		wnd = uint16(free)
	}
	var buf []byte
	emit := func(s *Segment) {
		if len(buf)+SegmentHeaderSize+len(s.Data) > k.mtu {
			k.output(buf)
			buf = nil
		}
		buf = s.AppendTo(buf)
	}
	for _, a := range k.acks {
		emit(&Segment{Conv: k.conv, Cmd: CmdAck, Wnd: wnd, TS: a.ts, SN: a.sn, UNA: k.rcvNxt})
	}
	k.acks = k.acks[:0]

	// A closed peer window is probed on the resend clock.
	if k.rmtWnd == 0 {
		if !k.probing {
			k.probing, k.probeAt = true, now+k.rto
		} else if !before(now, k.probeAt) {
			k.probeAsk, k.probeAt = true, now+k.rto
		}
	} else {
		k.probing = false
	}
	if k.probeAsk {
		emit(&Segment{Conv: k.conv, Cmd: CmdWask, Wnd: wnd, UNA: k.rcvNxt})
	}
	if k.probeTell {
		emit(&Segment{Conv: k.conv, Cmd: CmdWins, Wnd: wnd, UNA: k.rcvNxt})
	}
	k.probeAsk, k.probeTell = false, false

	cwnd := min(k.sndWnd, k.rmtWnd)
	for len(k.sndQueue) > 0 && before(k.sndNxt, k.sndUna+cwnd) {
		s := k.sndQueue[0]
		k.sndQueue = k.sndQueue[1:]
		s.sn = k.sndNxt
		k.sndNxt++
		k.sndBuf = append(k.sndBuf, s)
	}
	for _, s := range k.sndBuf {
		switch {
		case !s.sent:
			s.sent = true
		case !before(now, s.resendAt):
			k.Resent++
		default:
			continue
		}
		s.ts, s.resendAt = now, now+k.rto
		emit(&Segment{Conv: k.conv, Cmd: CmdPush, Frg: s.frg, Wnd: wnd, TS: s.ts, SN: s.sn, UNA: k.rcvNxt, Data: s.data})
	}
	if len(buf) > 0 {
		k.output(buf)
	}
}
