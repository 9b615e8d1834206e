// Package relaytest starts relays for tests in any package of the module.
package relaytest

import (
	"context"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay"
)

// Start serves s on 127.0.0.1 with a kernel-chosen port and shuts it down
// when the test ends, checking that Serve returned ErrServerClosed. It
// returns the address to dial.
func Start(t testing.TB, s *relay.Server) string {
	t.Helper()
	pc, err := relay.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(pc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("relay shutdown: %v", err)
		}
		if err := <-done; err != relay.ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return pc.LocalAddr().String()
}
