package wslink

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// notSentLowat bounds the bytes a connection's socket holds that TCP has
// not sent yet. Without it the kernel takes megabytes of frames for a
// client that stopped reading, each older than the last, before a write
// blocks; with it the writer blocks within about a quarter second of
// frames, the link turns busy, and the client gets merged deltas instead of
// a backlog.
const notSentLowat = 16 << 10

// tuneConn sets the socket options a game connection wants.
func tuneConn(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	_ = tc.SetNoDelay(true)
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notSentLowat)
	})
}

// tcpRTT is the kernel's smoothed round trip for c.
func tcpRTT(c *net.TCPConn) time.Duration {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var rtt time.Duration
	_ = rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			rtt = time.Duration(info.Rtt) * time.Microsecond
		}
	})
	return rtt
}
