package kcplink

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/admit"
)

// The server_full answer is never larger than the hello it answers, and
// carries the longest reason that fits.
func TestServerFullDatagramFitsTheHello(t *testing.T) {
	for _, c := range []struct {
		name   string
		hello  []byte
		reason string
	}{
		{"smallest hello the filter admits", fltSegment(7, kcpCmdPush, 0, 0, []byte{0, 0, 0, 5, 0x94, 1, 1, 0xa0, 0xc0}), ""},
		{"one-letter name", fltHello(7), ""},
		{"five-letter name", fltSegment(7, kcpCmdPush, 0, 0, codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("alice")})), "full"},
		{"long name", fltSegment(7, kcpCmdPush, 0, 0, codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("a-longer-player-name")})), "the server is full"},
	} {
		d := serverFullDatagram(nil, c.hello)
		if d == nil || len(d) > len(c.hello) {
			t.Fatalf("%s: %d-byte answer to a %d-byte hello", c.name, len(d), len(c.hello))
		}
		if binary.LittleEndian.Uint32(d) != 7 || d[kcpOffCmd] != kcpCmdPush || binary.LittleEndian.Uint32(d[kcpOffSN:]) != 0 {
			t.Fatalf("%s: header % x", c.name, d[:kcpHeaderSize])
		}
		m, err := codec.DecodeServer(d[kcpHeaderSize+codec.FrameHeaderSize:])
		if err != nil || m.Type != codec.TClose || m.Code != codec.CodeServerFull || m.Message != c.reason {
			t.Fatalf("%s: %+v %v, want close server_full %q", c.name, m, err, c.reason)
		}
	}
}

// A hello to a full relay is answered at once with close server_full, read
// by a plain KCP client, without a session; the answers are rate-limited.
func TestFullServerAnswersHello(t *testing.T) {
	e, addr := serveEcho(t, Config{}, admit.New(admit.Config{MaxSessions: 1}))
	first := newKCPClient(t, addr, 1)
	first.k.Send(codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("a")}))
	first.pump(t, "the first client's answer", func() bool { return first.got > 0 })

	second := newKCPClient(t, addr, 2)
	var body []byte
	rb := make([]byte, 4096)
	second.k.Send(codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("b")}))
	second.pumpRecv(t, "the server_full answer", func() bool {
		if n := second.k.Recv(rb); n > 0 {
			body = append(body, rb[:n]...)
		}
		return len(body) > 0
	})
	m, err := codec.DecodeServer(body[codec.FrameHeaderSize:])
	if err != nil || m.Type != codec.TClose || m.Code != codec.CodeServerFull {
		t.Fatalf("got %+v %v, want close server_full", m, err)
	}
	if n := e.count(); n != 1 {
		t.Fatalf("%d links, want 1: the answer cost a session", n)
	}
	st := e.tr.Stats()
	if st.FullReplies != 1 || st.Drops["session_cap"] == 0 {
		t.Fatalf("full replies %d, session_cap drops %d", st.FullReplies, st.Drops["session_cap"])
	}

	// A flood of hellos at the full server draws at most a burst of answers.
	flood, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	for i := range 500 {
		if _, err := flood.WriteToUDP(fltHello(uint32(100+i)), addr); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	buf := make([]byte, 2048)
	for {
		_ = flood.SetReadDeadline(time.Now().Add(300 * time.Millisecond)) // end of answers, not synchronisation
		if _, _, err := flood.ReadFromUDP(buf); err != nil {
			break
		}
		got++
	}
	if got == 0 || got > fullReplyRate+5 {
		t.Fatalf("%d answers to 500 hellos, want 1..%d", got, fullReplyRate+5)
	}
	t.Logf("500 hellos at a full server: %d answers", got)
}

// pumpRecv drives the client until done (which may read from its KCP)
// reports true; it fails after 10 s.
func (kc *kcpClient) pumpRecv(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		kc.k.Update()
		_ = kc.c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		n, err := kc.c.Read(kc.buf)
		if err == nil {
			kc.k.Input(kc.buf[:n], kcp.IKCP_PACKET_REGULAR, true)
		}
	}
}
