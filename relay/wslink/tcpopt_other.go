//go:build !linux

package wslink

import (
	"net"
	"time"
)

// tuneConn sets the socket options a game connection wants.
func tuneConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
}

// tcpRTT is unknown on this platform.
func tcpRTT(*net.TCPConn) time.Duration { return 0 }
