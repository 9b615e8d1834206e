package kcplink

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Listen opens the UDP socket a Server serves on (what ListenAndServe
// uses). On Linux it is a pair of sockets sharing the port: the one returned
// receives everything, through the runtime's netpoller, and a second one,
// which nothing polls, sends. A socket in an epoll set has every datagram
// sent from it wake that set when the kernel frees the datagram; on
// loopback that cost the sender about a third of its send time. If the pair
// cannot be made, the single socket serves both ways.
func Listen(addr string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		cerr := c.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if cerr != nil {
			return cerr
		}
		return err
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return net.ListenPacket("udp", addr) // no SO_REUSEPORT here: one socket
	}
	uc := pc.(*net.UDPConn)
	sfd, err := openSender(uc)
	if err != nil {
		return uc, nil
	}
	return &udpPair{UDPConn: uc, sendFD: sfd}, nil
}

// udpPair is Listen's socket pair; as a PacketConn it is the receiver.
// Serve hands the send socket to its transport, which closes it once no
// write can run; until then Close closes it.
type udpPair struct {
	*net.UDPConn
	mu     sync.Mutex
	sendFD int // -1 once taken or closed
}

// Close closes both sockets, unless a transport took the send socket.
func (p *udpPair) Close() error {
	if fd := p.take(); fd >= 0 {
		unix.Close(fd)
	}
	return p.UDPConn.Close()
}

func (p *udpPair) take() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd := p.sendFD
	p.sendFD = -1
	return fd
}

// openSender makes the send-only socket on uc's address: the same port
// group (SO_REUSEPORT), with a one-instruction classic BPF program on the
// group that hands every arriving datagram to its first socket, uc.
func openSender(uc *net.UDPConn) (int, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return -1, err
	}
	var (
		family, v6only int
		local          unix.Sockaddr
		serr           error
	)
	if err := rc.Control(func(fd uintptr) {
		steer := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
		prog := unix.SockFprog{Len: 1, Filter: &steer[0]}
		if serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &prog); serr != nil {
			return
		}
		if family, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); serr != nil {
			return
		}
		if family == unix.AF_INET6 {
			if v6only, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); serr != nil {
				return
			}
		}
		local, serr = unix.Getsockname(int(fd))
	}); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, serr
	}
	sfd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	err = unix.SetsockoptInt(sfd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	if err == nil && family == unix.AF_INET6 {
		err = unix.SetsockoptInt(sfd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only)
	}
	if err == nil {
		err = unix.Bind(sfd, local)
	}
	if err != nil {
		unix.Close(sfd)
		return -1, err
	}
	return sfd, nil
}

// mmsghdr is struct mmsghdr; Go's layout matches C's on every Linux ABI.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

const (
	sizeofName = unix.SizeofSockaddrInet6 // room for either family
	readBatch  = 64
)

// mmsgIO reads with recvmmsg through the netpoller and writes with
// sendmmsg, to the separate send socket when there is one.
type mmsgIO struct {
	rc     syscall.RawConn
	family int // of both sockets
	sendFD int // -1: send through rc

	// Owned by the reader goroutine.
	rh     []mmsghdr
	rnames [][sizeofName]byte
	riov   []unix.Iovec
	rbufs  [][]byte
	rn     int
	rerr   syscall.Errno
	readFn func(fd uintptr) bool

	// Owned by whoever holds the outBatch's lock.
	wh      []mmsghdr
	wnames  [][sizeofName]byte
	wiov    []unix.Iovec
	wn      int // headers filled
	wnext   int // first header not yet tried
	wsent   int // datagrams and bytes the kernel took, this write
	wbytes  int
	writeFn func(fd uintptr) bool
}

// newPacketIO picks the best I/O for pc.
func newPacketIO(pc net.PacketConn) packetIO {
	sendFD := -1
	uc, ok := pc.(*net.UDPConn)
	if p, isPair := pc.(*udpPair); isPair {
		uc, ok, sendFD = p.UDPConn, true, p.take()
	}
	if !ok {
		return newPlainIO(pc)
	}
	rc, err := uc.SyscallConn()
	family := 0
	if err == nil {
		err = rc.Control(func(fd uintptr) {
			family, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		})
	}
	if err != nil || (family != unix.AF_INET && family != unix.AF_INET6) {
		if sendFD >= 0 {
			unix.Close(sendFD)
		}
		return newPlainIO(uc)
	}
	m := &mmsgIO{
		rc: rc, family: family, sendFD: sendFD,
		rh: make([]mmsghdr, readBatch), rnames: make([][sizeofName]byte, readBatch),
		riov: make([]unix.Iovec, readBatch), rbufs: make([][]byte, readBatch),
		wh: make([]mmsghdr, writeBatch), wnames: make([][sizeofName]byte, writeBatch),
		wiov: make([]unix.Iovec, writeBatch),
	}
	for i := range m.rh {
		m.rbufs[i] = make([]byte, 2048)
		m.riov[i].Base = &m.rbufs[i][0]
		m.riov[i].SetLen(len(m.rbufs[i]))
		m.rh[i].hdr.Iov = &m.riov[i]
		m.rh[i].hdr.SetIovlen(1)
		m.rh[i].hdr.Name = &m.rnames[i][0]
	}
	for i := range m.wh {
		m.wh[i].hdr.Iov = &m.wiov[i]
		m.wh[i].hdr.SetIovlen(1)
		m.wh[i].hdr.Name = &m.wnames[i][0]
	}
	m.readFn = m.recv
	m.writeFn = m.send
	return m
}

// Both system calls are made with RawSyscall6, which does not tell the Go
// scheduler: with MSG_DONTWAIT they never block, and a sendmmsg of a full
// batch takes about a millisecond. Through Syscall6 the runtime's monitor
// took the processor away during that millisecond and woke another thread
// to run the reader, so the tick (which sends most of the datagrams) was
// interleaved with reads on the same core and every hand-off cost a futex
// wake and two context switches. At 2,000 CCU on one core that was 16,000
// futex calls a second; raw, the tick keeps its processor to the end and
// the reader runs after it (BENCHMARKS.md has the figures).

func (m *mmsgIO) recv(fd uintptr) bool {
	for i := range m.rh {
		m.rh[i].hdr.Namelen = sizeofName
	}
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.rh[0])),
			uintptr(len(m.rh)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			m.rn, m.rerr = int(n), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // park until readable
		default:
			m.rn, m.rerr = 0, errno
			return true
		}
	}
}

func (m *mmsgIO) read(fn func([]byte, netip.AddrPort)) error {
	if err := m.rc.Read(m.readFn); err != nil {
		return err
	}
	if m.rerr != 0 {
		return m.rerr
	}
	for i := range m.rn {
		h := &m.rh[i]
		if h.hdr.Flags&unix.MSG_TRUNC != 0 {
			continue // larger than any datagram a client may send
		}
		from, ok := parseName(m.rnames[i][:min(int(h.hdr.Namelen), sizeofName)])
		if !ok {
			continue
		}
		fn(m.rbufs[i][:h.n], from)
	}
	return nil
}

// parseName decodes a sockaddr_in or sockaddr_in6 without allocating.
func parseName(b []byte) (netip.AddrPort, bool) {
	if len(b) < 2 {
		return netip.AddrPort{}, false
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:])), true
	case unix.AF_INET6:
		if len(b) < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), binary.BigEndian.Uint16(b[2:])), true
	}
	return netip.AddrPort{}, false
}

// putName encodes to for a socket of family into b and returns its length,
// or 0 if that socket cannot reach it.
func putName(b *[sizeofName]byte, family int, to netip.AddrPort) int {
	a := to.Addr()
	if family == unix.AF_INET {
		a = a.Unmap()
		if !a.Is4() {
			return 0
		}
		binary.NativeEndian.PutUint16(b[0:], unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:], to.Port())
		a4 := a.As4()
		copy(b[4:8], a4[:])
		clear(b[8:unix.SizeofSockaddrInet4])
		return unix.SizeofSockaddrInet4
	}
	binary.NativeEndian.PutUint16(b[0:], unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], to.Port())
	clear(b[4:8])   // flow info
	a16 := a.As16() // an IPv4 address becomes IPv4-mapped
	copy(b[8:24], a16[:])
	binary.NativeEndian.PutUint32(b[24:], 0) // scope id
	if z := a.Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			binary.NativeEndian.PutUint32(b[24:], uint32(ifi.Index))
		}
	}
	return unix.SizeofSockaddrInet6
}

func (m *mmsgIO) write(msgs []outMsg) (sent, bytes int) {
	m.wsent, m.wbytes = 0, 0
	for len(msgs) > 0 {
		k := 0
		chunk := msgs[:min(len(msgs), writeBatch)]
		msgs = msgs[len(chunk):]
		for _, o := range chunk {
			nl := putName(&m.wnames[k], m.family, o.to)
			if nl == 0 {
				continue
			}
			m.wh[k].hdr.Namelen = uint32(nl)
			m.wiov[k].Base = unsafe.SliceData(o.b)
			m.wiov[k].SetLen(len(o.b))
			k++
		}
		m.wn, m.wnext = k, 0
		if m.sendFD >= 0 {
			m.send(uintptr(m.sendFD))
		} else if k > 0 {
			_ = m.rc.Write(m.writeFn) // an error: closed, nothing sent
		}
		for i := range k {
			m.wiov[i].Base = nil // do not keep the batch's memory alive
		}
		if m.wnext < k {
			break // the socket buffer is full: the rest would be refused too
		}
	}
	return m.wsent, m.wbytes
}

// send is sendmmsg of the filled headers; it never waits for the socket.
func (m *mmsgIO) send(fd uintptr) bool {
	for m.wnext < m.wn {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.wh[m.wnext])),
			uintptr(m.wn-m.wnext), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case errno == unix.EINTR:
		case errno == unix.EAGAIN || (errno == 0 && n == 0):
			return true // the socket buffer is full
		case errno != 0:
			m.wnext++ // this destination was refused (unreachable, say): skip it
		default:
			for i := m.wnext; i < m.wnext+int(n); i++ {
				m.wbytes += int(m.wh[i].n)
			}
			m.wsent += int(n)
			m.wnext += int(n)
		}
	}
	return true
}

func (m *mmsgIO) close() {
	if m.sendFD >= 0 {
		unix.Close(m.sendFD)
		m.sendFD = -1
	}
}

// SetWriteBuffer sizes the send socket's buffer, which is the one that
// sends.
func (p *udpPair) SetWriteBuffer(n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sendFD < 0 {
		return p.UDPConn.SetWriteBuffer(n)
	}
	return unix.SetsockoptInt(p.sendFD, unix.SOL_SOCKET, unix.SO_SNDBUF, n)
}
