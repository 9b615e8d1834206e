package enginetest

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickrelay/tickrelay/godot/web"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
)

// TestMultiplayerPeer runs Godot's high-level multiplayer over the relay
// (addons/tickrelay/tickrelay_multiplayer_peer.gd) in three Godot 4.6 web
// pages in one room, over WebSocket (tests/mp_test.gd says what each
// checks): peer ids, @rpc both ways (reliable exactly once and in order,
// unreliable the latest), rpc_id(1) to the authority, a MultiplayerSpawner
// and a MultiplayerSynchronizer; then the first page (the master, peer 1)
// closes without a goodbye and, after the relay's resume grace (4 s), the second
// page is peer 1 on both remaining pages, which carry on. The pages start
// one after the other so that the first is the master and the second the
// member present longest.
func TestMultiplayerPeer(t *testing.T) {
	t.Parallel()
	sharedWebEngine(t)
	// The grace is short so that the migration comes soon after the first
	// page closes, but not shorter than a loaded machine may starve a page
	// (a page that reads nothing for a while is a lost link, away for the
	// grace: one second removed a live page in a loaded run). The relay's
	// log is in the output of a failed run.
	srv := &relay.Server{ResumeGrace: 4 * time.Second, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)}
	_, wsURL := relaytest.StartBoth(t, srv)
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	start := func(role string) *webRun {
		return startWebPlan(t, addonPack(t), []web.Step{{
			Script: "res://tests/mp_test.gd",
			Kind:   web.StepNode,
			Args:   map[string]string{"port": u.Port(), "mode": "mp-" + t.Name(), "role": role, "timeout-ms": "40000"},
			// The first page ends after phase 1; the others after the migration.
			TimeoutSeconds: 55,
		}}, nil, 80*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 70*time.Second)
	defer cancel()
	var runs []*webRun
	for _, role := range []string{"first", "second", "third"} {
		r := start(role)
		runs = append(runs, r)
		if _, err := r.waitLine(ctx, "mp: "+role+" in room"); err != nil {
			r.failer(t)("%s: %v", role, err)
		}
	}
	for i, r := range runs {
		res := r.wait()
		if !res.OK() {
			continue
		}
		for _, l := range res.Output {
			if strings.HasPrefix(l.Text, "mp: survived") || strings.Contains(l.Text, "carried on") || strings.Contains(l.Text, "unreliable calls") {
				t.Logf("page %d: %s", i+1, l.Text)
			}
		}
	}
}

// TestMultiplayerPeerCost measures the script time of
// TickRelayMultiplayerPeer in the Godot 4.6 web engine: 8 clients in one
// page, one room, each player's node synced by a MultiplayerSynchronizer at
// 30 Hz (tests/mp_cost_test.gd); the figure is per client and frame
// (client.poll() and its SceneMultiplayer's poll()), logged and quoted in
// godot/README.md. The script checks that every synchronizer's updates
// arrive, and a sanity bound on a client's median frame (4 ms: the figure
// is wall time, and a loaded machine inflates it).
//
// Not parallel: it runs before the parallel tests, so that they do not take
// the CPU it measures (the web engine has no thread CPU clock: the time is
// the wall clock's).
func TestMultiplayerPeerCost(t *testing.T) {
	sharedWebEngine(t)
	_, wsURL := relaytest.StartBoth(t, &relay.Server{})
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	res := runWebPlan(t, addonPack(t), []web.Step{{
		Script:         "res://tests/mp_cost_test.gd",
		Kind:           web.StepNode,
		Args:           map[string]string{"port": u.Port(), "mode": "cost-" + t.Name(), "clients": "8", "seconds": "5"},
		TimeoutSeconds: 50,
	}}, 70*time.Second)
	for _, l := range res.Output {
		if strings.HasPrefix(l.Text, "mp cost:") {
			t.Logf("Godot 4.6 (web): %s", l.Text)
		}
	}
}

// TestMultiplayerPeerResume cuts the connection of the second of two pages
// (a TCP proxy in front of the relay, as a network that goes away) while
// both play through the multiplayer peer (tests/mp_resume_test.gd): its
// peer must stay CONNECTED while the client resumes, SceneMultiplayer must
// lose no peer, and the reliable @rpc calls made to it while it was away
// must arrive after the resume, exactly once and in order.
func TestMultiplayerPeerResume(t *testing.T) {
	t.Parallel()
	sharedWebEngine(t)
	// The relay's log (players away, resumed, masters) is in the output of
	// a failed run.
	_, wsURL := relaytest.StartBoth(t, &relay.Server{Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)})
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	cut := newTCPCutter(t, u.Host)
	start := func(role string, port string) *webRun {
		return startWebPlan(t, addonPack(t), []web.Step{{
			Script: "res://tests/mp_resume_test.gd", Kind: web.StepNode,
			Args:           map[string]string{"port": port, "mode": "mp-" + t.Name(), "role": role, "timeout-ms": "40000"},
			TimeoutSeconds: 45,
		}}, nil, 70*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := start("first", u.Port())
	second := start("second", strconv.Itoa(cut.port()))
	fail := second.failer(t)
	if _, err := second.waitLine(ctx, "mp-resume: ready"); err != nil {
		fail("%v", err)
	}
	cut.cut()
	// The network comes back once the first page has made its calls to the
	// away player and the second has tried to resume at least once.
	if _, err := first.waitLine(ctx, "mp-resume: sent while away"); err != nil {
		first.failer(t)("%v", err)
	}
	if err := cut.waitRefused(ctx, 1); err != nil {
		fail("the second page never tried to resume: %v", err)
	}
	cut.restore()
	first.wait()
	second.wait()
}
