package enginetest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/godot/web"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

// TestWebSocketEndToEnd runs client.gd in the Godot 4.6 web engine (headless
// Chromium) against the real relay over WebSocket, in a room with Go clients
// over KCP, and checks both sides: the GDScript test
// (tests/websocket_e2e_test.gd) asserts what the web client saw, this test
// what the Go clients saw of it. The web client goes through a TCP proxy
// here that cuts its connection (both sides closed, no WebSocket close) and
// refuses new ones until the relay shows the player away, ana has sent what
// it will miss and the client has tried at least once; the client must
// resume with its token and get exactly that, once. Each phase of the script ends with an event it sends, which
// is what the Go side waits for before the next step.
func TestWebSocketEndToEnd(t *testing.T) {
	t.Parallel()
	sharedWebEngine(t)
	const (
		nEvents     = 40  // from the web client, at 25 Hz
		nStates     = 120 // from the web client, one a frame
		anaEvents   = 30  // from ana, on every other state
		anaStates   = 60  // from ana, at 30 Hz
		awayEvents  = 10  // from ana while the web client is away
		statePeriod = time.Second / 30
	)
	srv := &relay.Server{}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	cut := newTCPCutter(t, strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), "/"))

	setup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ana := dialRecorded(t, setup, kcpAddr, "ana")
	joined, err := ana.c.CreateRoom(setup, client.RoomOptions{Mode: "e2e", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	bob := dialRecorded(t, setup, kcpAddr, "bob")
	if _, err := bob.c.JoinByCode(setup, joined.Code); err != nil {
		t.Fatal(err)
	}

	run := startWebPlan(t, addonPack(t), []web.Step{{
		Script: "res://tests/websocket_e2e_test.gd",
		Kind:   web.StepNode,
		Args: map[string]string{
			"port": strconv.Itoa(cut.port()), "code": joined.Code,
			"ana": strconv.Itoa(int(ana.c.ID())), "bob": strconv.Itoa(int(bob.c.ID())),
			"events": strconv.Itoa(nEvents), "states": strconv.Itoa(nStates),
			"ana-events": strconv.Itoa(anaEvents), "ana-states": strconv.Itoa(anaStates),
			"away-events": strconv.Itoa(awayEvents), "timeout-ms": "50000",
		},
		TimeoutSeconds: 55,
	}}, nil, 80*time.Second)
	ctx, cancelRun := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancelRun()
	go func() {
		select {
		case <-run.Done():
			cancelRun() // a Go wait on the web client then fails at once
		case <-ctx.Done():
		}
	}()
	fail := run.failer(t)
	waitEvent := func(r *recorder, gid, code uint32, what string) {
		t.Helper()
		if err := r.waitFor(ctx, what, func(ev []codec.Event, _ []codec.ChatMsg) bool { return hasEvent(ev, gid, code) }); err != nil {
			fail("%v", err)
		}
	}

	// Phase 1: the web client joins.
	gid, err := waitForPlayer(ctx, ana.c, "web")
	if err != nil {
		fail("the web client never joined: %v", err)
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
	if err := ana.c.DirectMessage(gid, "psst web"); err != nil {
		t.Fatal(err)
	}
	waitEvent(ana, gid, 900, "event 900 (the web client has everything)")

	// Phase 3: carol joins and leaves.
	carol := dialRecorded(t, ctx, kcpAddr, "carol")
	if _, err := carol.c.JoinByCode(ctx, joined.Code); err != nil {
		fail("carol: %v", err)
	}
	waitEvent(ana, gid, 901, "event 901 (the web client saw carol join)")
	if err := carol.c.LeaveRoom(ctx); err != nil {
		fail("carol leaves: %v", err)
	}
	waitEvent(ana, gid, 902, "event 902 (the web client saw carol leave)")

	// Phase 4: cut the web client's connection. The relay sees it end
	// without a bye: the player is away. While it is, ana sends what the web
	// client must get on its resume; then the network comes back.
	if n := cut.cut(); n != 1 {
		t.Errorf("cut %d connections, want 1", n)
	}
	if err := ana.c.WaitFor(ctx, func(v client.RoomView) bool { p, ok := v.Players[gid]; return ok && p.Away }); err != nil {
		fail("ana never saw the web client away: %v (ana's view %+v)", err, ana.c.Room().Players)
	}
	if err := ana.c.Chat("while you were away"); err != nil {
		fail("chat: %v", err)
	}
	for i := range awayEvents {
		if err := ana.c.SendEvent(codec.TargetAll, nil, uint32(300+i), fmt.Sprintf("away %d", i)); err != nil {
			fail("ana's event: %v", err)
		}
	}
	if err := ana.c.SetState([]any{"ana", "while away"}); err != nil {
		fail("state: %v", err)
	}
	// ana's own copy of its last event: the relay has them all, before the
	// web client can be back.
	waitEvent(ana, ana.c.ID(), uint32(300+awayEvents-1), "ana's events while the web client is away")
	if p := ana.c.Room().Players[gid]; !p.Away {
		fail("the web client came back while the network was cut: %+v", p)
	}
	// The network comes back once the client has tried it while down: an
	// attempt that fails is followed by another.
	if err := cut.waitRefused(ctx, 1); err != nil {
		fail("the web client never tried to resume while the network was cut: %v", err)
	}
	cut.restore()
	if err := ana.c.WaitFor(ctx, func(v client.RoomView) bool { p, ok := v.Players[gid]; return ok && !p.Away }); err != nil {
		fail("ana never saw the web client back: %v", err)
	}
	waitEvent(ana, gid, 903, "event 903 (the web client resumed and has everything)")
	// The state it set after the resume, ["web", "back"], as ana's view has
	// it (the view runs ahead of the recorder: read it before anyone leaves).
	wantState := mustHex("92a3776562a46261636b")
	if err := ana.c.WaitFor(ctx, func(v client.RoomView) bool { return bytes.Equal(v.Players[gid].State, wantState) }); err != nil {
		fail("ana never saw the web client's state after the resume: %v (ana's view %+v)", err, ana.c.Room().Players[gid])
	}
	g := ana.c.Room().Players[gid]

	// Phase 5: the master leaves; bob (in the room longer than the web
	// client) takes over.
	anaEventsSeen, anaChat := ana.snapshot()
	anaMembers := ana.membership(gid)
	if err := ana.c.LeaveRoom(ctx); err != nil {
		fail("ana leaves: %v", err)
	}
	waitEvent(bob, gid, 904, "event 904 (the web client saw bob become master)")
	if m := bob.c.Room().Master; m != bob.c.ID() {
		t.Errorf("bob's view: master %d, want bob %d", m, bob.c.ID())
	}

	// Phase 6: the web client says bye and leaves the room.
	if err := bob.c.WaitFor(ctx, func(v client.RoomView) bool { _, in := v.Players[gid]; return !in }); err != nil {
		fail("bob never saw the web client leave: %v", err)
	}
	res := run.wait()
	accepted, refused := cut.counts()
	st := srv.Stats()
	if len(res.Steps) == 1 {
		t.Logf("GDScript side: %d checks passed; proxy: %d connections carried, %d refused while cut; relay closes %v",
			res.Steps[0].Passed, accepted, refused, st.Closes)
	}

	// What the Go clients saw of the web client.
	if g.Name != "web" {
		t.Errorf("name %q", g.Name)
	}
	if want := mustHex("a3726564"); !bytes.Equal(g.Props["team"], want) {
		t.Errorf("props team = %x, want %x (\"red\")", g.Props["team"], want)
	}
	bobEvents, bobChat := bob.snapshot()
	// 950 was sent while reconnecting: it follows the resuming hello.
	checkWebEvents(t, "ana", anaEventsSeen, gid, nEvents, []uint32{900, 901, 902, 950, 903})
	checkWebEvents(t, "bob", bobEvents, gid, nEvents, []uint32{900, 901, 902, 950, 903, 904})
	if got, want := fmt.Sprint(anaMembers), "[join away back]"; got != want {
		t.Errorf("ana saw the web player's membership and presence as %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(bob.membership(gid)), "[join away back leave]"; got != want {
		t.Errorf("bob saw the web player's membership and presence as %s, want %s", got, want)
	}
	countChat := func(chat []codec.ChatMsg, from, to uint32, text string) int {
		n := 0
		for _, c := range chat {
			if c.From == from && c.To == to && c.Text == text {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		who       string
		chat      []codec.ChatMsg
		to        uint32
		text      string
		wantTimes int
	}{
		{"ana", anaChat, 0, "hello from web", 1},
		{"bob", bobChat, 0, "hello from web", 1},
		{"ana", anaChat, ana.c.ID(), "hi ana", 1},
		{"bob", bobChat, ana.c.ID(), "hi ana", 0},
		{"ana", anaChat, 0, "sent while away", 1},
		{"bob", bobChat, 0, "sent while away", 1},
	} {
		if n := countChat(c.chat, gid, c.to, c.text); n != c.wantTimes {
			t.Errorf("%s saw the web client's %q %d times, want %d", c.who, c.text, n, c.wantTimes)
		}
	}
	// The first connection and the resumed one, and any attempt given up
	// while its handshake was slow (the GDScript side checks one resume).
	if accepted < 2 {
		t.Errorf("the proxy carried %d connections, want 2 or more", accepted)
	}
	if st.Closes["resume_failed"] != 0 || st.Closes["replaced"] != 0 {
		t.Errorf("relay closes %v: the resume should neither fail nor replace a link", st.Closes)
	}
}

// checkWebEvents checks that the events from gid are 100..100+n-1 with
// payloads "w0".. in order, exactly once, followed by the control events.
func checkWebEvents(t *testing.T, who string, events []codec.Event, gid uint32, n int, control []uint32) {
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
		want = append(want, fmt.Sprintf("%d:w%d", 100+i, i))
	}
	for _, c := range control {
		want = append(want, strconv.Itoa(int(c)))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s saw the web client's events\n%v\nwant\n%v", who, got, want)
	}
}

// TestWebSocketTLS: the web client connects with the url option to
// wss:// (the relay serving TLS itself, with a certificate for 127.0.0.1 the
// browser is told to accept), as a game on an https page must, and
// exchanges an event each way with a Go client over KCP
// (tests/websocket_tls_test.gd).
func TestWebSocketTLS(t *testing.T) {
	t.Parallel()
	sharedWebEngine(t)
	dir := t.TempDir()
	srv := &relay.Server{}
	srv.WebSocket.TLSCertFile, srv.WebSocket.TLSKeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, srv.WebSocket.TLSCertFile, srv.WebSocket.TLSKeyFile)
	kcpAddr, wssURL := relaytest.StartBoth(t, srv)
	if !strings.HasPrefix(wssURL, "wss://") {
		t.Fatalf("the relay serves %s, want wss://", wssURL)
	}
	setup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ana := dialRecorded(t, setup, kcpAddr, "ana")
	joined, err := ana.c.CreateRoom(setup, client.RoomOptions{Private: true})
	if err != nil {
		t.Fatal(err)
	}
	run := startWebPlan(t, addonPack(t), []web.Step{{
		Script: "res://tests/websocket_tls_test.gd",
		Kind:   web.StepNode,
		Args: map[string]string{"url": wssURL, "code": joined.Code, "ana": strconv.Itoa(int(ana.c.ID())),
			"timeout-ms": "25000"},
		TimeoutSeconds: 30,
	}}, nil, 60*time.Second)
	ctx, cancelRun := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancelRun()
	go func() {
		select {
		case <-run.Done():
			cancelRun()
		case <-ctx.Done():
		}
	}()
	fail := run.failer(t)
	gid, err := waitForPlayer(ctx, ana.c, "tls")
	if err != nil {
		fail("the web client never joined over wss://: %v", err)
	}
	if err := ana.c.SendEvent(codec.TargetOthers, nil, 1, "to tls"); err != nil {
		t.Fatal(err)
	}
	if err := ana.waitFor(ctx, "the web client's event and chat over wss://", func(ev []codec.Event, chat []codec.ChatMsg) bool {
		for _, c := range chat {
			if c.From == gid && c.Text == "hello over wss" {
				return hasEvent(ev, gid, 900)
			}
		}
		return false
	}); err != nil {
		fail("%v", err)
	}
	if err := ana.c.WaitFor(ctx, func(v client.RoomView) bool { _, in := v.Players[gid]; return !in }); err != nil {
		fail("ana never saw the web client leave: %v", err)
	}
	run.wait()
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func writeSelfSigned(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}
