package enginetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/lossy"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

// TestClientResume checks client.gd's resume (client_resume_test.gd) against
// a real relay, with a Go client (ana) in the same room:
//
//  1. The Godot client joins and receives ana's first events (event 900).
//  2. Its network "changes": a cutting proxy in front of it starts dropping
//     everything of its current source address, both ways, as a NAT
//     rebinding or a switch from Wi-Fi to mobile would. ana sends events
//     while it is cut off, sees it away (the relay's idle timeout), sends a
//     chat line, more events and a state, and sees it back once the Godot
//     client, having found its link dead, resumed from a new socket.
//  3. The Godot client calls resume_now() (a network change it noticed
//     itself) while ana sends more events: the relay replaces the old link.
//
// The Godot client must receive every event exactly once and in order, keep
// its player id and room, and see ana's latest state; ana must see it away
// then back, never leave or join; the events it sent while reconnecting must
// arrive once. The path is the lossy one of TestClientEndToEndLossy.
func TestClientResume(t *testing.T) {
	t.Parallel()
	godotBin(t)
	const (
		firstEvents = 20 // before the cut
		cutEvents   = 10 // right after the cut: lost in flight, replayed
		awayEvents  = 10 // while the relay shows the Godot client away
		backEvents  = 20 // after it is back
		lastEvents  = 20 // around its resume_now()
		// ana's events are paced like a game's where the path is up (the
		// ticker is the send rate, not a synchronisation), so that the lossy
		// path carries some traffic both ways.
		pace = 30 * time.Millisecond
	)
	// The relay notices the lost link after 1.5 s of silence; the Godot
	// client gives up on it after 4 s (link_timeout_ms below), so that ana
	// sees it away first.
	srv := &relay.Server{IdleTimeout: 1500 * time.Millisecond}
	addr := startRelay(t, srv)
	link := lossy.Link{Drop: 0.05, Duplicate: 0.02, Reorder: 0.02, Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond}
	proxy, err := lossy.New(lossy.Config{Upstream: addr, ToServer: link, ToClient: link, Seed: 20260311})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cut := newCutter(t, proxy.Addr().String())

	setup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// ana pings often: the relay's short idle timeout applies to it too.
	ana := dialRecordedOpts(t, setup, addr, client.Options{Name: "ana", PingInterval: 200 * time.Millisecond})
	joined, err := ana.c.CreateRoom(setup, client.RoomOptions{Mode: "resume", Private: true})
	if err != nil {
		t.Fatal(err)
	}

	total := firstEvents + cutEvents + awayEvents + backEvents + lastEvents
	run := startScript(t, 40*time.Second, "client_resume_test.gd",
		"--host=127.0.0.1", "--port="+strconv.Itoa(cut.port()), "--code="+joined.Code,
		"--ana="+strconv.Itoa(int(ana.c.ID())), "--first="+strconv.Itoa(firstEvents),
		"--before-resume-now="+strconv.Itoa(total-lastEvents), "--total="+strconv.Itoa(total), "--timeout-ms=35000")
	ctx := untilEngineExits(t, run, 38*time.Second)
	fail := run.failer(t)
	sent := 0
	send := func(n int, every time.Duration) {
		t.Helper()
		var tick *time.Ticker
		if every > 0 {
			tick = time.NewTicker(every)
			defer tick.Stop()
		}
		for range n {
			sent++
			if err := ana.c.SendEvent(codec.TargetOthers, nil, 7, sent); err != nil {
				fail("ana's event %d: %v", sent, err)
			}
			if tick != nil {
				select {
				case <-tick.C:
				case <-ctx.Done():
					fail("sending event %d: %v", sent, ctx.Err())
				}
			}
		}
	}
	waitEvent := func(gid uint32, code uint32, what string) {
		t.Helper()
		if err := ana.waitFor(ctx, what, func(ev []codec.Event, _ []codec.ChatMsg) bool { return hasEvent(ev, gid, code) }); err != nil {
			fail("%v", err)
		}
	}
	godotIs := func(gid uint32, away bool, what string) {
		t.Helper()
		if err := ana.c.WaitFor(ctx, func(v client.RoomView) bool { p, ok := v.Players[gid]; return ok && p.Away == away }); err != nil {
			fail("%s: %v (ana's view %+v)", what, err, ana.c.Room().Players)
		}
	}

	// Phase 1: the Godot client joins and gets ana's first events.
	gid, err := waitForPlayer(ctx, ana.c, "godot")
	if err != nil {
		fail("the Godot client never joined: %v", err)
	}
	send(firstEvents, pace)
	waitEvent(gid, 900, "event 900 (the Godot client has the first events)")

	// Phase 2: cut it off; it resumes from a new source port.
	if n := cut.cut(); n != 1 {
		t.Errorf("cut %d client addresses, want 1", n)
	}
	send(cutEvents, 0)
	godotIs(gid, true, "ana never saw the Godot client away")
	if err := ana.c.Chat("while you were away"); err != nil {
		fail("chat: %v", err)
	}
	send(awayEvents, 0)
	if err := ana.c.SetState([]any{"ana", 2}); err != nil {
		fail("state: %v", err)
	}
	godotIs(gid, false, "ana never saw the Godot client back")
	send(backEvents, pace)
	if err := ana.c.SetState([]any{"ana", 3}); err != nil {
		fail("state: %v", err)
	}

	// Phase 3: the Godot client has everything (event 901) and calls
	// resume_now(); ana keeps sending meanwhile.
	waitEvent(gid, 901, "event 901 (the Godot client resumed and has every event)")
	send(lastEvents, pace)
	if err := ana.c.SetState([]any{"ana", 4}); err != nil {
		fail("state: %v", err)
	}
	waitEvent(gid, 902, "event 902 (the Godot client resumed again and has every event)")
	res := run.wait()
	t.Logf("GDScript side: %d checks passed; relay closes %v; cutter %+v; proxy to server %+v; to client %+v",
		res.passed, srv.Stats().Closes, cut.stats(), proxy.Stats(lossy.ToServer), proxy.Stats(lossy.ToClient))

	// What ana saw of the Godot client: one join, away and back, and the
	// leave of its final bye; its events (the ones sent while reconnecting
	// included) once each.
	end, cancelEnd := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelEnd()
	if err := ana.c.WaitFor(end, func(v client.RoomView) bool { _, in := v.Players[gid]; return !in }); err != nil {
		t.Errorf("ana never saw the Godot client leave after its bye: %v", err)
	}
	if got, want := fmt.Sprint(ana.membership(gid)), "[join away back leave]"; got != want {
		t.Errorf("ana saw the Godot player's membership and presence as %s, want %s", got, want)
	}
	events, _ := ana.snapshot()
	var codes []uint32
	for _, e := range events {
		if e.From == gid {
			codes = append(codes, e.Code)
		}
	}
	if got, want := fmt.Sprint(codes), "[900 950 901 951 902]"; got != want {
		t.Errorf("events from the Godot client: %s, want %s", got, want)
	}
	st := srv.Stats()
	if st.Closes["idle_timeout"] < 1 || st.Closes["replaced"] != 1 {
		t.Errorf("relay closes %v: want the cut link closed by the idle timeout and the one left by resume_now() replaced", st.Closes)
	}
	if cs := cut.stats(); cs.clients != 3 {
		t.Errorf("the Godot client used %d source addresses, want 3 (one per connection)", cs.clients)
	}
	if up, down := proxy.Stats(lossy.ToServer), proxy.Stats(lossy.ToClient); up.Dropped == 0 || down.Dropped == 0 {
		t.Errorf("the path was not impaired: up %+v down %+v", up, down)
	}
}

// TestClientResumeRefused: the relay's grace ends before the Godot client
// resumes (client_resume_test.gd --expect-refusal): its resume is refused
// (resume_failed), it reports disconnected(26), and ana saw it away, then
// leave.
func TestClientResumeRefused(t *testing.T) {
	t.Parallel()
	godotBin(t)
	// Silent for 1.5 s: away; 1 s later: gone. The Godot client tries at 4 s.
	srv := &relay.Server{IdleTimeout: 1500 * time.Millisecond, ResumeGrace: time.Second}
	addr := startRelay(t, srv)
	cut := newCutter(t, addr)
	setup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ana := dialRecordedOpts(t, setup, addr, client.Options{Name: "ana", PingInterval: 200 * time.Millisecond})
	joined, err := ana.c.CreateRoom(setup, client.RoomOptions{Mode: "resume", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	run := startScript(t, 30*time.Second, "client_resume_test.gd",
		"--host=127.0.0.1", "--port="+strconv.Itoa(cut.port()), "--code="+joined.Code,
		"--ana="+strconv.Itoa(int(ana.c.ID())), "--first=3", "--timeout-ms=25000", "--expect-refusal")
	ctx := untilEngineExits(t, run, 28*time.Second)
	gid, err := waitForPlayer(ctx, ana.c, "godot")
	if err != nil {
		run.wait()
		t.Fatalf("the Godot client never joined: %v", err)
	}
	for i := 1; i <= 3; i++ {
		if err := ana.c.SendEvent(codec.TargetOthers, nil, 7, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := ana.waitFor(ctx, "event 900", func(ev []codec.Event, _ []codec.ChatMsg) bool { return hasEvent(ev, gid, 900) }); err != nil {
		run.wait()
		t.Fatal(err)
	}
	cut.cut()
	res := run.wait()
	t.Logf("GDScript side: %d checks passed; relay closes %v", res.passed, srv.Stats().Closes)
	if got, want := fmt.Sprint(ana.membership(gid)), "[join away leave]"; got != want {
		t.Errorf("ana saw the Godot player's membership and presence as %s, want %s", got, want)
	}
	if st := srv.Stats(); st.Closes["resume_failed"] != 1 {
		t.Errorf("relay closes %v: want one resume_failed", st.Closes)
	}
}

func dialRecordedOpts(t *testing.T, ctx context.Context, addr string, opt client.Options) *recorder {
	t.Helper()
	c, err := client.Dial(ctx, addr, opt)
	if err != nil {
		t.Fatalf("dial %s: %v", opt.Name, err)
	}
	return record(t, c)
}

// cutter is a UDP proxy that can cut the clients it knows: every datagram
// from or to an address it has seen before cut() is dropped from then on,
// while new addresses pass. To the relay behind it, a client that changes
// its source port looks exactly like one whose network changed. Each client
// address gets its own upstream socket.
type cutter struct {
	ln       *net.UDPConn
	upstream *net.UDPAddr

	mu      sync.Mutex
	clients map[string]*cutClient
	dropped int
	closed  bool
	wg      sync.WaitGroup
}

type cutClient struct {
	addr *net.UDPAddr
	up   *net.UDPConn
	cut  bool
}

type cutterStats struct {
	clients, cut, dropped int
}

func newCutter(t *testing.T, upstream string) *cutter {
	t.Helper()
	up, err := net.ResolveUDPAddr("udp", upstream)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, upstream: up, clients: map[string]*cutClient{}}
	c.wg.Add(1)
	go c.readClients()
	t.Cleanup(c.close)
	return c
}

func (c *cutter) port() int { return c.ln.LocalAddr().(*net.UDPAddr).Port }

// cut drops, from now on, everything of the client addresses seen so far;
// it returns how many there were.
func (c *cutter) cut() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, cl := range c.clients {
		if !cl.cut {
			cl.cut = true
			n++
		}
	}
	return n
}

func (c *cutter) stats() cutterStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := cutterStats{clients: len(c.clients), dropped: c.dropped}
	for _, cl := range c.clients {
		if cl.cut {
			s.cut++
		}
	}
	return s
}

func (c *cutter) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	ups := make([]*net.UDPConn, 0, len(c.clients))
	for _, cl := range c.clients {
		ups = append(ups, cl.up)
	}
	c.mu.Unlock()
	c.ln.Close()
	for _, u := range ups {
		u.Close()
	}
	c.wg.Wait()
}

// client returns the client of addr (opening its upstream socket on first
// sight) and whether it is cut; nil once closed.
func (c *cutter) client(addr *net.UDPAddr) (*cutClient, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, true
	}
	cl := c.clients[addr.String()]
	if cl == nil {
		up, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, c.upstream)
		if err != nil {
			return nil, true
		}
		cl = &cutClient{addr: addr, up: up}
		c.clients[addr.String()] = cl
		c.wg.Add(1)
		go c.readUpstream(cl)
	}
	if cl.cut {
		c.dropped++
	}
	return cl, cl.cut
}

func (c *cutter) isCut(cl *cutClient) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl.cut {
		c.dropped++
	}
	return cl.cut
}

func (c *cutter) readClients() {
	defer c.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, addr, err := c.ln.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		cl, cut := c.client(addr)
		if cl == nil || cut {
			continue
		}
		_, _ = cl.up.Write(buf[:n])
	}
}

func (c *cutter) readUpstream(cl *cutClient) {
	defer c.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := cl.up.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors on a connected socket: keep reading
		}
		if c.isCut(cl) {
			continue
		}
		_, _ = c.ln.WriteToUDP(buf[:n], cl.addr)
	}
}
