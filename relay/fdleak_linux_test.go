package relay

import (
	"context"
	"os"
	"testing"
	"time"
)

// Serve's sockets (Listen's pair) and the tick clock's timerfd are closed
// when the server ends: a process that starts and stops servers keeps its
// descriptor count.
func TestServeClosesItsDescriptors(t *testing.T) {
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd:", err)
		}
		return len(ents)
	}
	run := func() {
		pc, err := Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &Server{}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(pc) }()
		// Let the loop start so that its clock has armed its timer.
		for srv.Stats().Tick.Ticks < 2 {
			select {
			case err := <-done:
				t.Fatalf("Serve: %v", err)
			case <-time.After(5 * time.Millisecond): // polling a counter, bounded below
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != ErrServerClosed {
			t.Fatalf("Serve returned %v", err)
		}
	}
	run() // the runtime's own descriptors (netpoller) exist from here on
	before := count()
	for range 5 {
		run()
	}
	if after := count(); after != before {
		t.Fatalf("%d descriptors open after 5 servers, %d before", after, before)
	}
	// Listen's pair without Serve: Close closes both.
	pc, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
	if after := count(); after != before {
		t.Fatalf("%d descriptors open after Listen+Close, %d before", after, before)
	}
}

// Server fields reach the admission budget the transports share (its
// behaviour is tested in relay/admit and relay/kcplink).
func TestServerConfiguresAdmission(t *testing.T) {
	srv := &Server{MaxHandshakesPerIP: 9, MaxSessionsPerIP: 7, MaxSessions: 50, NewSessionRate: 3}
	srv.mu.Lock()
	err := srv.startLocked()
	q := srv.quota
	srv.mu.Unlock()
	defer srv.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := q.Config()
	if c.MaxPendingPerIP != 9 || c.MaxSessionsPerIP != 7 || c.MaxSessions != 50 || c.NewPerSec != 3 {
		t.Fatalf("quota config %+v", c)
	}
}
