package enginetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/lossy"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

// TestClientEndToEndLossy runs the GDScript client (client.gd, through a
// proxy that drops 5% of the datagrams each way and delays, duplicates and
// reorders some) in a room with Go clients, and checks both sides: the
// GDScript test (client_e2e_test.gd) asserts what it saw, this test what the
// Go clients saw of it. Each phase of the script ends with an event it sends,
// which is what the Go side waits for before the next step.
func TestClientEndToEndLossy(t *testing.T) {
	t.Parallel()
	godotBin(t)
	const (
		nEvents     = 40  // from the Godot client, at 25 Hz
		nStates     = 120 // from the Godot client, at 60 Hz
		anaEvents   = 30  // from ana, on every other state
		anaStates   = 60  // from ana, at 30 Hz
		statePeriod = time.Second / 30
	)
	addr := startRelay(t, &relay.Server{})
	link := lossy.Link{Drop: 0.05, Duplicate: 0.02, Reorder: 0.02, Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond}
	proxy, err := lossy.New(lossy.Config{Upstream: addr, ToServer: link, ToClient: link, Seed: 20260102})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()

	setup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ana := dialRecorded(t, setup, addr, "ana")
	joined, err := ana.c.CreateRoom(setup, client.RoomOptions{Mode: "e2e", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	bob := dialRecorded(t, setup, addr, "bob")
	if _, err := bob.c.JoinByCode(setup, joined.Code); err != nil {
		t.Fatal(err)
	}

	run := startScript(t, 30*time.Second, "client_e2e_test.gd",
		"--host=127.0.0.1", "--port="+strconv.Itoa(proxy.Addr().Port), "--code="+joined.Code,
		"--ana="+strconv.Itoa(int(ana.c.ID())), "--bob="+strconv.Itoa(int(bob.c.ID())),
		"--events="+strconv.Itoa(nEvents), "--states="+strconv.Itoa(nStates),
		"--ana-events="+strconv.Itoa(anaEvents), "--ana-states="+strconv.Itoa(anaStates), "--timeout-ms=25000")
	ctx := untilEngineExits(t, run, 28*time.Second)
	fail := run.failer(t)

	// Phase 1: the Godot client joins.
	gid, err := waitForPlayer(ctx, ana.c, "godot")
	if err != nil {
		fail("the Godot client never joined: %v", err)
	}

	// Phase 2: states, events, chat both ways. ana's states are paced like
	// a game's (the ticker is the send rate, not a synchronisation).
	tick := time.NewTicker(statePeriod)
	for i, ev := 1, 0; i <= anaStates; i++ {
		if err := ana.c.SetState([]any{"ana", i}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 && ev < anaEvents {
			if err := ana.c.SendEvent(codec.TargetOthers, nil, uint32(200+ev), ev); err != nil {
				t.Fatal(err)
			}
			ev++
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			fail("phase 2: %v", ctx.Err())
		}
	}
	tick.Stop()
	if err := bob.c.SetState([]any{"bob", 7}); err != nil {
		t.Fatal(err)
	}
	if err := bob.c.Chat("hello from bob"); err != nil {
		t.Fatal(err)
	}
	if err := ana.c.DirectMessage(gid, "psst godot"); err != nil {
		t.Fatal(err)
	}
	if err := ana.waitFor(ctx, "event 900 (the Godot side has everything)", func(ev []codec.Event, _ []codec.ChatMsg) bool {
		return hasEvent(ev, gid, 900)
	}); err != nil {
		fail("%v", err)
	}

	// Phase 3: carol joins and leaves.
	carol := dialRecorded(t, ctx, addr, "carol")
	if _, err := carol.c.JoinByCode(ctx, joined.Code); err != nil {
		fail("carol: %v", err)
	}
	if err := ana.waitFor(ctx, "event 901 (the Godot side saw carol join)", func(ev []codec.Event, _ []codec.ChatMsg) bool {
		return hasEvent(ev, gid, 901)
	}); err != nil {
		fail("%v", err)
	}
	if err := carol.c.LeaveRoom(ctx); err != nil {
		fail("carol leaves: %v", err)
	}
	if err := ana.waitFor(ctx, "event 902 (the Godot side saw carol leave)", func(ev []codec.Event, _ []codec.ChatMsg) bool {
		return hasEvent(ev, gid, 902)
	}); err != nil {
		fail("%v", err)
	}

	// Phase 4: the master leaves; bob (in the room longer than godot) takes over.
	anaSaw, anaChat := ana.snapshot()
	anaView := ana.c.Room()
	if err := ana.c.LeaveRoom(ctx); err != nil {
		fail("ana leaves: %v", err)
	}
	if err := bob.waitFor(ctx, "event 903 (the Godot side saw bob become master)", func(ev []codec.Event, _ []codec.ChatMsg) bool {
		return hasEvent(ev, gid, 903)
	}); err != nil {
		fail("%v", err)
	}
	if m := bob.c.Room().Master; m != bob.c.ID() {
		t.Errorf("bob's view: master %d, want bob %d", m, bob.c.ID())
	}

	// Phase 5: the Godot client says bye and leaves the room.
	if err := bob.c.WaitFor(ctx, func(v client.RoomView) bool { _, in := v.Players[gid]; return !in }); err != nil {
		fail("bob never saw the Godot client leave: %v", err)
	}
	res := run.wait()
	t.Logf("GDScript side: %d checks passed; proxy to server %+v; to client %+v", res.passed, proxy.Stats(lossy.ToServer), proxy.Stats(lossy.ToClient))

	// What the Go clients saw of the Godot client.
	g := anaView.Players[gid]
	if g.Name != "godot" {
		t.Errorf("name %q", g.Name)
	}
	if want := mustHex("a4626c7565"); !bytes.Equal(g.Props["team"], want) {
		t.Errorf("props team = %x, want %x (\"blue\")", g.Props["team"], want)
	}
	// ["godot", nStates, Vector2(1.5, -2.25)]: the Vector2 as ext type 1 with
	// two big-endian float32.
	wantState := mustHex(fmt.Sprintf("93a5676f646f74%02xd7013fc00000c0100000", nStates))
	if !bytes.Equal(g.State, wantState) {
		t.Errorf("ana's view of the Godot state: %x, want %x", g.State, wantState)
	}
	bobEvents, bobChat := bob.snapshot()
	checkGodotEvents(t, "ana", anaSaw, gid, nEvents, []uint32{900, 901, 902})
	checkGodotEvents(t, "bob", bobEvents, gid, nEvents, []uint32{900, 901, 902, 903})
	countChat := func(chat []codec.ChatMsg, from, to uint32, text string) int {
		n := 0
		for _, c := range chat {
			if c.From == from && c.To == to && c.Text == text {
				n++
			}
		}
		return n
	}
	if n := countChat(anaChat, gid, 0, "hello from godot"); n != 1 {
		t.Errorf("ana saw the Godot room chat %d times", n)
	}
	if n := countChat(bobChat, gid, 0, "hello from godot"); n != 1 {
		t.Errorf("bob saw the Godot room chat %d times", n)
	}
	if n := countChat(anaChat, gid, ana.c.ID(), "hi ana"); n != 1 {
		t.Errorf("ana saw the Godot direct message %d times", n)
	}
	if n := countChat(bobChat, gid, ana.c.ID(), "hi ana"); n != 0 {
		t.Errorf("bob saw a direct message to ana")
	}
	up, down := proxy.Stats(lossy.ToServer), proxy.Stats(lossy.ToClient)
	if up.Dropped == 0 || down.Dropped == 0 || down.Delayed == 0 {
		t.Errorf("the path was not impaired: up %+v down %+v", up, down)
	}
}

// checkGodotEvents checks that the events from gid are 100..100+n-1 with
// payloads "g0".. in order, exactly once, followed by the control events.
func checkGodotEvents(t *testing.T, who string, events []codec.Event, gid uint32, n int, control []uint32) {
	t.Helper()
	var got []string
	for _, e := range events {
		if e.From != gid {
			continue
		}
		var p any
		if len(e.Payload) > 0 {
			if err := client.Unmarshal(e.Payload, &p); err != nil {
				t.Errorf("%s: event %d payload %x: %v", who, e.Code, e.Payload, err)
			}
		}
		if e.Code >= 900 {
			got = append(got, strconv.Itoa(int(e.Code)))
		} else {
			got = append(got, fmt.Sprintf("%d:%v", e.Code, p))
		}
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("%d:g%d", 100+i, i))
	}
	for _, c := range control {
		want = append(want, strconv.Itoa(int(c)))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s saw the Godot events\n%v\nwant\n%v", who, got, want)
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestClientAuthToken checks the hello's auth token option against a relay
// that requires tokens (client_auth_test.gd).
func TestClientAuthToken(t *testing.T) {
	t.Parallel()
	godotBin(t)
	secret := []byte("enginetest-secret")
	addr := startRelay(t, &relay.Server{AuthSecret: secret})
	token, err := relay.MintToken(secret, "player-42", "tokenname", "", time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	runScript(t, 30*time.Second, "client_auth_test.gd", "--host=127.0.0.1", "--port="+portOf(t, addr),
		"--token="+token, "--token-name=tokenname")
}
