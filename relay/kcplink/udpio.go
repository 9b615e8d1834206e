package kcplink

import (
	"net"
	"net/netip"
)

// packetIO is the transport's socket access: batched system calls where the
// platform has them (udpio_linux.go), one datagram per call elsewhere.
type packetIO interface {
	// read blocks until at least one datagram arrives, calls fn for each
	// (b is valid only during the call), and returns. An error means the
	// socket is closed or broken.
	read(fn func(b []byte, from netip.AddrPort)) error
	// write sends msgs without blocking and returns how many went out and
	// their bytes; the rest were refused (a full socket buffer: KCP
	// resends what matters). Callers serialise writes.
	write(msgs []outMsg) (sent, bytes int)
	// close releases what the packetIO opened itself (not the PacketConn,
	// which Serve closes); called once no write can run any more.
	close()
}

// writeBatch is how many datagrams outBatch collects before it writes (one
// sendmmsg where there is one).
const writeBatch = 256

// outMsg is one datagram to send.
type outMsg struct {
	b  []byte
	to netip.AddrPort
}

// plainIO reads and writes one datagram per call through a PacketConn.
type plainIO struct {
	pc  net.PacketConn
	uc  *net.UDPConn // nil if pc is not one
	buf []byte
}

func newPlainIO(pc net.PacketConn) *plainIO {
	p := &plainIO{pc: pc, buf: make([]byte, 2048)}
	p.uc, _ = pc.(*net.UDPConn)
	return p
}

func (p *plainIO) read(fn func([]byte, netip.AddrPort)) error {
	var n int
	var from netip.AddrPort
	var err error
	if p.uc != nil {
		n, from, err = p.uc.ReadFromUDPAddrPort(p.buf)
	} else {
		var a net.Addr
		n, a, err = p.pc.ReadFrom(p.buf)
		if err == nil {
			ua, ok := a.(*net.UDPAddr)
			if !ok {
				return nil
			}
			from = ua.AddrPort()
		}
	}
	if err != nil {
		return err
	}
	fn(p.buf[:n], from)
	return nil
}

func (p *plainIO) write(msgs []outMsg) (sent, bytes int) {
	for _, m := range msgs {
		var n int
		var err error
		if p.uc != nil {
			n, err = p.uc.WriteToUDPAddrPort(m.b, m.to)
		} else {
			n, err = p.pc.WriteTo(m.b, net.UDPAddrFromAddrPort(m.to))
		}
		if err == nil {
			sent++
			bytes += n
		}
	}
	return sent, bytes
}

func (p *plainIO) close() {}

// setSocketBuffers sizes pc's kernel buffers, best effort (the kernel may
// cap them).
func setSocketBuffers(pc net.PacketConn, size int) {
	type buffered interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}
	if b, ok := pc.(buffered); ok {
		_ = b.SetReadBuffer(size)
		_ = b.SetWriteBuffer(size)
	}
}
