//go:build linux

package relay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/client"
)

// floodServer serves srv on a loopback socket, behind the datagram filter
// Serve puts in front of KCP, and shuts it down at the end.
func floodServer(t *testing.T, srv *Server) *net.UDPAddr {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return pc.LocalAddr().(*net.UDPAddr)
}

// KCP segments as a client sends them (PROTOCOL.md section 1).
const (
	floodHeader  = 24
	floodCmdPush = 81
	floodCmdAck  = 82
)

func floodSegment(conv uint32, cmd byte, sn uint32, data []byte) []byte {
	b := make([]byte, floodHeader, floodHeader+len(data))
	binary.LittleEndian.PutUint32(b[0:], conv)
	b[4] = cmd
	binary.LittleEndian.PutUint16(b[6:], 128) // wnd
	binary.LittleEndian.PutUint32(b[8:], 12345)
	binary.LittleEndian.PutUint32(b[12:], sn)
	binary.LittleEndian.PutUint32(b[20:], uint32(len(data)))
	return append(b, data...)
}

func floodHelloFrame() []byte {
	return codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("x")})
}

func floodHello(conv uint32) []byte { return floodSegment(conv, floodCmdPush, 0, floodHelloFrame()) }

// floodRecorder watches one client's frames.
type floodRecorder struct {
	mu     sync.Mutex
	on     bool
	frames int
	gaps   int    // frames whose tick is not the previous tick + 1
	maxGap uint64 // largest tick difference between consecutive frames
	last   uint64
	ticks  chan struct{} // one token per frame, for waiting on the server's clock
}

func (r *floodRecorder) run(c *client.Client) {
	for m := range c.Messages() {
		if m.Type != codec.TFrame || m.Frame == nil {
			continue
		}
		r.mu.Lock()
		if r.on {
			r.frames++
			if r.last != 0 && m.Frame.Tick != r.last+1 {
				r.gaps++
				r.maxGap = max(r.maxGap, m.Frame.Tick-r.last)
			}
		}
		r.last = m.Frame.Tick
		r.mu.Unlock()
		select {
		case r.ticks <- struct{}{}:
		default:
		}
	}
}

func (r *floodRecorder) start() {
	r.mu.Lock()
	r.on, r.frames, r.gaps, r.maxGap = true, 0, 0, 0
	r.mu.Unlock()
}

func (r *floodRecorder) stop() (frames, gaps int, maxGap uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return r.frames, r.gaps, r.maxGap
}

// waitFrames waits until n frames arrived after the call, or fails after a
// bound.
func (r *floodRecorder) waitFrames(t *testing.T, n int) {
	t.Helper()
	for drained := false; !drained; {
		select {
		case <-r.ticks:
		default:
			drained = true
		}
	}
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-r.ticks:
		case <-timeout:
			t.Fatalf("no frame for 10 s")
		}
	}
}

// floodSource returns source i's address: most sources have a loopback IP
// of their own (127.1.x.y, any port); every tenth shares 127.0.0.2, each
// on its own port, so one host floods from many ports.
func floodSource(i int) *net.UDPAddr {
	if i%10 == 9 {
		return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 20000 + i/10}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 1, byte(i/250), byte(i%250+1))}
}

// floodDatagrams is what source i sends: junk for six in ten sources,
// junk then a hello for one, a well-formed hello (random conv) for three.
func floodDatagrams(i int, rng *rand.Rand) [][]byte {
	hello := func() []byte { return floodHello(rng.Uint32()) }
	junk := func() []byte {
		switch (i / 10) % 5 {
		case 0:
			b := make([]byte, 1+rng.IntN(300))
			for k := range b {
				b[k] = byte(rng.Uint32())
			}
			return b
		case 1:
			return floodSegment(rng.Uint32(), floodCmdAck, 0, nil)
		case 2:
			return floodSegment(rng.Uint32(), floodCmdPush, 1+rng.Uint32N(100), floodHelloFrame())
		case 3:
			return make([]byte, 24)
		default:
			b := floodHello(rng.Uint32())
			b[floodHeader+5] = 23 // a ping where the hello should be
			return b
		}
	}
	switch k := i % 10; {
	case k >= 6:
		return [][]byte{hello()}
	case k == 5:
		return [][]byte{junk(), hello()}
	default:
		return [][]byte{junk()}
	}
}

const floodSessionCost = 32 << 10 // relay session (7.6 KiB measured) and player, rounded up

// floodRace reports whether the test binary was built with -race, which
// makes everything, the tick included, several times slower.
func floodRace() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// TestFloodFilteredServer floods a real server from 10,000 loopback source
// addresses while four players exchange states, and checks that the flood
// cost bounded memory and did not disturb the game. The flood's hellos are
// valid, so the server accepts and establishes them, freeing their pending
// slots: only the admission rate and the session caps bound them,
// (burst + rate x duration) sessions.
func TestFloodFilteredServer(t *testing.T) {
	if testing.Short() {
		t.Skip("flood test")
	}
	const sources = 10000
	batch := 200 // sockets open at once
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < 4*uint64(batch) {
		batch = int(rl.Cur / 4)
		if batch < 16 {
			t.Skipf("fd limit %d too low", rl.Cur)
		}
	}

	srv := &Server{TickRate: 30}
	cfg := srv.quotaConfig().WithDefaults()
	addr := floodServer(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var clients [4]*client.Client
	var recs [4]*floodRecorder
	for i := range clients {
		c, err := client.Dial(ctx, addr.String(), client.Options{Name: fmt.Sprintf("p%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = c
		recs[i] = &floodRecorder{ticks: make(chan struct{}, 1024)}
		go recs[i].run(c)
	}
	j, err := clients[0].CreateRoom(ctx, client.RoomOptions{Mode: "flood", MaxPlayers: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients[1:] {
		if _, err := c.JoinByCode(ctx, j.Code); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Stats().Players; n != 4 {
		t.Fatalf("%d players, want 4", n)
	}

	// Every player sends a state each tick period.
	stop := make(chan struct{})
	var bg sync.WaitGroup
	for i, c := range clients {
		bg.Add(1)
		go func() {
			defer bg.Done()
			tk := time.NewTicker(time.Second / 30)
			defer tk.Stop()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-tk.C:
					if c.SetState([]int{i, n}) != nil {
						return
					}
				}
			}
		}()
	}
	defer func() { close(stop); bg.Wait() }()
	recs[0].waitFrames(t, 10)

	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	st0 := srv.Stats().Filter
	opens0 := atomic.LoadUint64(&kcp.DefaultSnmp.PassiveOpens)
	players0 := srv.Stats().Players
	lateBefore := srv.Stats().Tick.Late
	for _, r := range recs {
		r.start()
	}
	ticks0 := srv.Stats().Tick.Ticks

	// The flood: batches of sockets, each sends its datagrams and closes.
	rng := rand.New(rand.NewPCG(1, 2))
	distinct := make(map[netip.AddrPort]struct{}, sources)
	sent, sentBytes := 0, 0
	pace := time.NewTicker(20 * time.Millisecond)
	defer pace.Stop()
	start := time.Now()
	socks := make([]*net.UDPConn, 0, batch)
	for lo := 0; lo < sources; lo += batch {
		for i := lo; i < min(lo+batch, sources); i++ {
			s, err := net.ListenUDP("udp4", floodSource(i))
			if err != nil {
				t.Fatalf("source %d: %v", i, err)
			}
			socks = append(socks, s)
			distinct[s.LocalAddr().(*net.UDPAddr).AddrPort()] = struct{}{}
			for _, d := range floodDatagrams(i, rng) {
				if _, err := s.WriteTo(d, addr); err != nil {
					t.Fatal(err)
				}
				sent++
				sentBytes += len(d)
			}
			// The sender shares this process (and, here, two CPUs) with
			// the server: yield so that it does not hold a P for a whole
			// 10 ms scheduler slice while the tick's timer has fired.
			runtime.Gosched()
		}
		for _, s := range socks {
			s.Close()
		}
		socks = socks[:0]
		<-pace.C
	}
	floodDur := time.Since(start)

	// Let the server adopt every session the transport opened, one tick at a time.
	created := func() uint64 { return atomic.LoadUint64(&kcp.DefaultSnmp.PassiveOpens) - opens0 }
	for range 300 {
		if uint64(srv.Stats().Players-players0) >= created() {
			break
		}
		recs[0].waitFrames(t, 1)
	}
	tk := srv.Stats().Tick           // before the GCs below, which are the test's doing
	admitWindow := time.Since(start) // admissions happen when the server reads, possibly after the sender is done
	runtime.GC()
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	st1 := srv.Stats().Filter
	sessions := created()
	recs[0].waitFrames(t, 15) // the game goes on after the flood

	tkEnd := srv.Stats().Tick
	admitted := st1.Admitted - st0.Admitted
	growth := int64(m1.HeapInuse) - int64(m0.HeapInuse)
	t.Logf("flood: %d datagrams (%d bytes) from %d distinct source addresses in %v", sent, sentBytes, len(distinct), floodDur.Round(time.Millisecond))
	t.Logf("filter: saw %d, passed %d, dropped %d %v", st1.Passed+st1.Dropped-st0.Passed-st0.Dropped,
		st1.Passed-st0.Passed, st1.Dropped-st0.Dropped, st1.Drops)
	t.Logf("filter: admitted %d new addresses; now %d pending, %d pending+established; the transport opened %d sessions; server players %d",
		admitted, st1.Pending, st1.Sessions, sessions, srv.Stats().Players)
	perSession := int64(0)
	if sessions > 0 {
		perSession = growth / int64(sessions)
	}
	t.Logf("heap in use: %.1f MiB -> %.1f MiB (+%.1f MiB, %d KiB per session created)",
		float64(m0.HeapInuse)/(1<<20), float64(m1.HeapInuse)/(1<<20), float64(growth)/(1<<20), perSession>>10)
	t.Logf("tick lateness: before the flood p99 %v max %v; up to the end of the flood p50 %v p99 %v max %v (%d ticks); work p99 %v max %v; overruns %d, skipped %d",
		lateBefore.P99, lateBefore.Max, tk.Late.P50, tk.Late.P99, tk.Late.Max, tk.Late.Samples, tk.Work.P99, tk.Work.Max, tk.Overruns, tk.Skipped)
	t.Logf("tick lateness including the test's forced GCs and %d more ticks: p99 %v max %v", tkEnd.Late.Samples-tk.Late.Samples, tkEnd.Late.P99, tkEnd.Late.Max)

	// Sessions: every session needs an admitted address.
	maxAdmitted := uint64(cfg.NewBurst) + uint64(cfg.NewPerSec*admitWindow.Seconds()+1)
	if admitted > maxAdmitted || sessions > admitted {
		t.Errorf("admitted %d (bound %d), sessions opened %d", admitted, maxAdmitted, sessions)
	}
	// Every junk datagram is dropped as junk, but for those the kernel
	// dropped first (the socket's queue overflows on a loaded machine).
	kernel := udpDrops(addr.Port)
	t.Logf("the kernel dropped %d datagrams at the server's socket (-1: unknown)", kernel)
	if junk := st1.Drops["junk"]; st1.Drops["per_ip_cap"] == 0 || junk > 6000 || junk < 6000-uint64(max(kernel, 0)) || st1.Drops["conv_mismatch"] != 0 {
		t.Errorf("want 6,000 junk drops (less %d the kernel dropped), some per-IP drops and no conv mismatch: %v", kernel, st1.Drops)
	}
	// Memory: every admitted address may cost one session and player;
	// 16 MiB covers the rest
	// (GC timing, the clients in this process, sockets being collected).
	if bound := int64(maxAdmitted)*floodSessionCost + 16<<20; growth > bound {
		t.Errorf("heap grew %.1f MiB, bound %.1f MiB", float64(growth)/(1<<20), float64(bound)/(1<<20))
	}
	// The game: every player got the frame of every tick the server ran
	// (give or take the window's edges), in order, and the tick stayed on
	// time. Ticks the server skipped show as tick steps > 1.
	ticks := int(srv.Stats().Tick.Ticks - ticks0)
	st := srv.Stats()
	for i, r := range recs {
		frames, gaps, maxGap := r.stop()
		t.Logf("player %d: %d frames for %d ticks run, %d gaps, largest tick step %d", i, frames, ticks, gaps, maxGap)
		// Under -race on two busy cores a writer goroutine can miss a tick
		// now and then (counted as held back below); a tick blocked by the
		// flood would cost far more than a tenth.
		if frames < ticks*9/10 {
			t.Errorf("player %d: %d frames for %d ticks", i, frames, ticks)
		}
		if err := clients[i].Err(); err != nil {
			t.Errorf("player %d closed: %v", i, err)
		}
	}
	// A frame held back (its link still writing the previous one) shows
	// up as a missing frame above; log how often it happened.
	t.Logf("server: %d frames sent, %d held back while a link was busy", st.FramesSent, st.FramesBehind)
	// Go preempts a goroutine after 10 ms, so a tick that has to wait
	// for a busy CPU is late by up to that much: 10 ms is the bound, 50
	// under -race, which slows every goroutine competing with the tick.
	lateBound := 10 * time.Millisecond
	if floodRace() {
		lateBound = 50 * time.Millisecond
	}
	// A machine busy with other work delays ticks with or without a flood:
	// what the flood may add is measured against the lateness before it.
	lateBound += 2 * lateBefore.P99
	if tk.Late.P99 > lateBound {
		t.Errorf("tick late p99 %v, bound %v", tk.Late.P99, lateBound)
	}
}

// TestFloodAmplification sends one spoofed-looking hello from a socket that
// never answers and counts what the server sends back to it until the
// session is gone. With a 2 s idle timeout it checks the KCP retransmit
// schedule the filter's threat model uses, then extrapolates it to the
// default 10 s.
func TestFloodAmplification(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for an idle timeout")
	}
	const idle = 2 * time.Second
	srv := &Server{TickRate: 30, IdleTimeout: idle, HandshakeTimeout: idle}
	addr := floodServer(t, srv)
	victim, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3)})
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	hello := floodHello(0x5eed)
	if _, err := victim.WriteTo(hello, addr); err != nil {
		t.Fatal(err)
	}
	// Count datagrams until none has come for longer than the largest
	// retransmit interval possible within the session's life.
	var got, bytes int
	var sizes []int
	var first, last time.Time
	buf := make([]byte, 1500)
	for range 1000 {
		// RTOs reach 700 ms by the end of a 2.5 s life: 1.5 s of silence
		// means the server has stopped (the counts below check it).
		_ = victim.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
		n, _, err := victim.ReadFrom(buf)
		if err != nil {
			break
		}
		now := time.Now()
		if got == 0 {
			first = now
		}
		last = now
		got++
		bytes += n
		sizes = append(sizes, n)
	}
	st := srv.Stats().Filter
	t.Logf("one %d-byte hello -> %d datagrams, %d bytes of UDP payload over %v (idle timeout %v): %.0fx; sizes %v",
		len(hello), got, bytes, last.Sub(first).Round(time.Millisecond), idle, float64(bytes)/float64(len(hello)), sizes)
	if st.Sent != uint64(got) || st.SentBytes != uint64(bytes) {
		t.Errorf("server sent %d datagrams, %d bytes; the victim got %d, %d", st.Sent, st.SentBytes, got, bytes)
	}
	// KCP (nodelay 1, no RTT sample) first sends at 0 and then retransmits
	// with an RTO of 200 ms growing by 100 ms per try.
	sends := func(life time.Duration) int {
		n, at, rto := 0, time.Duration(0), 200*time.Millisecond
		for at <= life {
			n++
			at += rto
			rto += 100 * time.Millisecond
		}
		return n
	}
	linger := 500 * time.Millisecond
	welcome2, welcome10 := sends(idle+linger), sends(10*time.Second+linger)
	t.Logf("welcome sends predicted: %d within %v, %d within the default 10 s + linger", welcome2, idle+linger, welcome10)
	if got < welcome2 || got > welcome2+6 {
		t.Errorf("got %d datagrams, want about %d welcome sends + an ack + a close", got, welcome2)
	}
	// Extrapolate with the largest datagram seen (a welcome, possibly with
	// an ack or the close in it) for every send: an upper estimate.
	if got > 0 {
		big := slices.Max(sizes)
		extra := got - welcome2 // the ack and close datagrams
		t.Logf("extrapolated to the default 10 s idle timeout: <= %d datagrams, <= %d bytes of UDP payload (+%d of IPv4/UDP headers) per spoofed hello",
			welcome10+extra, (welcome10+extra)*big, (welcome10+extra)*28)
	}
}
