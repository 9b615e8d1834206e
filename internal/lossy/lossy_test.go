package lossy

import (
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is an upstream on 127.0.0.1:0 that records every datagram (with its
// source) and optionally echoes it.
type server struct {
	conn *net.UDPConn
	echo bool
	mu   sync.Mutex
	got  [][]byte
	from map[string]int
	ch   chan struct{} // one token per datagram received
	wg   sync.WaitGroup
}

func startServer(t *testing.T, echo bool) *server {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{conn: conn, echo: echo, from: map[string]int{}, ch: make(chan struct{}, 1<<16)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, addr, err := conn.ReadFromUDP(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			s.mu.Lock()
			s.got = append(s.got, append([]byte(nil), buf[:n]...))
			s.from[addr.String()]++
			s.mu.Unlock()
			if echo {
				_, _ = conn.WriteToUDP(buf[:n], addr)
			}
			s.ch <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		s.wg.Wait()
	})
	return s
}

func (s *server) addr() string { return s.conn.LocalAddr().String() }

// wait blocks until n datagrams have arrived since the last wait.
func (s *server) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for range n {
		select {
		case <-s.ch:
		case <-deadline:
			t.Fatalf("server: timed out waiting for %d datagrams", n)
		}
	}
}

func (s *server) received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.got...)
}

func newProxy(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func dialProxy(t *testing.T, p *Proxy) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sendPaced writes datagrams numbered from..to-1, letting the proxy catch up
// every 50 so that a burst does not overflow its socket buffer (a kernel drop
// would be invisible to its counters).
func sendPaced(t *testing.T, p *Proxy, c *net.UDPConn, from, to int) {
	t.Helper()
	base := p.Stats(ToServer).Received
	for i := from; i < to; i++ {
		if _, err := c.Write(numbered(i)); err != nil {
			t.Fatal(err)
		}
		if sent := uint64(i - from + 1); sent%50 == 0 {
			waitStats(t, p, ToServer, func(s Stats) bool { return s.Received >= base+sent })
		}
	}
	waitStats(t, p, ToServer, func(s Stats) bool { return s.Received == base+uint64(to-from) })
}

func numbered(i int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

func numbers(pkts [][]byte) []int {
	out := make([]int, len(pkts))
	for i, p := range pkts {
		out[i] = int(binary.BigEndian.Uint32(p))
	}
	return out
}

// waitStats waits until cond holds for the proxy's counters of dir. The proxy
// counts a datagram only after handling it, so there is no event to block on;
// this polls a condition with a deadline rather than sleeping for a guess.
func waitStats(t *testing.T, p *Proxy, dir Direction, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := p.Stats(dir)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; stats %+v", st)
		}
		runtime.Gosched()
	}
}

func readN(t *testing.T, c *net.UDPConn, n int) [][]byte {
	t.Helper()
	var out [][]byte
	buf := make([]byte, 65536)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(out) < n {
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read %d of %d: %v", len(out), n, err)
		}
		out = append(out, append([]byte(nil), buf[:k]...))
	}
	return out
}

func TestCleanPathEchoesInOrder(t *testing.T) {
	srv := startServer(t, true)
	p := newProxy(t, Config{Upstream: srv.addr()})
	c := dialProxy(t, p)
	const n = 200
	for i := range n {
		if _, err := c.Write(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := numbers(readN(t, c, n))
	for i, v := range got {
		if v != i {
			t.Fatalf("echo %d is %d; want in order", i, v)
		}
	}
	// The proxy counts a datagram just after writing it.
	up := waitStats(t, p, ToServer, func(s Stats) bool { return s.Forwarded == n })
	down := waitStats(t, p, ToClient, func(s Stats) bool { return s.Forwarded == n })
	if up.Dropped+down.Dropped != 0 {
		t.Fatalf("stats up %+v down %+v", up, down)
	}
}

func TestDropRateAndCounters(t *testing.T) {
	srv := startServer(t, false)
	p := newProxy(t, Config{Upstream: srv.addr(), Seed: 1, ToServer: Link{Drop: 0.3}})
	c := dialProxy(t, p)
	const n = 2000
	sendPaced(t, p, c, 0, n)
	st := p.Stats(ToServer)
	if st.Forwarded+st.Dropped != n {
		t.Fatalf("forwarded %d + dropped %d != %d", st.Forwarded, st.Dropped, n)
	}
	if st.Dropped < 500 || st.Dropped > 700 {
		t.Fatalf("dropped %d of %d at rate 0.3", st.Dropped, n)
	}
	srv.wait(t, int(st.Forwarded))
	if got := len(srv.received()); got != int(st.Forwarded) {
		t.Fatalf("server got %d, proxy forwarded %d", got, st.Forwarded)
	}
}

func TestSeedIsRepeatable(t *testing.T) {
	run := func(seed uint64) []int {
		srv := startServer(t, false)
		p := newProxy(t, Config{Upstream: srv.addr(), Seed: seed, ToServer: Link{Drop: 0.5}})
		c := dialProxy(t, p)
		sendPaced(t, p, c, 0, 300)
		st := p.Stats(ToServer)
		srv.wait(t, int(st.Forwarded))
		return numbers(srv.received())
	}
	a, b, other := run(42), run(42), run(43)
	if !equalInts(a, b) {
		t.Fatalf("same seed, different survivors:\n%v\n%v", a, b)
	}
	if equalInts(a, other) {
		t.Fatal("different seeds gave the same survivors")
	}
}

func TestDuplicate(t *testing.T) {
	srv := startServer(t, false)
	p := newProxy(t, Config{Upstream: srv.addr(), ToServer: Link{Duplicate: 1}})
	c := dialProxy(t, p)
	for i := range 10 {
		if _, err := c.Write(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	srv.wait(t, 20)
	got := numbers(srv.received())
	for i, v := range got {
		if v != i/2 {
			t.Fatalf("got %v; want each twice in order", got)
		}
	}
	if st := waitStats(t, p, ToServer, func(s Stats) bool { return s.Forwarded == 20 }); st.Duplicated != 10 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReorderSwapsPairs(t *testing.T) {
	srv := startServer(t, false)
	// A long hold so that only the next datagram releases a held one, except
	// for the last, which the hold timer must release.
	p := newProxy(t, Config{Upstream: srv.addr(), ToServer: Link{Reorder: 1, ReorderHold: 300 * time.Millisecond}})
	c := dialProxy(t, p)
	for i := range 7 {
		if _, err := c.Write(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	srv.wait(t, 7)
	got := numbers(srv.received())
	want := []int{1, 0, 3, 2, 5, 4, 6}
	if !equalInts(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if st := waitStats(t, p, ToServer, func(s Stats) bool { return s.Forwarded == 7 }); st.Reordered != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReorderWithDelay(t *testing.T) {
	srv := startServer(t, false)
	p := newProxy(t, Config{Upstream: srv.addr(), ToServer: Link{Reorder: 1, Delay: 5 * time.Millisecond, ReorderHold: time.Second}})
	c := dialProxy(t, p)
	for i := range 4 {
		if _, err := c.Write(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	srv.wait(t, 4)
	if got := numbers(srv.received()); !equalInts(got, []int{1, 0, 3, 2}) {
		t.Fatalf("got %v", got)
	}
}

func TestDelayAndJitter(t *testing.T) {
	srv := startServer(t, true)
	link := Link{Delay: 30 * time.Millisecond, Jitter: 10 * time.Millisecond}
	p := newProxy(t, Config{Upstream: srv.addr(), ToServer: link, ToClient: link})
	c := dialProxy(t, p)
	const n = 20
	start := time.Now()
	for i := range n {
		if _, err := c.Write(numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := readN(t, c, n)
	// Each datagram spends at least 2*(Delay-Jitter) = 40 ms on the way.
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("round trip of all took %v; want >= 40ms", el)
	}
	seen := map[int]bool{}
	for _, v := range numbers(got) {
		seen[v] = true
	}
	if len(seen) != n {
		t.Fatalf("got %d distinct of %d", len(seen), n)
	}
	if st := p.Stats(ToServer); st.Delayed != n {
		t.Fatalf("stats %+v", st)
	}
}

func TestBandwidthCap(t *testing.T) {
	srv := startServer(t, false)
	// 10 kB/s with a 2000-byte bucket: a burst of 100 x 500 bytes fits 4 at
	// once, plus whatever trickles in while the burst is being written.
	p := newProxy(t, Config{Upstream: srv.addr(), ToServer: Link{Bandwidth: 10000, Burst: 2000}})
	c := dialProxy(t, p)
	pkt := make([]byte, 500)
	start := time.Now()
	for range 100 {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	st := waitStats(t, p, ToServer, func(s Stats) bool { return s.Received == 100 })
	allowed := 4 + uint64(time.Since(start).Seconds()*10000/500) + 1
	if st.Forwarded < 4 || st.Forwarded > allowed {
		t.Fatalf("forwarded %d, want 4..%d", st.Forwarded, allowed)
	}
	if st.OverBandwidth != 100-st.Forwarded {
		t.Fatalf("stats %+v", st)
	}
}

func TestDistinctUpstreamPerClient(t *testing.T) {
	srv := startServer(t, true)
	p := newProxy(t, Config{Upstream: srv.addr()})
	a, b := dialProxy(t, p), dialProxy(t, p)
	for i := range 3 {
		if _, err := a.Write(numbered(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Write(numbered(100 + i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := numbers(readN(t, a, 3)); !equalInts(got, []int{0, 1, 2}) {
		t.Fatalf("client a got %v", got)
	}
	if got := numbers(readN(t, b, 3)); !equalInts(got, []int{100, 101, 102}) {
		t.Fatalf("client b got %v", got)
	}
	srv.mu.Lock()
	sources := len(srv.from)
	srv.mu.Unlock()
	if sources != 2 || p.Clients() != 2 {
		t.Fatalf("server saw %d sources, proxy %d clients; want 2", sources, p.Clients())
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	srv := startServer(t, true)
	before := lossyGoroutines()
	p, err := New(Config{
		Upstream: srv.addr(),
		ToServer: Link{Delay: time.Hour, Reorder: 0.5},
		ToClient: Link{Delay: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	var conns []*net.UDPConn
	for range 5 {
		c, err := net.DialUDP("udp", nil, p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for i := range 10 {
			if _, err := c.Write(numbered(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitStats(t, p, ToServer, func(s Stats) bool { return s.Received == 50 })
	if p.Clients() != 5 {
		t.Fatalf("clients %d", p.Clients())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	for _, c := range conns {
		_ = c.Close()
	}
	// Close waited for every goroutine to return; allow the runtime a moment
	// to retire them before counting.
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := lossyGoroutines()
		if left <= before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d lossy goroutines left after Close (before: %d)", left, before)
		}
		runtime.Gosched()
	}
}

// lossyGoroutines counts goroutines running this package's code, not its
// tests' helpers.
func lossyGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "lossy.(*Proxy)") {
			n++
		}
	}
	return n
}

func TestBadUpstream(t *testing.T) {
	if _, err := New(Config{Upstream: "not an address"}); err == nil {
		t.Fatal("want an error for a bad upstream")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
