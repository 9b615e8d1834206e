package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// botSocket is one worker's UDP socket, shared by all its bots. The server
// keys sessions by source address, so each bot has its own loopback
// address (botAddr, unique across workers), which every datagram it sends
// names with IP_PKTINFO;
// an arriving datagram names its bot by its destination address. One
// socket per bot made the server's loopback sends pay, per datagram, for
// the lookup among thousands of sockets and for the epoll callback of the
// bot's socket: work that a real player's machine does, not the server's.
// One socket read and written in batches (recvmmsg, sendmmsg) costs the
// server's core only the enqueue, and the generator one system call per
// batch instead of one per datagram.
type botSocket struct {
	fd     int
	port   int
	server unix.RawSockaddrInet4
	from   [4]byte // the server's address, the only source read

	// With -embedded or WebSocket bots: the socket in Go's netpoller, to
	// park on. Without it the socket is in no epoll set, so a datagram
	// wakes no one while the worker is busy.
	f  *os.File
	rc syscall.RawConn

	rh    []mmsghdr
	rctl  [][pktinfoSpace]byte
	rname []unix.RawSockaddrInet4
	riov  []unix.Iovec
	rbufs [][]byte
	rn    int // datagrams in the receive batch

	wh    []mmsghdr
	wctl  [][pktinfoSpace]byte
	wiov  []unix.Iovec
	arena []byte
	wn    int
}

// mmsghdr is struct mmsghdr; Go's layout matches C's on every Linux ABI.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

const (
	sockBatch    = 64
	pktinfoSpace = 32 // unix.CmsgSpace(unix.SizeofInet4Pktinfo) on 64-bit, rounded up for 32-bit
	sockBufBytes = 32 << 20
	maxDatagram  = 2048
	botAddrBase  = 127<<24 | 1<<16   // 127.1.0.0
	maxBots      = 1<<24 - 1<<16 - 2 // up to 127.255.255.254
)

// botAddr is the loopback address of bot number i (of all workers).
func botAddr(i int) [4]byte {
	a := uint32(botAddrBase + 1 + i)
	return [4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}
}

// botIndex is botAddr's inverse; ok is false for any other address.
func botIndex(a [4]byte, n int) (int, bool) {
	i := int(uint32(a[0])<<24|uint32(a[1])<<16|uint32(a[2])<<8|uint32(a[3])) - botAddrBase - 1
	return i, i >= 0 && i < n
}

// openBotSocket opens a worker's socket; park makes its worker wait in
// Go's netpoller rather than in poll(2) (see worker.wait).
func openBotSocket(server netip.AddrPort, park bool) (*botSocket, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("bot socket: %w", err)
	}
	s := &botSocket{fd: fd}
	fail := func(what string, err error) (*botSocket, error) {
		s.close()
		return nil, fmt.Errorf("bot socket: %s: %w", what, err)
	}
	// The wildcard address: the socket must receive for every bot's
	// address. Nothing is ever sent but to the server (127.0.0.0/8).
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
		return fail("IP_PKTINFO", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{}); err != nil {
		return fail("bind", err)
	}
	// A tick's frames for every bot arrive together: the default buffer
	// would drop most of them. FORCE needs CAP_NET_ADMIN; without it the
	// size is capped at net.core.rmem_max and drops are reported.
	for _, opt := range [][2]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt[0], sockBufBytes) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt[1], sockBufBytes)
		}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	s.port = sa.(*unix.SockaddrInet4).Port
	s.from = server.Addr().As4()
	s.server.Family = unix.AF_INET
	s.server.Addr = s.from
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s.server.Port))[:], server.Port())
	if park {
		s.f = os.NewFile(uintptr(fd), "bots")
		if s.rc, err = s.f.SyscallConn(); err != nil {
			return fail("netpoller", err)
		}
	}
	s.init()
	return s, nil
}

func (s *botSocket) init() {
	s.rh, s.rctl, s.rname = make([]mmsghdr, sockBatch), make([][pktinfoSpace]byte, sockBatch), make([]unix.RawSockaddrInet4, sockBatch)
	s.riov, s.rbufs = make([]unix.Iovec, sockBatch), make([][]byte, sockBatch)
	for i := range s.rh {
		s.rbufs[i] = make([]byte, maxDatagram)
		s.riov[i].Base = &s.rbufs[i][0]
		s.riov[i].SetLen(maxDatagram)
		h := &s.rh[i].hdr
		h.Iov = &s.riov[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&s.rname[i]))
		h.Control = &s.rctl[i][0]
	}
	s.wh, s.wctl, s.wiov = make([]mmsghdr, sockBatch), make([][pktinfoSpace]byte, sockBatch), make([]unix.Iovec, sockBatch)
	s.arena = make([]byte, 0, sockBatch*maxDatagram)
	for i := range s.wh {
		h := &s.wh[i].hdr
		h.Iov = &s.wiov[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&s.server))
		h.Namelen = unix.SizeofSockaddrInet4
		h.Control = &s.wctl[i][0]
		h.SetControllen(unix.CmsgSpace(unix.SizeofInet4Pktinfo))
		c := (*unix.Cmsghdr)(unsafe.Pointer(&s.wctl[i][0]))
		c.Level, c.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		c.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	}
}

// pktinfo is the in_pktinfo inside a control buffer built or read here.
func pktinfo(ctl *[pktinfoSpace]byte) *unix.Inet4Pktinfo {
	return (*unix.Inet4Pktinfo)(unsafe.Pointer(&ctl[unix.CmsgLen(0)]))
}

// recv reads a batch without blocking; rn is how many datagrams it holds.
func (s *botSocket) recv() error {
	for i := range s.rh {
		h := &s.rh[i].hdr
		h.Namelen = unix.SizeofSockaddrInet4
		h.SetControllen(pktinfoSpace)
		h.Flags = 0
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.rh[0])),
			uintptr(len(s.rh)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			s.rn = int(n)
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			s.rn = 0
			return nil
		default:
			s.rn = 0
			return errno
		}
	}
}

// datagram returns the i-th datagram of the batch and the address it was
// sent to; ok is false for what is not the server's or was cut short.
func (s *botSocket) datagram(i int) (p []byte, to [4]byte, ok bool) {
	h := &s.rh[i]
	if h.hdr.Flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || s.rname[i].Addr != s.from || s.rname[i].Port != s.server.Port {
		return nil, to, false
	}
	c := (*unix.Cmsghdr)(unsafe.Pointer(&s.rctl[i][0]))
	if uint64(h.hdr.Controllen) < uint64(unix.CmsgLen(unix.SizeofInet4Pktinfo)) || c.Level != unix.IPPROTO_IP || c.Type != unix.IP_PKTINFO {
		return nil, to, false
	}
	return s.rbufs[i][:h.n], pktinfo(&s.rctl[i]).Addr, true
}

// wait sleeps until the socket is readable or timeoutMs passes.
func (s *botSocket) wait(timeoutMs int) error {
	if s.rc == nil {
		fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
		_, err := unix.Poll(fds, timeoutMs)
		if errors.Is(err, unix.EINTR) {
			return nil
		}
		return err
	}
	// Park in the netpoller, which frees the P for the relay or the
	// WebSocket bots.
	if err := s.f.SetReadDeadline(time.Now().Add(time.Duration(timeoutMs) * time.Millisecond)); err != nil {
		return err
	}
	var rerr error
	err := s.rc.Read(func(uintptr) bool {
		rerr = s.recv()
		return s.rn > 0 || rerr != nil // false: park until readable
	})
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return rerr
}

// queue adds one datagram from the address from to the send batch.
func (s *botSocket) queue(from [4]byte, p []byte, st *counters) {
	if s.wn == len(s.wh) || len(s.arena)+len(p) > cap(s.arena) {
		s.flush(st)
	}
	off := len(s.arena)
	s.arena = append(s.arena, p...)
	s.wiov[s.wn].Base = &s.arena[off]
	s.wiov[s.wn].SetLen(len(p))
	pktinfo(&s.wctl[s.wn]).Spec_dst = from
	s.wn++
}

// flush sends the batch. What the socket refuses is dropped and counted:
// KCP resends what matters.
func (s *botSocket) flush(st *counters) {
	for next := 0; next < s.wn; {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.wh[next])),
			uintptr(s.wn-next), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			for i := next; i < next+int(n); i++ {
				st.DgramsOut++
				st.UDPBytesOut += uint64(s.wiov[i].Len)
			}
			next += int(n)
		case unix.EINTR:
		case unix.EAGAIN, unix.ENOBUFS:
			st.SendAgain += uint64(s.wn - next)
			next = s.wn
		default:
			st.SendErrs++ // the first datagram failed: skip it
			next++
		}
	}
	s.wn = 0
	s.arena = s.arena[:0]
}

func (s *botSocket) close() {
	switch {
	case s.f != nil:
		s.f.Close()
		s.f = nil
	case s.fd >= 0:
		unix.Close(s.fd)
	}
	s.fd = -1
}
