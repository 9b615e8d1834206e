package client

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/internal/kcpx"
	"github.com/tickrelay/tickrelay/relay"
)

// The relay holds the acks for what a client sends until just after its
// next tick, so the client's KCP must not resend sooner than that plus
// KCP's own 30 ms: after the welcome, and again after a reconnect (a new
// session), the bound is 30 ms + one tick.
func TestResendBoundCoversTheTick(t *testing.T) {
	for _, rate := range []int{30, 20} {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &relay.Server{TickRate: rate}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(pc) }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := Dial(ctx, pc.LocalAddr().String(), Options{Name: "p"})
		if err != nil {
			t.Fatal(err)
		}
		want := uint32(30 + 1000/rate)
		if got := kcpx.SessionMinRTO(c.conn.(*kcpWire).conn); got != want {
			t.Errorf("tick rate %d: resend bound %d ms after the welcome, want %d", rate, got, want)
		}
		c.Drop()
		if err := c.Reconnect(ctx); err != nil {
			t.Fatalf("reconnect: %v", err)
		}
		c.wmu.Lock()
		conn := c.conn
		c.wmu.Unlock()
		if got := kcpx.SessionMinRTO(conn.(*kcpWire).conn); got != want {
			t.Errorf("tick rate %d: resend bound %d ms after a reconnect, want %d", rate, got, want)
		}
		c.Close()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-served
		cancel()
	}
}
