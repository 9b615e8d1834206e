package kcpx

import (
	"net"
	"testing"

	kcp "github.com/xtaci/kcp-go/v5"
)

// After round trips of about 0 ms, a segment's resend is due at the lower
// bound: kcp-go's 30 ms, or SetMinRTO's.
func TestSetMinRTOBoundsTheResendTime(t *testing.T) {
	if minRTOOff == noOffset {
		t.Fatal("kcp-go's KCP has no rx_minrto: clients holding acks would see frames resent early")
	}
	for _, c := range []struct {
		set     bool
		minRTO  int
		wantMax int
	}{{false, 0, kcp.IKCP_RTO_NDL}, {true, 48, 48}, {true, 100, 100}} {
		p := newKCPPair()
		if c.set && !SetMinRTO(p.a, uint32(c.minRTO)) {
			t.Fatal("SetMinRTO refused")
		}
		// A few messages acknowledged at once: RTT samples of ~0 ms.
		for range 4 {
			p.a.Send([]byte("frame"))
			FlushNow(p.a, Now())
			deliver(p.b, &p.toB)
			FlushNow(p.b, Now())
			deliver(p.a, &p.toA)
		}
		if p.a.WaitSnd() != 0 {
			t.Fatalf("minRTO %d: %d segments unacknowledged", c.minRTO, p.a.WaitSnd())
		}
		p.a.Send([]byte("frame"))
		now := Now()
		FlushNow(p.a, now)
		ms, held, ok := ResendIn(p.a, now, 10)
		if !ok || held != 1 {
			t.Fatalf("ResendIn: ok %v, held %d", ok, held)
		}
		// The flush read kcp-go's clock itself, a little after now.
		if ms > c.wantMax || ms < c.wantMax-5 {
			t.Errorf("set %v %d: resend due in %d ms, want %d (-5)", c.set, c.minRTO, ms, c.wantMax)
		}
	}
}

// SetSessionMinRTO reaches the KCP inside a UDPSession, under the lock
// kcp-go's updater takes: the session keeps flushing while it is set (the
// race detector would see an unlocked write), and NoDelay, which resets
// the bound to 30 ms, shows it is the field KCP reads.
func TestSetSessionMinRTO(t *testing.T) {
	if sessMuOff == noOffset {
		t.Fatal("kcp-go's UDPSession has no mu or kcp field: the Go client would resend frames early")
	}
	peer, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	s, err := kcp.DialWithOptions(peer.LocalAddr().String(), nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetNoDelay(1, 10, 2, 1)
	if got := SessionMinRTO(s); got != kcp.IKCP_RTO_NDL {
		t.Fatalf("bound %d before, want kcp-go's %d", got, kcp.IKCP_RTO_NDL)
	}
	// Unacknowledged data keeps the session's updater flushing.
	if _, err := s.Write([]byte("unacknowledged")); err != nil {
		t.Fatal(err)
	}
	for ms := uint32(40); ms < 80; ms++ {
		if !SetSessionMinRTO(s, ms) {
			t.Fatal("SetSessionMinRTO refused")
		}
		if got := SessionMinRTO(s); got != ms {
			t.Fatalf("bound %d, want %d", got, ms)
		}
	}
	s.SetNoDelay(1, 10, 2, 1)
	if got := SessionMinRTO(s); got != kcp.IKCP_RTO_NDL {
		t.Errorf("bound %d after NoDelay, want %d: not the field NoDelay sets", got, kcp.IKCP_RTO_NDL)
	}
}
