package kcplink

import (
	"errors"
	"net"
	"testing"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
)

// kcpClient is a bare KCP client on its own socket, driven by its caller
// alone, so a test can also send raw datagrams from the same address.
type kcpClient struct {
	c   *net.UDPConn
	k   *kcp.KCP
	buf []byte
	got int // bytes received through KCP
}

func newKCPClient(t *testing.T, server *net.UDPAddr, conv uint32) *kcpClient {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	kc := &kcpClient{c: c, buf: make([]byte, 2048)}
	kc.k = kcp.NewKCP(conv, func(b []byte, n int) { _, _ = c.WriteToUDP(b[:n], server) })
	kc.k.NoDelay(1, 10, 2, 1)
	kc.k.WndSize(128, 128)
	kc.k.SetMtu(1200)
	return kc
}

// pump drives the client (its 10 ms read timeout is KCP's update clock)
// until done reports true; it fails the test after 10 s.
func (kc *kcpClient) pump(t *testing.T, what string, done func() bool) {
	t.Helper()
	rb := make([]byte, 64<<10)
	deadline := time.Now().Add(10 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		kc.k.Update()
		_ = kc.c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		n, err := kc.c.Read(kc.buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			t.Fatal(err)
		}
		kc.k.Input(kc.buf[:n], kcp.IKCP_PACKET_REGULAR, true)
		for {
			m := kc.k.Recv(rb)
			if m < 0 {
				break
			}
			kc.got += m
		}
	}
}

// TestKnownAddressDatagramsAreChecked: a live session's datagrams skip the
// admission table, so the transport's own check must still drop another
// conv (a hello that would make KCP replace the session) and junk from
// that address, count them, and leave the session working.
func TestKnownAddressDatagramsAreChecked(t *testing.T) {
	e, addr := serveEcho(t, Config{}, nil)

	const conv = 0x5150
	kc := newKCPClient(t, addr, conv)
	hello := codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: codec.ProtocolVersion, Name: []byte("k")})
	kc.k.Send(hello)
	kc.pump(t, "the answer", func() bool { return kc.got > 0 })

	// A hello under another conv, from the same address.
	var hijack []byte
	other := kcp.NewKCP(conv+1, func(b []byte, n int) { hijack = append(hijack, b[:n]...) })
	other.NoDelay(1, 10, 2, 1) // no congestion window: it sends at once
	other.Send(hello)
	other.Update()
	if len(hijack) == 0 {
		t.Fatal("no hello datagram from the second KCP")
	}
	notKCP := make([]byte, kcpHeaderSize)
	notKCP[0], notKCP[1], notKCP[kcpOffCmd] = conv&0xff, conv>>8, 0xf1
	for _, d := range [][]byte{hijack, {0xde, 0xad}, notKCP} {
		if _, err := kc.c.WriteToUDP(d, addr); err != nil {
			t.Fatal(err)
		}
	}
	// The reader handles datagrams in order: once this ping is acked, the
	// three above were seen.
	kc.k.Send(codec.AppendClient(nil, &codec.ClientMsg{Type: codec.TPing, ClientTime: 1}))
	kc.k.Update()
	kc.pump(t, "the ping's ack", func() bool { return kc.k.WaitSnd() == 0 })

	st := e.tr.Stats()
	if d := st.Drops; d["conv_mismatch"] != 1 || d["junk"] != 2 {
		t.Errorf("drops %v, want conv_mismatch 1 and junk 2", d)
	}
	if n := e.count(); n != 1 {
		t.Errorf("%d links, want 1", n)
	}
	tr := e.tr
	tr.mu.Lock()
	n, s := len(tr.sessions), tr.sessions[normKey(kc.c.LocalAddr().(*net.UDPAddr).AddrPort())]
	tr.mu.Unlock()
	if n != 1 || s == nil || s.conn.conv != conv {
		t.Fatalf("%d sessions; the client's has conv %#x, want %#x", n, s.conn.conv, conv)
	}
}
