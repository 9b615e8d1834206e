package kcplink

import (
	"net"
	"testing"
)

// A client that stops acknowledging is Busy (its frames are held back and
// merged) after MaxInFlight messages, however many packets each spans, or
// after a whole send window of packets.
func TestBusyAfterMaxInFlight(t *testing.T) {
	for _, c := range []struct{ cfg, size, want int }{
		{0, 5, 8},       // default, one-packet frames
		{4, 5, 4},       // configured
		{500, 5, 64},    // capped
		{4, 2500, 4},    // three packets a frame: still messages
		{64, 10000, 15}, // nine packets a frame: the 128-packet window fills first
	} {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		sink, err := net.ListenPacket("udp", "127.0.0.1:0") // never acknowledges
		if err != nil {
			t.Fatal(err)
		}
		tr := New(pc, Config{MaxInFlight: c.cfg}, nil, nil)
		to := sink.LocalAddr().(*net.UDPAddr).AddrPort()
		s := newSession(tr, to, to, 1)
		frame := make([]byte, c.size)
		sent := 0
		for !s.Busy() && sent < 1000 {
			s.Send(frame)
			sent++
		}
		if sent != c.want {
			t.Errorf("MaxInFlight %d, %d-byte frames: Busy after %d, want %d", c.cfg, c.size, sent, c.want)
		}
		s.close()
		tr.Stop()
		sink.Close()
	}
}
