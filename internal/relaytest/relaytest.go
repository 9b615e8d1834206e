// Package relaytest starts relays for tests in any package of the module.
package relaytest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay"
)

// Start serves s over KCP on 127.0.0.1 with a kernel-chosen port and shuts
// it down when the test ends, checking that Serve returned ErrServerClosed.
// It returns the address to dial.
func Start(t testing.TB, s *relay.Server) string {
	kcpAddr, _ := start(t, s, false)
	return kcpAddr
}

// StartBoth serves s over KCP and WebSocket on 127.0.0.1 (kernel-chosen
// ports) and shuts it down when the test ends. It returns the KCP address
// and the WebSocket URL.
func StartBoth(t testing.TB, s *relay.Server) (kcpAddr, wsURL string) {
	return start(t, s, true)
}

func start(t testing.TB, s *relay.Server, ws bool) (string, string) {
	t.Helper()
	pc, ln := listen(t, ws)
	return serve(t, s, pc, ln)
}

// listen opens a KCP socket and, with ws, a TCP listener on 127.0.0.1 with
// kernel-chosen ports.
func listen(t testing.TB, ws bool) (net.PacketConn, net.Listener) {
	t.Helper()
	pc, err := relay.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	if ws {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			pc.Close()
			t.Fatal(err)
		}
	}
	return pc, ln
}

// wsURL is the URL a client dials for s's WebSocket endpoint on ln.
func wsURL(s *relay.Server, ln net.Listener) string {
	path := s.WebSocket.Path
	if path == "" {
		path = "/"
	}
	scheme := "ws://"
	if s.WebSocket.TLSCertFile != "" {
		scheme = "wss://"
	}
	return scheme + ln.Addr().String() + path
}

// serve serves s on pc and ln (nil: no WebSocket) until the test ends.
func serve(t testing.TB, s *relay.Server, pc net.PacketConn, ln net.Listener) (string, string) {
	done := make(chan error, 2)
	go func() { done <- s.Serve(pc) }()
	url := ""
	if ln != nil {
		go func() { done <- s.ServeWebSocket(ln) }()
		url = wsURL(s, ln)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("relay shutdown: %v", err)
		}
		n := 1
		if ln != nil {
			n = 2
		}
		for range n {
			if err := <-done; err != relay.ErrServerClosed {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		}
	})
	return pc.LocalAddr().String(), url
}
