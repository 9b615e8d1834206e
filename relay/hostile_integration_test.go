package relay_test

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

// rawConn is a bare KCP session for sending bytes a real client never would.
type rawConn struct {
	*kcp.UDPSession
	fr *codec.FrameReader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	s, err := kcp.DialWithOptions(addr, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.SetNoDelay(1, 10, 2, 1)
	s.SetWindowSize(128, 128)
	s.SetMtu(1200)
	t.Cleanup(func() { s.Close() })
	return &rawConn{UDPSession: s, fr: codec.NewFrameReader(s, 1<<20)}
}

func frame(body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	return append(b, body...)
}

func (r *rawConn) send(t testing.TB, b []byte) {
	t.Helper()
	if _, err := r.Write(b); err != nil {
		t.Fatal(err)
	}
}

func (r *rawConn) hello(t testing.TB) {
	t.Helper()
	r.send(t, codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: codec.ProtocolVersion, Name: []byte("raw")}))
	if m := r.next(t); m.Type != codec.TWelcome {
		t.Fatalf("got %d, want welcome", m.Type)
	}
}

func (r *rawConn) next(t testing.TB) *codec.ServerMsg {
	t.Helper()
	r.SetReadDeadline(time.Now().Add(10 * time.Second)) // a failure bound, not synchronisation
	body, err := r.fr.Next()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	m, err := codec.DecodeServer(body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// expectClose reads until the server's close message and checks its code.
func (r *rawConn) expectClose(t testing.TB, want codec.Code) string {
	t.Helper()
	for {
		m := r.next(t)
		if m.Type == codec.TClose {
			if m.Code != want {
				t.Fatalf("closed with %v (%s), want %v", m.Code, m.Message, want)
			}
			return m.Message
		}
	}
}

// Each kind of hostile input closes only its own session, with a reason,
// while a player in a room keeps getting its frames and memory stays flat.
func TestHostileInputClosesOnlyThatSession(t *testing.T) {
	srv := &relay.Server{}
	addr := startServer(t, srv)
	ctx := ctxT(t)
	good := dial(t, addr, "good")
	if _, err := good.CreateRoom(ctx, client.RoomOptions{}); err != nil {
		t.Fatal(err)
	}
	kg := collect(good)
	waitFrames(t, ctx, kg, 2)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	cases := []struct {
		name      string
		handshake bool
		bytes     []byte
		want      codec.Code
	}{
		{"hello-shaped then malformed", false, frame([]byte{0x94, 0x01, 0xc1, 0xc0, 0xc0}), codec.CodeMalformed},
		{"bad version", false, codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: 99}), codec.CodeVersionMismatch},
		{"oversized frame", true, []byte{0x00, 0x10, 0x00, 0x01}, codec.CodeFrameTooLarge},
		{"4 GiB array body", true, frame([]byte{0xdd, 0x10, 0x00, 0x00, 0x00}), codec.CodeMalformed},
		{"2 GiB bin body", true, frame([]byte{0xc6, 0x7f, 0xff, 0xff, 0xff}), codec.CodeMalformed},
		{"huge map body", true, frame([]byte{0xdf, 0x7f, 0xff, 0xff, 0xff}), codec.CodeMalformed},
		{"state string longer than frame", true, frame([]byte{0x92, 0x14, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'}), codec.CodeMalformed},
		{"unknown type", true, frame([]byte{0x91, 0x63}), codec.CodeUnknownMessage},
		{"empty frame", true, []byte{0, 0, 0, 0}, codec.CodeMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := dialRaw(t, addr)
			if c.handshake {
				r.hello(t)
			}
			r.send(t, c.bytes)
			reason := r.expectClose(t, c.want)
			if reason == "" {
				t.Error("close without a reason")
			}
			// The good player still gets frames, tick after tick.
			waitFrames(t, ctx, kg, 3)
		})
	}

	// A well-framed message over a limit is refused with an error and the
	// session goes on: a ping after it is answered.
	t.Run("state over limit is refused, not closed", func(t *testing.T) {
		r := dialRaw(t, addr)
		r.hello(t)
		r.send(t, frame(append([]byte{0x92, 0x14, 0xc5, 0x10, 0x00}, make([]byte, 4096)...)))
		r.send(t, codec.AppendClient(nil, &codec.ClientMsg{Type: codec.TPing, ClientTime: 77}))
		if m := r.next(t); m.Type != codec.TError || m.Code != codec.CodeTooLarge || m.RID != 0 {
			t.Fatalf("got type %d code %v rid %d, want error too_large rid 0", m.Type, m.Code, m.RID)
		}
		if m := r.next(t); m.Type != codec.TPong || m.ClientTime != 77 {
			t.Fatalf("got type %d, want the pong", m.Type)
		}
	})

	// Junk from a new address never becomes a session: the filter in front
	// of KCP drops it, and nothing is sent back.
	junk := map[string][]byte{
		"garbage before hello": []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"non-hello first":      frame([]byte{0x92, 0x17, 0x01}),
	}
	for name, b := range junk {
		dropped := srv.Stats().Filter.Drops["junk"]
		players := srv.Stats().Players
		r := dialRaw(t, addr)
		r.send(t, b)
		waitStat(t, ctx, srv, name+": junk drop counted", func(st relay.Stats) bool { return st.Filter.Drops["junk"] > dropped })
		if st := srv.Stats(); st.Players != players {
			t.Errorf("%s: players %d -> %d", name, players, st.Players)
		}
	}

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 32<<20 {
		t.Errorf("heap grew by %d MiB", grew>>20)
	}
	if good.Err() != nil {
		t.Fatalf("the good client was closed: %v", good.Err())
	}
	checkTickGaps(t, srv, kg.framesSince(0))
}

// A client that stops reading is skipped without delaying anyone, then
// dropped as a slow consumer.
func TestStalledClientIsDroppedWithoutDelayingOthers(t *testing.T) {
	srv := &relay.Server{SlowClientTimeout: time.Second}
	addr := startServer(t, srv)
	ctx := ctxT(t)
	a := dial(t, addr, "mover")
	j, err := a.CreateRoom(ctx, client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	watcher := dial(t, addr, "watcher")
	if _, err := watcher.JoinRoom(ctx, j.RoomID); err != nil {
		t.Fatal(err)
	}
	kw := collect(watcher)

	// The stalled client joins through a raw session with a small receive
	// window, then never reads again.
	r := dialRaw(t, addr)
	r.SetWindowSize(128, 8)
	r.hello(t)
	r.send(t, codec.AppendClient(nil, &codec.ClientMsg{Type: codec.TJoinRoom, RID: 1, RoomID: j.RoomID}))
	if err := watcher.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 3 }); err != nil {
		t.Fatal(err)
	}
	stalled := uint32(0)
	for id := range watcher.Room().Players {
		if id != a.ID() && id != watcher.ID() {
			stalled = id
		}
	}

	// The mover sends large states every frame: the stalled client's window
	// fills within a few ticks.
	big := make([]byte, 900)
	start := kw.frameCount()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := a.SetState(big); err != nil {
				return
			}
			select {
			case <-time.After(30 * time.Millisecond): // pacing the sender, not synchronising
			case <-ctx.Done():
				return
			}
			if _, gone := watcher.Room().Players[stalled]; !gone {
				return
			}
		}
	}()
	if err := watcher.WaitFor(ctx, func(v client.RoomView) bool { _, ok := v.Players[stalled]; return !ok }); err != nil {
		t.Fatalf("stalled client never dropped: %v; stats %+v", err, srv.Stats())
	}
	<-done
	frames := kw.framesSince(start)
	checkTickGaps(t, srv, frames)
	st := srv.Stats()
	if st.Closes["slow_consumer"] != 1 || st.FramesBehind == 0 {
		t.Errorf("stats: closes %v, frames behind %d", st.Closes, st.FramesBehind)
	}
	t.Logf("stalled client dropped after %d watcher frames; %d frames held back; tick lateness p99 %v",
		len(frames), st.FramesBehind, st.Tick.Late.P99)
}

// waitStat polls the server's statistics until cond holds: the filter
// answers junk with silence, so there is no message to wait for.
func waitStat(t *testing.T, ctx context.Context, srv *relay.Server, what string, cond func(relay.Stats) bool) {
	t.Helper()
	for !cond(srv.Stats()) {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for: %s", what)
		case <-time.After(5 * time.Millisecond): // polling a counter, bounded by ctx
		}
	}
}

// checkTickGaps fails if a client missed frames of ticks the server ran:
// a tick the server skipped (its work overran, as happens when the test
// machine is loaded) has no frame for anyone, so only the ticks missing
// beyond the server's skipped count, and a frame out of order, count.
func checkTickGaps(t *testing.T, srv *relay.Server, frames []*codec.Frame) {
	t.Helper()
	if len(frames) < 2 {
		t.Fatalf("only %d frames", len(frames))
	}
	var missing uint64
	for i := 1; i < len(frames); i++ {
		gap := frames[i].Tick - frames[i-1].Tick
		if gap == 0 || frames[i].Tick < frames[i-1].Tick {
			t.Errorf("frames went from tick %d to %d", frames[i-1].Tick, frames[i].Tick)
			continue
		}
		missing += gap - 1
	}
	if skipped := srv.Stats().Tick.Skipped; missing > skipped+4 {
		t.Errorf("the client missed %d ticks' frames; the server skipped %d ticks", missing, skipped)
	}
}

func TestIdleAndHandshakeTimeouts(t *testing.T) {
	addr := startServer(t, &relay.Server{IdleTimeout: 300 * time.Millisecond, HandshakeTimeout: 300 * time.Millisecond})
	r := dialRaw(t, addr)
	r.send(t, []byte{0, 0, 0, 16, 0x94, 0x01}) // the start of a hello that never ends
	r.expectClose(t, codec.CodeHandshakeTimeout)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, client.Options{PingInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("idle client not closed")
	}
	if !isCode(c.Err(), codec.CodeIdleTimeout) {
		t.Fatalf("closed with %v", c.Err())
	}
}

func TestShutdownTellsClientsAndStopsEverything(t *testing.T) {
	srv := &relay.Server{}
	pcAddr := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		pc, err := listenLoopback()
		if err != nil {
			served <- err
			return
		}
		pcAddr <- pc.LocalAddr().String()
		served <- srv.Serve(pc)
	}()
	addr := <-pcAddr
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var clients []*client.Client
	for i := 0; i < 3; i++ {
		c, err := client.Dial(ctx, addr, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	if _, err := clients[0].CreateRoom(ctx, client.RoomOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != relay.ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
	for _, c := range clients {
		<-c.Done()
		if !isCode(c.Err(), codec.CodeServerClosing) {
			t.Errorf("client %d ended with %v", c.ID(), c.Err())
		}
		c.Close()
	}
	checkNoLeak(t)
}
