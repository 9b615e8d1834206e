package kcplink

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Listen's pair: every datagram reaches the receiving socket (none is lost
// to the send-only one), and what the pair sends comes from the same port,
// for an IPv4 socket and for the dual-stack wildcard that the relay's
// default address opens.
func TestListenPairSteersToReceiverAndSendsFromItsPort(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::]:0"} {
		t.Run(addr, func(t *testing.T) {
			pc, err := Listen(addr)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			pair, ok := pc.(*udpPair)
			if !ok {
				t.Fatalf("Listen returned %T, want the socket pair", pc)
			}
			port := pc.LocalAddr().(*net.UDPAddr).Port
			to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
			// Several source ports: without the steering program the group
			// would spread them over both sockets by hash.
			var peers []*net.UDPConn
			for range 8 {
				p, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				peers = append(peers, p)
			}
			peer := peers[0]
			ports := map[uint16]bool{}
			const n = 200
			for i := range n {
				p := peers[i%len(peers)]
				ports[uint16(p.LocalAddr().(*net.UDPAddr).Port)] = true
				if _, err := p.WriteToUDPAddrPort([]byte{byte(i)}, to); err != nil {
					t.Fatal(err)
				}
			}
			io := newPacketIO(pc)
			defer io.close()
			if _, isMmsg := io.(*mmsgIO); !isMmsg {
				t.Fatalf("packet I/O is %T, want batched", io)
			}
			got := make([]bool, n)
			seen := 0
			_ = pair.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound, not a wait
			for seen < n {
				err := io.read(func(b []byte, from netip.AddrPort) {
					if !ports[from.Port()] || len(b) != 1 || got[b[0]] {
						t.Errorf("unexpected datagram %x from %v", b, from)
						return
					}
					got[b[0]] = true
					seen++
				})
				if err != nil {
					t.Fatalf("after %d of %d datagrams: %v", seen, n, err)
				}
			}
			// The send socket's queue holds nothing that was meant for us.
			if q, err := unix.IoctlGetInt(io.(*mmsgIO).sendFD, unix.SIOCINQ); err != nil || q != 0 {
				t.Fatalf("send socket queue %d bytes (%v), want 0", q, err)
			}

			// Send through the pair: one batch to the peer.
			back := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(peer.LocalAddr().(*net.UDPAddr).Port))
			if addr == "[::]:0" {
				back = netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), back.Port())
			}
			msgs := []outMsg{{b: []byte("one"), to: back}, {b: []byte("two"), to: back}}
			if sent, bytes := io.write(msgs); sent != 2 || bytes != 6 {
				t.Fatalf("write: %d datagrams, %d bytes; want 2, 6", sent, bytes)
			}
			_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 16)
			for _, want := range []string{"one", "two"} {
				k, from, err := peer.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatal(err)
				}
				if string(buf[:k]) != want || from.Port() != uint16(port) {
					t.Fatalf("peer got %q from %v, want %q from port %d", buf[:k], from, want, port)
				}
			}
		})
	}
}

func TestSockaddrRoundTrip(t *testing.T) {
	for _, c := range []struct {
		family int
		to     string
		want   string // "" : unreachable from this family
	}{
		{unix.AF_INET, "127.0.0.1:7777", "127.0.0.1:7777"},
		{unix.AF_INET, "[::ffff:127.0.0.2]:1", "127.0.0.2:1"},
		{unix.AF_INET, "[::1]:80", ""},
		{unix.AF_INET6, "127.0.0.1:65535", "[::ffff:127.0.0.1]:65535"},
		{unix.AF_INET6, "[::1]:5", "[::1]:5"},
	} {
		var b [sizeofName]byte
		n := putName(&b, c.family, netip.MustParseAddrPort(c.to))
		if c.want == "" {
			if n != 0 {
				t.Errorf("family %d, %s: encoded %d bytes, want unreachable", c.family, c.to, n)
			}
			continue
		}
		got, ok := parseName(b[:n])
		if !ok || got.String() != c.want {
			t.Errorf("family %d, %s: round trip %v %v, want %s", c.family, c.to, got, ok, c.want)
		}
	}
	for _, bad := range [][]byte{nil, {2}, {2, 0, 0, 1}, {10, 0, 0, 1, 0, 0, 0, 0}} {
		if _, ok := parseName(bad); ok {
			t.Errorf("parseName(%x) accepted", bad)
		}
	}
}
