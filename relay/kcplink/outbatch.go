package kcplink

import (
	"net/netip"
	"sync"
)

const outChunk = 64 << 10 // bytes per arena chunk

// outBatch collects the datagrams every session's KCP outputs, so that they
// leave in one sendmmsg across sessions. KCP's output callback appends (under
// its session's lock); the updater, the reader and the tick flush.
type outBatch struct {
	mu     sync.Mutex // guards everything below, and io's writes
	io     packetIO
	adm    *admission // counts what is sent
	msgs   []outMsg
	chunks [][]byte
	ci     int // current chunk
	off    int // used bytes of chunks[ci]
	closed bool
}

// add copies one datagram for to, a then b, into the batch.
func (o *outBatch) add(to netip.AddrPort, a, b []byte) {
	o.mu.Lock()
	size := len(a) + len(b)
	if len(o.msgs) >= writeBatch {
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
	o.msgs = append(o.msgs, outMsg{b: buf, to: to})
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

// close ends writing: what is batched is dropped, and io releases its
// own sockets with no write in flight.
func (o *outBatch) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		o.io.close()
	}
}

func (o *outBatch) writeLocked() {
	if !o.closed {
		// What the kernel refused (a full socket buffer) is dropped:
		// KCP resends what matters.
		n, bytes := o.io.write(o.msgs)
		o.adm.countSent(n, bytes, len(o.msgs)-n)
	}
	clear(o.msgs) // drop the references into the arena
	o.msgs = o.msgs[:0]
	o.ci, o.off = 0, 0
	if len(o.chunks) > 4 { // a burst grew the arena: give most of it back
		clear(o.chunks[1:])
		o.chunks = o.chunks[:1]
	}
}
