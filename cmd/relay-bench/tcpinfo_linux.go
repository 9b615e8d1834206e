//go:build linux

package main

import (
	"net"

	"golang.org/x/sys/unix"
)

// ipTCPHeader is an IPv4 and a TCP header with the timestamp option,
// which Linux uses on loopback by default: 20 + 20 + 12 bytes.
const ipTCPHeader = 20 + 20 + 12

// tcpiOptTimestamps is TCPI_OPT_TIMESTAMPS of linux/tcp.h.
const tcpiOptTimestamps = 1

// tcpCounters are one connection's totals from the kernel (TCP_INFO):
// segments, pure acknowledgements included, and payload bytes, resent
// bytes included, both ways.
type tcpCounters struct {
	segsIn, segsOut   uint64
	bytesIn, bytesOut uint64
	retrans           uint64 // segments resent
	hdr               uint64 // IP and TCP header bytes per segment
}

// readTCP reads c's TCP_INFO; false once c is closed.
func readTCP(c *net.TCPConn) (tcpCounters, bool) {
	var t tcpCounters
	if c == nil {
		return t, false
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return t, false
	}
	var info *unix.TCPInfo
	cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if cerr != nil || err != nil {
		return t, false
	}
	t.hdr = 20 + 20
	if info.Options&tcpiOptTimestamps != 0 {
		t.hdr += 12
	}
	t.segsIn, t.segsOut = uint64(info.Segs_in), uint64(info.Segs_out)
	t.bytesIn, t.bytesOut = info.Bytes_received, info.Bytes_sent
	t.retrans = uint64(info.Total_retrans)
	return t, true
}
