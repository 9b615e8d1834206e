package relay

import (
	"net"
	"sync"

	"golang.org/x/net/ipv4"
)

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share: recvmmsg and
// sendmmsg on Linux, one datagram per call elsewhere.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

const (
	outChunk    = 64 << 10 // bytes per arena chunk
	outMaxBatch = 256      // datagrams per sendmmsg
)

// outBatch collects the datagrams every session's KCP outputs, so that they
// leave in one sendmmsg across sessions. KCP's output callback appends (under
// its session's lock); the updater, the reader and the tick flush.
type outBatch struct {
	mu     sync.Mutex
	bc     batchConn      // nil: write one datagram at a time with pc
	pc     net.PacketConn // fallback
	adm    *admission     // counts what is sent
	msgs   []ipv4.Message
	chunks [][]byte
	ci     int // current chunk
	off    int // used bytes of chunks[ci]
}

// add copies one datagram for addr, a then b, into the batch.
func (o *outBatch) add(addr *net.UDPAddr, a, b []byte) {
	o.mu.Lock()
	size := len(a) + len(b)
	if len(o.msgs) >= outMaxBatch {
		o.writeLocked()
	}
	if len(o.chunks) == 0 || o.off+size > outChunk {
		if len(o.chunks) > 0 {
			o.ci++
		}
		if o.ci == len(o.chunks) {
			o.chunks = append(o.chunks, make([]byte, outChunk))
		}
		o.off = 0
	}
	buf := o.chunks[o.ci][o.off : o.off+size : o.off+size]
	copy(buf[copy(buf, a):], b)
	o.off += size
	n := len(o.msgs)
	if n < cap(o.msgs) {
		o.msgs = o.msgs[:n+1]
	} else {
		o.msgs = append(o.msgs, ipv4.Message{})
	}
	m := &o.msgs[n]
	if m.Buffers == nil {
		m.Buffers = make([][]byte, 1)
	}
	m.Buffers[0] = buf
	m.Addr = addr
	m.N = 0
	o.mu.Unlock()
}

// flush sends everything batched.
func (o *outBatch) flush() {
	o.mu.Lock()
	if len(o.msgs) > 0 {
		o.writeLocked()
	}
	o.mu.Unlock()
}

func (o *outBatch) writeLocked() {
	if o.bc != nil {
		for sent := 0; sent < len(o.msgs); {
			n, err := o.bc.WriteBatch(o.msgs[sent:], 0)
			for i := sent; i < sent+n; i++ {
				o.adm.countSent(len(o.msgs[i].Buffers[0]))
			}
			if err != nil {
				break // closed, or the kernel refused: KCP resends what matters
			}
			if n <= 0 {
				break
			}
			sent += n
		}
	} else {
		for i := range o.msgs {
			if n, err := o.pc.WriteTo(o.msgs[i].Buffers[0], o.msgs[i].Addr); err == nil && n > 0 {
				o.adm.countSent(n)
			}
		}
	}
	for i := range o.msgs {
		o.msgs[i].Buffers[0] = nil
		o.msgs[i].Addr = nil
	}
	o.msgs = o.msgs[:0]
	o.ci, o.off = 0, 0
	if len(o.chunks) > 4 { // a burst grew the arena: give most of it back
		clear(o.chunks[1:])
		o.chunks = o.chunks[:1]
	}
}
