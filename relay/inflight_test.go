package relay

import (
	"net"
	"runtime"
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
		srv := &Server{KCP: KCPConfig{MaxInFlight: c.cfg}}
		tr := newTransport(srv, pc, newAdmission(filterConfig{}))
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
		tr.stop()
		sink.Close()
	}
}

// Server fields reach the admission filter (its behaviour is tested in
// filter_test.go).
func TestServerConfiguresAdmission(t *testing.T) {
	pc, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{MaxHandshakesPerIP: 9, MaxSessionsPerIP: 7}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc) }()
	defer func() {
		srv.Close()
		<-done
	}()
	for {
		select {
		case err := <-done:
			t.Fatalf("Serve returned early: %v", err)
		default:
		}
		srv.mu.Lock()
		f := srv.filter
		srv.mu.Unlock()
		if f != nil {
			if f.cfg.maxPendingPerIP != 9 || f.cfg.maxSessionsPerIP != 7 {
				t.Fatalf("filter config %+v", f.cfg)
			}
			return
		}
		runtime.Gosched()
	}
}
