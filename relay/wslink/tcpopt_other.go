//go:build !linux

package wslink

import "net"

// tuneConn sets the socket options a game connection wants.
func tuneConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
}
