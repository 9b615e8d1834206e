package conformance

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// recvBufferControl sets a socket's receive buffer before it connects, so
// that TCP's window scale is negotiated for it (set later, the peer keeps
// sending for the larger window and the kernel drops what does not fit).
func recvBufferControl(n int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n) })
	}
}
