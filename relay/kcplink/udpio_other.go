//go:build !linux

package kcplink

import "net"

// Listen opens the UDP socket a Server serves on (what ListenAndServe uses).
func Listen(addr string) (net.PacketConn, error) { return net.ListenPacket("udp", addr) }

func newPacketIO(pc net.PacketConn) packetIO { return newPlainIO(pc) }
