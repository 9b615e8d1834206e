package kcplink

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/admit"
)

// memBot is a bare KCP client on its own socket, as cmd/relay-bench builds
// its bots.
type memBot struct {
	mu   sync.Mutex
	conn *net.UDPConn
	k    *kcp.KCP
	got  bool
}

// TestTransportMemoryPerSession opens 1,000 sessions (each past its first
// message) from bare-KCP clients, then drops the clients, and reports the
// transport's heap per session after GC.
func TestTransportMemoryPerSession(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 sockets")
	}
	const n = 1000
	quota := admit.New(admit.Config{MaxSessionsPerIP: n, NewPerSec: 1e6})
	e, addr := serveEcho(t, Config{HandshakeTimeout: time.Minute}, quota)

	runtime.GC()
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)

	hello := codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: codec.ProtocolVersion, Name: []byte("m")})
	bots := make([]*memBot, n)
	var welcomed atomic.Int64
	var readers sync.WaitGroup
	for i := range bots {
		// 250 source IPs, at most 4 sessions each: within the filter's
		// per-IP pending cap even if all are pending at once.
		src := &net.UDPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%250))}
		c, err := net.ListenUDP("udp4", src)
		if err != nil {
			t.Fatal(err)
		}
		b := &memBot{conn: c}
		b.k = kcp.NewKCP(uint32(0x1000+i), func(buf []byte, size int) { _, _ = c.WriteToUDP(buf[:size], addr) })
		b.k.NoDelay(1, 10, 2, 1)
		b.k.WndSize(128, 128)
		b.k.SetMtu(1200)
		bots[i] = b
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 2048)
			rb := make([]byte, 64<<10)
			for {
				m, err := c.Read(buf)
				if err != nil {
					return
				}
				b.mu.Lock()
				b.k.Input(buf[:m], kcp.IKCP_PACKET_REGULAR, true)
				for b.k.PeekSize() > 0 && b.k.Recv(rb) > 0 {
					if !b.got {
						b.got = true
						welcomed.Add(1)
					}
				}
				b.mu.Unlock()
			}
		}()
	}
	// Say hello 250 at a time, driving every client's KCP every 10 ms.
	sent := 0
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	deadline := time.Now().Add(60 * time.Second)
	for welcomed.Load() < n || !allAcked(e.tr, n) {
		if time.Now().After(deadline) {
			t.Fatalf("welcomed %d of %d", welcomed.Load(), n)
		}
		if sent < n && int64(sent) <= welcomed.Load() {
			for i := sent; i < min(sent+250, n); i++ {
				bots[i].mu.Lock()
				bots[i].k.Send(hello)
				bots[i].mu.Unlock()
			}
			sent = min(sent+250, n)
		}
		for _, b := range bots {
			b.mu.Lock()
			b.k.Update()
			b.mu.Unlock()
		}
		<-tk.C
	}
	for _, b := range bots {
		b.conn.Close()
	}
	readers.Wait()
	bots = nil
	runtime.GC()
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	if p := e.count(); p != n {
		t.Fatalf("transport has %d links, want %d", p, n)
	}
	per := (int64(m1.HeapAlloc) - int64(m0.HeapAlloc)) / n
	t.Logf("heap: %.1f MiB -> %.1f MiB for %d sessions: %d bytes (%.1f KiB) per session; goroutines %d",
		float64(m0.HeapAlloc)/(1<<20), float64(m1.HeapAlloc)/(1<<20), n, per, float64(per)/1024, runtime.NumGoroutine())
	// 7.6 KiB when measured; kcp-go's default rings and buffer (trimKCP)
	// alone would add 15.
	if per > 16<<10 {
		t.Errorf("%d bytes per session, want <= 16 KiB", per)
	}
}

// allAcked reports whether tr holds n sessions with nothing in flight (the
// answers were acknowledged).
func allAcked(tr *Transport, n int) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.sessions) != n {
		return false
	}
	for _, s := range tr.sessions {
		s.mu.Lock()
		w := s.kcp.WaitSnd()
		s.mu.Unlock()
		if w > 0 {
			return false
		}
	}
	return true
}
